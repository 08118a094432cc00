"""Setup problems of mapping.toml and MODELS_MODULE in the console's language (issue 18 §1):
a run stops with exit 2 and speaks one language."""

from __future__ import annotations

import pytest

from tests.test_first_hour import make_project, run
from tests.test_screens import check_env
from tests.test_voice import assert_english

pytestmark = pytest.mark.slow

BAD_MAPPING = '[town]\nmethod = "crm.item.list"\n\n[user]\nfilds = { NAME = "name" }\n'


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_mapping_with_unknown_sections_and_keys(tmp_path, seeded, sqlite_url, language):
    project = make_project(tmp_path)
    (project / "mapping.toml").write_text(BAD_MAPPING, encoding="utf-8")

    result = run(project, env=check_env(seeded, sqlite_url, SYNC_LANG=language))

    assert result.returncode == 2, result.stderr
    if language == "ru":
        assert f"В сопоставлении {project / 'mapping.toml'} есть ошибки:" in result.stderr
        assert "  - [town] — не справочник; возможные: " in result.stderr
        assert "  - в [user] неизвестный ключ 'filds'; возможные: " in result.stderr
        assert "is not a directory" not in result.stderr and "unknown key" not in result.stderr
    else:
        assert "  - [town] is not a directory; use one of " in result.stderr
        assert_english(result.stderr)


def test_a_mapping_that_is_not_toml(tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)
    (project / "mapping.toml").write_text("[city\n", encoding="utf-8")

    result = run(project, env=check_env(seeded, sqlite_url))

    assert result.returncode == 2, result.stderr
    assert f"Файл сопоставления {project / 'mapping.toml'} — не TOML: " in result.stderr
    assert "not valid TOML" not in result.stderr


def test_a_models_module_that_does_not_exist(tmp_path, seeded, sqlite_url):
    project = make_project(tmp_path)

    result = run(project, env=check_env(seeded, sqlite_url, MODELS_MODULE="nowhere/models.py"))

    assert result.returncode == 2, result.stderr
    assert "MODELS_MODULE указывает на несуществующий файл: " in result.stderr
    assert "does not exist" not in result.stderr

