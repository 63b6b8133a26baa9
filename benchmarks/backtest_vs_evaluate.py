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

The ratio compares commands as a user runs them: (load + backtest) ÷
(load + evaluate).
* report: ``build_report`` (13 weekly as-of days, alerts, charts, P1 pages), after load;
* report on the bundled sample, after load.

The targets: backtest within 3x one evaluate; the report builds in under 10 s.
Prints a JSON summary; paste the numbers into benchmarks/RESULTS-backtest.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEEKS = 26


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


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
    from pendo_segments.data import load_dataset, load_sample
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import evaluate
    from pendo_segments.report import build_report
    from pendo_segments.shipped import shipped_path

    rows = {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(cache.glob("*.parquet"))}
    print("data:", ", ".join(f"{k} {v:,}" for k, v in rows.items()), flush=True)
    defs_path = shipped_path("segment_defs")
    defs = load_definitions(defs_path)

    def best(fn, repeat: int):  # type: ignore[no-untyped-def]
        runs = [timed(fn) for _ in range(repeat)]
        return runs[0][0], min(t for _, t in runs)

    ds, t_load = best(lambda: load_dataset(cache), args.repeat)
    ev, t_eval = best(lambda: evaluate(defs, ds), args.repeat)
    end = ev.as_of
    days_list = as_of_days(end - dt.timedelta(days=7 * (WEEKS - 1)), end, 7)
    bt_seg, t_bt_seg = best(
        lambda: run_backtest(defs, ds, days_list, defs_path=defs_path, with_health=False),
        args.repeat,
    )
    _, t_bt_full = best(lambda: run_backtest(defs, ds, days_list, defs_path=defs_path), args.repeat)
    last = ev.counts()
    same_last_day = {n: bt_seg.counts[n][-1] for n in last} == last

    with tempfile.TemporaryDirectory() as tmp:
        _, t_report = timed(lambda: build_report(defs, ds, Path(tmp) / "r", defs_path=defs_path))
        sample = load_sample()
        _, t_report_sample = timed(
            lambda: build_report(defs, sample, Path(tmp) / "s", defs_path=defs_path)
        )
    one = t_load + t_eval  # what `pendo-segments evaluate` costs: load + evaluate

    summary = {
        "date": dt.date.today().isoformat(),
        "rows": rows,
        "as_of_days": len(days_list),
        "load_seconds": round(t_load, 2),
        "evaluate_seconds": round(t_eval, 2),
        "backtest_segments_seconds": round(t_bt_seg, 2),
        "backtest_full_seconds": round(t_bt_full, 2),
        "ratio_segments": round((t_load + t_bt_seg) / one, 2),
        "ratio_full": round((t_load + t_bt_full) / one, 2),
        "ratio_segments_compute_only": round(t_bt_seg / t_eval, 2),
        "report_seconds": round(t_report, 2),
        "report_sample_seconds": round(t_report_sample, 2),
        "last_day_counts_equal_evaluate": same_last_day,
    }
    print(json.dumps(summary, indent=2))
    print(
        f"\nload {t_load:.1f} s; backtest {len(days_list)} days: segments {t_bt_seg:.1f} s, "
        f"with health + alerts {t_bt_full:.1f} s vs one evaluate {t_eval:.1f} s → ratio "
        f"(each with its load) {summary['ratio_segments']} / {summary['ratio_full']} "
        f"(target ≤ 3); report {t_report:.1f} s, on the sample {t_report_sample:.1f} s "
        "(target < 10 s)"
    )
    if not same_last_day:
        sys.exit(1)


if __name__ == "__main__":
    main()
