from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import ROOT, SettingsError, env_name, load_settings, setting_names


def test_environment_overrides_defaults(tmp_path: Path) -> None:
    env = {"PORT": "9123", "ROUNDS_TIME_SCALE": "60", "ROUNDS_ICE_ADDRESSES": "127.0.0.1, ::1",
           "ROUNDS_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://u@h/db"}
    settings = load_settings(env=env)
    assert settings.port == 9123
    assert settings.time_scale == 60.0
    assert settings.ice_addresses == ("127.0.0.1", "::1")
    assert settings.db_url == "postgresql+asyncpg://u@h/db"


def test_sqlite_is_the_default_database_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings(env={"ROUNDS_DATA_DIR": str(tmp_path)})
    assert settings.db_url == f"sqlite+aiosqlite:///{tmp_path / 'rounds.db'}"


def test_bad_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ROUNDS_MAX_VIEWERS"):
        load_settings(env={"ROUNDS_DATA_DIR": str(tmp_path), "ROUNDS_MAX_VIEWERS": "many"})


def test_unknown_key_in_a_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "rounds.toml"
    config.write_text('colour = "blue"\n')
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings(env={"ROUNDS_DATA_DIR": str(tmp_path)}, config_file=config)


def test_secret_key_is_generated_once_and_shared(tmp_path: Path) -> None:
    first = load_settings(env={"ROUNDS_DATA_DIR": str(tmp_path)}).secret_key
    second = load_settings(env={"ROUNDS_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented() -> None:
    docs = (ROOT / "docs" / "config.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in setting_names():
        assert f"`{env_name(name)}`" in docs, f"{env_name(name)} is not in docs/config.md"
    assert "docs/config.md" in readme
