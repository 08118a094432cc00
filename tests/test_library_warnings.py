"""Library warnings stay off the console (issue 18 §1): urllib3 repeats InsecureRequestWarning
on every request when BITRIX_VERIFY_SSL=false; the log file keeps it, one line, once."""

from __future__ import annotations

import pytest

from app.testing.portal import FakePortal, self_signed_tls
from app.testing.seed import DEMO_MAPPING, seed_portal
from tests.conftest import write_mapping_toml
from tests.test_first_hour import make_project, run
from tests.test_screens import check_env
from tests.test_voice import CYRILLIC

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_an_unverified_https_portal_warns_in_the_log_file_only(tmp_path, sqlite_url, verbose):
    context, _ = self_signed_tls(tmp_path)
    project = make_project(tmp_path)
    write_mapping_toml(project / "mapping.toml", DEMO_MAPPING)
    log_file = tmp_path / "sync.log"
    with FakePortal(ssl_context=context) as portal:
        seed_portal(portal)
        env = check_env(portal, sqlite_url, BITRIX_VERIFY_SSL="false", LOG_FILE=str(log_file))
        result = run(project, *(["--verbose"] if verbose else []), env=env)

    assert result.returncode == 0, result.stderr
    said = [line for line in log_file.read_text(encoding="utf-8").splitlines()
            if "InsecureRequestWarning" in line]
    assert len(said) == 1, said  # once, although every request is unverified
    assert said[0].endswith("py.warnings: InsecureRequestWarning: Unverified HTTPS request is "
                            "being made to host '127.0.0.1'. Adding certificate verification "
                            "is strongly advised. See: https://urllib3.readthedocs.io/en/"
                            "latest/advanced-usage.html#tls-warnings")
    if verbose:
        assert result.stderr.count("InsecureRequestWarning") == 1
    else:
        assert "Warning" not in result.stderr and "Unverified" not in result.stderr
        assert all(CYRILLIC.search(line) for line in result.stderr.splitlines()), result.stderr


def test_a_sqlalchemy_warning_is_one_log_file_line_and_off_the_console(tmp_path, capfd,
                                                                        restore_logging):
    import warnings

    from sqlalchemy.exc import SAWarning

    from app.logging_setup import setup_logging

    log_file = tmp_path / "sync.log"
    setup_logging("INFO", log_file=log_file, console_level="WARNING")
    registry: dict = {}  # the warning module's own, as warnings.warn() keeps it
    for _ in range(3):  # one place, one text: said once
        warnings.warn_explicit("relationship X will copy column y", SAWarning,
                               "sqlalchemy/orm/relationships.py", 100, module="sqlalchemy.orm",
                               registry=registry)

    assert capfd.readouterr().err == ""
    logged = [line for line in log_file.read_text(encoding="utf-8").splitlines() if line]
    assert len(logged) == 1
    assert logged[0].endswith("py.warnings: SAWarning: relationship X will copy column y")
