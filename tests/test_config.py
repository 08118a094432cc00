"""Settings: every problem at once, precedence of sources, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import load_settings
from app.errors import ConfigError

WEBHOOK = "https://acme.bitrix24.ru/rest/7/s3cr3tC0de42/"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_is_reported_at_once(tmp_path):
    environ = {"BITRIX_WEBHOOK_URL": "ftp://nope", "MYSQL_PORT": "abc", "LOG_LEVEL": "LOUD",
               "BITRIX_TIMEOUT": "soon", "BITRIX_VERIFY_SSL": "maybe"}

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ, project_dir=tmp_path)

    error = caught.value
    assert set(error.variables) == {"BITRIX_WEBHOOK_URL", "MYSQL_USER", "MYSQL_PORT",
                                    "LOG_LEVEL", "BITRIX_TIMEOUT", "BITRIX_VERIFY_SSL"}
    assert error.exit_code == 2
    for name in error.variables:
        assert f"- {name}:" in str(error)


def test_missing_webhook_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"BITRIX_WEBHOOK_URL: is not set"):
        load_settings(environ={"DATABASE_URL": "sqlite://"}, project_dir=tmp_path)


@pytest.mark.parametrize("url, fragment", [
    ("https://acme.bitrix24.ru/rest/s3cr3tC0de42/", "user id and code"),
    ("http://acme.bitrix24.ru/rest/1/s3cr3tC0de42/", "must use https"),
    ("acme.bitrix24.ru/rest/1/s3cr3tC0de42", "must look like"),
], ids=["no-user-id", "plain-http", "no-scheme"])
def test_bad_webhook_shapes_are_explained_without_the_code(tmp_path, url, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"BITRIX_WEBHOOK_URL": url, "DATABASE_URL": "sqlite://"},
                      project_dir=tmp_path)
    assert fragment in str(caught.value)
    assert "s3cr3tC0de42" not in str(caught.value)


def test_webhook_without_trailing_slash_and_loopback_http_are_fine(tmp_path):
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK.rstrip("/"),
                                      "DATABASE_URL": "sqlite://"}, project_dir=tmp_path)
    assert settings.webhook_url == WEBHOOK
    local = load_settings(environ={"BITRIX_WEBHOOK_URL": "http://127.0.0.1:8080/rest/1/abc123/",
                                   "DATABASE_URL": "sqlite://"}, project_dir=tmp_path)
    assert local.webhook_url.startswith("http://127.0.0.1")


def test_mysql_variables_build_a_utf8mb4_url_with_defaults(tmp_path):
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "MYSQL_USER": "app",
                                      "MYSQL_PASSWORD": "p@ss:word"}, project_dir=tmp_path)
    assert settings.database_url == (
        "mysql+pymysql://app:p%40ss%3Aword@localhost:3306/telegram_miniapp?charset=utf8mb4")
    assert settings.sync_schedule == "0 0 * * *"
    assert settings.log_level == "INFO"


def test_database_url_wins_over_mysql_variables(tmp_path):
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "MYSQL_HOST": "db",
                                      "DATABASE_URL": "sqlite:///x.db"}, project_dir=tmp_path)
    assert settings.database_url == "sqlite:///x.db"


def test_sources_precedence_environment_then_env_file_then_project_then_parent(tmp_path):
    project = tmp_path / "MiniApps" / "bitrix-sync"
    write(project.parent / ".env", "LOG_LEVEL=ERROR\nMYSQL_USER=parent\nMYSQL_DATABASE=parentdb\n"
          f"BITRIX_WEBHOOK_URL={WEBHOOK}\nSYNC_SCHEDULE=1 1 * * *\n")
    write(project / ".env", "MYSQL_USER=project\nMYSQL_DATABASE=projectdb\nLOG_LEVEL=WARNING\n")
    extra = write(tmp_path / "extra.env", "MYSQL_DATABASE=extradb\nLOG_LEVEL=DEBUG\n")

    settings = load_settings(environ={"LOG_LEVEL": "CRITICAL"}, env_file=extra,
                             project_dir=project)

    assert settings.log_level == "CRITICAL"  # process environment
    assert settings.database_url.endswith("/extradb?charset=utf8mb4")  # --env-file
    assert "//project:" in settings.database_url  # project .env
    assert settings.sync_schedule == "1 1 * * *"  # parent (root) .env
    assert settings.webhook_url == WEBHOOK


def test_missing_env_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="--env-file does not exist"):
        load_settings(env_file=tmp_path / "nope.env", environ={}, project_dir=tmp_path)


def test_repr_and_describe_mask_secrets(tmp_path):
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "MYSQL_USER": "app",
                                      "MYSQL_PASSWORD": "Hunter2Secret"}, project_dir=tmp_path)
    shown = repr(settings) + "\n".join(settings.describe())
    assert "s3cr3tC0de42" not in shown and "Hunter2Secret" not in shown
    assert "/rest/7/***" in shown


def test_settings_are_frozen(tmp_path):
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://"},
                             project_dir=tmp_path)
    with pytest.raises(AttributeError):
        settings.log_level = "DEBUG"


def test_mapping_file_defaults_to_project_mapping_toml(tmp_path):
    write(tmp_path / "mapping.toml", "[user]\nmethod = \"user.get\"\n")
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://"},
                             project_dir=tmp_path)
    assert settings.mapping_file == tmp_path / "mapping.toml"
    with pytest.raises(ConfigError, match="SYNC_MAPPING_FILE: file not found"):
        load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://",
                               "SYNC_MAPPING_FILE": "missing.toml"}, project_dir=tmp_path)


def test_empty_values_do_not_hide_values_from_later_sources(tmp_path):
    project = tmp_path / "MiniApps" / "bitrix-sync"
    write(project.parent / ".env", f"BITRIX_WEBHOOK_URL={WEBHOOK}\nMYSQL_USER=app\n"
                                   "MYSQL_PASSWORD=RealPass1\n")
    write(project / ".env", "MYSQL_PASSWORD=\nMYSQL_USER=\n")

    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": ""}, project_dir=project)

    assert settings.webhook_url == WEBHOOK
    assert settings.database_url.startswith("mysql+pymysql://app:RealPass1@")


def test_files_saved_with_a_bom_are_read(tmp_path):
    """Notepad and PowerShell 5.1 write UTF-8 with a byte order mark."""
    (tmp_path / ".env").write_bytes(
        f"BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n".encode("utf-8-sig"))
    (tmp_path / "mapping.toml").write_bytes('[user]\nmethod = "user.get"\n'.encode("utf-8-sig"))

    settings = load_settings(environ={}, project_dir=tmp_path)

    assert settings.webhook_url == WEBHOOK
    from app.syncers.mapping import load_mapping_file

    assert load_mapping_file(settings.mapping_file, {"user"}) == {"user": {"method": "user.get"}}


def test_a_bad_schedule_is_a_settings_problem_for_every_command(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://",
                               "SYNC_SCHEDULE": "every day", "SYNC_TIMEZONE": "Mars/Base"},
                      project_dir=tmp_path)
    assert set(caught.value.variables) == {"SYNC_SCHEDULE", "SYNC_TIMEZONE"}
    assert "- SYNC_SCHEDULE" in str(caught.value) and "- SYNC_TIMEZONE" in str(caught.value)


# --- files saved by Windows tools, where each setting came from, nothing configured ---------

ENV_TEXT = f"# Настройки\r\nBITRIX_WEBHOOK_URL={WEBHOOK}\r\nDATABASE_URL=sqlite://\r\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "cp1251"],
                         ids=["ps51-redirect-utf16-bom", "utf16le-no-bom", "utf16be-no-bom",
                              "notepad-utf8-bom", "ansi-cp1251"])
def test_env_files_in_windows_encodings_are_read(tmp_path, encoding):
    """`"..." > .env` in Windows PowerShell 5.1 writes UTF-16 LE with a BOM and CRLF."""
    (tmp_path / ".env").write_bytes((ENV_TEXT + "MYSQL_PASSWORD=пароль\r\n").encode(encoding))

    settings = load_settings(environ={}, project_dir=tmp_path)

    assert settings.webhook_url == WEBHOOK
    assert settings.database_url == "sqlite://"
    assert dict((n, v) for n, v, _ in settings.origins)["MYSQL_PASSWORD"] == "пароль"


def test_an_env_file_that_is_not_text_is_refused_naming_the_file(tmp_path):
    (tmp_path / ".env").write_bytes(b"BITRIX_WEBHOOK_URL=\x00\x01\x02\x98\x00\xff" * 3)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, project_dir=tmp_path)
    assert str(tmp_path / ".env") in str(caught.value)
    assert "UTF-8" in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize("encoding", ["utf-16", "cp1251"])
def test_mapping_files_in_windows_encodings_are_read(tmp_path, encoding):
    from app.syncers.mapping import load_mapping_file

    path = tmp_path / "mapping.toml"
    path.write_bytes('# Города\n[user]\nmethod = "user.get"\n'.encode(encoding))
    assert load_mapping_file(path, {"user"}) == {"user": {"method": "user.get"}}


def test_backslashes_in_double_quotes_are_read_literally_with_a_warning(tmp_path):
    """python-dotenv reads \\b in "...\\bitrix-sync\\..." as a backspace."""
    windows_path = r"C:\Python\MiniApps\bitrix-sync\mapping.toml"
    write(tmp_path / ".env", f'BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n'
                             f'MODELS_MODULE="{windows_path}"\n'
                             "LOG_FILE='C:\\logs\\new.log'\n"
                             'SYNC_SCHEDULE="0 3 * * *"\n')

    settings = load_settings(environ={}, project_dir=tmp_path)

    assert settings.models_module == windows_path
    assert str(settings.log_file).endswith(r"C:\logs\new.log")  # single quotes: literal
    [warning] = settings.warnings
    assert warning.startswith(f"MODELS_MODULE in {tmp_path / '.env'}: ")
    assert f"MODELS_MODULE='{windows_path}'" in warning


def test_escaped_backslashes_in_double_quotes_need_no_warning(tmp_path):
    write(tmp_path / ".env", f'BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n'
                             'MODELS_MODULE="C:\\\\Python\\\\models.py"\n')
    settings = load_settings(environ={}, project_dir=tmp_path)
    assert settings.models_module == r"C:\Python\models.py"
    assert settings.warnings == ()


def test_each_setting_names_the_file_or_the_environment_it_came_from(tmp_path):
    project = tmp_path / "MiniApps" / "bitrix-sync"
    write(project.parent / ".env", "MYSQL_USER=parent\nMYSQL_PASSWORD=Secret99\n")
    write(project / ".env", f"BITRIX_WEBHOOK_URL={WEBHOOK}\n# MYSQL_USER=miniapp\n")

    settings = load_settings(environ={"LOG_LEVEL": "DEBUG"}, project_dir=project,
                             overrides={"BITRIX_WEBHOOK_URL": WEBHOOK.replace("7", "8")})

    rows = {name: (value, source) for name, value, source in settings.origin_rows()}
    assert rows == {
        "BITRIX_WEBHOOK_URL": ("https://acme.bitrix24.ru/rest/8/***/", "--bitrix-webhook-url"),
        "MYSQL_USER": ("parent", str(project.parent / ".env")),
        "MYSQL_PASSWORD": ("***", str(project.parent / ".env")),
        "LOG_LEVEL": ("DEBUG", "environment"),
    }


def test_a_wrong_setting_names_the_file_it_came_from(tmp_path):
    write(tmp_path / ".env", f"BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n"
                             "BITRIX_TIMEOUT=soon\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, project_dir=tmp_path)
    assert f"BITRIX_TIMEOUT ({tmp_path / '.env'})" in str(caught.value)


def test_nothing_configured_says_where_it_looked_and_what_to_do(tmp_path):
    project = tmp_path / "MiniApps" / "bitrix-sync"
    project.mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"PATH": "/bin"}, project_dir=project)
    text = str(caught.value)
    assert text.startswith("No settings found; nothing was written.")
    places = [text.index("1. environment variables"),
              text.index(f"2. {project / '.env'} (not found)"),
              text.index(f"3. {project.parent / '.env'} (not found)")]
    assert places == sorted(places)
    assert "Developer resources → Other → Inbound webhook" in text
    assert "copy .env.example to .env" in text and "python cli.py --demo" in text


def test_the_placeholder_webhook_of_env_example_is_named(tmp_path):
    with pytest.raises(ConfigError, match="is still the example from .env.example"):
        load_settings(environ={"BITRIX_WEBHOOK_URL": "https://example.bitrix24.ru/rest/1/ваш_код/",
                               "DATABASE_URL": "sqlite://"}, project_dir=tmp_path)


def test_a_bad_webhook_does_not_stop_commands_that_never_call_the_portal(tmp_path):
    """--status and --init-db read only the database."""
    settings = load_settings(environ={"BITRIX_WEBHOOK_URL": "https://example.bitrix24.ru/rest/1/ваш_код/",
                                      "DATABASE_URL": "sqlite://"},
                             project_dir=tmp_path, require_webhook=False)
    assert settings.webhook_url == ""


@pytest.mark.parametrize("name", ["BITRIX_RATE_BURST", "BITRIX_MAX_RETRIES"])
def test_a_fraction_for_a_whole_number_setting_is_refused_naming_variable_and_file(tmp_path,
                                                                                   name):
    env = write(tmp_path / "project" / ".env",
                f"BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n{name}=2.5\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, project_dir=tmp_path / "project")

    assert caught.value.variables == (name,)
    assert f"- {name}: must be a whole number, got '2.5'" in str(caught.value)
    assert f"{name} ({env})" in str(caught.value)
    settings = load_settings(environ={name: "3"}, project_dir=tmp_path / "project")
    assert (settings.bitrix_rate_burst, settings.bitrix_max_retries)[
        name == "BITRIX_MAX_RETRIES"] == 3


def test_a_ca_bundle_variable_naming_no_file_stops_the_run_before_it_starts(tmp_path):
    missing = str(tmp_path / "corporate-ca.pem")
    environ = {"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://",
               "REQUESTS_CA_BUNDLE": missing}

    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ, project_dir=tmp_path)

    assert caught.value.variables == ("REQUESTS_CA_BUNDLE",) and caught.value.exit_code == 2
    assert f"no file of trusted certificates at {missing!r}" in str(caught.value)
    assert "REQUESTS_CA_BUNDLE (environment)" in str(caught.value)
    assert "remove the quotes" not in str(caught.value)
    # Taken as requests takes it: a path in quotes or with a space is not the file.
    write(tmp_path / "corporate-ca.pem", "")
    for odd in (f'"{missing}"', f" {missing}"):
        with pytest.raises(ConfigError, match="remove the quotes and spaces"):
            load_settings(environ={**environ, "REQUESTS_CA_BUNDLE": odd}, project_dir=tmp_path)
    # The file there, the check off, or the variable requests does not read: no problem.
    load_settings(environ=environ, project_dir=tmp_path)
    load_settings(environ={**environ, "REQUESTS_CA_BUNDLE": "/nowhere",
                           "BITRIX_VERIFY_SSL": "false"}, project_dir=tmp_path)
    load_settings(environ={**environ, "CURL_CA_BUNDLE": "/nowhere"}, project_dir=tmp_path)
    with pytest.raises(ConfigError, match="CURL_CA_BUNDLE"):
        load_settings(environ={**environ, "REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "/nowhere"},
                      project_dir=tmp_path)


def test_a_ca_bundle_variable_matters_only_where_the_portal_is_called_over_https(tmp_path):
    environ = {"BITRIX_WEBHOOK_URL": WEBHOOK, "DATABASE_URL": "sqlite://",
               "REQUESTS_CA_BUNDLE": "/nowhere/ca.pem"}
    # --status and --init-db never call the portal; a loopback portal over http needs no CA.
    load_settings(environ=environ, project_dir=tmp_path, require_webhook=False)
    load_settings(environ={**environ, "BITRIX_WEBHOOK_URL": "http://127.0.0.1:8080/rest/1/abc/"},
                  project_dir=tmp_path)


def test_a_ca_bundle_variable_in_an_env_file_is_said_to_have_no_effect(tmp_path):
    env_file = write(tmp_path / ".env", f"BITRIX_WEBHOOK_URL={WEBHOOK}\nDATABASE_URL=sqlite://\n"
                                        "REQUESTS_CA_BUNDLE=C:\\certs\\corp.pem\n")

    settings = load_settings(environ={}, project_dir=tmp_path)

    assert settings.warnings == (f"REQUESTS_CA_BUNDLE in {env_file} has no effect: requests "
                                 "reads it only from the process environment (set it there, "
                                 "e.g. in the scheduled task or the service)",)
