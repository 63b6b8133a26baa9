"""``report --engine pandas|duckdb``: the same report bytes on every engine.

On DuckDB the weekly backtest runs as backtest --engine's per-day SQL and the
usage roll-ups (weekly minutes, active / new / recovered / dropped visitors, key
feature users, time to first use, NPS) come from engine queries
(backtest/usage_sql.py); the report then reads them as it reads a saved backtest.
Compared with the pandas report file by file (index.html, account pages, CSVs)
and on stderr, on the bundled sample: the whole book, and one CSM's book at an
earlier as-of day (fewer weekly days than asked, so the days note too).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main

pytest.importorskip("duckdb")


def report(out: Path, engine: str, *args: str) -> tuple[int, str]:
    argv = ["report", "--data", "sample", "--engine", engine, "--out", str(out), *args]
    result = CliRunner().invoke(main, argv)
    return result.exit_code, result.stderr


def files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.mark.parametrize(
    "args",
    [(), ("--csm", "Emma Schmidt", "--as-of", "2026-10-18", "--weeks", "8")],
    ids=["sample", "csm-book-earlier"],
)
def test_report_same_bytes_on_duckdb(tmp_path: Path, args: tuple[str, ...]) -> None:
    pandas = report(tmp_path / "pandas", "pandas", *args)
    duckdb = report(tmp_path / "duckdb", "duckdb", *args)
    assert pandas[0] == 0, pandas[1]
    assert duckdb == pandas
    got, want = files(tmp_path / "duckdb"), files(tmp_path / "pandas")
    assert sorted(got) == sorted(want)
    assert {"index.html", "accounts.csv", "alerts.csv"} <= set(got)
    for name, content in want.items():
        assert got[name] == content, name


def test_rollups_from_engine_queries_equal_the_index() -> None:
    """Every array of the usage sums, from DuckDB queries and from the pandas index."""
    from pendo_segments.backtest import UsageHistory
    from pendo_segments.backtest.usage import usage_rollups
    from pendo_segments.backtest.usage_sql import engine_rollups
    from pendo_segments.engines import open_engine

    with open_engine("pandas", "sample") as pe, open_engine("duckdb", "sample") as de:
        ds = pe.in_memory
        as_of = dt.date(2026, 10, 25)
        want = usage_rollups(ds, UsageHistory(ds), as_of, 12)
        got = engine_rollups(de, as_of, 12)
    assert (got.key_features, got.feature_names, got.has_nps) == (
        want.key_features,
        want.feature_names,
        want.has_nps,
    )
    for name, values in want.arrays().items():
        mine = getattr(got, name)
        if name.startswith("nps_"):  # responses in any order: their sums do not care
            order, mine_order = (
                np.lexsort((want.nps_score, want.nps_day, want.nps_bin)),
                (np.lexsort((got.nps_score, got.nps_day, got.nps_bin))),
            )
            values, mine = values[order], mine[mine_order]
        assert mine.shape == values.shape, name
        assert np.allclose(mine, values, equal_nan=True, rtol=0, atol=1e-9), name
    assert got.pes() == want.pes()
    assert got.nps() == want.nps()


def test_backtest_save_on_duckdb_makes_the_same_report(tmp_path: Path) -> None:
    """backtest --save on DuckDB (its usage sums from engine queries): the manifest names
    the same days, segments, health parts and usage shapes as pandas' and report --backtest
    writes the same bytes from either folder."""
    import json

    pages = {}
    for engine in ("pandas", "duckdb"):
        saved, out = tmp_path / f"saved-{engine}", tmp_path / f"report-{engine}"
        # every 14 days: 08-09 and 08-23 with windows reaching before the sample's first
        # usage, then five days in it up to the as-of day (a DuckDB day costs ~0.7 CPU s)
        argv = ["backtest", "--data", "sample", "--from", "2026-08-09", "--to", "2026-11-01"]
        argv += ["--every", "14", "--engine", engine, "--save", str(saved), "--format", "csv"]
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 0, result.stderr
        made = CliRunner().invoke(
            main, ["report", "--data", "sample", "--backtest", str(saved), "--out", str(out)]
        )
        assert made.exit_code == 0, made.stderr
        manifest = json.loads((saved / "backtest.json").read_text(encoding="utf-8"))
        for digest in ("sha256", "arrays_sha256"):
            manifest.pop(digest)
        pages[engine] = (manifest, files(out))
    assert pages["duckdb"][0] == pages["pandas"][0]
    assert pages["duckdb"][1] == pages["pandas"][1]


def test_qbr_packs_refuse_a_sql_engine(tmp_path: Path) -> None:
    """QBR packs still read on pandas: --engine duckdb is refused, not silently ignored."""
    code, stderr = report(tmp_path / "q", "duckdb", "--account", "acc-00001")
    assert code == 2
    assert "--account / --within" in stderr and "--engine pandas" in stderr
