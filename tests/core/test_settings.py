"""Configuration: bad values fail at start, in one line that names the variable."""

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings
from tests.support.cli import clean_env, run_nuanxin


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("NUANXIN_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert str(settings.database_url).startswith("postgresql://")
    assert settings.readings_retention_days == 400


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NUANXIN_DATABASE_URL", "not a url"),
        ("NUANXIN_DATABASE_URL", "mysql://root@localhost/x"),
        ("NUANXIN_MQTT_URL", "http://127.0.0.1:1883"),
        ("NUANXIN_READINGS_RETENTION_DAYS", "0"),
        ("NUANXIN_TIMESCALEDB", "maybe"),
        ("NUANXIN_LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert variable in str(raised.value)


def test_every_setting_has_a_description() -> None:
    """docs/operations.md's configuration table is generated from these descriptions."""
    assert all(field.description for field in Settings.model_fields.values())


def test_cli_reports_invalid_database_url_in_one_line() -> None:
    result = run_nuanxin("migrate", env=clean_env(NUANXIN_DATABASE_URL="postgres//oops"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "NUANXIN_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_reports_unreachable_database_in_one_line() -> None:
    result = run_nuanxin(
        "migrate", env=clean_env(NUANXIN_DATABASE_URL="postgresql://postgres:secret@127.0.0.1:1/x")
    )
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot connect to PostgreSQL at postgres@127.0.0.1:1/x" in result.stderr
    assert "secret" not in result.stderr
