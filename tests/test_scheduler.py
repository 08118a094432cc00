"""Tests for app.service.scheduler: cron math across zones and DST, and the run loop."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from app.cron import CronSchedule
from app.errors import ConfigError
from app.service.scheduler import Scheduler, Tick

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MOSCOW = ZoneInfo("Europe/Moscow")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fire_times(schedule: CronSchedule, start: datetime, count: int) -> list[datetime]:
    out, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment)
    return out


# --- CronSchedule: next-run computation ------------------------------------------------------


def test_utc_daily_is_strictly_after():
    schedule = CronSchedule("0 3 * * *", "UTC")
    assert schedule.next_after(utc(2024, 1, 1, 2, 59)) == utc(2024, 1, 1, 3, 0)
    assert schedule.next_after(utc(2024, 1, 1, 3, 0)) == utc(2024, 1, 2, 3, 0)
    assert schedule.next_after(utc(2024, 1, 1, 3, 0, 1)) == utc(2024, 1, 2, 3, 0)


def test_result_is_aware_and_in_the_schedule_zone():
    result = CronSchedule("0 0 * * *", "Europe/Moscow").next_after(utc(2024, 6, 1, 12))
    assert result == utc(2024, 6, 1, 21)  # midnight in Moscow is 21:00 UTC (UTC+3, no DST)
    assert result.tzinfo == MOSCOW
    assert (result.hour, result.minute) == (0, 0)


def test_moscow_has_no_dst_shift():
    schedule = CronSchedule("0 0 * * *", "Europe/Moscow")
    times = fire_times(schedule, utc(2024, 3, 25), 10) + fire_times(schedule, utc(2024, 10, 20), 10)
    assert {t.utcoffset() for t in times} == {timedelta(hours=3)}
    assert {t.astimezone(UTC).hour for t in times} == {21}


def test_accepts_any_aware_input_zone():
    schedule = CronSchedule("0 3 * * *", "UTC")
    moment = datetime(2024, 1, 1, 5, 0, tzinfo=MOSCOW)  # 02:00 UTC
    assert schedule.next_after(moment) == utc(2024, 1, 1, 3, 0)


def test_naive_moment_is_rejected():
    with pytest.raises(ValueError, match="aware"):
        CronSchedule("0 3 * * *", "UTC").next_after(datetime(2024, 1, 1))


def test_berlin_spring_forward_runs_once_right_after_the_gap():
    # 2024-03-31 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
    times = fire_times(CronSchedule("30 2 * * *", "Europe/Berlin"),
                       datetime(2024, 3, 29, 12, tzinfo=BERLIN), 4)
    assert [t.astimezone(UTC) for t in times] == [
        utc(2024, 3, 30, 1, 30),  # 02:30 CET
        utc(2024, 3, 31, 1, 0),   # 03:00 CEST: the first instant after the gap
        utc(2024, 4, 1, 0, 30),   # 02:30 CEST
        utc(2024, 4, 2, 0, 30),
    ]
    assert (times[1].hour, times[1].minute) == (3, 0)


def test_berlin_spring_forward_collapses_skipped_times_into_one_run():
    schedule = CronSchedule("*/15 2,3 * * *", "Europe/Berlin")
    times = fire_times(schedule, datetime(2024, 3, 31, 1, 0, tzinfo=BERLIN), 4)
    local = [t.strftime("%H:%M %Z") for t in times]
    # 02:00..02:45 do not exist; they and 03:00 are one run at 03:00.
    assert local == ["03:00 CEST", "03:15 CEST", "03:30 CEST", "03:45 CEST"]


def test_berlin_fall_back_runs_a_repeated_time_once():
    # 2024-10-27 03:00 CEST goes back to 02:00 CET: 02:30 happens twice.
    times = fire_times(CronSchedule("30 2 * * *", "Europe/Berlin"),
                       datetime(2024, 10, 25, 12, tzinfo=BERLIN), 4)
    assert [t.astimezone(UTC) for t in times] == [
        utc(2024, 10, 26, 0, 30),  # 02:30 CEST
        utc(2024, 10, 27, 0, 30),  # 02:30 CEST, first occurrence only
        utc(2024, 10, 28, 1, 30),  # 02:30 CET
        utc(2024, 10, 29, 1, 30),
    ]


def test_berlin_fall_back_started_inside_the_repeated_hour():
    # Asked during the second 02:10 (CET), a daily 02:30 job already ran at 02:30 CEST.
    second_pass = datetime(2024, 10, 27, 2, 10, tzinfo=BERLIN, fold=1)
    assert second_pass.astimezone(UTC) == utc(2024, 10, 27, 1, 10)
    schedule = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert schedule.next_after(second_pass) == utc(2024, 10, 28, 1, 30)


def test_hourly_schedule_keeps_its_interval_through_fall_back():
    schedule = CronSchedule("*/30 * * * *", "Europe/Berlin")
    times = fire_times(schedule, utc(2024, 10, 26, 23, 50), 6)
    assert [t.astimezone(UTC) for t in times] == [
        utc(2024, 10, 27, 0, 0), utc(2024, 10, 27, 0, 30),   # 02:00, 02:30 CEST
        utc(2024, 10, 27, 1, 0), utc(2024, 10, 27, 1, 30),   # 02:00, 02:30 CET
        utc(2024, 10, 27, 2, 0), utc(2024, 10, 27, 2, 30),   # 03:00, 03:30 CET
    ]
    # Asked late in the first pass, the repeated 02:00 CET still comes before 03:00 CET.
    repeated = schedule.next_after(utc(2024, 10, 27, 0, 50))
    # PEP 495: == across zones is False for a second occurrence (fold=1); compare in UTC.
    assert repeated.fold == 1
    assert repeated.astimezone(UTC) == utc(2024, 10, 27, 1, 0)


def test_new_york_both_transitions():
    spring = CronSchedule("30 2 * * *", "America/New_York")
    # 2024-03-10 02:00 EST -> 03:00 EDT.
    assert spring.next_after(datetime(2024, 3, 9, 12, tzinfo=NEW_YORK)) == utc(2024, 3, 10, 7, 0)
    fall = CronSchedule("30 1 * * *", "America/New_York")
    # 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 happens twice, runs at the first.
    times = fire_times(fall, datetime(2024, 11, 2, 12, tzinfo=NEW_YORK), 2)
    assert [t.astimezone(UTC) for t in times] == [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]


def test_weekday_and_alias_expressions():
    monday = CronSchedule("0 9 * * mon", "UTC").next_after(utc(2024, 1, 3))  # a Wednesday
    assert monday == utc(2024, 1, 8, 9, 0)
    assert CronSchedule("@daily", "UTC").next_after(utc(2024, 1, 3, 5)) == utc(2024, 1, 4)
    assert CronSchedule("  0   3 * * *  ", "UTC").expression == "0 3 * * *"


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset() is POSIX-only")
def test_local_zone_follows_the_machine_rules(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        schedule = CronSchedule("30 2 * * *")
        assert schedule.describe() == "30 2 * * * (local time)"
        spring = fire_times(schedule, utc(2024, 3, 29, 12), 3)
        fall = fire_times(schedule, utc(2024, 10, 25, 12), 3)
        assert [t.astimezone(UTC) for t in spring] == [
            utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)]
        assert [t.astimezone(UTC) for t in fall] == [
            utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_blank_timezone_means_local_time():
    assert CronSchedule("0 0 * * *", "  ").describe() == "0 0 * * * (local time)"
    assert CronSchedule("0 0 * * *", None).timezone is None


def test_describe():
    assert CronSchedule("0 0 * * *", "Europe/Moscow").describe() == "0 0 * * * (Europe/Moscow)"


# --- CronSchedule: configuration errors ------------------------------------------------------


@pytest.mark.parametrize("expression", [
    "0 0 * *", "61 * * * *", "0 0 * * * *", "every day", "@reboot", "0 0 30 2 *", "",
])
def test_invalid_expression_names_the_variable_and_shows_an_example(expression):
    with pytest.raises(ConfigError) as caught:
        CronSchedule(expression, "UTC")
    error = caught.value
    assert error.variables == ("SYNC_SCHEDULE",)
    assert error.exit_code == 2
    assert "SYNC_SCHEDULE" in error.message
    assert "'0 3 * * *'" in error.message  # an example of a valid one
    if expression:
        assert repr(expression) in error.message


def test_six_fields_says_seconds_are_not_supported():
    with pytest.raises(ConfigError, match="seconds and years are not supported"):
        CronSchedule("0 0 3 * * *", "UTC")


def test_unknown_zone_names_the_variable_and_suggests():
    with pytest.raises(ConfigError) as caught:
        CronSchedule("0 3 * * *", "Europe/Mosow")
    assert caught.value.variables == ("SYNC_TIMEZONE",)
    assert "'Europe/Mosow'" in caught.value.message
    assert "did you mean Europe/Moscow?" in caught.value.message


@pytest.mark.parametrize("typed, meant", [
    ("MSK", "Europe/Moscow"),  # difflib alone answers MST, US Mountain time
    ("msk", "Europe/Moscow"),
    ("YEKT", "Asia/Yekaterinburg"),
    ("Moscow", "Europe/Moscow"),
    ("Novosibirsk", "Asia/Novosibirsk"),
], ids=["MSK", "msk", "YEKT", "city-Moscow", "city-Novosibirsk"])
def test_russian_abbreviations_and_bare_cities_suggest_the_zone_meant(typed, meant):
    with pytest.raises(ConfigError) as caught:
        CronSchedule("0 3 * * *", typed)
    assert f"did you mean {meant}?" in caught.value.message
    assert "MST" not in caught.value.message


def _zone_file_found(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def test_wrong_case_zone_suggests_the_right_spelling():
    if _zone_file_found("europe/moscow"):
        # A case-insensitive file system (Windows, macOS) finds the zone: it works as Moscow.
        schedule = CronSchedule("0 3 * * *", "europe/moscow")
        assert schedule.next_after(utc(2024, 6, 1, 12)) == utc(2024, 6, 2, 0)
    else:
        with pytest.raises(ConfigError, match=r"did you mean Europe/Moscow\?"):
            CronSchedule("0 3 * * *", "europe/moscow")


def test_offset_instead_of_zone_name_is_explained():
    with pytest.raises(ConfigError, match="not an offset"):
        CronSchedule("0 3 * * *", "UTC+3")


def test_both_problems_in_one_error():
    with pytest.raises(ConfigError) as caught:
        CronSchedule("0 0 * *", "Mars/Olympus")
    assert caught.value.variables == ("SYNC_SCHEDULE", "SYNC_TIMEZONE")
    assert "SYNC_SCHEDULE" in caught.value.message
    assert "'Mars/Olympus'" in caught.value.message


# --- Scheduler -------------------------------------------------------------------------------


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Recorder:
    """A job that records when it ran; it can block until released."""

    def __init__(self, clock: FakeClock, *, block: bool = False, fail: bool = False) -> None:
        self.clock = clock
        self.calls: list[datetime] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()
        self.fail = fail

    def __call__(self) -> object:
        self.calls.append(self.clock.now)
        self.started.set()
        assert self.release.wait(60), "test job was never released"
        if self.fail:
            raise RuntimeError("boom at https://x.bitrix24.ru/rest/1/abcdefsecret/")
        return len(self.calls)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger="app.service.scheduler")
    return caplog


def make(schedule: str, clock: FakeClock, job, **kwargs) -> Scheduler:
    kwargs.setdefault("stop_event", threading.Event())
    return Scheduler(CronSchedule(schedule, "UTC"), job, clock=clock, **kwargs)


def messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_tick_runs_the_job_when_due(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0, 30))
    job = Recorder(clock)
    scheduler = make("*/10 * * * *", clock, job)
    assert scheduler.tick(clock.now) is Tick.IDLE  # plans the first run
    assert scheduler.next_run() == utc(2024, 1, 1, 0, 10)
    clock.advance(minutes=5)
    assert scheduler.tick(clock.now) is Tick.IDLE
    clock.advance(minutes=5)
    assert scheduler.tick(clock.now) is Tick.STARTED
    assert scheduler.wait_idle(60)
    assert job.calls == [clock.now]
    assert scheduler.next_run() == utc(2024, 1, 1, 0, 20)
    assert not messages(logs, logging.WARNING)


def test_overlapping_tick_is_skipped_not_queued(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0))
    job = Recorder(clock, block=True)
    scheduler = make("*/10 * * * *", clock, job)
    scheduler.tick(clock.now)
    clock.advance(minutes=10)
    assert scheduler.tick(clock.now) is Tick.STARTED
    assert job.started.wait(60)
    clock.advance(minutes=10)
    assert scheduler.tick(clock.now) is Tick.SKIPPED
    warnings = messages(logs, logging.WARNING)
    assert warnings == [
        "previous run still in progress; skipping tick at 2024-01-01 00:20:00+00:00"]
    job.release.set()
    assert scheduler.wait_idle(60)
    assert len(job.calls) == 1  # the skipped tick was not queued
    clock.advance(minutes=10)
    assert scheduler.tick(clock.now) is Tick.STARTED
    assert scheduler.wait_idle(60)
    assert len(job.calls) == 2


def test_missed_ticks_after_sleep_run_once(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0))
    job = Recorder(clock)
    scheduler = make("*/10 * * * *", clock, job)
    scheduler.tick(clock.now)
    clock.advance(hours=1, minutes=5)  # the machine slept through 00:10 .. 01:00
    assert scheduler.tick(clock.now) is Tick.STARTED
    assert scheduler.wait_idle(60)
    assert len(job.calls) == 1
    [warning] = messages(logs, logging.WARNING)
    assert "missed 6 scheduled runs since 2024-01-01 00:10:00+00:00" in warning
    assert "running once now" in warning
    assert scheduler.next_run() == utc(2024, 1, 1, 1, 10)
    assert scheduler.tick(clock.now) is Tick.IDLE


def test_single_late_run_is_logged_as_late(logs):
    clock = FakeClock(utc(2024, 1, 1, 12, 0))
    job = Recorder(clock)
    scheduler = make("0 3 * * *", clock, job)
    scheduler.tick(clock.now)
    clock.now = utc(2024, 1, 2, 5, 0)
    assert scheduler.tick(clock.now) is Tick.STARTED
    assert scheduler.wait_idle(60)
    assert messages(logs, logging.WARNING) == [
        "running 2h 0m late (the run was due at 2024-01-02 03:00:00+00:00)"]


def test_clock_moving_back_recomputes_the_next_run(logs):
    clock = FakeClock(utc(2024, 1, 10, 12, 0))
    scheduler = make("0 3 * * *", clock, Recorder(clock))
    scheduler.tick(clock.now)
    assert scheduler.next_run() == utc(2024, 1, 11, 3, 0)
    clock.now = utc(2024, 1, 5, 12, 0)  # e.g. a wrong clock corrected by NTP
    assert scheduler.tick(clock.now) is Tick.IDLE
    assert scheduler.next_run() == utc(2024, 1, 6, 3, 0)
    assert "the clock moved back by 5d 0h" in messages(logs, logging.WARNING)[0]


def test_job_exception_is_logged_once_and_the_loop_goes_on(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0))
    job = Recorder(clock, fail=True)
    results = []
    scheduler = make("*/10 * * * *", clock, job, on_result=lambda r, n: results.append((r, n)))
    scheduler.tick(clock.now)
    for _ in range(2):
        clock.advance(minutes=10)
        assert scheduler.tick(clock.now) is Tick.STARTED
        assert scheduler.wait_idle(60)
    assert len(job.calls) == 2
    errors = [r for r in logs.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[0].getMessage().startswith("scheduled run failed: RuntimeError: boom")
    assert "abcdefsecret" not in errors[0].getMessage()  # the webhook code is masked
    # Traceback only at DEBUG. (A MaskingFilter on a root handler may have rendered
    # exc_info into exc_text already, so accept either.)
    assert not errors[0].exc_info and not errors[0].exc_text
    assert any(r.levelno == logging.DEBUG and (r.exc_info or r.exc_text) for r in logs.records)
    assert isinstance(results[0][0], RuntimeError)
    assert results[0][1] == utc(2024, 1, 1, 0, 20)


def test_on_result_gets_the_result_and_the_next_run():
    clock = FakeClock(utc(2024, 1, 1, 0, 0))
    results = []
    scheduler = make("*/10 * * * *", clock, Recorder(clock),
                     on_result=lambda r, n: results.append((r, n)))
    scheduler.tick(clock.now)
    clock.advance(minutes=10)
    scheduler.tick(clock.now)
    assert scheduler.wait_idle(60)
    assert results == [(1, utc(2024, 1, 1, 0, 20))]


def test_failing_on_result_does_not_stop_the_scheduler(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0))
    job = Recorder(clock)

    def broken(result, next_run):
        raise ValueError("summary failed")

    scheduler = make("*/10 * * * *", clock, job, on_result=broken)
    scheduler.tick(clock.now)
    for _ in range(2):
        clock.advance(minutes=10)
        assert scheduler.tick(clock.now) is Tick.STARTED
        assert scheduler.wait_idle(60)
    assert len(job.calls) == 2
    assert messages(logs, logging.ERROR) == [
        "on_result callback failed: ValueError: summary failed"] * 2


def test_sys_exit_zero_in_job_is_not_an_error(logs):
    clock = FakeClock(utc(2024, 1, 1, 0, 0))

    def job():
        raise SystemExit(0)

    scheduler = make("*/10 * * * *", clock, job)
    scheduler.tick(clock.now)
    clock.advance(minutes=10)
    scheduler.tick(clock.now)
    assert scheduler.wait_idle(60)
    assert not messages(logs, logging.ERROR)


def test_naive_clock_is_rejected():
    scheduler = make("*/10 * * * *", FakeClock(utc(2024, 1, 1)), lambda: None)
    with pytest.raises(ValueError, match="aware"):
        scheduler.tick(datetime(2024, 1, 1))


def loop_harness(start: datetime, schedule: str, *, runs: int, **kwargs):
    """A run() loop on fake time: wait() advances the clock instead of sleeping."""
    clock = FakeClock(start)
    stop = threading.Event()
    waits: list[tuple[datetime, float]] = []
    job = Recorder(clock)
    results: list[tuple[object, datetime | None]] = []

    def counting_job():
        value = job()
        if len(job.calls) >= runs:
            stop.set()
        return value

    def fake_wait(timeout: float) -> bool:
        assert scheduler.wait_idle(60)  # let a started run finish before time moves on
        waits.append((clock.now, timeout))
        assert len(waits) < 100_000, "the loop does not advance"
        clock.advance(seconds=timeout)
        return stop.is_set()

    scheduler = make(schedule, clock, counting_job, stop_event=stop, wait=fake_wait,
                     on_result=lambda r, n: results.append((r, n)), **kwargs)
    return scheduler, clock, job, waits, results


def test_run_loop_on_fake_time_waits_in_short_slices():
    scheduler, clock, job, waits, results = loop_harness(
        utc(2024, 1, 1, 0, 0, 0, 250_000), "*/10 * * * *", runs=3)
    scheduler.run()
    assert job.calls == [utc(2024, 1, 1, 0, 10), utc(2024, 1, 1, 0, 20), utc(2024, 1, 1, 0, 30)]
    # Never longer than a second, never past the next fire time.
    assert all(0 < timeout <= 1.0 for _, timeout in waits)
    assert waits[0][1] == 1.0
    assert (utc(2024, 1, 1, 0, 9, 59, 250_000), 0.75) in waits
    assert [r for r, _ in results] == [1, 2, 3]
    assert results[-1][1] is None  # stopping: no next run
    assert results[0][1] == utc(2024, 1, 1, 0, 20)


def test_run_on_start_runs_immediately_then_on_schedule():
    scheduler, clock, job, waits, _ = loop_harness(
        utc(2024, 1, 1, 0, 3), "*/10 * * * *", runs=2, run_on_start=True)
    scheduler.run()
    assert job.calls == [utc(2024, 1, 1, 0, 3), utc(2024, 1, 1, 0, 10)]


def test_run_returns_at_once_when_already_stopped():
    stop = threading.Event()
    stop.set()
    job = Recorder(FakeClock(utc(2024, 1, 1)))
    scheduler = Scheduler(CronSchedule("* * * * *", "UTC"), job, stop_event=stop,
                          run_on_start=True, wait=lambda t: pytest.fail("must not wait"))
    scheduler.run()
    assert job.calls == []


class WatchedEvent(threading.Event):
    """A stop event that tells when someone has started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited_on = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited_on.set()
        return super().wait(timeout)


def test_stop_is_prompt_with_real_waiting():
    stop = WatchedEvent()
    # Slices of an hour: only a wait on the stop event itself can end within the test.
    scheduler = Scheduler(CronSchedule("0 0 1 1 *", "UTC"), lambda: None, stop_event=stop,
                          slice_seconds=3600)
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    assert stop.waited_on.wait(60)  # the loop is waiting for the next run
    stop.set()
    thread.join(60)
    assert not thread.is_alive()


def test_stop_lets_the_current_run_finish():
    stop = threading.Event()
    job = Recorder(FakeClock(utc(2024, 1, 1)), block=True)
    results = []
    scheduler = Scheduler(CronSchedule("0 0 1 1 *", "UTC"), job, stop_event=stop,
                          run_on_start=True, on_result=lambda r, n: results.append((r, n)))
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    assert job.started.wait(60)
    stop.set()
    thread.join(0.3)
    assert thread.is_alive()  # still waiting for the job
    assert results == []  # the job cannot end before it is released
    job.release.set()
    thread.join(60)
    assert not thread.is_alive()
    assert results == [(1, None)]


def test_next_run_before_the_loop_starts():
    clock = FakeClock(utc(2024, 1, 1, 0, 5))
    scheduler = make("*/10 * * * *", clock, lambda: None)
    assert scheduler.next_run() == utc(2024, 1, 1, 0, 10)
    zoned = Scheduler(CronSchedule("0 0 * * *", "Europe/Moscow"), lambda: None,
                      stop_event=threading.Event(), clock=clock)
    assert zoned.next_run().tzinfo == MOSCOW

