"""Logging: a quiet console for cli.py, a log file shared with another process on Windows."""

from __future__ import annotations

import logging

from app.logging_setup import CLI_CONSOLE, SharedRotatingFileHandler, setup_logging


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def in_use_on_windows(source: str, dest: str) -> None:
    """What os.rename does on Windows while another process holds the file open."""
    raise PermissionError(13, "The process cannot access the file because it is being used by "
                              "another process", source, 32)


def emit(handler: logging.Handler, text: str) -> None:
    handler.handle(logging.LogRecord("bitrix_sync", logging.INFO, __file__, 1, text, None, None))


def test_a_rollover_the_other_process_blocks_keeps_writing_and_retries_later(tmp_path, capsys):
    """The service and a manual run share bitrix-sync.log: WinError 32 on the rename."""
    path = tmp_path / "bitrix-sync.log"
    clock = FakeClock()
    handler = SharedRotatingFileHandler(path, maxBytes=200, backupCount=2, encoding="utf-8",
                                        clock=clock)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.rotator = in_use_on_windows
    try:
        for n in range(10):
            emit(handler, f"line {n} " + "x" * 40)
        assert not (tmp_path / "bitrix-sync.log.1").exists()
        text = path.read_text(encoding="utf-8")
        assert [f"line {n} " in text for n in range(10)] == [True] * 10
        assert text.count("log rotation postponed by 60 s") == 1  # once per retry period
        assert "used by another process" in text

        handler.rotator = None  # the other process let go
        emit(handler, "still postponed")
        assert not (tmp_path / "bitrix-sync.log.1").exists()
        clock.now += SharedRotatingFileHandler.retry_seconds
        emit(handler, "after the retry time")
    finally:
        handler.close()

    assert "line 9 " in (tmp_path / "bitrix-sync.log.1").read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8").strip() == "after the retry time"
    assert "Logging error" not in capsys.readouterr().err


def test_cli_console_shows_warnings_but_the_log_file_keeps_info(tmp_path, capsys):
    log_file = tmp_path / "sync.log"
    setup_logging("INFO", log_file=log_file, console_level=CLI_CONSOLE)
    log = logging.getLogger("bitrix_sync.test")

    log.info("city: fetched 8")
    log.warning("city: one record failed")
    for handler in logging.getLogger().handlers:
        handler.flush()

    err = capsys.readouterr().err
    assert "one record failed" in err and "fetched 8" not in err
    text = log_file.read_text(encoding="utf-8")
    assert "INFO" in text and "fetched 8" in text and "one record failed" in text


def test_verbose_shows_debug_on_the_console(capsys):
    setup_logging("INFO", verbose=True, console_level=CLI_CONSOLE)
    logging.getLogger("bitrix_sync.test").debug("page 2 of city")
    assert "page 2 of city" in capsys.readouterr().err


def test_log_level_error_also_quiets_console_warnings(capsys):
    setup_logging("ERROR", console_level=CLI_CONSOLE)
    logging.getLogger("bitrix_sync.test").warning("a warning")
    assert capsys.readouterr().err == ""
