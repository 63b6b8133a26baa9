"""``pendo-segments alerts notify`` as a process (kill -9 between post and record, two runs at
once) and in-process: hostile names, the webhook URL never shown; ``alerts`` itself unchanged."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from notify_world import AS_OF, SECRET_PATH, Acct, Hook, write_data, write_defs

from pendo_segments.cli import main
from pendo_segments.cli.alerts_cmd import alerts as plain_alerts
from pendo_segments.notify.state import NotifyLock, open_notify_state

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = [
    Acct("acc-1", "Acme", "red", "Enterprise", 120000, "Aiko Tanaka"),
    Acct("acc-2", "Beta", "amber"),
    Acct("acc-3", "Gamma", "happy"),
]


@pytest.fixture
def hook():
    h = Hook().start()
    yield h
    h.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_defs(tmp_path / "defs")
    write_data(tmp_path / "data", ACCOUNTS)
    return tmp_path


def command(folder: Path, *extra: str) -> list[str]:
    code = "import sys; from pendo_segments.cli import main; sys.exit(main())"
    return [
        sys.executable,
        "-c",
        code,
        "alerts",
        "notify",
        "--defs",
        str(folder / "defs"),
        "--data",
        str(folder / "data"),
        "--as-of",
        AS_OF,
        "--state",
        str(folder / "notify.sqlite"),
        "--format",
        "csv",
        *extra,
    ]


def environment(hook: Hook, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENDO_")}
    env.update(PENDO_SEGMENTS_SLACK_WEBHOOK=hook.url, **extra)
    return env


def run(folder: Path, hook: Hook, *extra: str, **env: str) -> SimpleNamespace:
    """``command`` in-process (click's CliRunner), as a process would run it: in ``folder``
    (no pendo-segments.toml there, so only the environment configures the run) and
    without the ``PENDO_`` variables; its ``returncode``, ``stdout`` and ``stderr``.
    Only the kill -9 and the two-runs-at-once cases need a real process."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PENDO_")}
    overrides = unset | {"PENDO_SEGMENTS_SLACK_WEBHOOK": hook.url} | env
    with contextlib.chdir(folder):
        result = CliRunner().invoke(main, command(folder, *extra)[3:], env=overrides)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def results(out: str) -> list[tuple[str, str, str, str]]:
    lines = out.strip().splitlines()[1:]
    return [tuple(line.split(",")[i] for i in (0, 1, 2, 5)) for line in lines]  # type: ignore[misc]


def test_send_then_rerun_posts_nothing(folder: Path, hook: Hook) -> None:
    first = run(folder, hook, "--send")
    assert first.returncode == 0, first.stderr
    assert results(first.stdout) == [
        ("acc-1", "red", "alert", "posted"),
        ("acc-2", "amber", "alert", "posted"),
        ("acc-3", "happy", "alert", "posted"),
    ]
    assert first.stderr.strip().splitlines()[-1] == "posted 3 of 3."
    second = run(folder, hook, "--send")
    assert second.returncode == 0 and results(second.stdout) == []
    assert second.stderr.strip().splitlines()[-1] == "Nothing new to post."
    assert len(hook.received) == 3


def test_dry_run_posts_nothing(folder: Path, hook: Hook) -> None:
    dry = run(folder, hook)
    assert dry.returncode == 0, dry.stderr
    assert [r[3] for r in results(dry.stdout)] == ["would_post"] * 3
    assert dry.stderr.strip().splitlines()[-1] == (
        "Dry run: 3 messages to post; nothing was sent (add --send)."
    )
    assert hook.received == [] and not (folder / "notify.sqlite").exists()


def test_kill_9_between_post_and_record_never_posts_twice(folder: Path, hook: Hook) -> None:
    hook.script = [("kill",)]  # the first post: Slack has it, the poster dies before recording
    proc = subprocess.Popen(
        command(folder, "--send"),
        env=environment(hook),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    hook.kill_pid = proc.pid
    proc.communicate(timeout=120)
    assert proc.returncode == -9
    assert hook.texts() == ["High alert: Red flag: Acme (acc-1)"]
    state = open_notify_state(folder / "notify.sqlite", read_only=True)
    assert [(m.account_id, m.state) for m in state.messages(("sending",))] == [("acc-1", "sending")]

    after = run(folder, hook, "--send")
    assert after.returncode == 1  # an unconfirmed message is not "everything delivered"
    assert results(after.stdout) == [
        ("acc-1", "red", "alert", "unconfirmed"),
        ("acc-2", "amber", "alert", "posted"),
        ("acc-3", "happy", "alert", "posted"),
    ]
    assert after.stderr.strip().splitlines()[-1] == (
        "Error: posted 2 of 3, 1 unconfirmed; unconfirmed messages are not posted again "
        "(--release ACCOUNT_ID ALERT)."
    )
    assert hook.texts().count("High alert: Red flag: Acme (acc-1)") == 1

    quiet = run(folder, hook, "--send")
    assert quiet.returncode == 0 and results(quiet.stdout) == []
    assert len(hook.received) == 3

    released = run(folder, hook, "--send", "--release", "acc-1", "red")
    assert released.returncode == 0, released.stderr
    assert results(released.stdout) == [("acc-1", "red", "alert", "posted")]
    assert hook.texts().count("High alert: Red flag: Acme (acc-1)") == 2

    nothing = run(folder, hook, "--send", "--release", "acc-1", "red")
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == (
        "Error: --release acc-1 red: no unconfirmed message of that alert in the notify state"
    )


def test_two_runs_at_once_the_second_is_refused_in_one_line(folder: Path, hook: Hook) -> None:
    slack_answers = threading.Event()  # the first run holds the lock while Slack is slow,
    hook.script = [("hold", slack_answers)]  # however long the second run takes to start
    first = subprocess.Popen(
        command(folder, "--send"),
        env=environment(hook),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not hook.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hook.received, "the first run never posted"
    try:
        second = run(folder, hook, "--send")
    finally:
        slack_answers.set()
    out, err = first.communicate(timeout=120)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {folder / 'notify.sqlite.lock'}: another alerts notify run")
    assert lines[0].endswith("; nothing was posted")
    assert f"pid {first.pid} " in lines[0]
    assert first.returncode == 0, err
    assert len(hook.received) == 3  # the second run posted nothing


def test_the_lock_refuses_while_held_in_process(folder: Path, hook: Hook) -> None:
    with NotifyLock(folder / "notify.sqlite"):
        refused = run(folder, hook, "--send")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert hook.received == []


def test_hostile_names_are_escaped_by_hand(folder: Path, hook: Hook) -> None:
    write_data(
        folder / "data",
        [
            Acct(
                "acc-<1>",
                "<!channel> & <https://evil.example|click> &amp;",
                "red",
                "Enterprise",
                5000,
                "<@U123> & co",
            )
        ],
    )
    done = run(folder, hook, "--send")
    assert done.returncode == 0, done.stderr
    body = hook.received[0]["json"]
    name = "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; &amp;amp; (acc-&lt;1&gt;)"
    assert body["text"] == f"High alert: Red flag: {name}"
    assert body["blocks"][0]["text"]["text"] == f":red_circle: *High · Red flag*\n*{name}*"
    assert body["blocks"][1]["fields"][3]["text"] == "*CSM*\n&lt;@U123&gt; &amp; co"
    for block in body["blocks"]:
        assert "<!" not in json.dumps(block) and "<http" not in json.dumps(block)


def test_the_webhook_url_is_never_shown(folder: Path, hook: Hook) -> None:
    hook.script = [("status", 500, f"upstream said {hook.url} failed")]
    failed = run(folder, hook, "--send")
    assert failed.returncode == 1
    assert "SECRET" not in failed.stdout + failed.stderr
    assert "[webhook URL]" in failed.stdout  # Slack's body, scrubbed
    bad = run(folder, hook, "--send", PENDO_SEGMENTS_SLACK_WEBHOOK="ftp://x/SECRET")
    assert bad.returncode == 1 and "SECRET" not in bad.stdout + bad.stderr
    assert bad.stderr.strip() == (
        "Error: PENDO_SEGMENTS_SLACK_WEBHOOK: is not an http(s) URL "
        "(Slack's look like https://hooks.slack.com/services/…)"
    )
    assert SECRET_PATH not in (folder / "notify.sqlite").read_bytes().decode("latin-1")


def test_alerts_itself_is_unchanged(folder: Path) -> None:
    args = [str(folder / "defs"), "--data", str(folder / "data"), "--as-of", AS_OF, "-f", "csv"]
    via_main = CliRunner().invoke(main, ["alerts", *args])
    direct = CliRunner().invoke(plain_alerts, args)
    assert via_main.exit_code == 0 and via_main.output == direct.output
    assert via_main.output.splitlines()[1].startswith("acc-1,red,high,P1,0.0,")
    help_text = CliRunner().invoke(main, ["alerts", "--help"]).output
    assert "Usage: main alerts [OPTIONS] [DEFS]" in help_text and "alerts notify" in help_text


def test_notify_help_has_an_example_and_the_readme_shows_it() -> None:
    result = CliRunner().invoke(main, ["alerts", "notify", "--help"])
    assert result.exit_code == 0 and "Examples:" in result.output
    assert "Usage: main alerts notify [OPTIONS]" in result.output
    assert "pendo-segments alerts notify" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_release_needs_send(folder: Path, hook: Hook) -> None:
    dry = run(folder, hook, "--release", "acc-1", "red")
    assert dry.returncode == 1
    assert dry.stderr.strip() == "Error: --release changes the notify state: use it with --send"
