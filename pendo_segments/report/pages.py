"""Write the report's pages: the index, the CSV files and a drill-down page per P1 account.

Every number is already in the ``page`` dict :func:`~pendo_segments.report.build.collect`
made; this module only draws and writes. Templates autoescape everything (an
account page's values are escaped the same way into its frame, :class:`PageFrame`);
the SVG charts escape their own text (:mod:`pendo_segments.report.svg`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from pendo_segments.errors import PendoSegmentsError, RenderError
from pendo_segments.report import svg
from pendo_segments.report.charts import AccountCharts
from pendo_segments.report.i18n import Words
from pendo_segments.report.tables import TABLE_END, table, table_row, table_start


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
    draw = AccountPages(page, env)
    accounts = os.path.join(folder, "accounts")
    for a in page["p1"][start:stop]:
        _write(os.path.join(accounts, a["page"]), draw(a))


class AccountPages:
    """Draws P1 accounts' pages (18,486 at 1M visitors, ~12 KB each).

    What is the same on every page is made once here: the template's text (see
    :class:`PageFrame`), the tables' heads and the charts' frames; rows and dots
    are made once per label and value. A page costs about what differs.
    """

    def __init__(self, page: dict[str, Any], env: Any) -> None:
        self.w = page["w"]
        self.charts = AccountCharts(self.w, page["day_labels"])
        self.tables = AccountTables(self.w, page["trend_days"])
        template = env.get_template("account.html.j2")
        self.frames = {
            alerts: PageFrame(template.render(page, a=_Slots(alerts=alerts)))
            for alerts in (False, True)
        }

    def __call__(self, a: dict[str, Any]) -> bytes:
        """Account ``a``'s page, encoded."""
        svg.restart_ids()
        return self.frames[bool(a["alerts"])].fill(self.values(a))

    def values(self, a: dict[str, Any]) -> dict[str, Any]:
        """What account ``a`` shows in the template's ``a.x`` places."""
        w, login = self.w, a["last_login"]
        return {
            "name": a["name"] or a["id"],
            "id": a["id"],
            "tier": a["tier"],
            "score": w.num(a["score"], 1),
            "arr": w.money(a["arr"]),
            "last_login": w("days_ago", days=w.num(login[0]), date=w.date(login[1]))
            if login
            else w("never"),
            **self.charts(a),
            **self.tables(a),
        }


class PageFrame:
    """A page rendered once with a marker in place of each of the account's values (see
    :class:`_Slots`): a page is the frame's text with the values escaped into their
    places, as the template's autoescape would have done.

    The frame's text is kept UTF-8 encoded: it holds non-Latin-1 characters ("←"),
    which would make encoding every whole page several times slower.
    """

    def __init__(self, text: str) -> None:
        pieces = text.split(_MARK)
        self.texts, self.names = [t.encode() for t in pieces[::2]], pieces[1::2]
        if not all(name.isidentifier() for name in self.names):  # a NUL in the words?
            raise RenderError("account.html.j2: the page's text holds a NUL character")

    def fill(self, values: dict[str, Any]) -> bytes:
        parts = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            value = values[name]  # Markup (the tables and charts) is what escape() would give
            parts += ((value if type(value) is Markup else escape(value)).encode(), text)
        return b"".join(parts)


_MARK = "\x00"  # no page's text has it


class _Slots:
    """Stands for the account while a frame is rendered: ``a.x`` renders as a marker
    naming ``x``. The values the template tests (``{% if not a.alerts %}``) are given,
    a frame for each combination; testing any other value fails (:class:`_Untested`)."""

    def __init__(self, **tested: bool) -> None:
        self._tested = tested

    def __getattr__(self, name: str) -> Markup:
        if name.startswith("_"):
            raise AttributeError(name)
        marker = f"{_MARK}{name}{_MARK}"
        if name not in self._tested:
            return _Untested(marker)
        return Markup(marker) if self._tested[name] else Markup()


class _Untested(Markup):
    """The marker of a value whose truth no frame was made for: a frame would silently
    hold one branch of the template's test for every account."""

    def __bool__(self) -> bool:
        raise RenderError(
            f"account.html.j2 tests a.{self.strip(_MARK)}: AccountPages needs a frame per answer"
        )


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


def _write(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8 if a str) to a new file: bytes through ``os.write``, with
    no Python file object (a page is written 18,486 times at 1M visitors)."""
    data = memoryview(text.encode() if isinstance(text, str) else text)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


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
    env.filters["month"] = w.month
    env.filters["term"] = w.term
    env.filters["isnan"] = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
    return env


class AccountTables:
    """The data tables of a P1 account's page (``days``: the as-of days, formatted).

    Captions and heads are the same on every page and made once; so is a row of a
    label and a value that recurs (a score, a plan, a date): each is made once.
    """

    def __init__(self, w: Words, days: list[str]) -> None:
        self.w, self.days = w, days
        caption = w("data_table") + ": "
        self.starts = {
            "facts": table_start(w("account"), [w("name"), w("value")]),
            "components": table_start(
                caption + w("components"), [w("component"), w("value")], _NUMBER
            ),
            "trend": table_start(
                caption + w("score_trend"), [w("as_of", date=""), w("score")], _NUMBER
            ),
            "alerts": table_start(
                w("alerts"), [w("alert"), w("severity"), w("signals"), w("action")]
            ),
        }
        # typed: a Markup cell must not be taken for the equal str (or the other way round)
        self.row = functools.lru_cache(maxsize=None, typed=True)(_pair_row)

    def __call__(self, a: dict[str, Any]) -> dict[str, Markup | None]:
        w, dash, row = self.w, "–", self.row
        facts = [
            row(w("plan"), a["plan"] or dash),
            row(w("csm"), a["csm"] or dash),
            row(w("renewal"), w.date(a["renewal"]) if a["renewal"] else dash),
            table_row([w("reason"), a["reason"]]),  # these two are mostly one of a kind
            table_row([w("in_segments"), w("list_sep").join(a["segments"]) or dash]),
        ]
        comps = [
            row(
                c["name"], w("missing") if math.isnan(c["value"]) else w.num(c["value"], 1), _NUMBER
            )
            for c in a["components"]
        ]
        trend = [row(d, w.num(s, 1), _NUMBER) for d, s in zip(self.days, a["trend"], strict=False)]
        alerts = [
            table_row([r["alert"], w.term(r["severity"]), r["signals"], r["action"]])
            for r in a["alerts"]
        ]
        return {
            "facts": self._table("facts", facts),
            "components": self._table("components", comps),
            "trend": self._table("trend", trend),
            "alerts": self._table("alerts", alerts) if alerts else None,
        }

    def _table(self, name: str, rows: list[str]) -> Markup:
        return Markup(self.starts[name] + "".join(rows) + TABLE_END)


def _pair_row(label: str, value: Any, numeric: frozenset[int] = frozenset()) -> str:
    return table_row((label, value), numeric)


_NUMBER = frozenset({1})  # the value column of a label–number table
