"""Every TOML section reports a problem in one format: ``FILE: [section].key: message``.

The expected lines are written out by hand from the format, per section, so a
section that drifts back to its own wording fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.campaign.settings import no_login_settings
from pendo_segments.campaign.smtp import smtp_settings
from pendo_segments.config import Config, load_config
from pendo_segments.errors import ConfigError
from pendo_segments.sync.settings import load_sync_settings

SMTP_ENV = {
    "PENDO_SEGMENTS_SMTP_HOST": "smtp.example.com",
    "PENDO_SEGMENTS_SMTP_FROM": "Acme <cs@acme.example>",
}


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def _read_all(config: Config) -> None:
    load_sync_settings(config)
    no_login_settings(config)
    smtp_settings(config, env=SMTP_ENV)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[pendo]\nmax_retrys = 2\n",
            "[pendo].max_retrys: unknown key (did you mean 'max_retries'?)",
        ),
        ("[sync]\nbatch_sise = 2\n", "[sync].batch_sise: unknown key (did you mean 'batch_size'?)"),
        (
            "[campaign]\nstat_file = 'x'\n",
            "[campaign].stat_file: unknown key (did you mean 'state_file'?)",
        ),
        (
            "[campaign.no_login]\nenrol_day = 3\n",
            "[campaign.no_login].enrol_day: unknown key (did you mean 'enrol_days'?)",
        ),
        ("[smtp]\nfrm = 'a@b.example'\n", "[smtp].frm: unknown key (did you mean 'from'?)"),
        ("[sync]\nzzz = 1\n", "[sync].zzz: unknown key"),
    ],
)
def test_a_misspelt_key_reads_the_same_in_every_section(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _read_all(_config(tmp_path, text))
    assert str(err.value) == f"{tmp_path / 'pendo-segments.toml'}: {problem}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # the same kind of mistake, the same words, whichever section holds it
        (
            "[pendo]\nmax_retries = 1.5\n",
            "[pendo].max_retries: must be a whole number from 0 to 100, got 1.5",
        ),
        ("[sync]\nbatch_size = 0\n", "[sync].batch_size: must be a whole number >= 1, got 0"),
        ("[sync]\npage_size = true\n", "[sync].page_size: must be a whole number >= 1, got True"),
        (
            "[campaign.no_login]\nmax_attempts = 0\n",
            "[campaign.no_login].max_attempts: must be a whole number >= 1, got 0",
        ),
        (
            "[smtp]\nport = 70000\n",
            "[smtp].port: must be a whole number from 1 to 65535, got 70000",
        ),
        ("[sync]\nlock_wait = -1\n", "[sync].lock_wait: must be a number from 0 to 86400, got -1"),
        (
            "[sync]\nupload_timeout = 0\n",
            "[sync].upload_timeout: must be a number greater than 0 and at most 86400, got 0",
        ),
        (
            "[smtp]\ntimeout = 0\n",
            "[smtp].timeout: must be a number greater than 0 and at most 3600, got 0",
        ),
        ("[sync]\naudit_log = 5\n", "[sync].audit_log: must be a string, got 5"),
        ("[pendo]\nmetadata_group = []\n", "[pendo].metadata_group: must be a string, got []"),
        (
            "[campaign.no_login]\nsegment = ''\n",
            "[campaign.no_login].segment: must be a non-empty string, got ''",
        ),
        (
            "[sync]\nmetadata_fields = 'tier'\n",
            "[sync].metadata_fields: must be a list of field names, got 'tier'",
        ),
        ("[smtp]\ntls = 'tls'\n", "[smtp].tls: must be one of starttls, ssl, none, got 'tls'"),
        (
            "[sync]\nmanaged_prefix = ''\n",
            "[sync].managed_prefix: is empty and so is managed_tag, so managed segments "
            "could not be told apart from others",
        ),
        (
            "[campaign]\nno_login = 3\n",
            "[campaign].no_login: must be a table ([campaign.no_login])",
        ),
    ],
)
def test_a_bad_value_reads_the_same_in_every_section(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _read_all(_config(tmp_path, text))
    assert str(err.value) == f"{tmp_path / 'pendo-segments.toml'}: {problem}"


def test_a_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        smtp_settings(None, env={**SMTP_ENV, "PENDO_SEGMENTS_SMTP_TIMEOUT": "-3"})
    assert (
        str(err.value)
        == "PENDO_SEGMENTS_SMTP_TIMEOUT: must be a number greater than 0 and at most 3600, got '-3'"
    )
    with pytest.raises(ConfigError) as err:
        load_config(env={"PENDO_TIMEZONE": "Mars/Olympus"}, cwd=tmp_path)
    assert str(err.value) == (
        "PENDO_TIMEZONE: unknown time zone 'Mars/Olympus' "
        "(use an IANA name such as 'America/New_York')"
    )


def test_environment_text_is_parsed_but_file_text_is_not_a_number(tmp_path: Path) -> None:
    settings = smtp_settings(None, env={**SMTP_ENV, "PENDO_SEGMENTS_SMTP_PORT": " 2525 "})
    assert settings.port == 2525
    with pytest.raises(ConfigError) as err:
        load_sync_settings(_config(tmp_path, "[sync]\nbatch_size = '20'\n"))
    assert str(err.value).endswith("[sync].batch_size: must be a whole number >= 1, got '20'")


def test_defaults_and_whole_floats_are_kept(tmp_path: Path) -> None:
    sync = load_sync_settings(_config(tmp_path, "[sync]\nbatch_size = 200.0\n"))
    assert (sync.batch_size, sync.page_size, sync.upload_timeout) == (200, 50_000, 300.0)
    assert sync.managed_prefix == "[ps] " and sync.metadata_group == "custom"
    inherited = load_sync_settings(
        _config(tmp_path, '[pendo]\nmanaged_prefix = "[x] "\nmetadata_group = "ops"\n')
    )
    assert (inherited.managed_prefix, inherited.metadata_group) == ("[x] ", "ops")
