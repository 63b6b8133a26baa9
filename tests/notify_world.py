"""A tiny world for ``alerts notify`` tests: data and definitions whose alerts are set by
hand (an account's ``flag`` column), and a real Slack-webhook stand-in on 127.0.0.1.

Every account has no usage, so its health score is 0 (login frequency, core adoption
and breadth all 0; no NPS or tickets data). Alerts (``alerts.yaml`` here):

* ``red``   high,   when flag = red      ("Red flag",   action "Call the sponsor today")
* ``amber`` medium, when flag = amber    ("Amber flag", action "Check in this week")
* ``happy`` info,   when flag = happy    ("Happy",      action "Ask for a reference")

``red`` replaces ``amber`` (never both). Tiers: Enterprise plan → P1, else P3.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

AS_OF = "2026-11-01"
SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETwebhookToken"

SEGMENTS = {
    "flagged.yaml": "name: flagged\ntitle: Flagged\nsubject: account\nrule: {field: flag, op: '=', value: red}\n",
    "watched.yaml": "name: watched\ntitle: Watched\nsubject: account\nrule: {field: flag, op: '=', value: amber}\n",
    "happy.yaml": "name: happy_accounts\ntitle: Happy\nsubject: account\n"
    "rule: {field: flag, op: '=', value: happy}\n",
}

TIERS = """
tiers:
  - {name: P1, title: High touch, accounts_per_csm: 15}
  - {name: P2, title: Between, accounts_per_csm: 40}
  - {name: P3, title: Automated, accounts_per_csm: 150, pooled: true}
  - {name: Neighborhood, title: Self-service, accounts_per_csm: 200, pooled: true}
rules:
  - tier: P1
    reason: Enterprise
    when: {field: plan, op: "=", value: Enterprise}
  - tier: P3
    reason: Everyone else
"""

ALERTS = """
alerts:
  - name: red
    title: Red flag
    title_ja: 赤信号
    severity: high
    action: Call the sponsor today
    action_ja: 今日スポンサーに電話する
    when: {segment: flagged}
    replaces: [amber]
    explain: none
  - name: amber
    title: Amber flag
    severity: medium
    action: Check in this week
    when: {segment: watched}
    explain: none
  - name: happy
    title: Happy
    severity: info
    action: Ask for a reference
    when: {segment: happy_accounts}
    explain: none
"""


@dataclass
class Acct:
    account_id: str
    name: str
    flag: str = ""
    plan: str = "Team"
    arr: int = 12000
    csm: str = "Dana Lee"


def write_defs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SEGMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "tiers.yaml").write_text(TIERS, encoding="utf-8")
    (folder / "alerts.yaml").write_text(ALERTS, encoding="utf-8")
    return folder


def _csv(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def write_data(folder: Path, accounts: Iterable[Acct]) -> Path:
    """The data folder; re-writing it with other flags is the next day's data."""
    accounts = list(accounts)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["account_id,name,arr,plan,csm_owner,flag"]
    lines += [
        ",".join([_csv(a.account_id), _csv(a.name), str(a.arr), a.plan, _csv(a.csm), a.flag])
        for a in accounts
    ]
    (folder / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    visitors = ["visitor_id,account_id"] + [
        f"v-{i},{_csv(a.account_id)}" for i, a in enumerate(accounts)
    ]
    (folder / "visitors.csv").write_text("\n".join(visitors) + "\n", encoding="utf-8")
    # one inactive day (0 minutes, 0 events): nobody is active, every score is 0
    (folder / "usage_daily.csv").write_text(
        "date,visitor_id,minutes,events\n2026-10-31,v-0,0,0\n", encoding="utf-8"
    )
    (folder / "feature_usage.csv").write_text(
        "date,visitor_id,feature_id,clicks\n", encoding="utf-8"
    )
    (folder / "features.csv").write_text("feature_id,name,key\nf1,Reports,true\n", encoding="utf-8")
    return folder


# -- the webhook stand-in --------------------------------------------------------------------


@dataclass
class Hook:
    """A local Slack incoming webhook. ``script``: what to answer, one entry per request
    (then 200 ``ok``): ``("ok",)``, ``("status", 500, "body")``, ``("throttle", "1")``
    (429 with that Retry-After), ``("hang", seconds)`` (answer only after that long),
    ``("hold", event)`` (answer only once the test sets that ``threading.Event``),
    ``("kill", pid)`` (SIGKILL the poster, then answer 200)."""

    script: list[tuple[Any, ...]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    kill_pid: int | None = None

    def start(self) -> Hook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                step = hook.script.pop(0) if hook.script else ("ok",)
                hook.received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body.decode("utf-8")),
                        "step": step[0],
                    }
                )
                if step[0] == "kill":
                    pid = step[1] if len(step) > 1 else hook.kill_pid
                    os.kill(int(pid), signal.SIGKILL)
                    _wait_gone(int(pid))
                    self._answer(200, "ok")
                elif step[0] == "status":
                    self._answer(int(step[1]), str(step[2]))
                elif step[0] == "throttle":
                    self._answer(429, "rate_limited", {"Retry-After": str(step[1])})
                elif step[0] == "hang":
                    time.sleep(float(step[1]))
                    self._answer(200, "ok")
                elif step[0] == "hold":
                    step[1].wait(timeout=300)
                    self._answer(200, "ok")
                else:
                    self._answer(200, "ok")

            def _answer(
                self, status: int, text: str, headers: dict[str, str] | None = None
            ) -> None:
                hook.answers.append(status)
                data = text.encode("utf-8")
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the poster is gone (timed out, killed)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the loop's next poll: 0.5 s each test by default
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{SECRET_PATH}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def texts(self) -> list[str]:
        return [r["json"]["text"] for r in self.received]


def _wait_gone(pid: int) -> None:
    """Until the killed process has exited (its parent reaps it), at most 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
                if fh.read().split(") ", 1)[1].startswith("Z"):
                    return  # a zombie: dead, waiting for its parent
        except OSError:
            return
        time.sleep(0.02)
