"""Write the report's pages: the index, the CSV files and a drill-down page per P1 account.

Every number is already in the ``page`` dict :func:`~pendo_segments.report.build.collect`
made; this module only draws and writes. Templates autoescape everything; the
SVG charts escape their own text (:mod:`pendo_segments.report.svg`).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pendo_segments.errors import PendoSegmentsError, RenderError
from pendo_segments.report import svg
from pendo_segments.report.charts import account_charts
from pendo_segments.report.i18n import Words
from pendo_segments.report.tables import table


def render_pages(page: dict[str, Any], folder: Path) -> None:
    """Write the pages into ``folder``, the private temp folder of
    :func:`~pendo_segments.atomic.output_folder` (installed whole once complete,
    so the files need no atomic write of their own).

    A big book's drill-down pages (18,486 at 1M visitors) are independent:
    beyond :data:`PARALLEL_PAGES` they are drawn and written by one forked
    process per core, each taking a share of the accounts.
    """
    env = _environment(page["w"])
    (folder / "accounts").mkdir(exist_ok=True)

    def index_and_csv() -> None:
        _write(folder / "index.html", env.get_template("index.html.j2").render(**page))
        _write(folder / "accounts.csv", page["snapshot"].to_csv(index=False, lineterminator="\n"))
        _write(folder / "alerts.csv", page["alert_table"].to_csv(index=False, lineterminator="\n"))

    n, workers = len(page["p1"]), _workers()
    if n < PARALLEL_PAGES or workers < 2:
        index_and_csv()
        _account_pages(page, folder, 0, n, env)
    else:  # the index (51,847 alert rows at 1M visitors) is written while they draw
        _in_processes(page, folder, workers, meanwhile=index_and_csv)


PARALLEL_PAGES = 1_000


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _account_pages(page: dict[str, Any], folder: Path, start: int, stop: int, env: Any) -> None:
    """Draw and write the drill-down pages of ``page["p1"][start:stop]``."""
    w = page["w"]
    account = env.get_template("account.html.j2")  # compiled once for all these pages
    context = dict(page)
    for a in page["p1"][start:stop]:
        svg.restart_ids()
        a = {**a, **account_charts(w, a, page["day_labels"])}
        a["tables"] = account_tables(w, a, page["trend_days"])
        context["a"] = a
        _write(folder / "accounts" / a["page"], account.render(context))


def _in_processes(
    page: dict[str, Any], folder: Path, workers: int, meanwhile: Callable[[], None]
) -> None:
    """One forked child per share of the accounts, while this process does ``meanwhile``;
    any child's failure fails the report.

    Children inherit ``page`` (nothing is pickled), die with the parent (a
    killed run leaves no process behind) and report an error as one line
    through a pipe.
    """
    n = len(page["p1"])
    step = -(-n // workers)
    parent = os.getpid()
    children: dict[int, int] = {}
    try:
        for start in range(0, n, step):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child (its exit status is tested)
                os.close(read)
                _child(page, folder, start, min(start + step, n), write, parent)
            os.close(write)
            children[pid] = read
        meanwhile()
    except BaseException:
        for pid in children:  # this process failed: their pages are of no use
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        raise
    finally:
        problems = [_wait(pid, read) for pid, read in children.items()]
    problem = next((p for p in problems if p), None)
    if problem:
        raise RenderError(problem)


def _child(
    page: dict[str, Any], folder: Path, start: int, stop: int, out: int, parent: int
) -> None:  # pragma: no cover - runs in a forked child
    status = 0
    try:
        _die_with(parent)
        _account_pages(page, folder, start, stop, _environment(page["w"]))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, then exit
        status = 1
        text = str(err) if isinstance(err, PendoSegmentsError) else f"{type(err).__name__}: {err}"
        os.write(out, (text.splitlines() or ["failed"])[0].encode()[:2000])
    finally:
        os._exit(status)  # no atexit handlers, no flush of the parent's buffers


def _die_with(parent: int) -> None:  # pragma: no cover - runs in a forked child
    """Ask Linux to kill this child when the parent dies (``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _wait(pid: int, read: int) -> str:
    """A child's problem in one line ('' when it wrote its pages)."""
    with os.fdopen(read, "rb") as fh:
        said = fh.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return ""
    return said or "a process drawing the account pages died; the report was not written"


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def _environment(w: Words) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pendo_segments.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates are package files: no stat per page
    )
    env.globals["table"] = table
    env.filters["num"] = w.num
    env.filters["pct"] = w.pct
    env.filters["money"] = w.money
    env.filters["date"] = w.date
    env.filters["sdate"] = w.short_date
    env.filters["term"] = w.term
    env.filters["isnan"] = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
    return env


def account_tables(w: Words, a: dict[str, Any], days: list[str]) -> dict[str, Markup]:
    """The data tables of a P1 account's page (``days``: the as-of days, formatted)."""
    dash = "–"
    facts = [
        [w("plan"), a["plan"] or dash],
        [w("csm"), a["csm"] or dash],
        [w("renewal"), w.date(a["renewal"]) if a["renewal"] else dash],
        [w("reason"), a["reason"]],
        [w("in_segments"), ", ".join(a["segments"]) or dash],
    ]
    comps = [
        [c["name"], w("missing") if math.isnan(c["value"]) else w.num(c["value"], 1)]
        for c in a["components"]
    ]
    trend = [[d, w.num(s, 1)] for d, s in zip(days, a["trend"], strict=False)]
    alerts = [[r["alert"], w.term(r["severity"]), r["signals"], r["action"]] for r in a["alerts"]]
    caption = w("data_table") + ": "
    return {
        "facts": table(w("account"), [w("name"), w("value")], facts),
        "components": table(
            caption + w("components"), [w("component"), w("value")], comps, numeric=[1]
        ),
        "trend": table(
            caption + w("score_trend"), [w("as_of", date=""), w("score")], trend, numeric=[1]
        ),
        "alerts": table(
            w("alerts"), [w("alert"), w("severity"), w("signals"), w("action")], alerts
        ),
    }
