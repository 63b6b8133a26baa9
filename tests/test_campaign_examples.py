"""The scheduling examples and the example config stay in step with the code."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
import yaml

from pendo_segments.campaign.settings import no_login_settings
from pendo_segments.campaign.smtp import ENV_PREFIX, smtp_settings
from pendo_segments.cli.campaign_cmds import run as run_command
from pendo_segments.config import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMTP_VARS = {
    f"{ENV_PREFIX}{k}"
    for k in (
        "HOST",
        "PORT",
        "TLS",
        "USER",
        "PASSWORD",
        "FROM",
        "REPLY_TO",
        "TIMEOUT",
        "UNSUBSCRIBE",
    )
}


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLES / "pendo-segments.toml", env={})
    settings = no_login_settings(config)
    assert settings.exclude_tiers == {"P1"} and settings.min_tenure_days == 60
    smtp = smtp_settings(config, env={f"{ENV_PREFIX}HOST": "smtp.example.com"})
    assert smtp.sender_domain == "acme-insights.example"


def test_only_real_smtp_variables_are_documented() -> None:
    texts = [p.read_text(encoding="utf-8") for p in EXAMPLES.rglob("*") if p.is_file()]
    named = {m for text in texts for m in re.findall(r"PENDO_SEGMENTS_SMTP_[A-Z_]+", text)}
    assert named <= SMTP_VARS
    assert named >= SMTP_VARS  # the README table lists all of them


def _run_args(command: str) -> list[str]:
    """The options after ``run``, up to a shell redirection."""
    words = shlex.split(command.replace("\\\n", " "))
    return list(
        itertools.takewhile(lambda w: not w.startswith(">"), words[words.index("run") + 1 :])
    )


def _commands() -> dict[str, str]:
    """The campaign command of each example, from ``campaign`` on."""
    cron = next(
        line for line in (EXAMPLES / "crontab").read_text().splitlines() if line.startswith("15 7")
    )
    service = (EXAMPLES / "systemd" / "pendo-segments-no-login.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*?[^\\])$", service, re.S | re.M).group(1)  # type: ignore[union-attr]
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "no-login-campaign.yml").read_text())
    step = next(
        s for s in workflow["jobs"]["no-login"]["steps"] if s.get("name") == "Run the campaign"
    )
    found = {"cron": cron, "systemd": exec_start, "github": step["run"].replace("$SEND", "--send")}
    out = {}
    for name, text in found.items():
        match = re.search(
            r"(?:bin/|^)pendo-segments (campaign .*)", text.replace("\\\n", " "), re.S
        )
        out[name] = match[1] if match else ""
    return out


@pytest.mark.parametrize("name", ["cron", "systemd", "github"])
def test_each_scheduler_runs_the_campaign_daily_with_send(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the examples write under the production machine's folders (/var/lib/…), which
    # -o checks exist when the options are read; here only the options are checked
    monkeypatch.setattr("pendo_segments.atomic.check_target", lambda _path: None)
    command = _commands()[name]
    assert command.startswith("campaign no-login run")
    args = _run_args(command)
    ctx = run_command.make_context("run", args)  # unknown options would raise here
    assert ctx.params["send"] is True
    assert ctx.params["data"] == "pendo:"
    assert ctx.params["state"] is not None


def test_schedules_are_daily() -> None:
    assert "15 7 * * *" in (EXAMPLES / "crontab").read_text()
    assert (
        "OnCalendar=*-*-* 07:15:00 UTC"
        in (EXAMPLES / "systemd" / "pendo-segments-no-login.timer").read_text()
    )
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "no-login-campaign.yml").read_text())
    assert workflow[True]["schedule"] == [{"cron": "15 7 * * *"}]  # YAML 1.1 reads `on` as True
    assert workflow["concurrency"]["cancel-in-progress"] is False
