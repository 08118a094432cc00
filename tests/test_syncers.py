"""Contract over every registered syncer, run order, and mapping overrides."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.db import models
from app.errors import MappingError
from app.sync.engine import run_order
from app.sync.runner import RunOptions, build_syncers, run_sync
from app.syncers import SYNCERS, BaseSyncer
from app.syncers.mapping import load_mapping_file
from app.testing.seed import DEMO_MAPPING
from tests.conftest import settings_for


def collection(spec: dict) -> str:
    """The fake portal's collection a directory's mapping reads (FakePortal.records)."""
    if spec["method"] == "crm.item.list":
        return f"crm:{spec['params']['entityTypeId']}"
    if spec["method"] == "lists.element.get":
        return f"list:{spec['params']['IBLOCK_ID']}"
    return {"user.get": "user"}[spec["method"]]


@pytest.mark.parametrize("name", list(SYNCERS))
def test_the_demo_mapping_repeats_the_syncers_declarations(name):
    # app.testing may not import the syncers (pyproject.toml contracts), so the demo mapping
    # keeps its own copy: the same method, the declared fields and references, plus only
    # the demo portal's own ids and fields.
    declared, demo = SYNCERS[name], DEMO_MAPPING[name]
    assert set(DEMO_MAPPING) == set(SYNCERS)
    assert demo["method"] == declared.method
    assert declared.field_map.items() <= demo["fields"].items()
    assert demo.get("references", {}) == {
        column: target for column, target in declared.references.items()
        if column in demo["fields"].values()}
    assert set(declared.depends_on) <= set(demo.get("references", {}).values())
    assert declared.params.items() <= demo["params"].items()
    assert declared.title_in("ru") and declared.title_in("en")


@pytest.mark.parametrize("name", list(SYNCERS))
def test_declaration_fits_the_built_in_model(name, mapping):
    cls = SYNCERS[name]
    table = getattr(models, cls.model).__table__
    for syncer in (cls(), cls(mapping[name])):
        assert syncer.name == name
        assert {"btxid", *syncer.mapping.columns} <= set(table.c.keys())
        assert syncer.dependencies() <= set(SYNCERS)
        for column, target in syncer.mapping.references.items():
            assert column in syncer.mapping.columns and target in SYNCERS
    assert table.c.btxid.unique and table.c.btxid.nullable


@pytest.mark.parametrize("name", list(SYNCERS))
def test_each_syncer_loads_every_row_and_a_second_run_changes_nothing(
        name, seeded, db, db_url, tmp_path, mapping):
    settings = settings_for(seeded, db_url, tmp_path)
    order = run_order(build_syncers(settings, mapping), [name])
    deps = [n for n in order if n != name]
    if deps:
        run_sync(settings, RunOptions(names=tuple(deps)), overrides=mapping)

    first = run_sync(settings, RunOptions(names=(name,)), overrides=mapping)
    second = run_sync(settings, RunOptions(names=(name,), full=True), overrides=mapping)

    expected = len(seeded.records(collection(mapping[name])))
    table = getattr(models, SYNCERS[name].model).__tablename__
    with db.connect() as conn:
        stored = conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
    assert (first.directories[name].created, stored) == (expected, expected)
    assert second.directories[name].unchanged == expected
    assert second.totals["created"] == second.totals["updated"] == 0


def test_run_order_follows_dependencies():
    syncers = {n: cls() for n, cls in SYNCERS.items()}
    order = run_order(syncers)
    assert order.index("city") < order.index("object")
    assert order.index("category") < order.index("violation")
    assert sorted(order) == sorted(SYNCERS)
    assert run_order(syncers, ["object", "city"]) == ["city", "object"]


def test_reference_added_in_mapping_becomes_a_dependency():
    syncers = {n: cls() for n, cls in SYNCERS.items()}
    syncers["user"] = SYNCERS["user"]({"fields": {"NAME": "first_name", "UF_CITY": "position"},
                                       "references": {"position": "violation"}})
    order = run_order(syncers)
    assert order.index("violation") < order.index("user")


def _declare(name, depends_on):
    return type(f"X{name}", (BaseSyncer,), {"name": name, "title": {"en": name}, "model": "City",
                                            "method": "user.get", "field_map": {"NAME": "name"},
                                            "depends_on": depends_on})


def test_cycle_is_a_startup_error_naming_both():
    syncers = {"a": _declare("a", ("b",))(), "b": _declare("b", ("a",))()}
    with pytest.raises(MappingError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        run_order(syncers)


def test_unknown_dependency_names_both():
    with pytest.raises(MappingError, match="'a' depends on 'ghost'"):
        run_order({"a": _declare("a", ("ghost",))()})


def test_mapping_file_overrides_and_checks(tmp_path):
    good = tmp_path / "mapping.toml"
    good.write_text(
        '[object]\nmethod = "crm.item.list"\nparams = { entityTypeId = 1042 }\n'
        'fields = { title = "name", parentId1038 = "city_id", ufCrm7_ADDR = "address" }\n'
        'references = { city_id = "city" }\n', encoding="utf-8")
    data = load_mapping_file(good, set(SYNCERS))
    syncer = SYNCERS["object"](data["object"])
    assert syncer.mapping.params == {"entityTypeId": 1042}
    assert syncer.mapping.fields == {"title": "name", "parentId1038": "city_id",
                                     "ufCrm7_ADDR": "address"}
    assert syncer.dependencies() == {"city"}

    bad = tmp_path / "bad.toml"
    bad.write_text('[town]\nmethod = "x"\n[user]\nfilds = {}\nfields = "NAME"\n',
                   encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping_file(bad, set(SYNCERS))
    message = str(caught.value)
    assert "[town] is not a directory" in message
    assert "[user] has an unknown key 'filds'" in message
    assert "[user] fields must be a table" in message

    broken = tmp_path / "broken.toml"
    broken.write_text("[user\n", encoding="utf-8")
    with pytest.raises(MappingError, match="is not valid TOML"):
        load_mapping_file(broken, set(SYNCERS))


def test_changing_the_method_drops_default_params():
    syncer = SYNCERS["category"]({"method": "crm.item.list", "params": {"entityTypeId": 7}})
    assert syncer.mapping.params == {"entityTypeId": 7}


def test_missing_portal_ids_name_the_key():
    with pytest.raises(MappingError, match=r"params\.IBLOCK_ID .*\[violation\] in mapping\.toml "
                       r".* or return it from ViolationSyncer\.get_bitrix_params\(\) in "
                       r"app/syncers/violation_syncer\.py"):
        SYNCERS["violation"]().validate()
    SYNCERS["user"]().validate()


def test_only_a_syncer_with_local_only_values_is_asked_for_them_per_row():
    # The writer calls row_defaults() once per created row; a syncer that keeps the default
    # (no local-only columns) gives None, so nothing is called or merged for its rows.
    columns = {"id", "btxid", "name", "secret_key"}
    assert SYNCERS["city"](DEMO_MAPPING["city"]).row_defaults(columns) is None
    user = SYNCERS["user"](DEMO_MAPPING["user"]).row_defaults(columns)
    first, second = user(), user()
    assert set(first) == {"secret_key"} and first["secret_key"] != second["secret_key"]

    city = SYNCERS["city"](DEMO_MAPPING["city"])
    city.new_row_defaults = lambda cols: {"name": "set on the instance"}
    assert city.row_defaults(columns)() == {"name": "set on the instance"}


def test_a_syncer_with_its_own_transform_reads_every_field():
    # A transform may use any field of the record, so the read asks for whole records
    # (no select) whether the transform is the class's or set on the instance.
    city = SYNCERS["city"](DEMO_MAPPING["city"])
    assert city.fields_read() == list(DEMO_MAPPING["city"]["fields"])
    city.transform = lambda record: record
    assert city.fields_read() is None

    class Renaming(SYNCERS["city"]):
        def transform(self, record):
            return record

    assert Renaming(DEMO_MAPPING["city"]).fields_read() is None
