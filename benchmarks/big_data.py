"""Synthesise a large usage folder with DuckDB alone (10M visitors / 300M rows).

    python benchmarks/big_data.py /tmp/big --visitors 10000000 --usage-rows 300000000
    python benchmarks/big_data.py /tmp/m-csv --visitors 1000000 --usage-rows 30000000 --format csv

The bundled generator builds its frames in memory, which a 300M-row set
does not fit; DuckDB writes this one straight to Parquet (its ``COPY``
defaults), so it is also data written by another tool; ``--format csv`` /
``csv.gz`` writes DuckDB's CSV (header row; gzip) instead. The shape follows
docs/semantics.md §1: 10 visitors per account, about 30 active days per
visitor in a 90-day span (``--days``: 212 covers a 26-week backtest and its
30-day window), one ``feature_usage`` row per 5 usage rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

FEATURES = [
    ("core_events", "Core events", True),
    ("data_explorer", "Data Explorer", True),  # the shipped definitions name it so
    ("path_reports", "Path reports", True),
    ("guide_publishing", "Guide publishing", True),
    ("exports", "Exports", False),
    ("dashboards", "Dashboards", False),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--visitors", type=int, default=10_000_000)
    ap.add_argument("--usage-rows", type=int, default=300_000_000)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--format", choices=["parquet", "csv", "csv.gz"], default="parquet")
    ap.add_argument(
        "--days", type=int, default=90, help="span of the usage, ending 2026-10-31 (default 90)"
    )
    args = ap.parse_args()
    import duckdb

    args.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={"memory_limit": args.memory_limit, "temp_directory": str(args.out / ".tmp")}
    )
    v, n = args.visitors, args.usage_rows
    a = max(1, v // 10)
    per_visitor = max(1, n // v)
    step = max(1, args.days // per_visitor)  # days between a visitor's rows
    start = time.perf_counter()

    options = {
        "parquet": "FORMAT parquet",
        "csv": "FORMAT csv, HEADER",
        "csv.gz": "FORMAT csv, HEADER, COMPRESSION gzip",
    }[args.format]

    def copy(name: str, sql: str) -> None:
        con.execute(f"COPY ({sql}) TO '{args.out / name}.{args.format}' ({options})")
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)

    plans = "['Starter', 'Growth', 'Business', 'Enterprise']"
    copy(
        "accounts",
        f"SELECT printf('acc-%08d', i) AS account_id, (hash(i) % 200000)::DOUBLE AS arr, "
        f"{plans}[(1 + hash(i * 7) % 4)::BIGINT] AS plan, DATE '2020-01-01' + (hash(i * 3) % 2000)::INT AS contract_start "
        f"FROM range({a}) t(i)",
    )
    copy(
        "visitors",
        f"SELECT printf('v-%09d', i) AS visitor_id, printf('acc-%08d', i % {a}) AS account_id, "
        "DATE '2024-01-01' + (hash(i * 5) % 1000)::INT AS first_visit FROM range("
        + str(v)
        + ") t(i)",
    )
    feats = ", ".join(f"('{f}', '{name}', {str(k).lower()})" for f, name, k in FEATURES)
    copy("features", f"SELECT * FROM (VALUES {feats}) t(feature_id, name, key)")
    # row r: visitor r // per_visitor, day spread over --days days ending 2026-10-31
    copy(
        "usage_daily",
        f"SELECT DATE '2026-10-31' - ((r % {per_visitor}) * {step} + hash(r) % {step})::INT AS date, "
        f"printf('v-%09d', r // {per_visitor}) AS visitor_id, "
        "round((hash(r * 11) % 6000) / 100.0, 2) AS minutes, (hash(r * 13) % 40)::BIGINT AS events "
        f"FROM range({v * per_visitor}) t(r)",
    )
    copy(
        "feature_usage",
        f"SELECT DATE '2026-10-31' - ((r % {per_visitor}) * {step})::INT AS date, "
        f"printf('v-%09d', r // {per_visitor}) AS visitor_id, "
        f"(['core_events', 'data_explorer', 'path_reports', 'guide_publishing', 'exports', 'dashboards'])[(1 + hash(r * 17) % 6)::BIGINT] AS feature_id, "
        "(1 + hash(r * 19) % 20)::BIGINT AS clicks "
        f"FROM range({v * per_visitor}) t(r) WHERE r % 5 = 0",
    )
    con.close()


if __name__ == "__main__":
    main()
