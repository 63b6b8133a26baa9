"""Rewrite a usage data folder with tools other than pendo-segments' own writer.

    python benchmarks/foreign_data.py SRC_CSV_FOLDER OUT_ROOT [--writers duckdb,pyarrow,duckdb-csv]

Users hand us files written by DuckDB, Spark, pandas or pyarrow with those
tools' defaults (small row groups, plain or dictionary strings, date32 or
timestamps). The benchmark must load those, not files shaped for the loader,
so this script rewrites the generated folder once per writer:

* ``duckdb``      ``COPY … TO 'x.parquet'`` with DuckDB's defaults
  (122,880-row groups, its own choice of string encoding);
* ``pyarrow``     ``pyarrow.parquet.write_table`` defaults (1Mi-row groups,
  dictionary strings, types inferred by ``pyarrow.csv``);
* ``duckdb-csv``  ``COPY … TO 'x.csv'`` (DuckDB's CSV writer, header row).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pendo_segments.data.dataset import TABLE_NAMES as TABLES  # names only; no project writer

ID_COLUMNS = ("account_id", "visitor_id", "feature_id", "app_id", "crm_id", "ticket_id")


def _sources(src: Path) -> list[tuple[str, Path]]:
    return [(n, src / f"{n}.csv") for n in TABLES if (src / f"{n}.csv").exists()]


def write_duckdb(src: Path, out: Path, fmt: str) -> None:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name, path in _sources(src):
        # ids stay text (leading zeros); dates and numbers are detected by DuckDB
        target = out / f"{name}.{fmt}"
        option = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER)"
        header = path.open(encoding="utf-8").readline().strip().split(",")
        types = ", ".join(f"'{c}': 'VARCHAR'" for c in header if c in ID_COLUMNS)
        con.execute(
            f"COPY (SELECT * FROM read_csv('{path}', header=true, types={{{types}}})) "
            f"TO '{target}' {option}"
        )
    con.close()


def write_pyarrow(src: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    text = {c: pa.string() for c in ID_COLUMNS}
    for name, path in _sources(src):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=text))
        pq.write_table(table, out / f"{name}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--writers", default="duckdb,pyarrow,duckdb-csv")
    args = parser.parse_args()
    for writer in args.writers.split(","):
        start = time.perf_counter()
        target = args.out / writer
        if writer == "duckdb":
            write_duckdb(args.src, target, "parquet")
        elif writer == "duckdb-csv":
            write_duckdb(args.src, target, "csv")
        elif writer == "pyarrow":
            write_pyarrow(args.src, target)
        else:
            raise SystemExit(f"unknown writer {writer!r}")
        print(f"{writer}: {target} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
