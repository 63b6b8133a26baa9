"""Benchmark: pandas engine vs hand-written DuckDB SQL on the same data.

    python benchmarks/evaluate_vs_duckdb.py                  # 100k accounts / 1M visitors
    python benchmarks/evaluate_vs_duckdb.py --accounts 2000 --visitors 20000   # quick look

Generates (once, cached as Parquet under benchmarks/.cache/) a sample data
set with the bundled generator, then, each in a fresh child process so peak
memory is its own:

* pandas: ``load_dataset`` (Parquet) + ``evaluate`` of every shipped segment;
* DuckDB: the same segments as hand-written SQL over the Parquet files.

Both sides time loading + evaluating, the memberships are compared, and the
script prints seconds, the ratio pandas / DuckDB and each side's peak RSS.
The target (see RESULTS.md) is ratio ≤ 1.5 and peak memory < 4 GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

HAND_SQL = """
CREATE TEMP TABLE accounts AS SELECT * FROM read_parquet('{d}/accounts.parquet');
CREATE TEMP TABLE visitors AS SELECT visitor_id, account_id, first_visit, {last_visit} AS last_visit FROM read_parquet('{d}/visitors.parquet');
CREATE TEMP TABLE u AS
  SELECT visitor_id, CAST(date AS DATE) AS day, minutes, events, (events > 0 OR minutes > 0) AS active
  FROM read_parquet('{d}/usage_daily.parquet') WHERE date < DATE '{as_of}';
CREATE TEMP TABLE vm AS
  SELECT visitor_id,
         max(day) FILTER (WHERE active) AS last_day,
         min(day) FILTER (WHERE active) AS first_day
  FROM u GROUP BY 1;
CREATE TEMP TABLE am AS
  SELECT v.account_id,
         count(DISTINCT u.day) FILTER (WHERE u.active AND u.day >= DATE '{as_of}' - 30) AS active_days,
         sum(u.minutes) FILTER (WHERE u.day >= DATE '{as_of}' - 30) AS minutes
  FROM u JOIN visitors v USING (visitor_id) GROUP BY 1;
CREATE TEMP TABLE fc AS
  SELECT CAST(f.visitor_id AS VARCHAR) AS visitor_id, CAST(f.feature_id AS VARCHAR) AS feature_id,
         sum(f.clicks) AS clicks
  FROM read_parquet('{d}/feature_usage.parquet') f
  WHERE f.date >= DATE '{as_of}' - 30 AND f.date < DATE '{as_of}'
  GROUP BY 1, 2;
CREATE TEMP TABLE afc AS
  SELECT v.account_id, fc.feature_id, sum(fc.clicks) AS clicks
  FROM fc JOIN visitors v USING (visitor_id) GROUP BY 1, 2;
"""

ANNIV = """(year({c}) < year(DATE '{as_of}') + {k} AND make_date(year(DATE '{as_of}') + {k}, month({c}),
  CASE WHEN month({c}) = 2 AND day({c}) = 29 AND NOT (((year(DATE '{as_of}') + {k}) % 4 = 0 AND (year(DATE '{as_of}') + {k}) % 100 <> 0) OR (year(DATE '{as_of}') + {k}) % 400 = 0) THEN 28 ELSE day({c}) END)
  BETWEEN DATE '{as_of}' AND DATE '{as_of}' + 6)"""


def segment_queries(as_of: str, features: list[str]) -> dict[str, str]:
    acc = "SELECT a.account_id FROM accounts a LEFT JOIN am USING (account_id) WHERE "
    q = {
        "at_risk": acc + "coalesce(am.active_days, 0) <= 2 AND coalesce(am.minutes, 0) <= 10",
        "healthy": acc + "coalesce(am.active_days, 0) >= 16",
        "enterprise": "SELECT account_id FROM accounts WHERE plan = 'Enterprise'",
        "smb": "SELECT account_id FROM accounts WHERE arr <= 15000",
        "new_users": f"SELECT v.visitor_id FROM visitors v LEFT JOIN vm USING (visitor_id) WHERE "
        f"DATE '{as_of}' - coalesce(CAST(v.first_visit AS DATE), vm.first_day) <= 30",
        # docs/semantics.md §2: the later of the last active day and a last_visit before as-of
        "no_login_30d": f"SELECT v.visitor_id FROM visitors v LEFT JOIN vm USING (visitor_id) "
        f"WHERE DATE '{as_of}' - greatest(vm.last_day, CASE WHEN v.last_visit < DATE '{as_of}' "
        "THEN v.last_visit END) > 30",
        "anniversary": "SELECT visitor_id FROM visitors WHERE "
        + " OR ".join(ANNIV.format(c="first_visit", k=k, as_of=as_of) for k in (0, 1)),
        "contract_anniversary": "SELECT account_id FROM accounts WHERE "
        + " OR ".join(ANNIV.format(c="contract_start", k=k, as_of=as_of) for k in (0, 1)),
    }
    q["at_risk_enterprise"] = f"({q['at_risk']}) INTERSECT ({q['enterprise']})"
    q["expansion_ready"] = (
        f"(({q['healthy']}) EXCEPT ({q['smb']})) INTERSECT (SELECT account_id FROM afc WHERE "
        "feature_id IN ('data_explorer', 'path_reports') AND clicks >= 10)"
    )
    for f in features:
        q[f"never_used_{f}"] = (
            "SELECT v.visitor_id FROM visitors v LEFT JOIN fc ON fc.visitor_id = v.visitor_id "
            f"AND fc.feature_id = '{f}' WHERE coalesce(fc.clicks, 0) <= 1"
        )
        q[f"active_{f}"] = f"SELECT visitor_id FROM fc WHERE feature_id = '{f}' AND clicks >= 10"
    return q


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pandas(data: str, out: mp.Queue) -> None:
    sys.path.insert(0, str(ROOT))
    from pendo_segments.data.loaders import load_dataset
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import evaluate

    defs = load_definitions(ROOT / "segment_defs")
    t0 = time.perf_counter()
    ds = load_dataset(data)
    t1 = time.perf_counter()
    ev = evaluate(defs, ds)
    members = {n: sorted(map(str, ev.members(n))) for n in ev.masks}
    t2 = time.perf_counter()
    out.put(
        {
            "load": t1 - t0,
            "evaluate": t2 - t1,
            "total": t2 - t0,
            "rss": peak_rss_mib(),
            "as_of": ev.as_of.isoformat(),
            "members": members,
        }
    )


def last_visit_column(con: object, source: str) -> str:
    """``visitors.last_visit`` as a date, or NULL when the file has no such column."""
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]  # type: ignore[attr-defined]
    return "CAST(last_visit AS DATE)" if "last_visit" in names else "CAST(NULL AS DATE)"


def run_duckdb(data: str, as_of: str, features: list[str], out: mp.Queue) -> None:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    last_visit = last_visit_column(con, f"read_parquet('{data}/visitors.parquet')")
    for stmt in HAND_SQL.format(d=data, as_of=as_of, last_visit=last_visit).split(";"):
        if stmt.strip():
            con.execute(stmt)
    members = {
        name: sorted(str(r[0]) for r in con.execute(sql).fetchall())
        for name, sql in segment_queries(as_of, features).items()
    }
    t1 = time.perf_counter()
    out.put({"total": t1 - t0, "rss": peak_rss_mib(), "members": members})


def child(target, *args):  # type: ignore[no-untyped-def]
    q: mp.Queue = mp.Queue()
    p = mp.get_context("fork").Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--visitors", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine; best is reported")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    cache = HERE / ".cache" / f"a{args.accounts}-v{args.visitors}-d{args.days}-s{args.seed}"
    if not (cache / "usage_daily.parquet").exists():
        from pendo_segments.data.sample import write_sample

        print(f"generating {cache.name} (once) …", flush=True)
        t = time.perf_counter()
        write_sample(
            cache,
            fmt="parquet",
            accounts=args.accounts,
            visitors=args.visitors,
            days=args.days,
            seed=args.seed,
            progress=lambda m: print(f"  {m}", flush=True),
        )
        print(f"  generated in {time.perf_counter() - t:.1f} s")
    import pyarrow.parquet as pq

    rows = {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(cache.glob("*.parquet"))}
    print("data:", ", ".join(f"{k} {v:,}" for k, v in rows.items()))

    pandas_runs = [child(run_pandas, str(cache)) for _ in range(args.repeat)]
    pd_best = min(pandas_runs, key=lambda r: r["total"])
    features = ["core_events", "data_explorer", "path_reports", "guide_publishing"]
    duck_runs = [
        child(run_duckdb, str(cache), pd_best["as_of"], features) for _ in range(args.repeat)
    ]
    dk_best = min(duck_runs, key=lambda r: r["total"])

    same = pd_best["members"] == dk_best["members"]
    diff = [n for n in pd_best["members"] if pd_best["members"][n] != dk_best["members"].get(n)]
    ratio = pd_best["total"] / dk_best["total"]
    report = {
        "date": dt.date.today().isoformat(),
        "as_of": pd_best["as_of"],
        "rows": rows,
        "pandas_seconds": round(pd_best["total"], 2),
        "pandas_load_seconds": round(pd_best["load"], 2),
        "pandas_evaluate_seconds": round(pd_best["evaluate"], 2),
        "duckdb_seconds": round(dk_best["total"], 2),
        "ratio": round(ratio, 2),
        "pandas_peak_rss_mib": round(pd_best["rss"]),
        "duckdb_peak_rss_mib": round(dk_best["rss"]),
        "same_members": same,
        "segments": len(pd_best["members"]),
        "members": {n: len(v) for n, v in pd_best["members"].items()},
    }
    print(json.dumps(report, indent=2))
    print(
        f"\npandas {report['pandas_seconds']} s (load {report['pandas_load_seconds']} s) vs "
        f"DuckDB {report['duckdb_seconds']} s → ratio {report['ratio']} (target ≤ 1.5); "
        f"peak RSS pandas {report['pandas_peak_rss_mib']} MiB (target < 4096); "
        f"same members: {same}{'' if same else ' — differ in ' + ', '.join(diff)}"
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
