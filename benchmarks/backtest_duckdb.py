"""Backtest on DuckDB out of core vs one evaluate, peak RSS of each, and a reference check.

    python benchmarks/big_data.py /tmp/m1 --visitors 1000000 --usage-rows 30000000
    python benchmarks/backtest_duckdb.py /tmp/m1 --from 2026-09-06 --to 2026-11-01 \\
        --memory-limit 1GB

Both commands run as a user runs them (``pendo-segments ... --engine duckdb``,
this checkout's package), one after the other in this run, each under
``/usr/bin/time -v``: wall seconds, CPU seconds and peak RSS. The ratio is
backtest ÷ evaluate (the evaluate at the backtest's last day). Then the
backtest's per-day counts of ``healthy`` (an account segment: distinct active
days rolled up over the visitors that exist at D), ``new_users`` (first seen
in the 30 days before D), ``active_core_events`` (clicks of one feature in the
window) and ``no_login_30d`` (last active day before D) are checked against
SQL written here by hand from docs/semantics.md §2 / §2b, not by the SQL
compiler. ``--keep DIR`` keeps the backtest's counts (``counts.csv``).
"""

from __future__ import annotations

import argparse
import csv
import os
import pty
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], days: bool = False) -> dict[str, Any]:
    """Run ``argv`` under /usr/bin/time -v: wall s, CPU s and peak RSS MiB; with ``days``,
    also each as-of day's start (the CLI's progress, read from a pseudo-terminal on its
    stderr) and the process's RSS sampled every second (``rss``: seconds, MiB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "120"}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "time.txt"
        master, slave = pty.openpty() if days else (None, None)
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", str(report), *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=slave if days else subprocess.PIPE,
            text=not days,
        )
        start = time.monotonic()
        seen: dict[str, float] = {}
        rss: list[tuple[float, float]] = []
        err = ""
        if days:
            assert master is not None and slave is not None
            os.close(slave)
            watch = threading.Thread(target=_sample, args=(proc.pid, start, rss), daemon=True)
            watch.start()
            err = _read_progress(master, start, seen)
            proc.wait()
            watch.join()
        else:
            err = proc.communicate()[1]
        if proc.returncode:
            sys.exit(f"{' '.join(argv)} failed:\n{err[-3000:]}")
        text = report.read_text()

    def field(name: str) -> str:
        found = re.search(rf"{re.escape(name)}: (.+)", text)
        assert found, name
        return found.group(1).strip()

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall": wall,
        "cpu": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "rss_mib": int(field("Maximum resident set size (kbytes)")) / 1024,
        "days": seen,
        "rss": rss,
    }


def _read_progress(fd: int, start: float, seen: dict[str, float]) -> str:
    """Everything the child writes to the terminal; the first time each day appears."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        for day in re.findall(rb"as-of days on DuckDB: (\d{4}-\d\d-\d\d)", out[-4096:]):
            seen.setdefault(day.decode(), time.monotonic() - start)
    os.close(fd)
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.decode(errors="replace"))


def _sample(pid: int, start: float, rss: list[tuple[float, float]]) -> None:
    """RSS (MiB) of the process /usr/bin/time (``pid``) runs, once a second until it ends."""
    while True:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            status = Path(f"/proc/{children[0]}/status").read_text() if children else ""
        except OSError:
            return
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            rss.append((time.monotonic() - start, int(found.group(1)) / 1024))
        time.sleep(1)


def per_day(run: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(day, seconds it took, peak RSS MiB sampled while it ran), in order."""
    starts = sorted(run["days"].items(), key=lambda kv: kv[1])
    out = []
    for k, (day, t0) in enumerate(starts):
        t1 = starts[k + 1][1] if k + 1 < len(starts) else run["wall"]
        peak = max((m for t, m in run["rss"] if t0 <= t < t1), default=float("nan"))
        out.append((day, t1 - t0, peak))
    return out


HEALTHY = """
SELECT count(*) FROM (
  SELECT v.account_id
  FROM {usage} u JOIN {visitors} v ON v.visitor_id = u.visitor_id
  WHERE u.date >= DATE '{d}' - 30 AND u.date < DATE '{d}' AND (u.events > 0 OR u.minutes > 0)
    AND v.first_visit < DATE '{d}'
  GROUP BY 1 HAVING count(DISTINCT u.date) >= 16
)
"""
NEW_USERS = """
SELECT count(*) FROM {visitors} v
WHERE v.first_visit < DATE '{d}' AND v.first_visit >= DATE '{d}' - 30
"""
CORE_EVENTS = """
SELECT count(*) FROM (
  SELECT f.visitor_id
  FROM {features} f JOIN {visitors} v ON v.visitor_id = f.visitor_id
  WHERE f.date >= DATE '{d}' - 30 AND f.date < DATE '{d}' AND f.feature_id = 'core_events'
    AND v.first_visit < DATE '{d}'
  GROUP BY 1 HAVING sum(f.clicks) >= 10
)
"""
NO_LOGIN = """
SELECT count(*) FROM (
  SELECT u.visitor_id, max(u.date) AS last
  FROM {usage} u JOIN {visitors} v ON v.visitor_id = u.visitor_id
  WHERE u.date < DATE '{d}' AND (u.events > 0 OR u.minutes > 0)
    AND v.first_visit < DATE '{d}'
  GROUP BY 1
) WHERE DATE '{d}' - last > 30
"""
CHECKS = {
    "healthy": HEALTHY,
    "new_users": NEW_USERS,
    "active_core_events": CORE_EVENTS,
    "no_login_30d": NO_LOGIN,
}


def reference(folder: Path, days: list[str], memory_limit: str) -> dict[tuple[str, str], int]:
    """The hand-written counts (every visitor has a first_visit in big_data.py's data;
    accounts have no created / churn dates, so every account exists)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": memory_limit})
    tables = {"usage": "usage_daily", "visitors": "visitors", "features": "feature_usage"}
    names = {k: f"read_parquet('{folder / t}.parquet')" for k, t in tables.items()}
    out = {}
    for d in days:
        for seg, sql in CHECKS.items():
            out[(d, seg)] = int(con.execute(sql.format(d=d, **names)).fetchall()[0][0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("data", type=Path)
    ap.add_argument("--from", dest="start", required=True)
    ap.add_argument("--to", dest="end", required=True)
    ap.add_argument("--every", type=int, default=7)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--defs", default=None, help="definitions (default: the shipped ones)")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep counts.csv in DIR")
    ap.add_argument("--counts", type=Path, default=None, help="check this counts.csv only")
    ap.add_argument(
        "--no-evaluate", action="store_true", help="skip the one-day evaluate (no ratio)"
    )
    args = ap.parse_args()
    exe = [sys.executable, "-c", "from pendo_segments.cli import main; main()"]
    defs = [args.defs] if args.defs else []
    common = [
        *defs,
        "--data",
        str(args.data),
        "--engine",
        "duckdb",
        "--memory-limit",
        args.memory_limit,
    ]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if args.counts:  # the reference check of an earlier run's counts
        with args.counts.open() as f:
            got = {(r["as_of"], r["segment"]): int(r["members"]) for r in csv.DictReader(f)}
        check(args, got)
        return
    with tempfile.TemporaryDirectory() as tmp:
        counts = (args.keep or Path(tmp)) / "counts.csv"
        counts.parent.mkdir(parents=True, exist_ok=True)
        ev = None
        if not args.no_evaluate:
            ev = timed(
                [*exe, "evaluate", *common, "--as-of", args.end, "--counts", "--format", "csv"]
            )
            print(
                f"evaluate (one day): { {k: v for k, v in ev.items() if k not in ('days', 'rss')} }"
            )
        bt = timed(
            [*exe, "backtest", *common, "--from", args.start, "--to", args.end]
            + ["--every", str(args.every), "--format", "csv", "-o", str(counts)],
            days=True,
        )
        print(f"backtest: { {k: v for k, v in bt.items() if k not in ('days', 'rss')} }")
        for day, took, peak in per_day(bt):
            print(f"  day {day}: {took:.0f} s wall, peak RSS {peak:.0f} MiB (sampled)")
        if args.keep:
            with (args.keep / "rss.csv").open("w") as f:
                f.write("seconds,rss_mib\n" + "".join(f"{t:.1f},{m:.0f}\n" for t, m in bt["rss"]))
        with counts.open() as f:
            got = {(r["as_of"], r["segment"]): int(r["members"]) for r in csv.DictReader(f)}
    days = sorted({d for d, _ in got})
    print(f"{len(days)} as-of days; load average at end: {os.getloadavg()}")
    if ev is None:
        print(f"peak RSS {bt['rss_mib']:.0f} MiB (no evaluate run)")
    else:
        print(
            f"ratio backtest / evaluate: wall {bt['wall'] / ev['wall']:.2f}x, "
            f"CPU {bt['cpu'] / ev['cpu']:.2f}x; peak RSS {bt['rss_mib']:.0f} MiB "
            f"(evaluate {ev['rss_mib']:.0f} MiB)"
        )
    if not args.no_reference:
        check(args, got)


def check(args: argparse.Namespace, got: dict[tuple[str, str], int]) -> None:
    days = sorted({d for d, _ in got})
    expected = reference(args.data, days, args.memory_limit)
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    for (d, seg), v in sorted(expected.items()):
        print(f"  {d} {seg}: {v} (backtest {got.get((d, seg))})")
    print("reference check:", "all equal" if not wrong else f"DIFFERENT: {wrong}")
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
