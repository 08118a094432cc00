"""The screens of --check, --discover and a run's warnings, read as the admin reads them:
`python cli.py` in a child process, in a copy of the project inside a parent folder."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator

import pytest

from app.db.connect import make_engine
from app.db.run_lock import run_lock
from app.syncers import SYNCERS
from app.syncers.mapping import load_mapping_file
from app.testing.portal import FakePortal
from app.testing.seed import CATEGORY_LINK_PROPERTY, DEMO_MAPPING, FINE_PROPERTY, seed_portal
from tests.conftest import ROOT, write_mapping_toml
from tests.test_first_hour import lines, make_project, run

pytestmark = pytest.mark.slow


@pytest.fixture
def plain_portal() -> Iterator[FakePortal]:
    """A portal whose violation list keeps its category in a plain string property."""
    with FakePortal() as portal:
        seed_portal(portal, plain_category=True)
        yield portal


def without_category(mapping: dict) -> dict:
    """The mapping --discover --write drafted before: the category property left out."""
    mapping = copy.deepcopy(mapping)
    del mapping["violation"]["fields"][CATEGORY_LINK_PROPERTY]
    mapping["violation"].pop("references", None)
    return mapping


def check_env(portal: FakePortal, db_url: str, **extra: str) -> dict[str, str]:
    """The settings of a child run; Russian, the default, unless `extra` says otherwise
    (named anyway, so a SYNC_LANG of the suite's own cannot change it)."""
    return {"BITRIX_WEBHOOK_URL": portal.webhook_url, "DATABASE_URL": db_url,
            "BITRIX_MAX_RETRIES": "0", "SYNC_LANG": "ru", **extra}


def test_check_warns_about_a_reference_nothing_fills_naming_the_field(
        tmp_path, plain_portal, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", without_category(DEMO_MAPPING))

    result = run(project, "--check", env=check_env(plain_portal, sqlite_url))

    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result.stdout)
    at = out.index(next(line for line in out if line.startswith("[WARN] violation: ссылка")))
    assert out[at].startswith("[WARN] violation: ссылка category_id -> category: колонка "
                              "category_id модели Violation ссылается на справочник category, "
                              "но ни одно поле [violation] её не заполняет")
    assert "значения поля Bitrix24 PROPERTY_212 похожи на id справочника category" in out[at + 1]
    assert out[at + 2].strip() == ('как исправить: добавьте в [violation.fields] строку '
                                   'PROPERTY_212 = "category_id"; если связь не нужна — ничего')
    assert out[-2] == "Всё нужное для синхронизации на месте (предупреждений выше: 1)."
    assert "Everything" not in result.stdout and result.stderr == ""


def test_check_in_english_names_the_field_too(tmp_path, plain_portal, sqlite_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", without_category(DEMO_MAPPING))

    result = run(project, "--check",
                 env=check_env(plain_portal, sqlite_url, SYNC_LANG="en"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert ("[WARN] violation: reference category_id -> category: the column category_id of "
            "the model Violation refers to category, but no field of [violation] fills it"
            in result.stdout)
    assert "the values of the Bitrix24 field PROPERTY_212 look like category ids" in result.stdout
    assert "Everything needed for a sync is in place (1 warning(s) above)." in result.stdout
    assert "ссылка" not in result.stdout


def test_discover_write_drafts_a_plain_property_as_the_reference(
        tmp_path, plain_portal, sqlite_url):
    project = make_project(tmp_path)
    env = check_env(plain_portal, sqlite_url)

    result = run(project, "--discover", "--write", str(project / "mapping.toml"), env=env)

    assert result.returncode == 0, result.stderr
    drafted = load_mapping_file(project / "mapping.toml", set(SYNCERS))
    assert drafted["violation"]["fields"][CATEGORY_LINK_PROPERTY] == "category_id"
    assert drafted["violation"]["references"] == {"category_id": "category"}
    text = (project / "mapping.toml").read_text(encoding="utf-8")
    assert "значения похожи на id справочника category" in text
    assert lines(result.stdout)[-2:] == [
        f"Черновик сопоставления записан в {project / 'mapping.toml'}.",
        "дальше: проверьте его, сохраните рядом с cli.py под именем mapping.toml (или укажите "
        "его в SYNC_MAPPING_FILE) и запустите `python cli.py --check`."]
    # The draft leaves no reference unfilled.
    check = run(project, "--check", env=env)
    assert check.returncode == 0, check.stdout
    assert "ссылка category_id -> category: колонка" not in check.stdout
    assert "[ OK ] violation: ссылка category_id -> category" in check.stdout


def test_discover_says_what_to_run_next_in_the_console_language(tmp_path, seeded):
    project = make_project(tmp_path)
    env = {"BITRIX_WEBHOOK_URL": seeded.webhook_url, "SYNC_LANG": "ru"}

    russian = run(project, "--discover", env=env)
    english = run(project, "--discover", env={**env, "SYNC_LANG": "en"})

    assert russian.returncode == english.returncode == 0
    assert lines(russian.stdout)[0].startswith("Права вебхука: crm, lists")
    assert lines(russian.stdout)[-1] == ("дальше: `python cli.py --discover --write "
                                         "mapping.toml` составит черновик сопоставления.")
    assert lines(english.stdout)[0].startswith("Webhook scopes: crm, lists")
    assert lines(english.stdout)[-1] == ("next: `python cli.py --discover --write "
                                         "mapping.toml` drafts the mapping.")


def test_discover_lists_a_plain_property_as_holding_another_directorys_ids(
        tmp_path, plain_portal):
    project = make_project(tmp_path)

    result = run(project, "--discover", env={"BITRIX_WEBHOOK_URL": plain_portal.webhook_url,
                                             "SYNC_LANG": "ru"})

    assert result.returncode == 0, result.stderr
    [row] = [line for line in lines(result.stdout) if line.strip().startswith("PROPERTY_212")]
    assert row.split()[1:4] == ["S", "Код", "раздела"]
    assert row.endswith("значения похожи на id справочника category")


def test_check_says_which_model_class_of_which_file_is_used(tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    parent_models = project.parent / "models.py"
    shutil.copyfile(ROOT / "app" / "db" / "models.py", parent_models)
    mapping = copy.deepcopy(DEMO_MAPPING)
    mapping["city"]["model"] = "City"
    del mapping["object"]["references"]  # the declaration's: city_id -> city
    write_mapping_toml(project / "mapping.toml", mapping)

    result = run(project, "--check", env=check_env(seeded, sqlite_url))

    assert result.returncode == 0, result.stdout
    assert f"[ OK ] модели: models.py родительского проекта: {parent_models}" in result.stdout
    assert (f"[ OK ] city: модель: класс City из {parent_models}, таблица cities (имя класса "
            f"— из [city] файла {project / 'mapping.toml'})") in result.stdout
    assert (f"[ OK ] object: модель: класс Object из {parent_models}, таблица objects (имя "
            "класса — встроенное по умолчанию)") in result.stdout
    assert "built-in defaults" not in result.stdout and " in app/" not in result.stdout
    assert ("references — встроенное сопоставление справочника (класс ObjectSyncer в "
            "app/syncers/object_syncer.py)") in result.stdout


def test_check_says_a_sync_is_running_now(tmp_path, seeded, mysql_url):
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    engine = make_engine(mysql_url)
    try:
        with engine.connect() as conn, run_lock(conn):
            running = run(project, "--check", env=check_env(seeded, mysql_url))
        after = run(project, "--check", env=check_env(seeded, mysql_url))
    finally:
        engine.dispose()

    assert running.returncode == 0, running.stdout
    assert ("[WARN] синхронизация сейчас: сейчас идёт синхронизация: пока она не закончится, "
            "таблицы и их состояние меняются, а новый запуск будет отклонён (код 4)"
            in running.stdout)
    assert "как исправить: ничего: дождитесь её конца (`python cli.py --status`" in running.stdout
    assert "синхронизация сейчас" not in after.stdout
    assert lines(after.stdout)[-2] == "Всё нужное для синхронизации на месте."


@pytest.mark.parametrize("dry_run", [False, True], ids=["sync", "dry-run"])
def test_a_mapped_field_the_portal_does_not_return_is_a_warning_under_the_table(
        tmp_path, seeded, mysql_url, dry_run):
    project = make_project(tmp_path)
    mapping = copy.deepcopy(DEMO_MAPPING)
    fields = mapping["violation"]["fields"]
    fields["PROPERTY_2300"] = fields.pop(FINE_PROPERTY)  # a misspelt field name
    write_mapping_toml(project / "mapping.toml", mapping)
    env = check_env(seeded, mysql_url, LOG_FILE=str(tmp_path / "sync.log"))
    flags = ["--dry-run"] if dry_run else []

    result = run(project, "--sync", "category", "violation", *flags, env=env)
    # --full: after a sync the next run reads only what changed, here nothing.
    as_json = run(project, "--sync", "category", "violation", "--json", "--full", *flags,
                  env=env)

    assert result.returncode == as_json.returncode == 0, result.stderr
    assert result.stderr == ""  # no log line with a timestamp and a module name
    table = lines(result.stdout)
    assert [row.split()[0] for row in table[2:4]] == ["category", "violation"]
    assert table[2].split()[-1] != table[3].split()[-1]  # not the same bare "ok"
    assert table[3].split()[-1] == "ок_с_предупреждениями"
    assert ("предупреждение: violation: поля PROPERTY_2300 (-> fine) не было ни в одной из "
            "прочитанных записей (30), поэтому fine получает пустое значение; проверьте имя "
            "поля в сопоставлении: `python cli.py --check`") in table
    violation = json.loads(as_json.stdout)["directories"]["violation"]
    assert violation["status"] == "ok_with_warnings"
    assert violation["absent_fields"] == {"PROPERTY_2300": "fine"}
    assert json.loads(as_json.stdout)["ok"] is True
    log = (tmp_path / "sync.log").read_text(encoding="utf-8")
    assert "field 'PROPERTY_2300' (mapped to fine) is not in the rows" in log


def test_every_text_of_these_screens_has_both_languages_with_the_same_placeholders():
    import string

    from app.messages import CATALOG

    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    mine = [key for key in CATALOG
            if key.startswith(("check.", "discover.", "report.", "table.status_ok_with"))]
    assert len(mine) > 100
    for key in mine:
        assert set(CATALOG[key]) == {"ru", "en"}, key
        assert placeholders(CATALOG[key]["ru"]) == placeholders(CATALOG[key]["en"]), key
