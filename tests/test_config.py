"""Settings: file discovery, env over file, regions, and the key never showing itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pendo_segments.config import Config, PendoSettings, Secret, load_config
from pendo_segments.errors import ConfigError
from pendo_segments.pendo.client import client_from_config

KEY = "9f3c2a71-5b8e-4d0c-a1e2-7c6b5d4e3f21"


def write(folder: Path, text: str, name: str = "pendo-segments.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    assert config.path is None
    assert config.pendo == PendoSettings()
    assert config.pendo.region == "us"
    assert config.pendo.base_url == "https://app.pendo.io"
    assert config.pendo.integration_key is None
    assert (config.pendo.timeout, config.pendo.max_retries) == (30.0, 5)
    assert config.pendo.rate_limit_per_second == 5.0
    assert config.pendo.managed_prefix == "[ps] "
    assert config.pendo.metadata_group == "custom"
    assert config.section("smtp") == {}


def test_file_in_working_directory_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[pendo]
region = "EU"
timeout = 12
max_retries = 2
rate_limit_per_second = 1.5
managed_prefix = "[cs] "
metadata_group = "ops"

[smtp]
host = "mail.example.com"
port = 2525
""",
    )
    config = load_config(env={}, cwd=tmp_path)
    assert config.path == path
    p = config.pendo
    assert (p.region, p.base_url) == ("eu", "https://app.eu.pendo.io")
    assert (p.timeout, p.max_retries, p.rate_limit_per_second) == (12.0, 2, 1.5)
    assert (p.managed_prefix, p.metadata_group) == ("[cs] ", "ops")
    assert config.section("smtp") == {"host": "mail.example.com", "port": 2525}


def test_section_is_a_copy(tmp_path: Path) -> None:
    write(tmp_path, '[campaign]\nchannels = ["email"]\n')
    config = load_config(env={}, cwd=tmp_path)
    config.section("campaign")["channels"].append("guide")
    assert config.section("campaign") == {"channels": ["email"]}


def test_config_env_variable_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, '[pendo]\nregion = "jpn"\n')  # in cwd, but the env var wins
    other = write(tmp_path, '[pendo]\nregion = "au"\n', name="elsewhere.toml")
    config = load_config(env={"PENDO_SEGMENTS_CONFIG": str(other)}, cwd=tmp_path)
    assert config.path == other
    assert config.pendo.base_url == "https://app.au.pendo.io"


def test_config_env_variable_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        load_config(env={"PENDO_SEGMENTS_CONFIG": str(missing)}, cwd=tmp_path)
    assert str(err.value) == f"PENDO_SEGMENTS_CONFIG: {missing} does not exist or is not a file"


def test_explicit_path_argument(tmp_path: Path) -> None:
    path = write(tmp_path, '[pendo]\nregion = "us1"\n', name="x.toml")
    assert (
        load_config(path, env={}, cwd=tmp_path / "elsewhere").pendo.base_url
        == "https://us1.app.pendo.io"
    )


def test_env_wins_over_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[pendo]\nintegration_key = "from-file"\nregion = "eu"\n'
        'base_url = "https://file.example.com"\n',
    )
    env = {
        "PENDO_INTEGRATION_KEY": "from-env",
        "PENDO_REGION": "jpn",
        "PENDO_BASE_URL": "http://127.0.0.1:8123/",
    }
    p = load_config(env=env, cwd=tmp_path).pendo
    assert p.integration_key == Secret("from-env")
    assert p.region == "jpn"
    assert p.base_url == p.base_url_override == "http://127.0.0.1:8123"


def test_file_values_used_when_env_is_empty(tmp_path: Path) -> None:
    write(tmp_path, '[pendo]\nintegration_key = "from-file"\nregion = "eu"\n')
    p = load_config(env={"PENDO_INTEGRATION_KEY": "", "PENDO_REGION": ""}, cwd=tmp_path).pendo
    assert p.integration_key == Secret("from-file")
    assert p.region == "eu"


@pytest.mark.parametrize(
    ("key", "region", "url"),
    [
        (f"{KEY}.eu", "eu", "https://app.eu.pendo.io"),
        (f"{KEY}.jpn", "jpn", "https://app.jpn.pendo.io"),
        (f"{KEY}.au", "au", "https://app.au.pendo.io"),
        (f"{KEY}.us1", "us1", "https://us1.app.pendo.io"),
        (f"{KEY}.us", "us", "https://app.pendo.io"),
        (KEY, "us", "https://app.pendo.io"),
        (f"{KEY}.de", "us", "https://app.pendo.io"),  # not a region suffix
    ],
)
def test_region_from_key_suffix(tmp_path: Path, key: str, region: str, url: str) -> None:
    p = load_config(env={"PENDO_INTEGRATION_KEY": key}, cwd=tmp_path).pendo
    assert (p.region, p.base_url) == (region, url)


def test_explicit_region_beats_key_suffix(tmp_path: Path) -> None:
    env = {"PENDO_INTEGRATION_KEY": f"{KEY}.eu", "PENDO_REGION": "us"}
    assert load_config(env=env, cwd=tmp_path).pendo.region == "us"
    write(tmp_path, '[pendo]\nregion = "au"\n')
    env = {"PENDO_INTEGRATION_KEY": f"{KEY}.eu"}
    assert load_config(env=env, cwd=tmp_path).pendo.region == "au"


def test_base_url_override_keeps_region(tmp_path: Path) -> None:
    env = {"PENDO_INTEGRATION_KEY": f"{KEY}.eu", "PENDO_BASE_URL": "https://cs.example.com"}
    p = load_config(env=env, cwd=tmp_path).pendo
    assert (p.region, p.base_url) == ("eu", "https://cs.example.com")


def test_unknown_region_from_env_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"PENDO_REGION": "mars"}, cwd=tmp_path)
    assert str(err.value) == (
        "PENDO_REGION: unknown Pendo region 'mars'; valid: us, us1, eu, jpn, au"
    )


def test_unknown_region_in_file_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[pendo]\nregion = "emea"\n')
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value) == (
        f"{path}: [pendo].region: unknown Pendo region 'emea'; valid: us, us1, eu, jpn, au"
    )


def test_bad_base_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"PENDO_BASE_URL": "app.pendo.io"}, cwd=tmp_path)
    assert str(err.value) == (
        "PENDO_BASE_URL: 'app.pendo.io' is not an http(s) URL (e.g. https://app.pendo.io)"
    )


def test_missing_key_says_how_to_set_it(tmp_path: Path) -> None:
    config = load_config(env={}, cwd=tmp_path)
    message = (
        "no Pendo integration key: set PENDO_INTEGRATION_KEY (or integration_key "
        "under [pendo] in pendo-segments.toml)"
    )
    with pytest.raises(ConfigError) as err:
        config.pendo.require_key()
    assert str(err.value) == message
    with pytest.raises(ConfigError) as err:
        client_from_config(config)
    assert str(err.value) == message


def test_client_from_config_uses_settings(tmp_path: Path) -> None:
    write(tmp_path, '[pendo]\ntimeout = 7\nmetadata_group = "ops"\n')
    env = {"PENDO_INTEGRATION_KEY": f"{KEY}.jpn"}
    client = client_from_config(load_config(env=env, cwd=tmp_path))
    assert client.base_url == "https://app.jpn.pendo.io"
    assert client.metadata_group == "ops"
    assert client._http.timeout == 7.0
    assert KEY not in repr(client)


def test_unknown_key_in_pendo_table_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "[pendo]\ntimout = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value) == f"{path}: [pendo].timout: unknown key (did you mean 'timeout'?)"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "timeout = 0",
            "[pendo].timeout: must be a number greater than 0 and at most 3600, got 0",
        ),
        ('timeout = "fast"', "[pendo].timeout: must be a number, got 'fast'"),
        ("max_retries = -1", "[pendo].max_retries: must be a whole number from 0 to 100, got -1"),
        (
            "rate_limit_per_second = -2",
            "[pendo].rate_limit_per_second: must be 0 (no limit) or a number from 0.01 to 1000, "
            "got -2",
        ),
        ("managed_prefix = 3", "[pendo].managed_prefix: must be a string, got 3"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, f"[pendo]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value) == f"{path}: {message}"


def test_zero_rate_limit_turns_it_off(tmp_path: Path) -> None:
    write(tmp_path, "[pendo]\nrate_limit_per_second = 0\n")
    assert load_config(env={}, cwd=tmp_path).pendo.rate_limit_per_second is None


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[pendo\nregion = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value).startswith(f"{path}: invalid TOML: ")
    assert "line 1" in str(err.value)


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "smtp = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path).section("smtp")
    assert str(err.value) == f"{path}: 'smtp' must be a table ([smtp])"


# --- the key never shows itself ----------------------------------------------------------
def test_secret_is_masked_everywhere() -> None:
    secret = Secret(KEY)
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret!r}" == "***"
    assert "%s" % (secret,) == "***"  # noqa: UP031  (logging formats this way)
    assert f"{secret:>10}" == "***"
    assert secret.reveal() == KEY
    assert Secret(secret) == secret and hash(Secret(KEY)) == hash(secret)
    assert not Secret("")


def test_key_not_in_repr_of_settings_or_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(env={"PENDO_INTEGRATION_KEY": KEY}, cwd=tmp_path)
    assert config.pendo.integration_key == Secret(KEY)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("pendo_segments").info("config %s %r", config, config.pendo)
    for text in (repr(config), str(config.pendo), caplog.text):
        assert KEY not in text
        assert "***" in text


def test_key_not_in_config_errors(tmp_path: Path) -> None:
    # Key on the line before a TOML syntax error, then a key of the wrong type.
    write(tmp_path, f'[pendo]\nintegration_key = "{KEY}"\nregion = \n')
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert KEY not in str(err.value)
    write(tmp_path, "[pendo]\nintegration_key = 918273645\n")
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value).endswith("[pendo].integration_key: must be a string")
    assert "918273645" not in str(err.value)


def test_config_object_defaults() -> None:
    assert Config().section("sync") == {}


@pytest.mark.parametrize(
    "key,what",
    [
        ("abc\ndef", "control character (U+000A"),
        ("abc\x00def", "control character (U+0000"),
        ("секрет-ключ", "outside Latin-1"),
    ],
)
def test_malformed_key_is_one_line_without_the_key(tmp_path: Path, key: str, what: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"PENDO_INTEGRATION_KEY": key}, cwd=tmp_path)
    message = str(err.value)
    assert "\n" not in message and what in message
    assert message.startswith("PENDO_INTEGRATION_KEY: the integration key contains")
    for part in key.split("\n"):
        assert part.strip("\x00") not in message


def test_malformed_key_in_the_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pendo-segments.toml").write_text('[pendo]\nintegration_key = "ab\\u0007c"\n')
    with pytest.raises(ConfigError) as err:
        load_config(env={}, cwd=tmp_path)
    assert str(err.value).startswith(
        f"{tmp_path / 'pendo-segments.toml'}: [pendo].integration_key: the integration key"
    )


def test_a_client_given_a_malformed_key_refuses_it_too() -> None:
    from pendo_segments.pendo.client import PendoClient

    with pytest.raises(ConfigError) as err:
        PendoClient("http://127.0.0.1:9", "key\r\nX-Evil: 1")
    assert "X-Evil" not in str(err.value)
