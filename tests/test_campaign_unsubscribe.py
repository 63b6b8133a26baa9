"""Issue 15 #10: every campaign email carries List-Unsubscribe (RFC 2369 / RFC 8058)."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_world import AS_OF, World, smtp_env
from conftest import SmtpRecorder

from pendo_segments.campaign.enrol import FileEnroller
from pendo_segments.campaign.run import run_no_login
from pendo_segments.campaign.smtp import smtp_settings
from pendo_segments.errors import ConfigError


def _sent(tmp_path: Path, recorder: SmtpRecorder, env: dict[str, str]) -> dict:
    world = World.create(tmp_path)
    cfg = world.settings()
    run_no_login(
        world.dataset(),
        cfg,
        as_of=AS_OF,
        send=True,
        smtp=smtp_settings(None, env=env),
        enroller=FileEnroller(cfg.upload_file),
    )
    return {rcpts[0]: message for rcpts, message in recorder.messages}


def test_default_is_a_mailto_to_the_sender(
    tmp_path: Path, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp_server
    sent = _sent(tmp_path, recorder, smtp_env(port))
    message = sent["en@acme.example"]
    assert message["List-Unsubscribe"] == (
        "<mailto:success@acme-insights.example?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] is None


def test_configured_url_is_per_recipient_and_one_click(
    tmp_path: Path, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp_server
    env = {
        **smtp_env(port),
        "PENDO_SEGMENTS_SMTP_UNSUBSCRIBE": "mailto:optout@acme.example, "
        "https://acme.example/unsub?u={visitor_id}&e={email}",
    }
    sent = _sent(tmp_path, recorder, env)
    assert len(sent) == 3
    message = sent["ja@acme.example"]
    assert message["List-Unsubscribe"] == (
        "<mailto:optout@acme.example>, <https://acme.example/unsub?u=v_ja&e=ja%40acme.example>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    "value", ["http://acme.example/unsub", "unsubscribe@acme.example", "https://a.example/<x>"]
)
def test_a_bad_target_is_a_config_error(value: str) -> None:
    env = {**smtp_env(25), "PENDO_SEGMENTS_SMTP_UNSUBSCRIBE": value}
    with pytest.raises(ConfigError, match="PENDO_SEGMENTS_SMTP_UNSUBSCRIBE: .* is not a mailto:"):
        smtp_settings(None, env=env)
