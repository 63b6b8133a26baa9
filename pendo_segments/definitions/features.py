"""Features named by id or by name: the catalogue, and the step that turns names into ids.

Pendo's feature ids are opaque (``6r2iMJST3l_l8fyDsjyxhMnRGso``) and people
know features by the name Pendo shows, so a definition's ``feature:`` may
hold either. An id that does not exist makes Pendo return no rows, which the
zero-fill would turn into "never used" for everyone, silently; so every
reference is looked up in the catalogue (``features.csv``: ``feature_id``,
``name``) before any engine or compile target sees a rule, and each of them
gets ids. An id wins when a text is both an id and another feature's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pendo_segments.definitions.yaml_lines import suggest


@dataclass(frozen=True)
class FeatureCatalogue:
    """The features a subscription (or a data folder) has: id → name, in catalogue order."""

    names: Mapping[str, str]
    _by_name: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for fid, name in self.names.items():
            self._by_name.setdefault(name, []).append(fid)

    @classmethod
    def from_ids(cls, ids: Iterable[Any]) -> FeatureCatalogue:
        """A catalogue of ids only (``DEFS/features.yaml``): each feature's name is its id."""
        return cls({str(i): str(i) for i in ids})

    @classmethod
    def from_frame(cls, frame: Any) -> FeatureCatalogue:
        """From a features table (pandas, or anything with ``feature_id`` / ``name`` columns)."""
        ids = [str(i) for i in frame["feature_id"].tolist()]
        if "name" not in getattr(frame, "columns", ()):
            return cls.from_ids(ids)
        names = frame["name"].tolist()
        return cls(
            {
                fid: fid if name is None or name != name or str(name) == "" else str(name)
                for fid, name in zip(ids, names, strict=True)
            }
        )

    def __contains__(self, text: object) -> bool:
        return text in self.names or text in self._by_name

    def id_of(self, text: str) -> str | None:
        """The id ``text`` stands for: itself when it is an id, else the id of the one
        feature of that exact name; None when unknown or when the name is not unique."""
        if text in self.names:
            return text
        ids = self._by_name.get(text, [])
        return ids[0] if len(ids) == 1 else None

    def problem(self, text: str) -> str | None:
        """Why ``text`` names no feature (one line, with the closest name or id), or None."""
        if self.id_of(text) is not None:
            return None
        ids = self._by_name.get(text, [])
        if len(ids) > 1:
            return (
                f"feature name '{text}' is ambiguous: {len(ids)} features have it "
                f"(ids {', '.join(ids)}); write the id"
            )
        choices = sorted({*self.names, *self._by_name})
        return f"unknown feature '{text}' (not in the feature catalogue){suggest(text, choices)}"

    def label(self, feature_id: str) -> str:
        """``Core events (core_events)``: the name people see in Pendo, and the id."""
        name = self.names.get(feature_id)
        if name is None or name == feature_id:
            return feature_id
        return f"{name} ({feature_id})"

    def name_of(self, feature_id: str) -> str | None:
        name = self.names.get(feature_id)
        return None if name is None or name == feature_id else name


def catalogue_of(features: Any) -> FeatureCatalogue:
    """A catalogue from a catalogue, a features frame, or an iterable of ids."""
    if isinstance(features, FeatureCatalogue):
        return features
    if hasattr(features, "columns") and "feature_id" in features.columns:
        return FeatureCatalogue.from_frame(features)
    return FeatureCatalogue.from_ids(features)


def spark_catalogue(frame: Any) -> FeatureCatalogue:
    """A catalogue from a Spark features DataFrame (a small table, collected)."""
    wanted = [c for c in ("feature_id", "name") if c in frame.columns]
    return FeatureCatalogue.from_frame(frame.select(*wanted).toPandas())


def unresolved_warning(features: list[str]) -> str:
    """One line: these features go out as written, not checked against any catalogue."""
    shown = ", ".join(f"'{f}'" for f in features[:8]) + (", …" if len(features) > 8 else "")
    return (
        f"feature ids unresolved (no feature catalogue; give --data DIR with features.csv, "
        f"as pull writes it): {shown} sent as written"
    )
