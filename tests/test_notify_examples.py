"""The daily schedule (pull → evaluate → sync → campaign → notify) in every scheduler
example: the same five commands in that order, each one the CLI accepts, and each
example stops at the first failure."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest
import yaml

from pendo_segments.cli import main
from pendo_segments.config import load_config
from pendo_segments.notify.settings import notify_settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STEPS = ["pull", "evaluate", "sync apply", "campaign no-login run", "alerts notify"]


def _words(command: str) -> list[str]:
    """A command line with its shell variables replaced by a placeholder path."""
    text = re.sub(r"\$\{?[A-Z_]+\}?", "X", command.replace("\\\n", " "))
    return shlex.split(text)


def _daily_sh() -> list[list[str]]:
    lines = (EXAMPLES / "daily.sh").read_text(encoding="utf-8").splitlines()
    return [_words(line)[1:] for line in lines if line.startswith('"$PS" ')]  # "$PS" → X


def _systemd() -> list[list[str]]:
    service = (EXAMPLES / "systemd" / "pendo-segments-daily.service").read_text(encoding="utf-8")
    starts = re.findall(r"^ExecStart=(.*?[^\\])$", service, re.S | re.M)
    return [_words(s)[1:] for s in starts]


def _github() -> list[list[str]]:
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "daily.yml").read_text())
    steps = workflow["jobs"]["daily"]["steps"]
    runs = [s["run"] for s in steps if str(s.get("run", "")).startswith("pendo-segments ")]
    return [_words(r)[1:] for r in runs]


SCHEDULERS = {"cron (daily.sh)": _daily_sh, "systemd": _systemd, "github": _github}


def _command(words: list[str]) -> tuple[str, click.Context]:
    """The step's name and its parsed context: an unknown option raises here."""
    cmd: click.Command = main
    names: list[str] = []
    ctx = click.Context(main)
    while isinstance(cmd, click.Group):
        sub = cmd.get_command(ctx, words[0])
        assert sub is not None, words
        names.append(words.pop(0))
        cmd = sub
    if names[-1] == "alerts":  # alerts notify: the first word picks the sub-command
        names.append(words[0])
    made = cmd.make_context(names[-1], words, parent=click.Context(main))
    return " ".join(names), made


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_each_scheduler_runs_the_five_steps_in_order(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pendo_segments.atomic.check_target", lambda _path: None)
    commands = [_command(words) for words in SCHEDULERS[name]()]
    assert [n for n, _ in commands] == STEPS
    params = {n: ctx.params for n, ctx in commands}
    assert params["campaign no-login run"]["send"] is True
    assert params["alerts notify"]["send"] is True
    assert params["sync apply"]["yes"] is True
    data = params["evaluate"]["data"]
    assert all(params[n]["data"] == data for n in STEPS[1:])  # every step reads the pull


def test_daily_sh_stops_at_the_first_failure(tmp_path: Path) -> None:
    """A stand-in pendo-segments that logs each call and fails at sync."""
    log = tmp_path / "calls.log"
    stub = tmp_path / "pendo-segments"
    stub.write_text(
        f'#!/bin/sh\necho "$1 $2" >> {log}\n[ "$1" = sync ] && exit 7\nexit 0\n',
        encoding="utf-8",
    )
    stub.chmod(0o755)
    env = os.environ | {
        "PENDO_SEGMENTS_HOME": str(tmp_path),
        "PENDO_SEGMENTS_BIN": str(stub),
        "PENDO_SEGMENTS_VAR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        ["sh", str(EXAMPLES / "daily.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 7
    assert log.read_text().splitlines() == ["pull --out", "evaluate --data", "sync apply"]
    assert "== campaign" not in done.stdout


def test_systemd_and_github_stop_at_the_first_failure() -> None:
    service = (EXAMPLES / "systemd" / "pendo-segments-daily.service").read_text(encoding="utf-8")
    assert "Type=oneshot" in service and "ExecStart=-" not in service
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "daily.yml").read_text())
    steps = workflow["jobs"]["daily"]["steps"]
    named = [
        s for s in steps if s.get("name") in ("pull", "evaluate", "sync", "campaign", "notify")
    ]
    assert [s["name"] for s in named] == ["pull", "evaluate", "sync", "campaign", "notify"]
    assert not any(s.get("continue-on-error") or "|| true" in s["run"] for s in named)
    assert not any("if" in s for s in named)  # none runs after an earlier failure


def test_daily_schedules() -> None:
    cron = (EXAMPLES / "crontab-daily").read_text(encoding="utf-8")
    assert re.search(r"^15 6 \* \* \* .*examples/daily\.sh", cron, re.M)
    timer = (EXAMPLES / "systemd" / "pendo-segments-daily.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-* 06:15:00 UTC" in timer
    workflow = yaml.safe_load((EXAMPLES / "github-actions" / "daily.yml").read_text())
    assert workflow[True]["schedule"] == [{"cron": "15 6 * * *"}]  # YAML 1.1 reads `on` as True
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_the_example_notify_config_is_valid() -> None:
    config = load_config(EXAMPLES / "pendo-segments.toml", env={})
    hook = "https://hooks.slack.com/services/T1/B1/x"
    settings = notify_settings(config, env={"SLACK_WEBHOOK_AIKO_TANAKA": hook})
    assert settings.severities == ("high", "medium", "info")
    assert settings.locale_for("Aiko Tanaka") == "ja"
    assert settings.report_url == "https://cs.acme-insights.example/report"
    assert settings.state_file == Path("/var/lib/pendo-segments/notify-state.sqlite")
