"""Campaign and SMTP settings: config file tables, environment, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.campaign.settings import NoLoginSettings, no_login_settings
from pendo_segments.campaign.smtp import smtp_settings
from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError


def config(tmp_path: Path, text: str):  # noqa: ANN201
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = no_login_settings(None)
    assert (
        settings.window_days,
        settings.cooldown_days,
        settings.return_window_days,
        settings.min_tenure_days,
        settings.max_attempts,
    ) == (30, 30, 14, 0, 5)
    assert settings.state_file == Path("campaign-state.sqlite")
    assert settings.segment == "no_login_30d"
    assert (settings.email_guide, settings.in_app_guide) == ("no_login_email", "welcome_back")


def test_safe_defaults_p1_excluded_and_a_year_at_most() -> None:
    """Without a config file P1 is not emailed, nor anyone lapsed over 365 days."""
    settings = no_login_settings(None)
    assert settings.exclude_tiers == {"P1"}
    assert settings.max_days_lapsed == 365
    assert NoLoginSettings().exclude_tiers == {"P1"}  # the library's defaults are the same
    assert NoLoginSettings().max_days_lapsed == 365


def test_defaults_can_be_changed_in_the_file(tmp_path: Path) -> None:
    cfg = config(tmp_path, "[campaign.no_login]\nexclude_tiers = []\nmax_days_lapsed = 90\n")
    settings = no_login_settings(cfg)
    assert settings.exclude_tiers == frozenset()
    assert settings.max_days_lapsed == 90


def test_file_values_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        """
[campaign]
state_file = "var/state.sqlite"
[campaign.no_login]
window_days = 45
cooldown_days = 60
exclude_accounts = ["acme-internal"]
exclude_tiers = ["P1", "Neighborhood"]
opt_out_file = "optout.csv"
""",
    )
    settings = no_login_settings(cfg)
    assert settings.state_file == tmp_path / "var/state.sqlite"
    assert settings.opt_out_file == tmp_path / "optout.csv"
    assert settings.upload_file == tmp_path / "welcome_back_visitors.csv"
    assert (settings.window_days, settings.cooldown_days) == (45, 60)
    assert settings.exclude_tiers == {"P1", "Neighborhood"}
    assert no_login_settings(cfg, state_file="/x/s.sqlite").state_file == Path("/x/s.sqlite")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[campaign.no_login]\ncooldown_day = 3\n",
            "[campaign.no_login].cooldown_day: unknown key (did you mean 'cooldown_days'?)",
        ),
        (
            "[campaign.no_login]\nwindow_days = 0\n",
            "[campaign.no_login].window_days: must be a whole number >= 1, got 0",
        ),
        (
            '[campaign.no_login]\nwindow_days = "30"\n',
            "[campaign.no_login].window_days: must be a whole number >= 1, got '30'",
        ),
        (
            '[campaign.no_login]\nexclude_tiers = ["P4"]\n',
            "[campaign.no_login].exclude_tiers: unknown tier 'P4' (tiers are P1, P2, P3, Neighborhood)",
        ),
        (
            '[campaign.no_login]\nexclude_accounts = "acme"\n',
            "[campaign.no_login].exclude_accounts: must be a list of strings, got 'acme'",
        ),
        ('[campaign]\nstate = "x"\n', "[campaign].state: unknown key (did you mean 'state_file'?)"),
        (
            "[campaign.no_login]\nmax_days_lapsed = 0\n",
            "[campaign.no_login].max_days_lapsed: must be a whole number >= 1, got 0",
        ),
        (
            "[campaign.no_login]\nmax_day_lapsed = 90\n",
            "[campaign.no_login].max_day_lapsed: unknown key (did you mean 'max_days_lapsed'?)",
        ),
        (
            "[campaign.no_login]\nwindow_days = 60\nmax_days_lapsed = 60\n",
            "[campaign.no_login].max_days_lapsed: must be more than window_days (60), got 60: "
            "nobody lapsed in the window could be emailed",
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    cfg = config(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        no_login_settings(cfg)
    assert str(err.value) == f"{tmp_path / 'pendo-segments.toml'}: {message}"


ENV = {
    "PENDO_SEGMENTS_SMTP_HOST": "smtp.example.com",
    "PENDO_SEGMENTS_SMTP_FROM": "Acme <cs@acme.example>",
}


def test_smtp_from_env_with_defaults_per_tls_mode() -> None:
    s = smtp_settings(None, env=ENV)
    assert (s.host, s.port, s.tls, s.user, s.password, s.sender_domain) == (
        "smtp.example.com",
        587,
        "starttls",
        None,
        None,
        "acme.example",
    )
    assert smtp_settings(None, env={**ENV, "PENDO_SEGMENTS_SMTP_TLS": "SSL"}).port == 465
    assert smtp_settings(None, env={**ENV, "PENDO_SEGMENTS_SMTP_TLS": "none"}).port == 25


def test_env_wins_over_the_file_and_the_password_never_shows(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        '[smtp]\nhost = "file.example"\nport = 2525\nuser = "bot"\nfrom = "F <f@file.example>"\n',
    )
    s = smtp_settings(
        cfg,
        env={"PENDO_SEGMENTS_SMTP_HOST": "env.example", "PENDO_SEGMENTS_SMTP_PASSWORD": "hunter2"},
    )
    assert (s.host, s.port, s.user, s.sender) == ("env.example", 2525, "bot", "F <f@file.example>")
    assert s.password is not None and s.password.reveal() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {},
            "no SMTP server: set PENDO_SEGMENTS_SMTP_HOST (and PENDO_SEGMENTS_SMTP_FROM) to send "
            "the campaign's emails",
        ),
        (
            {"PENDO_SEGMENTS_SMTP_HOST": "h"},
            "PENDO_SEGMENTS_SMTP_FROM: needs a sender address such as 'Acme <success@acme.example>'",
        ),
        (
            {**ENV, "PENDO_SEGMENTS_SMTP_TLS": "yes"},
            "PENDO_SEGMENTS_SMTP_TLS: must be one of starttls, ssl, none, got 'yes'",
        ),
        (
            {**ENV, "PENDO_SEGMENTS_SMTP_PORT": "smtp"},
            "PENDO_SEGMENTS_SMTP_PORT: must be a whole number from 1 to 65535, got 'smtp'",
        ),
        (
            {**ENV, "PENDO_SEGMENTS_SMTP_PASSWORD": "pw"},
            "PENDO_SEGMENTS_SMTP_PASSWORD is set but PENDO_SEGMENTS_SMTP_USER is not",
        ),
    ],
)
def test_smtp_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        smtp_settings(None, env=env)
    assert str(err.value) == message


def test_a_password_in_the_config_file_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[smtp]\npassword = "hunter2"\n')
    with pytest.raises(
        ConfigError,
        match=r"\[smtp\].password: keep the password out of files; "
        "set PENDO_SEGMENTS_SMTP_PASSWORD instead",
    ):
        smtp_settings(cfg, env=ENV)


def test_settings_are_a_frozen_value() -> None:
    with pytest.raises(AttributeError):
        NoLoginSettings().window_days = 3  # type: ignore[misc]


def test_a_misspelt_smtp_key_says_the_closest(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[smtp]\nhots = "mail.example"\n')
    with pytest.raises(ConfigError) as err:
        smtp_settings(cfg, env=ENV)
    assert str(err.value) == (f"{cfg.path}: [smtp].hots: unknown key (did you mean 'host'?)")


@pytest.mark.parametrize(("value", "shown"), [("inf", "inf"), ("1e300", "1e+300")])
def test_an_smtp_timeout_no_socket_can_take_is_one_line(
    tmp_path: Path, value: str, shown: str
) -> None:
    """``inf`` overflowed the socket timeout (OverflowError) when the campaign connected."""
    cfg = config(tmp_path, f'[smtp]\nhost = "mail.example"\ntimeout = {value}\n')
    with pytest.raises(ConfigError) as err:
        smtp_settings(cfg, env=ENV)
    assert str(err.value) == (
        f"{cfg.path}: [smtp].timeout: must be a number greater than 0 and at most 3600, got {shown}"
    )
