"""Imports only go down the layers (contracts in pyproject.toml, checked by import-linter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    # lint-imports finds `app` on sys.path; run it from the project folder.
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, "--config", "pyproject.toml",
                           "--no-cache"], cwd=project, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def test_the_code_keeps_the_layer_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "3 kept" in result.stdout


@pytest.mark.parametrize(("module", "imports"), [
    ("app/db/connect.py", "import app.sync.engine"),            # a lower layer importing a higher
    ("app/bitrix/client.py", "import app.db.history"),          # one sibling importing another
    ("app/sync/writer.py", "import app.testing.portal"),        # the product importing the fake
    ("app/testing/store.py", "import app.errors"),              # the fake importing the product
])
def test_a_lower_layer_importing_a_higher_one_breaks_a_contract(
        tmp_path: Path, module: str, imports: str) -> None:
    copy_project(tmp_path, "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{imports}  # noqa\n",
                      encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_a_module_in_no_layer_breaks_the_contract(tmp_path: Path) -> None:
    """A new module must be given a layer, or nothing would check what it imports."""
    copy_project(tmp_path, "pyproject.toml")
    (tmp_path / "app" / "helpers.py").write_text("import app.commands.check  # noqa\n",
                                                encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "app.helpers" in result.stdout and "not listed as layers" in result.stdout
