"""``[notify]`` settings: one line per problem, and a webhook URL never in a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError
from pendo_segments.notify.settings import notify_settings

URL = "https://hooks.slack.com/services/T1/B1/FILEsecret"
ENV_URL = "https://hooks.slack.com/services/T2/B2/ENVsecret"


def settings(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text, encoding="utf-8")
    return notify_settings(load_config(path, env={}), env=env or {})


def test_defaults_without_a_file() -> None:
    s = notify_settings(None, env={})
    assert s.default is None and s.recovered is True
    assert s.severities == ("high", "medium", "low", "info")
    assert s.state_file == Path("notify-state.sqlite") and s.report_url is None


def test_file_values_env_wins_and_paths_are_beside_the_file(tmp_path: Path) -> None:
    text = f"""
[notify]
slack_webhook = "{URL}"
state_file = "state/notify.sqlite"
recovered = false
severities = ["medium", "HIGH"]

[notify.csm_webhooks]
"Aiko Tanaka" = "env:HOOK_TANAKA"

[notify.csm_locales]
"Aiko Tanaka" = "ja"

[report]
base_url = "https://cs.example.com/report/"
"""
    s = settings(tmp_path, text, {"HOOK_TANAKA": ENV_URL})
    assert s.default is not None and s.default.url.reveal() == URL
    assert s.state_file == tmp_path / "state" / "notify.sqlite"
    assert s.recovered is False and s.severities == ("high", "medium")
    assert s.webhook_for("Aiko Tanaka").url.reveal() == ENV_URL  # type: ignore[union-attr]
    assert s.webhook_for("Aiko Tanaka").label == "csm:Aiko Tanaka"  # type: ignore[union-attr]
    assert s.webhook_for("Someone else") is s.default
    assert s.locale_for("Aiko Tanaka") == "ja" and s.locale_for(None) == "en"
    assert s.report_url == "https://cs.example.com/report"
    env = settings(
        tmp_path, text, {"HOOK_TANAKA": ENV_URL, "PENDO_SEGMENTS_SLACK_WEBHOOK": ENV_URL}
    )
    assert env.default.url.reveal() == ENV_URL  # type: ignore[union-attr]
    assert "secret" not in repr(env).lower()


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (
            '[notify]\nslack_webhook = "hooks.slack.com/services/T1/B1/FILEsecret"\n',
            {},
            "{file}: [notify].slack_webhook: is not an http(s) URL "
            "(Slack's look like https://hooks.slack.com/services/…)",
        ),
        (
            "[notify]\n",
            {"PENDO_SEGMENTS_SLACK_WEBHOOK": "https://hooks.slack.com/x y/ENVsecret"},
            "PENDO_SEGMENTS_SLACK_WEBHOOK: contains a space or a control character (copy it again)",
        ),
        (
            "[notify]\nrecoverd = true\n",
            {},
            "{file}: [notify].recoverd: unknown key (did you mean 'recovered'?)",
        ),
        (
            '[notify]\nseverities = ["urgent"]\n',
            {},
            "{file}: [notify].severities: unknown severity 'urgent'",
        ),
        (
            '[notify]\nlocale = "fr"\n',
            {},
            "{file}: [notify].locale: must be one of en, ja, got 'fr'",
        ),
        (
            "[notify]\nmax_retry_after = inf\n",
            {},
            "{file}: [notify].max_retry_after: must be a number from 0 to 3600, got inf",
        ),
        (
            '[notify.csm_webhooks]\n"Dana" = "env:NOT_SET_ANYWHERE"\n',
            {},
            '{file}: [notify.csm_webhooks]."Dana": the variable NOT_SET_ANYWHERE is not set',
        ),
        (
            '[notify.csm_webhooks]\n"Dana" = "http//FILEsecret"\n',
            {},
            '{file}: [notify.csm_webhooks]."Dana": is not an http(s) URL '
            "(Slack's look like https://hooks.slack.com/services/…)",
        ),
        (
            '[notify.csm_locales]\n"Dana" = "de"\n',
            {},
            "{file}: [notify.csm_locales].\"Dana\": must be one of en, ja, got 'de'",
        ),
        (
            '[report]\nbase_url = "https://cs.example.com/a|b"\n',
            {},
            "{file}: [report].base_url: must be an http(s) URL, got 'https://cs.example.com/a|b'",
        ),
    ],
)
def test_one_line_problems_that_never_show_the_url(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, text, env)
    path = tmp_path / "pendo-segments.toml"
    assert str(err.value) == message.format(file=path)
    assert "secret" not in str(err.value).lower()
