"""The feature catalogue of a ``--data`` folder, for resolving features by name.

Lives in the data layer (it reads ``features.csv``); the definitions layer
only knows :class:`~pendo_segments.definitions.features.FeatureCatalogue`.
"""

from __future__ import annotations

from pendo_segments.definitions.features import FeatureCatalogue


def data_catalogue(spec: str) -> FeatureCatalogue:
    """The catalogue of a data folder (its ``features.csv``, as ``pull`` writes it), or of
    the bundled sample (``sample``); a live ``pendo:`` source is refused: pull it first."""
    from pathlib import Path

    from pendo_segments.data.loaders import bundled_sample_path, load_reference_tables
    from pendo_segments.errors import DataError

    if spec.startswith("pendo:"):
        raise DataError(
            f"--data {spec}: compile reads a folder's features.csv; run "
            "'pendo-segments pull DIR' first and pass --data DIR"
        )
    folder = bundled_sample_path() if spec == "sample" else Path(spec)
    if not folder.is_dir():
        raise DataError(f"{spec}: data folder not found")
    frames, _labels = load_reference_tables(folder, warn=lambda _message: None)
    return FeatureCatalogue.from_frame(frames["features"])
