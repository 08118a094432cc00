"""The wire to the portal: a deadline for the whole answer, a size cap, non-JSON, loopback direct.

Misbehaving portals are tiny loopback servers (tests/misbehaving.py); whole runs go
through run_sync() or `python cli.py` against them.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from sqlalchemy import text

from app import errors
from app.bitrix.client import Bitrix24Client
from app.db.connect import make_engine
from app.sync.runner import RunOptions, run_sync
from app.testing.seed import DEMO_MAPPING
from tests.conftest import sync, write_mapping_toml
from tests.misbehaving import (
    BROKEN_JSON,
    CODE,
    HTML_PAGE,
    MisbehavingPortal,
    endless,
    fixed,
    gzipped,
    headers,
    refused_port,
    trickle,
)

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("cities", "objects", "violation_categories", "violations", "users")
MB = 2**20


def row_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return sum(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in TABLES)
    finally:
        engine.dispose()


def run_against(portal_url: str, db_url: str, tmp_path: Path, **env: str):
    """One run of every directory against `portal_url`, settings as a user would give them."""
    from app.config import load_settings

    environ = {"BITRIX_WEBHOOK_URL": portal_url, "DATABASE_URL": db_url, **env}
    settings = load_settings(environ=environ, project_dir=tmp_path / "project")
    return run_sync(settings, RunOptions(), overrides=DEMO_MAPPING)


def cli_env(portal_url: str, db_url: str, tmp_path: Path, **env: str) -> dict[str, str]:
    mapping = write_mapping_toml(tmp_path / "mapping.toml", DEMO_MAPPING)
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "BITRIX_WEBHOOK_URL": portal_url,
            "DATABASE_URL": db_url, "SYNC_MAPPING_FILE": str(mapping), **env}


def retry_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and "; retry " in r.getMessage()]


# -- BITRIX_TIMEOUT is the time for the whole answer ----------------------------------------


def test_an_answer_that_trickles_is_cut_at_the_timeout():
    with MisbehavingPortal(trickle(0.2)) as portal:
        client = Bitrix24Client(portal.webhook_url, timeout=1, max_retries=0)
        with pytest.raises(errors.PortalUnreachableError) as caught:
            client.call("user.get")
        assert portal.wait_until_answers_end(), "the client hung up"
        client.close()
    assert "did not answer completely within 1 s (BITRIX_TIMEOUT)" in str(caught.value)
    assert caught.value.exit_code == 3
    assert portal.requests == 1
    # It hung up long before the trickle's 100 bytes: the body read was stopped, not finished.
    assert portal.bytes_sent < 40


def test_a_slow_answer_that_completes_in_time_is_read():
    body = b'{"result": [{"ID": "1"}], "total": 1}'

    def in_pieces(handler, portal):
        headers(handler, "application/json", len(body))
        for i in range(0, len(body), 8):
            portal.write(handler, body[i:i + 8])
            time.sleep(0.05)

    with MisbehavingPortal(in_pieces) as portal:
        client = Bitrix24Client(portal.webhook_url, timeout=10, max_retries=0)
        assert client.call("user.get")["result"] == [{"ID": "1"}]
        client.close()


@pytest.mark.slow
def test_a_trickling_portal_ends_the_run_by_itself(tmp_path, sqlite_url):
    # A byte every 0.4 s never trips a socket timeout; the whole-answer deadline
    # (BITRIX_TIMEOUT=1) does, and BITRIX_MAX_RETRIES=1 retries once: the run ends by itself,
    # exit 3 (the child is killed at 40 s: the test fails).
    with MisbehavingPortal(trickle(0.4, most=1000)) as portal:
        env = cli_env(portal.webhook_url, sqlite_url, tmp_path,
                      BITRIX_TIMEOUT="1", BITRIX_MAX_RETRIES="1")
        result = subprocess.run([sys.executable, str(ROOT / "cli.py")], cwd=tmp_path, env=env,
                                capture_output=True, text=True, encoding="utf-8", timeout=40)
        assert portal.wait_until_answers_end(), "no answer is still being read"
    assert result.returncode == 3, result.stderr
    assert "within 1 s (BITRIX_TIMEOUT)" in result.stderr
    assert "gave up after 2 attempts" in result.stderr
    # One retry round for all five directories read at once: after the first batch (all
    # first pages, given up on at once), two plain calls each at most.
    assert result.stderr.count("; retry 1/1 in") == 1
    assert portal.requests <= 1 + 2 * len(TABLES)
    assert CODE not in result.stderr + result.stdout
    assert row_count(sqlite_url) == 0


# -- a size cap on answers ------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b'\xef\xbb\xbf{"result": [{"ID": "1"}], "total": 1}',  # a PHP file saved with a BOM
    b'{"result": [{"ID": "1", "NAME": "\\ud800"}], "total": 1}',  # a lone surrogate escape
], ids=["byte order mark", "lone surrogate"])
def test_an_answer_the_json_module_reads_is_read(body):
    with MisbehavingPortal(fixed("application/json", body)) as portal:
        client = Bitrix24Client(portal.webhook_url, timeout=5, max_retries=0)
        try:
            answer = client.call("user.get")
        finally:
            client.close()
    assert answer["result"][0]["ID"] == "1"
    assert answer["total"] == 1


def test_a_compressed_answer_is_read_and_its_unpacked_size_is_capped():
    rows = b",".join(b'{"ID": "%d", "NAME": "%s"}' % (i, b"x" * 100) for i in range(1, 20_001))
    body = b'{"result": [' + rows + b'], "total": 20000}'  # 2.4 MB, ~55 KB packed
    with MisbehavingPortal(gzipped(body)) as portal:
        client = Bitrix24Client(portal.webhook_url, timeout=5, max_retries=0)
        try:
            answer = client.call("user.get")
        finally:
            client.close()
        capped = Bitrix24Client(portal.webhook_url, max_response_bytes=1 * MB, max_retries=0)
        with pytest.raises(errors.PortalAnswerTooLargeError, match="larger than 1 MB"):
            capped.call("user.get")  # what it unpacks to counts, not what came over the wire
        capped.close()
    assert [int(r["ID"]) for r in answer["result"]] == list(range(1, 20_001))


def test_an_endless_answer_stops_at_the_cap_and_is_not_retried():
    with MisbehavingPortal(endless()) as portal:
        client = Bitrix24Client(portal.webhook_url, max_response_bytes=1 * MB, max_retries=3)
        with pytest.raises(errors.PortalAnswerTooLargeError) as caught:
            client.call("batch")
        assert portal.wait_until_answers_end(), "the client hung up"
        client.close()
    message = str(caught.value)
    assert "larger than 1 MB (BITRIX_MAX_RESPONSE_MB)" in message
    assert caught.value.exit_code == 3
    assert portal.requests == 1
    # What was sent is the cap plus what the two sockets' buffers held, not the endless rest.
    assert portal.bytes_sent < 1 * MB + 16 * MB


def test_an_answer_announced_over_the_cap_is_refused_before_reading():
    def huge(handler, portal):
        headers(handler, "application/json", 10**9)
        portal.write(handler, b'{"result": [')

    with MisbehavingPortal(huge) as portal:
        client = Bitrix24Client(portal.webhook_url, max_response_bytes=1 * MB, max_retries=0)
        with pytest.raises(errors.PortalAnswerTooLargeError, match="announced 1,000,000,000"):
            client.call("user.get")
        client.close()


def test_an_answer_exactly_at_the_cap_is_read():
    head = b'{"result": [{"ID": "1"}, {"ID": "2"}]'
    body = head + b" " * (2 * MB - len(head) - 1) + b"}"
    with MisbehavingPortal(fixed("application/json", body)) as portal:
        client = Bitrix24Client(portal.webhook_url, max_response_bytes=2 * MB, max_retries=0)
        assert client.call("user.get")["result"][-1] == {"ID": "2"}
        client.close()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS read with resource (kB on Linux)")
def test_endless_answers_keep_a_whole_run_under_600_mb(tmp_path, sqlite_url):
    # Every directory's reader meets an endless answer at once, with the default cap.
    peak_file = tmp_path / "peak-kb.txt"
    child = ("import resource, sys; sys.path.insert(0, sys.argv[1]); import cli; "
             "code = cli.main([]); "
             "open(sys.argv[2], 'w').write(str(resource.getrusage(resource.RUSAGE_SELF)"
             ".ru_maxrss)); sys.exit(code)")
    with MisbehavingPortal(endless()) as portal:
        env = cli_env(portal.webhook_url, sqlite_url, tmp_path)
        result = subprocess.run([sys.executable, "-c", child, str(ROOT), str(peak_file)],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                encoding="utf-8", timeout=120)
        assert portal.wait_until_answers_end(), "every endless answer was hung up on"
    assert result.returncode == 3, result.stderr
    assert "larger than 32 MB (BITRIX_MAX_RESPONSE_MB)" in result.stderr
    peak_mb = int(peak_file.read_text()) / 1024
    assert peak_mb < 600, f"peak RSS {peak_mb:.0f} MB"
    assert portal.requests <= len(TABLES)  # not retried
    assert portal.bytes_sent < portal.requests * (32 * MB + 16 * MB)
    assert row_count(sqlite_url) == 0


# -- answers that are not Bitrix24 JSON -----------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    pytest.param(HTML_PAGE, "non-JSON body (text/html)", id="html-page"),
    pytest.param(BROKEN_JSON, "non-JSON body (application/json)", id="broken-json"),
])
def test_a_portal_answering_everything_with_non_json_is_a_portal_failure(
        answer, words, db_url, tmp_path, caplog):
    with MisbehavingPortal(answer) as portal:
        report = run_against(portal.webhook_url, db_url, tmp_path, BITRIX_MAX_RETRIES="1")

    assert report.exit_code == 3
    assert words in report.fatal and "every request failed" in report.fatal
    assert [i for i in report.issues if i.btxid is not None] == []  # no record errors
    assert sum(d.errors for d in report.directories.values()) == 0
    # Five directories were read at once: one retry round for all of them.
    assert len(retry_lines(caplog)) == 1
    assert portal.requests <= 2 * len(TABLES)
    assert row_count(db_url) == 0
    assert all(CODE not in r.getMessage() for r in caplog.records)


# -- a portal that is down: one schedule, one line per round, one error ---------------------


def test_portal_down_is_one_line_per_retry_round_and_one_error(db_url, tmp_path, caplog):
    with refused_port() as port:
        from app.config import load_settings

        settings = load_settings(environ={
            "BITRIX_WEBHOOK_URL": f"http://127.0.0.1:{port}/rest/1/{CODE}/",
            "DATABASE_URL": db_url}, project_dir=tmp_path / "project")
        client = Bitrix24Client.from_settings(settings)
        client.backoff = 0.01  # the schedule, not its pauses, is what is tested here
        report = run_sync(settings, RunOptions(), overrides=DEMO_MAPPING, client=client)
        client.close()

    assert settings.bitrix_max_retries == 6
    assert report.exit_code == 3
    assert "Connection refused" in report.fatal
    assert "gave up after 7 attempts" in report.fatal
    # Five readers met the refused port at once; each round is told once, not per reader.
    lines = retry_lines(caplog)
    assert [line.split("; retry ")[1].split(" in ")[0] for line in lines] == \
        [f"{n}/6" for n in range(1, 7)]
    final = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(final) == 1 and "gave up after 7 attempts" in final[0].getMessage()
    assert all(CODE not in r.getMessage() for r in caplog.records)
    assert row_count(db_url) == 0


@pytest.mark.slow
def test_portal_down_gives_up_after_the_set_retries_within_the_budget(tmp_path, sqlite_url):
    # Real pauses, as few as BITRIX_MAX_RETRIES=2 allows (the default settings' 15 s down
    # budget is test_outage.py's, on a fake clock); the child is killed at 60 s as a safety net.
    with refused_port() as port:
        env = cli_env(f"http://127.0.0.1:{port}/rest/1/{CODE}/", sqlite_url, tmp_path,
                      BITRIX_MAX_RETRIES="2")
        result = subprocess.run([sys.executable, str(ROOT / "cli.py")], cwd=tmp_path, env=env,
                                capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 3, result.stderr
    waits = [float(line.split(" in ")[-1].rstrip(" s")) for line in result.stderr.splitlines()
             if "; retry " in line]
    assert waits and len(waits) <= 2
    assert sum(waits) <= 15.0
    assert f"gave up after {len(waits) + 1} attempts" in result.stderr, result.stderr
    assert CODE not in result.stderr + result.stdout


# -- no proxy for loopback; a real portal keeps its proxy -----------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                   "all_proxy")


@pytest.fixture
def dead_proxy(monkeypatch):
    """Every proxy setting points at a port nothing listens on; nothing is exempt."""
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield url


def windows_internet_options(monkeypatch, proxy: str) -> None:
    """What requests reads on Windows with a proxy set in Internet Options (no env vars)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(requests.utils, "getproxies",
                        lambda: {"http": proxy, "https": proxy})
    monkeypatch.setattr(requests.utils, "proxy_bypass", lambda host: False)


def test_the_loopback_portal_is_never_asked_through_a_proxy(seeded, dead_proxy, monkeypatch):
    # The contrast: a plain requests session goes to the dead proxy and fails.
    with pytest.raises(requests.exceptions.ProxyError):
        requests.post(seeded.webhook_url + "user.get", json={}, timeout=5)

    client = Bitrix24Client(seeded.webhook_url, max_retries=0)
    assert client.call("user.get")["result"]

    windows_internet_options(monkeypatch, dead_proxy)
    with pytest.raises(requests.exceptions.ProxyError):
        requests.post(seeded.webhook_url + "user.get", json={}, timeout=5)
    assert Bitrix24Client(seeded.webhook_url, max_retries=0).call("user.get")["result"]
    client.close()


class RecordingProxy:
    """A proxy that notes each request line and refuses it (403)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # accept() wakes up to notice close()
        self._closing = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                self.lines.append(conn.recv(4096).decode("latin-1").split("\r\n")[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self._sock.close()


@pytest.mark.parametrize("configured", ["environment", "windows-internet-options"])
def test_a_real_portal_keeps_the_configured_proxy(configured, monkeypatch):
    proxy = RecordingProxy()
    try:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        if configured == "environment":
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        else:
            windows_internet_options(monkeypatch, proxy.url)
        client = Bitrix24Client(f"https://portal.example.invalid/rest/1/{CODE}/", max_retries=0)
        with pytest.raises(errors.PortalError) as caught:
            client.call("user.get")
        client.close()
    finally:
        proxy.close()
    assert [line.rsplit(" ", 1)[0] for line in proxy.lines] == \
        ["CONNECT portal.example.invalid:443"]
    assert "the proxy failed" in str(caught.value)
    assert CODE not in str(caught.value)


def _open_to(port: int) -> list:
    """This process's TCP connections to `port` that are still open (not yet closed)."""
    return [c for c in psutil.Process().net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status != psutil.CONN_CLOSE]


def test_no_connection_to_the_portal_stays_open_after_a_run_with_resets(
        seeded, sqlite_url, tmp_path, mapping, caplog):
    port = urlsplit(seeded.webhook_url).port
    for method in ("crm.item.list", "lists.element.get", "user.get", "batch"):
        seeded.drop_connection(method, times=2)  # each is retried on a fresh connection
    client = Bitrix24Client(seeded.webhook_url, max_retries=3, sleep=lambda seconds: None)

    with caplog.at_level(logging.WARNING, logger="app.bitrix"):
        report = sync(seeded, sqlite_url, tmp_path, mapping)  # the run's own client
        again = sync(seeded, sqlite_url, tmp_path, mapping, client=client, full=True)

    assert (report.exit_code, again.exit_code) == (0, 0)
    assert report.totals["created"] == again.totals["unchanged"] == row_count(sqlite_url) > 0
    retried = [r for r in caplog.records if "closed the connection" in r.getMessage()]
    assert len(retried) >= 2
    # No garbage collection in between: each run let go of every socket it opened.
    assert _open_to(port) == []
