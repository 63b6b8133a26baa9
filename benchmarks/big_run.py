"""The out-of-core run: ``--engine duckdb --memory-limit`` on data bigger than memory.

    python benchmarks/big_data.py /tmp/big          # 10M visitors / 300M usage rows
    python benchmarks/big_run.py /tmp/big --memory-limit 3GB

Runs ``pendo-segments evaluate --engine duckdb --memory-limit M`` and the
hand-written DuckDB SQL (``whole_process.py``'s, under the same limit) back
to back, each a fresh process timed to exit with its peak RSS, and checks
the two membership CSVs are byte-identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from whole_process import AS_OF, ROOT, timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--out", type=Path, default=None, help="folder for the CSVs (default: DATA)")
    ap.add_argument("--skip-hand", action="store_true")
    args = ap.parse_args()
    out = args.out or args.data
    out.mkdir(parents=True, exist_ok=True)
    ours_csv, hand_csv = out / "ours.csv.out", out / "hand.csv.out"
    cmd = ["pendo-segments", "evaluate", str(ROOT / "segment_defs"), "--data", str(args.data)]
    cmd += ["--as-of", AS_OF, "--engine", "duckdb", "--memory-limit", args.memory_limit]
    cmd += ["--format", "csv", "-o", str(ours_csv)]
    result: dict[str, object] = {"ours": timed(cmd)}
    print(json.dumps(result), flush=True)
    if not args.skip_hand:
        hand = [sys.executable, str(HERE / "whole_process.py"), "--hand", str(args.data)]
        hand += ["parquet", str(hand_csv), "--memory-limit", args.memory_limit]
        result["hand"] = timed(hand)
        result["same"] = ours_csv.read_bytes() == hand_csv.read_bytes()
    result["rows"] = sum(1 for _ in ours_csv.open("rb")) - 1
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
