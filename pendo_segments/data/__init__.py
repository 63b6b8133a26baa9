"""Usage data: canonical frames and the loaders that build them (docs/semantics.md §1)."""

from __future__ import annotations

from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import (
    bundled_sample_path,
    dataset_from_frames,
    load_dataset,
    load_sample,
    write_dataset,
)

__all__ = [
    "Dataset",
    "bundled_sample_path",
    "dataset_from_frames",
    "load_dataset",
    "load_sample",
    "write_dataset",
]
