"""The portal's and the reads' errors on the console in the run's language (Russian by
default, English with SYNC_LANG=en), while --json, the run history and the log file keep
their English (issue 18 §1)."""

from __future__ import annotations

import json

import pytest

from app import messages
from app.db.history import error_summary
from app.report import DirectoryStatus
from app.testing.seed import seed_portal
from tests.conftest import hook_method, sync, write_mapping_toml
from tests.test_voice import assert_english, run

# The first page rides in the run's first batch: the portal refuses that request.
REFUSED_EN = "The portal refused the webhook (HTTP 403) for batch; check BITRIX_WEBHOOK_URL."
REFUSED_RU = "Портал отказал вебхуку (HTTP 403) на batch; проверьте BITRIX_WEBHOOK_URL."


@pytest.mark.parametrize("language", [None, "en"], ids=["ru", "en"])
def test_a_refused_webhook_is_told_in_the_run_language_and_json_stays_english(
        language, seeded, sqlite_url, tmp_path, mapping):
    seeded.fail_raw("batch", status=403, body="<html>Forbidden</html>", times=None)
    log_file = tmp_path / "sync.log"
    values = {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "DATABASE_URL": sqlite_url,
              "LOG_FILE": str(log_file),
              "SYNC_MAPPING_FILE": str(write_mapping_toml(tmp_path / "m.toml", mapping))}

    shown = run("cli.py", "--sync", "city", language=language, **values)
    as_json = run("cli.py", "--sync", "city", "--json", language=language, **values)
    status = run("cli.py", "--status", "--json", language=language, **values)

    assert shown.returncode == as_json.returncode == 3, shown.stderr
    if language is None:
        assert shown.stderr.startswith(f"ошибка: {REFUSED_RU}")
    else:
        assert shown.stderr.startswith(f"error: {REFUSED_EN}")
        assert_english(shown.stderr + shown.stdout)
    assert json.loads(as_json.stdout)["fatal"] == REFUSED_EN  # --json: English, always
    assert json.loads(status.stdout)["runs"][0]["error"].startswith(REFUSED_EN)  # the history
    log = log_file.read_text(encoding="utf-8")
    assert REFUSED_EN in log
    assert_english(log)


def _cut_a_chained_page(portal, db_url, tmp_path, mapping):
    """A keyset read whose third chained page comes back one row short: the read fails."""
    seed_portal(portal, cities=300)
    assert sync(portal, db_url, tmp_path, mapping, "city").ok

    def cut_third_chained_page(call, params, answer):
        if call == 5:  # the first page and the highest id, then chained pages one, two, three
            answer.result["items"].pop()
        return answer

    hook_method(portal, "crm.item.list", cut_third_chained_page)
    return sync(portal, db_url, tmp_path, mapping, "city", full=True)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_short_read_speaks_the_run_language_and_keeps_english_for_json_and_history(
        language, portal, sqlite_url, tmp_path, mapping):
    messages.set_language(language)

    report = _cut_a_chained_page(portal, sqlite_url, tmp_path, mapping)

    stats = report.directories["city"]
    assert stats.status == DirectoryStatus.FAILED
    short = ("crm.item.list returned 199 rows but reported 300, and rows remain after a page "
             "that came back short; the read is incomplete")
    english = f"read incomplete, nothing deactivated: {short}"
    if language == "ru":
        assert stats.message == (
            "чтение не завершено, ничего не деактивировано: crm.item.list вернул 199 строк, а "
            "сообщил о 300, и после неполной страницы строки ещё остались; чтение неполное")
        assert "вернул 199 строк, а сообщил о 300" in report.render_table()
    else:
        assert stats.message == english
        assert_english(report.render_table())
    data = report.to_dict()
    assert data["directories"]["city"]["message"] == english
    assert [e["message"] for e in data["errors"]] == [short]
    assert error_summary(report) == f"city: {english}"
