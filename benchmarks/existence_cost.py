"""Benchmark: the cost of the existence rule (docs/semantics.md §2b) in per-segment SQL.

    python benchmarks/big_data.py /tmp/m1 --visitors 1000000 --usage-rows 30000000
    python benchmarks/existence_cost.py /tmp/m1 [--repeat 3] [--memory-limit 3GB]

Opens the folder once in DuckDB (``evaluate/duckdb_folder.open_folder``), then
runs every shipped segment's own query (``SQLGenerator``, one query per
segment, as ``compile --target sql`` writes it) three ways, back to back:

* ``rule``: as compiled (a visitor's first seen day is ``first_visit``, else a
  correlated ``MIN`` over its active usage rows);
* ``none``: the existence tests replaced by TRUE (what the queries cost before
  issue 23);
* ``shared``: the first-seen days read from one table computed once
  (``rules.earliest_active_sql``; its build time is reported and added).

Prints CPU seconds (user + system, all DuckDB threads: less sensitive to a
busy machine than wall time) and wall seconds per variant, each the best of
``--repeat`` runs of all segments, and the CPU ratio to ``none``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class _NoRule:
    """An ``Existence`` whose tests are all TRUE (every row a subject)."""

    def subject_sql(self, subject: str, row: str = "s") -> Any:
        from sqlglot import exp

        return exp.true()

    def visitor_sql(self, row: str = "v") -> Any:
        from sqlglot import exp

        return exp.true()

    def rows_sql(self, usage: str, row: str = "v") -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # other fields: as compiled
        return getattr(self._real, name)

    def __init__(self, real: Any) -> None:
        self._real = real


def _queries(defs: Any, db: Any, day: Any, variant: str) -> dict[str, str]:
    from pendo_segments.compile.sql import SharedMetricSQL, SQLGenerator
    from pendo_segments.evaluate.duckdb_engine import existence_options

    class Generator(SQLGenerator):
        @property
        def existence(self) -> Any:
            real = super().existence
            if variant == "none":
                return _NoRule(real)
            if variant == "shared":
                return dataclasses.replace(real, earliest_table=SharedMetricSQL.EARLIEST)
            return real

    gen = Generator(
        defs,
        as_of=day,
        pretty=False,
        has_first_visit="first_visit" in db.columns["visitors"],
        has_last_visit="last_visit" in db.columns["visitors"],
        **existence_options(db.columns["accounts"], db.outcomes),
    )
    return {seg.name: gen.compile(seg).output for seg in defs.select(None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="3GB")
    args = ap.parse_args()

    from pendo_segments.compile.sql import SharedMetricSQL
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate.duckdb_folder import open_folder
    from pendo_segments.semantics.rules import earliest_active_sql

    defs = load_definitions(ROOT / "segment_defs")
    db = open_folder(args.folder, memory_limit=args.memory_limit)
    try:
        day = db.default_as_of()
        db.at(day)
        con = db.con
        cpu, wall = time.process_time(), time.perf_counter()
        con.execute(
            f"CREATE TEMP TABLE {SharedMetricSQL.EARLIEST} AS "
            + earliest_active_sql().sql(dialect="duckdb")
        )
        build = (time.process_time() - cpu, time.perf_counter() - wall)
        best: dict[str, tuple[float, float]] = {}
        counts: dict[str, dict[str, int]] = {}
        for _ in range(args.repeat):
            for variant in ("rule", "none", "shared"):
                queries = _queries(defs, db, day, variant)
                cpu, wall = time.process_time(), time.perf_counter()
                counts[variant] = {
                    n: int(con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0])
                    for n, sql in queries.items()
                }
                took = (time.process_time() - cpu, time.perf_counter() - wall)
                best[variant] = min(best.get(variant, took), took)
        assert counts["rule"] == counts["shared"], "the shared first-seen table changed members"
        base = best["none"][0]
        print(f"as of {day}, {len(counts['rule'])} segments, best of {args.repeat} (CPU s, wall s)")
        for variant in ("none", "rule", "shared"):
            c, w = best[variant]
            print(f"{variant:6} cpu {c:7.2f}  wall {w:7.2f}  cpu ratio {c / base:.2f}")
        c = best["shared"][0] + build[0]
        print(f"shared + first-seen table (cpu {build[0]:.2f}): cpu {c:.2f}, ratio {c / base:.2f}")
        moved = {n: (counts["none"][n], counts["rule"][n]) for n in counts["rule"]}
        moved = {n: c for n, c in moved.items() if c[0] != c[1]}
        print(f"segments whose members the rule changes: {moved or 'none'}")
    finally:
        db.close()


if __name__ == "__main__":
    main()
