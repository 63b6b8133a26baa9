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
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> dict[str, float]:
    """Run ``argv`` under /usr/bin/time -v: wall s, CPU s, peak RSS MiB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["/usr/bin/time", "-v", *argv], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    text = done.stderr

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
    }


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
        ev = timed([*exe, "evaluate", *common, "--as-of", args.end, "--counts", "--format", "csv"])
        print(f"evaluate (one day): {ev}", flush=True)
        bt = timed(
            [*exe, "backtest", *common, "--from", args.start, "--to", args.end]
            + ["--every", str(args.every), "--format", "csv", "-o", str(counts)]
        )
        print(f"backtest: {bt}", flush=True)
        with counts.open() as f:
            got = {(r["as_of"], r["segment"]): int(r["members"]) for r in csv.DictReader(f)}
    days = sorted({d for d, _ in got})
    print(f"{len(days)} as-of days; load average at end: {os.getloadavg()}")
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
