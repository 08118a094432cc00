"""--discover against the fake portal, and the mapping skeleton it writes."""

from __future__ import annotations

import json
import tomllib

import pytest

import cli
from app.bitrix.client import Bitrix24Client
from app.commands.discover import (
    discover,
    mapping_skeleton,
    render_text,
)
from app.errors import MappingError
from app.messages import say
from app.sync.runner import RunOptions, run_sync
from app.syncers import SYNCERS
from app.syncers.mapping import load_mapping_file
from app.testing.portal import FakePortal
from app.testing.seed import DEMO_MAPPING, seed_portal
from tests.conftest import settings_for


def found_on(portal: FakePortal, **kwargs):
    client = Bitrix24Client(portal.webhook_url, max_retries=0)
    try:
        return discover(client, **kwargs)
    finally:
        client.close()


def field_of(found, kind: str, key, name: str):
    source = next(s for s in found.sources if s.kind == kind and s.key == key)
    return source.field_named(name)


def test_lists_smart_processes_lists_and_user_fields_with_samples(seeded):
    found = found_on(seeded)

    assert [(s.kind, s.key, s.title) for s in found.sources] == [
        ("smart_process", 1036, "Города"), ("smart_process", 1040, "Объекты"),
        ("list", 48, "Категории нарушений"), ("list", 52, "Нарушения"),
        ("users", None, "Employees")]
    assert found.notes == []
    first_object = seeded.records("crm:1040")[0]
    address = field_of(found, "smart_process", 1040, "ufCrm5_1709125001")
    assert (address.type, address.title, address.sample) == (
        "string", "Адрес объекта", first_object["ufCrm5_1709125001"][:37] + "...")
    parent = field_of(found, "smart_process", 1040, "parentId1036")
    assert (parent.type, parent.links_to, parent.note) == (
        "crm_entity", 1036, "link to smart process 1036")
    link = field_of(found, "list", 52, "PROPERTY_212")
    assert (link.type, link.title, link.links_to) == ("E", "Категория нарушения", 48)
    severity = field_of(found, "list", 52, "PROPERTY_216")
    assert severity.note == "choices: Критическое, Значительное, Незначительное"
    email = field_of(found, "users", None, "EMAIL")
    assert (email.title, email.sample) == ("E-Mail", seeded.records("user")[0]["EMAIL"])
    assert field_of(found, "users", None, "ACTIVE").type == "boolean"


def test_without_crm_admin_rights_says_what_to_do_and_takes_ids_by_hand():
    with FakePortal(crm_admin=False) as portal:
        seed_portal(portal)
        blind = found_on(portal)
        told = found_on(portal, entity_type_ids=(1040,))
        portal.fail("crm.type.getByEntityTypeId", status=400, error="ACCESS_DENIED")
        untitled = found_on(portal, entity_type_ids=(1036,))

    assert say("discover.note.crm_admin") in blind.notes
    assert [(s.key, s.title) for s in untitled.of_kind("smart_process")] == [(1036, "")]
    assert untitled.sources[0].field_named("ufCrm3_1709124411").title == "Регион"
    assert any(n.startswith("Smart process 1036: no title: Access denied") for n in untitled.notes)
    assert "--entity-type-id" in say("discover.note.crm_admin")
    assert [s.kind for s in blind.sources] == ["list", "list", "users"]
    assert [(s.key, s.title) for s in told.of_kind("smart_process")] == [(1040, "Объекты")]
    assert told.of_kind("smart_process")[0].field_named("parentId1036").links_to == 1036


def test_missing_scopes_are_noted_and_user_brief_hides_contacts():
    with FakePortal(scopes=("lists", "user_brief")) as portal:
        seed_portal(portal)
        found = found_on(portal)

    assert [s.kind for s in found.of_kind("smart_process")] == []
    assert any("no crm scope" in note for note in found.notes)
    assert say("discover.note.user_brief") in found.notes
    assert field_of(found, "users", None, "EMAIL").sample == ""


def test_cli_json_is_one_object_and_text_is_aligned(capsys, monkeypatch, seeded):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", seeded.webhook_url)  # no database settings at all

    assert cli.main(["--discover", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["scopes"] == ["crm", "lists", "user", "department", "basic"]
    assert [s["key"] for s in data["sources"]] == [1036, 1040, 48, 52, None]
    assert seeded.code not in out + err

    assert cli.main(["--discover"]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("field")))
    column = lines[header].index("type")
    rows = lines[header + 1:header + 5]
    assert len(rows) == 4 and all(row.strip() for row in rows)
    for line in rows:  # Cyrillic titles must not shift the columns
        assert line[column - 2:column] == "  " and line[column] != " "
    assert "next: `python cli.py --discover --write mapping.toml`" in out
    assert seeded.code not in out


def test_written_skeleton_is_a_working_mapping(capsys, monkeypatch, seeded, sqlite_url,
                                               tmp_path):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", seeded.webhook_url)
    target = tmp_path / "mapping.toml"

    assert cli.main(["--discover", "--write", str(target)]) == 0

    assert f"Wrote a mapping skeleton to {target}" in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert seeded.code not in text and "/rest/" not in text
    overrides = load_mapping_file(target, set(SYNCERS))
    for name in ("city", "object", "category", "violation"):  # guessed exactly the demo's
        assert overrides[name]["params"] == DEMO_MAPPING[name]["params"], name
        assert overrides[name]["fields"] == DEMO_MAPPING[name]["fields"], name
    assert overrides["object"]["references"] == {"city_id": "city"}
    assert "# ufCrm3_1709124411 = \"\"  # Регион (string); e.g. Москва" in text
    for name, syncer in SYNCERS.items():
        syncer(overrides.get(name)).validate()
    report = run_sync(settings_for(seeded, sqlite_url, tmp_path), RunOptions(),
                      overrides=overrides)
    assert report.ok, report.render_table()
    assert report.directories["object"].warnings == 0


def test_skeleton_without_crm_admin_loads_and_asks_for_the_ids(tmp_path):
    with FakePortal(crm_admin=False) as portal:
        seed_portal(portal)
        text = mapping_skeleton(found_on(portal))
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")

    overrides = load_mapping_file(path, set(SYNCERS))

    assert "params" not in overrides["city"] and "params" not in overrides["object"]
    assert overrides["violation"]["params"] == DEMO_MAPPING["violation"]["params"]
    with pytest.raises(MappingError, match="set params.entityTypeId"):
        SYNCERS["city"](overrides["city"]).validate()


def test_skeleton_survives_awkward_titles_and_names(tmp_path):
    with FakePortal() as portal:
        portal.add_smart_process(1050, type_id=9, title='Города "новые"\n\x07\\', fields={
            "title": {"type": "string", "title": "Назв\x00ание # 1"},
            "ufCrm9_1": {"type": "string", "title": "Код\r\nгорода", "isMultiple": True},
        })
        portal.add_items(1050, [{"title": 'Тверь "центр"\n# не комментарий', "ufCrm9_1": ["a"]}])
        found = found_on(portal)
        text = mapping_skeleton(found)

    listing = render_text(found)
    assert '  «Города "новые" \\»  entityTypeId 1050' in listing
    assert '    title     string    Название # 1  Тверь "центр" # не комментарий' in listing

    data = tomllib.loads(text)
    assert data["city"]["params"] == {"entityTypeId": 1050}
    assert data["city"]["fields"] == {"title": "name"}
    assert "# ufCrm9_1 = \"\"  # Код города (string[]); e.g. [a]" in text


def test_write_never_overwrites_without_force(capsys, monkeypatch, seeded, tmp_path):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", seeded.webhook_url)
    target = tmp_path / "mapping.toml"
    target.write_text("# mine\n", encoding="utf-8")

    assert cli.main(["--discover", "--write", str(target)]) == 2
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "# mine\n"

    assert cli.main(["--discover", "--write", str(target), "--force"]) == 0
    assert "[city]" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, message", [
    (["--write", "m.toml"], "--write cannot be used here"),
    (["--discover", "--force"], "--force cannot be used here"),
    (["--discover", "--check"], "--discover and --check cannot be combined"),
    (["--check", "--dry-run"], "--dry-run cannot be used here"),
], ids=["write-without-discover", "force-without-write", "two-modes", "dry-run-with-check"])
def test_flag_combinations_are_usage_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_webhook_exits_3_without_the_code(capsys, monkeypatch, seeded):
    monkeypatch.setenv("BITRIX_WEBHOOK_URL", seeded.webhook_url.replace(seeded.code, "Wr0ng77x"))

    assert cli.main(["--discover", "--json"]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["fatal"].startswith("The portal rejected the webhook")
    assert "Wr0ng77x" not in out + err


def test_write_into_a_missing_folder_is_a_clear_error(tmp_path):
    from app.commands.discover import write_skeleton
    from app.errors import ConfigError

    with pytest.raises(ConfigError, match="Cannot write the mapping skeleton to .*No such file"):
        write_skeleton(tmp_path / "nope" / "mapping.toml", "[user]\n", force=False)
    with pytest.raises(ConfigError, match="Cannot write the mapping skeleton"):
        write_skeleton(tmp_path, "[user]\n", force=True)
