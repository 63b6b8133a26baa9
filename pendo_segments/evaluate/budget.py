"""``--engine auto``: does the data fit the pandas engine's memory budget?

``evaluate`` loads the usage tables narrow (``date32`` days, int32 counts,
only the columns it reads): measured on 30M ``usage_daily`` and 23M
``feature_usage`` rows from Parquet, the whole process peaked at 2.0 GiB,
about 40 bytes per usage row and 32 per feature row. CSV usage tables are
streamed into the same typed columns (a few million rows of text at a time):
1.17 GB of DuckDB-written CSV peaked at 1.57 GiB, about 1.4 bytes per byte of
text (it was 2.5 while each table's whole text was held). The
budget is ``--memory-limit`` when given, else half the machine's memory.
The estimate reads only file sizes and Parquet footers, so it is instant.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from pendo_segments.errors import EvaluationError

BYTES_PER_ROW = {"usage_daily": 40, "feature_usage": 32}
CSV_BYTES_FACTOR = 1.4  # typed columns and the pieces of text in flight, per byte of text
UNITS = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
UNITS.update({"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40})
#: below this DuckDB cannot hold even the small tables and its own buffers
MIN_MEMORY_LIMIT = 64e6


def parse_size(text: str) -> float | None:
    """``3GB`` / ``3G`` / ``512MiB`` / ``2 gb`` in bytes (DuckDB's units), or None when not a size."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT]I?)B?|B)?\s*", text, flags=re.IGNORECASE)
    if match is None:
        return None
    return float(match.group(1)) * UNITS[(match.group(2) or "").upper()]


def memory_limit_bytes(text: str) -> float:
    """``--memory-limit`` in bytes: a size (``3GB``, ``512MiB``) of at least 64MB."""
    size = parse_size(text)
    if size is None or not math.isfinite(size):
        raise EvaluationError(f"--memory-limit {text!r} is not a size (e.g. 512MB, 3GB, 2GiB)")
    if size < MIN_MEMORY_LIMIT:
        raise EvaluationError(
            f"--memory-limit {text!r} is below the minimum of 64MB (e.g. 512MB, 3GB)"
        )
    return size


def machine_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 2**30


#: the most a local Spark driver is given unasked (a JVM heap beyond this only pauses longer)
SPARK_DRIVER_CAP = 16 * 2**30
SPARK_DRIVER_FLOOR = 2**30


def spark_driver_memory(
    given: Mapping[str, str], say: Callable[[str], None] | None = None
) -> dict[str, str]:
    """``spark.driver.memory`` for local mode: half the machine's memory (1–16 GiB).

    Spark's default driver heap (1g) runs out of memory at 1M visitors
    ("Unable to acquire 65536 bytes", issue 28). The heap is fixed when the JVM
    starts, so it goes in with the session's first settings. A value the user
    gave (``--spark-conf spark.driver.memory=…``) wins and nothing is said;
    otherwise the choice is said on stderr.
    """
    if "spark.driver.memory" in given:
        return {}
    ram = machine_memory()
    value = f"{int(min(max(ram / 2, SPARK_DRIVER_FLOOR), SPARK_DRIVER_CAP)) // 2**30}g"
    (say or _stderr)(
        f"spark: local mode with spark.driver.memory={value} (half of this machine's "
        f"{_size(ram)}, at most 16 GiB; --spark-conf spark.driver.memory=… to change)"
    )
    return {"spark.driver.memory": value}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


def estimate_pandas_bytes(folder: Path) -> float:
    """Peak memory the pandas engine would need for the usage tables of ``folder``."""
    from pendo_segments.data.layout import locate_table
    from pendo_segments.errors import DataError

    total = 0.0
    for name, per_row in BYTES_PER_ROW.items():
        try:
            table = locate_table(folder, name)
        except DataError:  # the loader will say so
            continue
        assert table is not None  # mandatory tables
        for file in table.files:
            total += _file_bytes(table.fmt, file, per_row)
    return total


def _file_bytes(fmt: str, file: Path, per_row: int) -> float:
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            return float(pq.read_metadata(file).num_rows * per_row)
        except Exception:  # unreadable: the loader will say so
            return float(file.stat().st_size * 4)
    size = file.stat().st_size * (6 if file.name.endswith(".gz") else 1)
    return size * CSV_BYTES_FACTOR


def choose_engine(data: str, memory_limit: str | None) -> tuple[str, str]:
    """(engine, reason to print or ""): pandas unless a folder's data exceeds the budget."""
    folder = Path(data)
    if data == "sample" or data.startswith("pendo:") or not folder.is_dir():
        return "pandas", ""
    limit = memory_limit_bytes(memory_limit) if memory_limit else None
    budget = limit if limit else machine_memory() / 2
    need = estimate_pandas_bytes(folder)
    if need <= budget:
        return "pandas", ""
    return "duckdb", (
        f"using the duckdb engine: the data needs about {_size(need)} in the pandas "
        f"engine, over its budget of {_size(budget)} "
        "(--engine pandas to insist, --memory-limit to set the budget)"
    )


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
