"""Rewrite a big_data.py Parquet folder in the layouts other tools leave (issue 28).

    python benchmarks/big_data.py /tmp/m/duckdb --visitors 1000000 --usage-rows 30000000
    python benchmarks/lakehouse_layouts.py /tmp/m/duckdb /tmp/m --layouts pyarrow,spark,hive

Each layout is written by the tool that makes it, with that tool's defaults:

* ``pyarrow``  ``pyarrow.parquet.write_table`` of each table (1Mi-row groups,
  dictionary strings falling back to plain);
* ``spark``    ``df.write.parquet(folder)`` in local Spark for the usage tables:
  a folder ``usage_daily/`` of ``part-*.snappy.parquet`` with ``_SUCCESS`` and
  ``.crc`` files (the small tables stay single files);
* ``hive``     DuckDB ``COPY … (FORMAT parquet, PARTITION_BY (date))``: the
  usage tables as ``usage_daily/date=YYYY-MM-DD/data_0.parquet``;
* ``delta``    ``deltalake.write_deltalake`` of the usage tables (the [delta] extra);
* ``csv`` / ``csv.gz``  DuckDB ``COPY … (FORMAT csv, HEADER[, COMPRESSION gzip])`` of
  every table (what ``big_data.py --format csv.gz`` writes, without generating again).

The reference tables (accounts, visitors, features) are copied as they are
(rewritten as CSV by the CSV layouts).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

USAGE = ("usage_daily", "feature_usage")
SMALL = ("accounts", "visitors", "features")


def copy_small(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in SMALL:
        shutil.copy(src / f"{name}.parquet", out / f"{name}.parquet")


def write_pyarrow(src: Path, out: Path) -> None:
    import pyarrow.parquet as pq

    copy_small(src, out)
    for name in USAGE:
        pq.write_table(pq.read_table(src / f"{name}.parquet"), out / f"{name}.parquet")


def write_spark(src: Path, out: Path) -> None:
    from pyspark.sql import SparkSession

    copy_small(src, out)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    for name in USAGE:
        spark.read.parquet(str(src / f"{name}.parquet")).write.parquet(str(out / name))
    spark.stop()


def write_hive(src: Path, out: Path) -> None:
    import duckdb

    copy_small(src, out)
    con = duckdb.connect()
    for name in USAGE:
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src / name}.parquet')) TO '{out / name}' "
            "(FORMAT parquet, PARTITION_BY (date))"
        )
    con.close()


def write_delta(src: Path, out: Path) -> None:
    import deltalake
    import pyarrow.parquet as pq

    copy_small(src, out)
    for name in USAGE:
        deltalake.write_deltalake(str(out / name), pq.read_table(src / f"{name}.parquet"))


def write_csv(src: Path, out: Path, gzip: bool = False) -> None:
    import duckdb

    out.mkdir(parents=True)
    con = duckdb.connect()
    options = "FORMAT csv, HEADER" + (", COMPRESSION gzip" if gzip else "")
    suffix = ".csv.gz" if gzip else ".csv"
    for name in (*SMALL, *USAGE):
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src / name}.parquet')) "
            f"TO '{out / name}{suffix}' ({options})"
        )
    con.close()


WRITERS = {
    "pyarrow": write_pyarrow,
    "spark": write_spark,
    "hive": write_hive,
    "delta": write_delta,
    "csv": write_csv,
    "csv.gz": lambda src, out: write_csv(src, out, gzip=True),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path, help="a big_data.py Parquet folder (DuckDB COPY defaults)")
    ap.add_argument("out", type=Path, help="one folder per layout is made here")
    ap.add_argument("--layouts", default="pyarrow,spark,hive", help=", ".join(WRITERS))
    args = ap.parse_args()
    for layout in args.layouts.split(","):
        start = time.perf_counter()
        target = args.out / layout
        if target.exists():
            print(f"{layout}: {target} exists, kept")
            continue
        WRITERS[layout](args.src, target)
        print(f"{layout}: {target} in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
