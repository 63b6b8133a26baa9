"""Whole-process benchmark: ``pendo-segments evaluate`` vs hand-written DuckDB SQL.

    python benchmarks/whole_process.py --root /tmp/bench            # 100k accounts / 1M visitors
    python benchmarks/whole_process.py --root /tmp/b --accounts 2000 --visitors 20000  # quick

Data is generated once with the bundled generator, then rewritten by other
tools (``foreign_data.py``: DuckDB ``COPY`` defaults and pyarrow defaults as
Parquet, DuckDB's CSV writer), so the loader meets files shaped the way users
have them, not the way it writes them. Keep ``--root`` outside the repository.

For every writer x engine, in the same run, each side is a fresh process
timed from start to exit (load + evaluate every shipped segment + write the
membership CSV):

* project: ``pendo-segments evaluate --engine E --format csv -o FILE``;
* hand:    hand-written DuckDB SQL over the same files writing the same CSV
           with ``COPY`` (``evaluate_vs_duckdb.py``'s queries).

Wall, CPU (user + system) and peak RSS come from ``os.wait4`` on the child.
The two CSV files must be byte-identical (same members, same order). Ratios
are project / hand measured back to back, so machine load affects both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-01"  # the generator's default end day + 1
FEATURES = ["core_events", "data_explorer", "path_reports", "guide_publishing"]


def hand_sql(data: Path, fmt: str, out: Path, memory_limit: str | None = None) -> None:
    """The hand-written side (runs in its own process)."""
    import tempfile

    import duckdb

    sys.path.insert(0, str(HERE))
    from evaluate_vs_duckdb import HAND_SQL, last_visit_column, segment_queries

    config = {}
    if memory_limit:  # the same limit and spilling as --engine duckdb --memory-limit
        config = {"memory_limit": memory_limit, "temp_directory": tempfile.mkdtemp()}
    con = duckdb.connect(config=config)
    visitors = table_source(data, "visitors")
    setup = HAND_SQL.format(d=data, as_of=AS_OF, last_visit=last_visit_column(con, visitors))
    for name in ("accounts", "visitors", "usage_daily", "feature_usage"):
        setup = setup.replace(f"read_parquet('{data}/{name}.parquet')", table_source(data, name))
    for stmt in setup.split(";"):
        if stmt.strip():
            con.execute(stmt)
    queries = segment_queries(AS_OF, FEATURES)
    subjects = {
        n: ("account" if "account_id" in q.split("FROM")[0] else "visitor")
        for n, q in queries.items()
    }
    union = " UNION ALL ".join(
        f"SELECT '{n}' AS segment, '{subjects[n]}' AS subject, CAST(x.subject_id AS VARCHAR) AS subject_id "
        f"FROM ({q}) AS x(subject_id)"
        for n, q in queries.items()
    )
    con.execute(f"COPY (SELECT * FROM ({union}) ORDER BY segment, subject_id) TO '{out}' (HEADER)")


def table_source(data: Path, name: str) -> str:
    """How hand-written DuckDB SQL reads a table in any layout the project reads.

    One file (``.parquet``, ``.csv``, ``.csv.gz``), or a folder of part files
    (Spark's ``t/`` or ``t.parquet/``, Hive partitions ``t/date=…/``).
    """
    for suffix in (".parquet", ".csv", ".csv.gz"):
        path = data / f"{name}{suffix}"
        if path.is_file():
            if suffix == ".parquet":
                return f"read_parquet('{path}')"
            return f"read_csv('{path}', header = true)"
    for folder in (data / name, data / f"{name}.parquet"):
        if folder.is_dir():
            csv = any(folder.rglob("*.csv*"))
            pattern = f"{folder}/**/*.csv*" if csv else f"{folder}/**/*.parquet"
            reader = "read_csv" if csv else "read_parquet"
            extra = ", header = true" if csv else ""
            return f"{reader}('{pattern}', hive_partitioning = true{extra})"
    raise SystemExit(f"{data}: no table {name}")


def timed(cmd: list[str]) -> dict[str, float]:
    """Wall, CPU and peak RSS of one child process, from start to exit."""
    start = time.perf_counter()
    # this checkout's code, whatever the environment's editable install points at
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def prepare(root: Path, accounts: int, visitors: int, days: int, seed: int) -> Path:
    base = root / f"a{accounts}-v{visitors}-d{days}-s{seed}"
    src = base / "generated"
    if (base / "duckdb-csv" / "usage_daily.csv").exists():  # rewritten already
        return base
    if not (src / "usage_daily.csv").exists():
        subprocess.run(
            [
                "pendo-segments",
                "sample",
                "--accounts",
                str(accounts),
                "--visitors",
                str(visitors),
                "--days",
                str(days),
                "--seed",
                str(seed),
                "--out",
                str(src),
            ],
            check=True,
        )
    if not (base / "duckdb-csv" / "usage_daily.csv").exists():
        subprocess.run(
            [sys.executable, str(HERE / "foreign_data.py"), str(src), str(base)], check=True
        )
    return base


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--root", type=Path, help="where data and outputs go (not the repo)")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--visitors", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--writers", default="duckdb,pyarrow,duckdb-csv")
    ap.add_argument("--engines", default="pandas,duckdb")
    ap.add_argument("--memory-limit", default=None, help="passed to --engine duckdb")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; the median is reported")
    ap.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="benchmark these folders (any layout: big_data.py's, Spark's, Hive partitions) "
        "instead of generating; repeatable",
    )
    ap.add_argument(
        "--defs",
        type=Path,
        default=ROOT / "segment_defs",
        help="segment definitions (default: the shipped ones the hand-written SQL mirrors)",
    )
    ap.add_argument("--hand", nargs=3, metavar=("DATA", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hand:
        hand_sql(Path(args.hand[0]), args.hand[1], Path(args.hand[2]), args.memory_limit)
        return
    if args.data:
        folders = dict(item.split("=", 1) for item in args.data)
        sets = [(name, Path(folder)) for name, folder in folders.items()]
        base = Path(sets[0][1]).parent
    else:
        if args.root is None:
            ap.error("--root (or --data) is required")
        base = prepare(args.root, args.accounts, args.visitors, args.days, args.seed)
        sets = [(w, base / w) for w in args.writers.split(",")]
    results = []
    for writer, data in sets:
        fmt = "csv" if any(data.glob("usage_daily.csv*")) else "parquet"
        for engine in args.engines.split(","):
            runs = []
            for i in range(args.repeat):
                hand_out, ours_out = (
                    base / f"hand-{writer}.csv",
                    base / f"ours-{writer}-{engine}.csv",
                )
                hand_cmd = [sys.executable, __file__, "--hand", str(data), fmt, str(hand_out)]
                cmd = [
                    "pendo-segments",
                    "evaluate",
                    str(args.defs),
                    "--data",
                    str(data),
                ]
                cmd += [
                    "--as-of",
                    AS_OF,
                    "--engine",
                    engine,
                    "--format",
                    "csv",
                    "-o",
                    str(ours_out),
                ]
                if args.memory_limit and engine == "duckdb":
                    cmd += ["--memory-limit", args.memory_limit]
                # A/B alternating: the hand-written side first on odd runs, ours first on even
                if i % 2 == 0:
                    hand, ours = timed(hand_cmd), timed(cmd)
                else:
                    ours, hand = timed(cmd), timed(hand_cmd)
                same = hand_out.read_bytes() == ours_out.read_bytes()
                rows = sum(1 for _ in ours_out.open("rb")) - 1
                runs.append({"hand": hand, "ours": ours, "same": same, "rows": rows})
                print(
                    f"  {writer} {engine} run {i + 1}: ours {ours} hand {hand} same={same}",
                    flush=True,
                )
            runs.sort(key=lambda r: r["ours"]["wall"] / r["hand"]["wall"])
            mid = runs[len(runs) // 2]
            every = [round(r["ours"]["wall"] / r["hand"]["wall"], 2) for r in runs]
            results.append(
                {"writer": writer, "format": fmt, "engine": engine, **mid, "ratios": every}
            )
    print(json.dumps(results, indent=2))
    print(
        "\n| writer | format | engine | project wall s | hand wall s | wall ratio | project CPU s | hand CPU s | CPU ratio | project peak RSS MiB | hand peak RSS MiB | same CSV |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        o, h = r["ours"], r["hand"]
        print(
            f"| {r['writer']} | {r['format']} | {r['engine']} | {o['wall']:.1f} | {h['wall']:.1f} | "
            f"**{o['wall'] / h['wall']:.2f}** | {o['cpu']:.1f} | {h['cpu']:.1f} | {o['cpu'] / h['cpu']:.2f} | "
            f"{o['rss_mib']:,.0f} | {h['rss_mib']:,.0f} | {'yes' if r['same'] else 'NO'} ({r['rows']:,} rows) |"
        )
    if not all(r["same"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
