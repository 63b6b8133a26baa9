"""Benchmark: a 26-week backtest vs one ``evaluate``, and the report build time.

    python benchmarks/backtest_vs_evaluate.py                      # 10k accounts / 100k visitors
    python benchmarks/backtest_vs_evaluate.py --visitors 20000 --accounts 2000   # quick look

Generates (once, cached as Parquet under benchmarks/.cache/) a sample data
set with the bundled generator covering 26 weeks plus a 30-day window, then
times in this one process (best of ``--repeat`` runs each):

* load: ``load_dataset`` of the Parquet files;
* evaluate: ``evaluate`` of every shipped segment at one as-of day;
* backtest (segments): every shipped segment at 26 weekly as-of days (index
  built inside);
* backtest (full): the same plus the health score and the alerts at every day,
  i.e. what ``pendo-segments backtest`` does;

* report: ``build_report`` (13 weekly as-of days, alerts, charts, a page per
  P1 account), after load: the whole ``report`` command but reading the data;
  its backtest is included (the last as-of day is the report's current view);
* save: ``backtest --save`` of the report's 13 days (backtest, usage sums, write);
* report from the saved backtest: reading ``accounts`` and the saved folder
  plus ``build_report`` (what ``report --backtest DIR`` does after start-up),
  and the whole ``pendo-segments report --backtest DIR`` command timed as a
  subprocess (Python start-up and imports included);
* report on the bundled sample, after load.

The ratio compares commands as a user runs them: (load + backtest) ÷
(load + evaluate). Every phase is timed in wall seconds and in CPU seconds of
this process (``time.process_time``): on a shared machine the wall time grows
with the other jobs' load, the CPU time much less; the load average is printed.

The targets: backtest within 3x one evaluate; the report builds in under 10 s.
Prints a JSON summary; paste the numbers into benchmarks/RESULTS-backtest.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEEKS = 26


CPU: dict[str, float] = {}  # phase → CPU seconds of the best run


def timed(fn):  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def load_average() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def save_report_backtest(defs, ds, days, defs_path, folder):  # type: ignore[no-untyped-def]
    """What ``backtest --save`` does: the backtest, the usage sums, the folder."""
    from pendo_segments.backtest import UsageHistory, run_backtest
    from pendo_segments.backtest.saved import save_backtest
    from pendo_segments.backtest.usage import usage_rollups

    history = UsageHistory(ds)
    bt = run_backtest(defs, ds, days, defs_path=defs_path, history=history, keep_last=True)
    rollups = usage_rollups(ds, history, days[-1], 12)
    save_backtest(folder, bt, rollups, ds, defs=defs, defs_path=defs_path, force=True)


def _command_seconds(argv: list[str]) -> float:
    import subprocess

    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--visitors", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement; best is kept")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    days = WEEKS * 7 + 30
    cache = HERE / ".cache" / f"a{args.accounts}-v{args.visitors}-d{days}-s{args.seed}"
    if not (cache / "usage_daily.parquet").exists():
        from pendo_segments.data.sample import write_sample

        print(f"generating {cache.name} (once) …", flush=True)
        write_sample(
            cache,
            fmt="parquet",
            accounts=args.accounts,
            visitors=args.visitors,
            days=days,
            seed=args.seed,
            progress=lambda m: print(f"  {m}", flush=True),
        )
    import pyarrow.parquet as pq

    from pendo_segments.backtest import as_of_days, run_backtest
    from pendo_segments.backtest.saved import load_backtest
    from pendo_segments.data import load_dataset, load_sample
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import evaluate
    from pendo_segments.report import build_report
    from pendo_segments.report.build import backtest_days
    from pendo_segments.shipped import shipped_path
    from pendo_segments.sources import open_accounts

    rows = {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(cache.glob("*.parquet"))}
    print("data:", ", ".join(f"{k} {v:,}" for k, v in rows.items()), flush=True)
    defs_path = shipped_path("segment_defs")
    defs = load_definitions(defs_path)

    def best(name: str, fn, repeat: int):  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(repeat):
            runs.append(timed(fn))
            out = runs[-1][0]
            runs[-1] = (None, *runs[-1][1:])  # keep one result alive at a time
        wall, cpu = min((t, c) for _, t, c in runs)
        CPU[name] = round(cpu, 2)
        print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, load {load_average()}", flush=True)
        return out, wall

    print("load average at start:", load_average(), flush=True)
    ds, t_load = best("load", lambda: load_dataset(cache), args.repeat)
    ev, t_eval = best("evaluate", lambda: evaluate(defs, ds), args.repeat)
    end = ev.as_of
    last = ev.counts()
    del ev  # its metrics hold copies of the usage columns
    days_list = as_of_days(end - dt.timedelta(days=7 * (WEEKS - 1)), end, 7)
    bt_seg, t_bt_seg = best(
        "backtest_segments",
        lambda: run_backtest(defs, ds, days_list, defs_path=defs_path, with_health=False),
        args.repeat,
    )
    same_last_day = {n: bt_seg.counts[n][-1] for n in last} == last
    del bt_seg
    _, t_bt_full = best(
        "backtest_full",
        lambda: run_backtest(defs, ds, days_list, defs_path=defs_path),
        args.repeat,
    )

    with tempfile.TemporaryDirectory() as tmp:
        written, t_report = best(
            "report",
            lambda: build_report(defs, ds, Path(tmp) / "r", defs_path=defs_path),
            1,
        )
        report_days = backtest_days(ds, end, 12)
        saved_dir = Path(tmp) / "saved"
        _, t_save = best(
            "save",
            lambda: save_report_backtest(defs, ds, report_days, defs_path, saved_dir),
            1,
        )

        def from_saved():  # type: ignore[no-untyped-def]
            accounts = open_accounts(str(cache), warn=lambda _m: None)
            kept = load_backtest(saved_dir, accounts, defs=defs, defs_path=defs_path)
            return build_report(
                defs, accounts, Path(tmp) / "s1", defs_path=defs_path, saved=kept, force=True
            )

        saved_written, t_saved = best("report_saved", from_saved, args.repeat)
        assert len(saved_written.pages) == len(written.pages)
        cli = [
            sys.executable, "-c", "from pendo_segments.cli import main; main()", "report", str(defs_path), "--data",
            str(cache), "--backtest", str(saved_dir), "--out", str(Path(tmp) / "s2"),
        ]  # fmt: skip
        t_cli = min(_command_seconds(cli) for _ in range(args.repeat))
        print(f"  report --backtest command: {t_cli:.1f} s wall", flush=True)
        sample = load_sample()
        _, t_report_sample = best(
            "report_sample",
            lambda: build_report(defs, sample, Path(tmp) / "s", defs_path=defs_path),
            1,
        )
    one = t_load + t_eval  # what `pendo-segments evaluate` costs: load + evaluate

    summary = {
        "date": dt.date.today().isoformat(),
        "rows": rows,
        "as_of_days": len(days_list),
        "load_average_end": load_average(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "cpu_seconds": CPU,
        "p1_pages": len(written.pages),
        "load_seconds": round(t_load, 2),
        "evaluate_seconds": round(t_eval, 2),
        "backtest_segments_seconds": round(t_bt_seg, 2),
        "backtest_full_seconds": round(t_bt_full, 2),
        "ratio_segments": round((t_load + t_bt_seg) / one, 2),
        "ratio_full": round((t_load + t_bt_full) / one, 2),
        "ratio_segments_compute_only": round(t_bt_seg / t_eval, 2),
        "ratio_full_cpu": round(
            (CPU["load"] + CPU["backtest_full"]) / (CPU["load"] + CPU["evaluate"]), 2
        ),
        "report_seconds": round(t_report, 2),
        "save_seconds": round(t_save, 2),
        "report_from_saved_seconds": round(t_saved, 2),
        "report_from_saved_command_seconds": round(t_cli, 2),
        "report_sample_seconds": round(t_report_sample, 2),
        "last_day_counts_equal_evaluate": same_last_day,
    }
    print(json.dumps(summary, indent=2))
    print(
        f"\nload {t_load:.1f} s; backtest {len(days_list)} days: segments {t_bt_seg:.1f} s, "
        f"with health + alerts {t_bt_full:.1f} s vs one evaluate {t_eval:.1f} s → ratio "
        f"(each with its load) {summary['ratio_segments']} / {summary['ratio_full']} "
        f"(target ≤ 3); report {t_report:.1f} s; from the saved backtest {t_saved:.1f} s, "
        f"the whole command {t_cli:.1f} s (target < 10 s); on the sample {t_report_sample:.1f} s"
    )
    if not same_last_day:
        sys.exit(1)


if __name__ == "__main__":
    main()
