"""Benchmark: the Spark engine (local mode) next to DuckDB and pandas on the same files.

    python benchmarks/spark_vs_duckdb.py                                  # 10k accounts / 100k visitors
    python benchmarks/spark_vs_duckdb.py --accounts 100000 --visitors 1000000   # ~30M usage rows

Generates (once, cached as Parquet under benchmarks/.cache/) a data set with
the bundled generator, then runs each engine in a fresh child process:

* pandas: ``load_dataset`` + ``evaluate`` of every shipped segment + health;
* DuckDB: ``load_dataset`` + the compiled SQL of every segment on DuckDB
  (``evaluate --engine duckdb``) + the health score as SQL;
* Spark: a ``local[2]`` session reading the Parquet files itself, the checks,
  every segment in one Spark job, the health score as Spark SQL.

Prints seconds per phase, the ratios to pandas, the peak RSS of each
process (for Spark: the Python driver and the driver JVM, which is where a
local-mode Spark works) and whether members and scores agree.
Not a test: on one machine Spark is expected to be the slowest.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (its finished children included) or of
    ``pid`` (the driver JVM, from /proc): on a shared machine, the comparable figure."""
    if pid is None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def jvm_peak_mib(pid: int) -> float:
    """VmHWM of the driver JVM (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def members(frame: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for seg, sid in zip(frame["segment"], frame["subject_id"], strict=True):
        out.setdefault(str(seg), []).append(str(sid))
    return {k: sorted(v) for k, v in out.items()}


def scores(result: Any) -> dict[str, float]:
    frame = result.frame()
    return dict(zip(frame["account_id"], frame["health_score"], strict=True))


def run_local(data: str, engine: str, out: Any) -> None:
    """Load, evaluate and score in this process: ``pandas`` or ``duckdb`` (SQL over the frames)."""
    from pendo_segments.data.loaders import load_dataset
    from pendo_segments.definitions import load_definitions
    from pendo_segments.engines import open_engine
    from pendo_segments.health import HealthConfig
    from pendo_segments.health.engine import engine_health

    defs = load_definitions(ROOT / "segment_defs")
    t0 = time.perf_counter()
    ds = load_dataset(data)
    t1 = time.perf_counter()
    with open_engine(engine, data, dataset=ds) as eng:  # duckdb: SQL over the loaded frames
        ev = eng.memberships(defs).result  # the engine's Evaluation (.membership())
        t2 = time.perf_counter()
        health = engine_health(eng, HealthConfig())
        t3 = time.perf_counter()
    out.put(
        {
            "load": t1 - t0,
            "evaluate": t2 - t1,
            "health": t3 - t2,
            "rss": peak_rss_mib(),
            "members": members(ev.membership()),
            "scores": scores(health),
        }
    )


def run_spark(data: str, master: str, memory: str, out: Any) -> None:
    warnings.simplefilter("ignore")
    from pendo_segments.definitions import load_definitions
    from pendo_segments.engines import open_engine
    from pendo_segments.health import HealthConfig
    from pendo_segments.health.engine import engine_health

    defs = load_definitions(ROOT / "segment_defs")
    engine = open_engine(
        "spark", data, spark_master=master, spark_conf={"spark.driver.memory": memory}
    )
    from pendo_segments.evaluate.spark_engine import spark_session

    t0 = time.perf_counter()
    spark = spark_session(master, engine.conf)
    t1 = time.perf_counter()
    engine.spark_data  # noqa: B018 - read and check now
    t2 = time.perf_counter()
    print(f"spark load {t2 - t1:.1f} s", file=sys.stderr, flush=True)
    ev = engine.memberships(defs)
    t3 = time.perf_counter()
    print(f"spark evaluate {t3 - t2:.1f} s", file=sys.stderr, flush=True)
    health = engine_health(engine, HealthConfig())
    t4 = time.perf_counter()
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]
    out.put(
        {
            "start": t1 - t0,
            "load": t2 - t1,
            "evaluate": t3 - t2,
            "health": t4 - t3,
            "rss": peak_rss_mib(),
            "jvm_rss": jvm_peak_mib(jvm),
            "members": members(ev.result.membership()),
            "scores": scores(health),
        }
    )
    spark.stop()


def run_spark_split(data: str, master: str, defs_dir: str, out: Any) -> None:
    """Spark's evaluate with its time split: JVM start, read (+ checks), the shared metric
    tables, then the segments' one job with the collect (members as Arrow, sorted here).

    The session gets no ``spark.driver.memory``: local mode sizes the driver
    for the machine (``budget.spark_driver_memory``). The segments and the collect
    are one job, so they are timed together: persisting each segment's frame to
    time it alone made the collect compute them again (a frame made WITH ``params``
    is not found in a union's plan), as this split did before 2026-12-07 15:00.
    """
    warnings.simplefilter("ignore")
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import spark_engine
    from pendo_segments.evaluate.spark_data import open_spark_data

    times: dict[str, float] = {}
    segment_frames = spark_engine.segment_frames

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        frames = segment_frames(*args, **kwargs)  # fills the metric tables
        times["metric tables"] = time.perf_counter() - start
        return frames

    spark_engine.segment_frames = timed
    defs = load_definitions(Path(defs_dir))
    t0 = time.perf_counter()
    spark = spark_engine.spark_session(master)
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    c1 = cpu_seconds() + cpu_seconds(jvm)
    sd = open_spark_data(spark, data)
    t2 = time.perf_counter()
    c2 = cpu_seconds() + cpu_seconds(jvm)
    ev = spark_engine.evaluate_spark(defs, sd)
    t3 = time.perf_counter()
    c3 = cpu_seconds() + cpu_seconds(jvm)
    out.put(
        {
            "jvm start": t1 - t0,
            "read + checks": t2 - t1,
            "metric tables": times["metric tables"],
            "segments + collect": t3 - t2 - times["metric tables"],
            "total": t3 - t0,
            "cpu": {"jvm start": c1, "read + checks": c2 - c1, "evaluate": c3 - c2},
            "rss": peak_rss_mib(),
            "jvm_rss": jvm_peak_mib(jvm),
            "driver memory": spark.sparkContext.getConf().get("spark.driver.memory"),
            "members": members(ev.membership()),
        }
    )
    spark.stop()


def run_duckdb_folder(data: str, defs_dir: str, out: Any) -> None:
    """``evaluate --engine duckdb`` on the folder: DuckDB reads the files itself."""
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    defs = load_definitions(Path(defs_dir))
    t0 = time.perf_counter()
    result = evaluate_folder(defs, data, warn=lambda _m: None)
    found: dict[str, list[str]] = {}
    for batch in result.membership_batches():
        for row in batch.to_pylist():
            found.setdefault(str(row["segment"]), []).append(str(row["subject_id"]))
    t1 = time.perf_counter()
    result.close()
    found = {k: sorted(v) for k, v in found.items()}
    out.put({"total": t1 - t0, "cpu": cpu_seconds(), "rss": peak_rss_mib(), "members": found})


def split(folder: Path, master: str, defs_dir: str) -> None:
    """``--split``: Spark's evaluate (JVM start, read, metric tables, segments) against DuckDB's."""
    print(f"uptime before: {os.getloadavg()}", file=sys.stderr, flush=True)
    duck = child(run_duckdb_folder, str(folder), defs_dir)
    print(f"duckdb done; load average {os.getloadavg()}", file=sys.stderr, flush=True)
    spark = child(run_spark_split, str(folder), master, defs_dir)
    print(f"spark done; load average {os.getloadavg()}", file=sys.stderr, flush=True)
    print(f"\nSpark {master} (driver memory {spark['driver memory']}) vs DuckDB, {folder}\n")
    print("| step | Spark s | share |")
    print("|---|---|---|")
    for step in ("jvm start", "read + checks", "metric tables", "segments + collect"):
        print(f"| {step} | {spark[step]:.1f} | {spark[step] / spark['total']:.0%} |")
    print(f"| total | {spark['total']:.1f} | |")
    print(
        f"\nDuckDB (evaluate_folder + members) {duck['total']:.1f} s, peak {duck['rss']:,.0f} MiB"
    )
    print(f"Spark / DuckDB: {spark['total'] / duck['total']:.2f}x; ", end="")
    cpu = sum(spark["cpu"].values())
    print(
        f"CPU s (Spark: Python + driver JVM): Spark {cpu:.1f} "
        + "("
        + ", ".join(f"{k} {v:.1f}" for k, v in spark["cpu"].items())
        + f"), DuckDB {duck['cpu']:.1f}, ratio {cpu / duck['cpu']:.2f}x; ",
        end="",
    )
    print(f"Spark peak {spark['rss']:,.0f} MiB (Python) + {spark['jvm_rss']:,.0f} MiB (JVM)")
    print(f"same members: {'yes' if spark['members'] == duck['members'] else 'NO'}")


def child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def dataset(accounts: int, visitors: int, days: int, seed: int) -> Path:
    from pendo_segments.data.sample import write_sample

    folder = HERE / ".cache" / f"spark-{accounts}-{visitors}-{days}-{seed}"
    if not (folder / "usage_daily.parquet").exists():
        print(f"generating {folder.name} …", file=sys.stderr)
        write_sample(
            folder, fmt="parquet", accounts=accounts, visitors=visitors, days=days, seed=seed
        )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--visitors", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument(
        "--data", type=Path, help="an existing Parquet folder instead of generating"
    )
    parser.add_argument(
        "--engines", default="pandas,duckdb,spark", help="comma-separated subset to run"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="Spark's evaluate split into JVM start, read, metric tables, segments, against "
        "evaluate --engine duckdb on the same folder (any layout); default driver memory",
    )
    parser.add_argument("--defs", default=str(ROOT / "segment_defs"))
    args = parser.parse_args()
    folder = args.data or dataset(args.accounts, args.visitors, args.days, args.seed)
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr, flush=True)
    if args.split:
        split(folder, args.master, args.defs)
        return
    import pyarrow.parquet as pq

    def count(table: str) -> int:
        return pq.read_metadata(folder / f"{table}.parquet").num_rows

    # counted from the files: with --data, the size options were not used
    accounts, visitors = count("accounts"), count("visitors")
    rows, fu_rows = count("usage_daily"), count("feature_usage")
    wanted = args.engines.split(",")
    runs = {}
    for key, label, target, extra in (
        ("pandas", "pandas", run_local, ("pandas",)),
        ("duckdb", "DuckDB", run_local, ("duckdb",)),
        ("spark", f"Spark {args.master}", run_spark, (args.master, args.driver_memory)),
    ):
        if key in wanted:
            runs[label] = child(target, str(folder), *extra)
            print(f"{label} done; load average {os.getloadavg()}", file=sys.stderr, flush=True)
    base = next(iter(runs.values()))
    total = {k: sum(v.get(p, 0.0) for p in ("load", "evaluate", "health")) for k, v in runs.items()}
    print(
        f"\n{accounts:,} accounts, {visitors:,} visitors, {rows:,} usage_daily rows, "
        f"{fu_rows:,} feature_usage rows ({folder.name})\n"
    )
    print("| measure | " + " | ".join(runs) + " |")
    print("|---|" + "---|" * len(runs))
    for phase in ("start", "load", "evaluate", "health"):
        cells = [f"{r[phase]:.2f}" if phase in r else "—" for r in runs.values()]
        print(f"| {phase}, s | " + " | ".join(cells) + " |")
    print(
        "| load + evaluate + health, s | " + " | ".join(f"{t:.2f}" for t in total.values()) + " |"
    )
    ratio = [f"{t / total[next(iter(total))]:.2f}" for t in total.values()]
    print(f"| ratio to {next(iter(runs))} (without Spark start-up) | " + " | ".join(ratio) + " |")
    rss = [
        f"{r['rss']:,.0f}" + (f" + JVM {r['jvm_rss']:,.0f}" if "jvm_rss" in r else "")
        for r in runs.values()
    ]
    print("| peak RSS, MiB | " + " | ".join(rss) + " |")
    same = [r["members"] == base["members"] for r in runs.values()]
    print(
        f"| same members as {next(iter(runs))} | "
        + " | ".join("yes" if s else "NO" for s in same)
        + " |"
    )
    close = [
        r["scores"].keys() == base["scores"].keys()
        and all(
            (math.isnan(a) and math.isnan(base["scores"][k])) or abs(a - base["scores"][k]) <= 0.05
            for k, a in r["scores"].items()
        )
        for r in runs.values()
    ]
    print(
        "| same health scores (±0.05) | " + " | ".join("yes" if c else "NO" for c in close) + " |"
    )


if __name__ == "__main__":
    main()
