"""Load segment definitions from YAML with ``FILE:LINE`` errors.

Every problem in every file is collected before anything is raised, so one
``validate`` run lists all of them, each at the line of the mistake: a
broken rule does not hide a bad name, and the references and feature ids of
a broken segment are still checked. Cross-file checks (duplicate names,
unknown references, cycles, subject mismatches, unknown features) run after
all files parsed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pendo_segments.definitions.features import FeatureCatalogue, catalogue_of
from pendo_segments.definitions.models import (
    STANDARD_FIELDS,
    AllOf,
    AnyOf,
    MetricCondition,
    NotOf,
    Segment,
    SegmentRef,
    walk,
)
from pendo_segments.definitions.rules import Mention, RuleParser, validation_messages
from pendo_segments.definitions.yaml_lines import (
    LineDict,
    LineList,
    YamlProblem,
    closest,
    key_path,
    line_of,
    load_yaml,
    relabel,
    suggest,
)
from pendo_segments.errors import DefinitionError, PendoSegmentsError

#: Files in a definitions folder that hold other configuration, not segments.
RESERVED_STEMS = frozenset({"tiers", "health", "alerts", "guides", "features"})
#: ``DEFS/features.yaml``: ``features: [id, …]`` or ``{id: name, …}``, the catalogue when
#: no data is given.
FEATURES_NAME = "features.yaml"
SEGMENT_KEYS = (
    "name",
    "title",
    "title_ja",
    "description",
    "subject",
    "window_days",
    "rule",
    "tags",
    "for_each",
)
#: all / any / not nested deeper than this is refused (compilers and SQL engines recurse).
MAX_RULE_DEPTH = 32
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass
class DefinitionSet:
    """Validated segments, ordered so that referenced segments come first."""

    segments: dict[str, Segment]
    files: list[Path] = field(default_factory=list)
    #: things worth saying that are not errors (e.g. feature ids left unchecked)
    warnings: list[str] = field(default_factory=list)
    #: the segments as written (``feature:`` an id or a name); ``segments`` holds them
    #: with feature ids once :meth:`use_features` has run
    written: dict[str, Segment] = field(default_factory=dict)
    #: (segment, feature as written) → ``FILE:LINE: key.path`` of the ``feature:`` key
    feature_lines: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the catalogue the features were resolved with; None: as written
    catalogue: FeatureCatalogue | None = None
    #: per segment, its features the catalogue does not resolve (``FILE:LINE: why``)
    _problems: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.written:
            self.written = dict(self.segments)

    def use_features(
        self,
        features: Any,
        error: type[PendoSegmentsError] = DefinitionError,
        *,
        check: Sequence[str] | None = None,
    ) -> DefinitionSet:
        """Resolve every ``feature:`` (an id, or a feature's exact name) to its id, in place.

        Runs before any engine or compile target reads a rule, so all of them get
        ids; an id wins over another feature's name. Always starts from the
        segments as written, so a second catalogue is not fed the first one's ids.
        ``error`` lists every unknown or ambiguous feature of the segments named in
        ``check`` (all by default) and what they reference, each at its line; a
        segment outside them that cannot be resolved stays as written (an engine
        that evaluates it says why, as before).
        """
        catalogue = catalogue_of(features)
        if self.catalogue is None or self.catalogue.names != catalogue.names:
            self._problems = {}
            resolved: dict[str, Segment] = {}
            for name, seg in self.written.items():
                found: list[str] = []

                def lookup(text: str, seg: Segment = seg, found: list[str] = found) -> str:
                    fid = catalogue.id_of(text)
                    if fid is None:
                        where = self.feature_where(seg, text)
                        found.append(f"{where}: {catalogue.problem(text)}")
                        return text
                    return fid

                rule = feature_ids(seg.rule, lookup)
                if found:
                    self._problems[name] = found
                    resolved[name] = seg
                else:
                    resolved[name] = seg if rule is seg.rule else _copy_segment(seg, rule)
            self.segments, self.catalogue = resolved, catalogue
        wanted = list(self.segments) if check is None else [n for n in check if n in self]
        problems = list(
            dict.fromkeys(
                p
                for seg in (self.closure(wanted) if wanted else [])
                for p in self._problems.get(seg.name, [])
            )
        )
        if problems:  # each on its own line, as validate lists them
            raise (
                error(problems)
                if issubclass(error, DefinitionError)
                else error("\n".join(problems))
            )
        return self

    def feature_where(self, seg: Segment, text: str) -> str:
        """``FILE:LINE: key.path`` of a segment's ``feature:`` key (else the segment's)."""
        return self.feature_lines.get((seg.name, text), f"{seg.source}: {seg.name}")

    def unresolved_features(self, names: Sequence[str] | None = None) -> list[str]:
        """Features as written (sorted) in the named segments (all by default) and what
        they reference, when no catalogue resolved them; else []."""
        if self.catalogue is not None:
            return []
        return sorted(
            {
                str(n.feature)
                for seg in self.closure([s.name for s in self.select(names)])
                for n in walk(seg.rule)
                if isinstance(n, MetricCondition) and n.feature is not None
            }
        )

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments.values())

    def __len__(self) -> int:
        return len(self.segments)

    def __contains__(self, name: object) -> bool:
        return name in self.segments

    def get(self, name: str) -> Segment:
        try:
            return self.segments[name]
        except KeyError:
            raise DefinitionError(
                f"unknown segment '{name}'{suggest(name, self.segments)}"
            ) from None

    def select(self, names: Sequence[str] | None) -> list[Segment]:
        """The named segments (all when ``names`` is empty), in definition order."""
        if not names:
            return list(self.segments.values())
        wanted = {self.get(n).name for n in names}
        return [s for s in self.segments.values() if s.name in wanted]

    def closure(self, names: Sequence[str]) -> list[Segment]:
        """The named segments plus every segment they reference, dependencies first."""
        needed: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            stack.extend(references(self.get(name)))
        return [s for s in self.segments.values() if s.name in needed]


def references(segment: Segment) -> list[str]:
    return [n.segment for n in walk(segment.rule) if isinstance(n, SegmentRef)]


def feature_ids(rule: Any, lookup: Any) -> Any:
    """``rule`` with each ``feature`` replaced by ``lookup(feature)``; the same object
    when nothing changes (so a resolved set resolves again for free)."""
    if isinstance(rule, MetricCondition):
        if rule.feature is None:
            return rule
        found = lookup(rule.feature)
        return rule if found == rule.feature else rule.model_copy(update={"feature": found})
    if isinstance(rule, AllOf | AnyOf):
        key = "all" if isinstance(rule, AllOf) else "any"
        kids = getattr(rule, key)
        new = [feature_ids(k, lookup) for k in kids]
        if all(a is b for a, b in zip(new, kids, strict=True)):
            return rule
        return rule.model_copy(update={key: new})
    if isinstance(rule, NotOf):
        inner = feature_ids(rule.not_, lookup)
        return rule if inner is rule.not_ else rule.model_copy(update={"not_": inner})
    return rule


def _copy_segment(seg: Segment, rule: Any) -> Segment:
    return seg.model_copy(update={"rule": rule}).with_source(seg._source_file, seg._source_line)


class _Collector:
    """Accumulates ``FILE:LINE: message`` problems; sorted by file and line at the end."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, str]] = []

    def add(self, file: str, line: int, message: str, path: Sequence[Any] = ()) -> None:
        where = f"{key_path(path)}: " if path else ""
        self.found.append((file, line, f"{file}:{line}: {where}{message}"))

    @property
    def problems(self) -> list[str]:
        return [text for _, _, text in sorted(self.found, key=lambda f: (f[0], f[1]))]


class InvalidDefinitions(DefinitionError):
    """Definition files have problems; ``declared`` still names every segment written
    (name → subject, None when unknown), so other files' references can be checked."""

    def __init__(self, problems: list[str], declared: dict[str, Any]) -> None:
        super().__init__(problems)
        self.declared = declared


@dataclass
class _Draft:
    """One segment as written, parsed or not: enough for the cross-file checks."""

    name: str | None
    subject: Any
    file: str
    line: int
    mentions: list[Mention]
    segment: Segment | None = None
    #: stands for a file that could not be read: its stem may be referenced elsewhere
    unreadable: bool = False


def load_definitions(
    path: str | Path,
    *,
    features: FeatureCatalogue | Iterable[str] | None = None,
    columns: Mapping[str, Iterable[str]] | None = None,
) -> DefinitionSet:
    """Load a folder (every ``*.yaml``/``*.yml`` but reserved ones) or one file.

    ``features``: the feature catalogue (``features.csv`` of the data: a catalogue, the
    frame, or its ids); without it, ``DEFS/features.yaml`` when there is one, else
    features are left unchecked (and unresolved) with a warning. With one, every
    ``feature:`` (an id or a feature's exact name) is checked and resolved to its id. ``columns``: the data's columns per subject (``account``,
    ``visitor``), to find a misspelt field before any data is evaluated.
    """
    root = Path(path)
    if not root.exists():
        raise DefinitionError(f"{root}: no such file or folder")
    if root.is_dir():
        files = sorted(
            p
            for p in root.iterdir()
            if p.suffix in (".yaml", ".yml") and p.stem not in RESERVED_STEMS
        )
        if not files:
            raise DefinitionError(f"{root}: no segment definition files (*.yaml)")
    else:
        files = [root]
    out = _Collector()
    drafts: list[_Draft] = []
    for file in files:
        drafts.extend(_load_file(file, out))
    folder = root if root.is_dir() else root.parent
    catalogue, warnings = _catalogue(features, folder, out)
    segments = _cross_check(drafts, out, alone=None if root.is_dir() else root)
    if catalogue is not None:
        _check_features(drafts, catalogue, out)
    if columns is not None:
        _check_fields(drafts, {k: set(map(str, v)) for k, v in columns.items()}, out)
    if out.found:
        declared = {d.name: d.subject for d in drafts if d.name is not None}
        raise InvalidDefinitions(out.problems, declared)
    result = DefinitionSet(
        segments=segments, files=files, warnings=warnings, feature_lines=_feature_lines(drafts)
    )
    return result if catalogue is None else result.use_features(catalogue)


def _feature_lines(drafts: list[_Draft]) -> dict[tuple[str, str], str]:
    """Where each segment writes each feature, for errors found once the data is known."""
    out: dict[tuple[str, str], str] = {}
    for draft in drafts:
        for m in draft.mentions:
            if m.kind == "feature" and draft.name is not None:
                where = f"{draft.file}:{m.line}: {key_path((*m.path, 'feature'))}"
                out.setdefault((draft.name, m.name), where)
    return out


def _catalogue(
    features: FeatureCatalogue | Iterable[str] | None, folder: Path, out: _Collector
) -> tuple[FeatureCatalogue | None, list[str]]:
    """The feature catalogue to check against, and a warning when there is none."""
    if features is not None:
        return catalogue_of(features), []
    listed = folder / FEATURES_NAME
    if not listed.is_file():
        return None, [
            "feature ids not checked: give --data DIR (features.csv) or list them in "
            f"{listed} as 'features: [id, …]'"
        ]
    try:
        doc = load_yaml(listed)
    except YamlProblem as err:
        out.add(str(listed), err.line, err.message)
        return None, []
    items = doc.get("features") if isinstance(doc, LineDict) else None
    scalar = (str, int)
    if isinstance(items, LineDict) and all(
        isinstance(k, scalar) and isinstance(v, scalar) for k, v in items.items()
    ):
        return FeatureCatalogue({str(k): str(v) for k, v in items.items()}), []
    if not isinstance(items, LineList) or not all(isinstance(i, scalar) for i in items):
        out.add(
            str(listed),
            line_of(doc, ("features",)),
            "expected 'features:' with a list of ids, or a mapping of id: name",
        )
        return None, []
    return FeatureCatalogue.from_ids(items), []


def _check_features(drafts: list[_Draft], catalogue: FeatureCatalogue, out: _Collector) -> None:
    """Each ``feature:`` must be an id or the exact name of one feature of the catalogue."""
    seen: set[tuple[str, int, str]] = set()
    for draft in drafts:
        for m in draft.mentions:
            if m.kind != "feature" or (draft.file, m.line, m.name) in seen:
                continue  # for_each copies share a line
            problem = catalogue.problem(m.name)
            if problem is None:
                continue
            seen.add((draft.file, m.line, m.name))
            out.add(draft.file, m.line, problem, (*m.path, "feature"))


def _check_fields(drafts: list[_Draft], columns: dict[str, set[str]], out: _Collector) -> None:
    """A field that is no column of the data (nor an optional standard one) is a typo."""
    seen: set[tuple[str, int, str]] = set()
    for draft in drafts:
        for m in draft.mentions:
            if m.kind != "field" or (draft.file, m.line, m.name) in seen:
                continue
            seen.add((draft.file, m.line, m.name))
            subject = "account" if m.name.startswith("account.") else draft.subject
            column = m.name.removeprefix("account.")
            known = columns.get(str(subject))
            if known is None or column in known or column in STANDARD_FIELDS.get(subject, ()):
                continue  # an optional standard column missing from the data is unknown, not a typo
            table = "accounts" if subject == "account" else "visitors"
            prefix = "account." if m.name.startswith("account.") else ""
            hint = suggest(column, sorted(known))
            out.add(
                draft.file,
                m.line,
                f"unknown field '{m.name}': no column '{column}' in the data's {table}"
                + (hint.replace("'", f"'{prefix}", 1) if prefix and hint else hint),
                (*m.path, "field"),
            )


def _load_file(file: Path, out: _Collector) -> list[_Draft]:
    name = str(file)
    try:
        doc = load_yaml(file)
    except YamlProblem as err:
        out.add(name, err.line, err.message)
        # Its segments are unknown; a reference to the file's stem is not a second error.
        return [_Draft(file.stem, None, name, err.line, [], unreadable=True)]
    if doc is None:
        out.add(name, 1, "empty file: expected a segment (name, title, subject, rule)")
        return []
    if not isinstance(doc, LineDict):
        out.add(name, line_of(doc, ()), "expected a mapping with a segment, or 'segments:' list")
        return []
    if "segments" in doc:
        items = doc["segments"]
        extra = [k for k in doc if k != "segments"]
        if extra:
            out.add(
                name,
                line_of(doc, (extra[0],)),
                f"unexpected key '{extra[0]}' beside 'segments:' (put it in each segment)",
            )
        if not isinstance(items, LineList):
            out.add(name, line_of(doc, ("segments",)), "'segments' must be a list of segments")
            return []
        result: list[_Draft] = []
        for i, item in enumerate(items):
            if not isinstance(item, LineDict):
                out.add(
                    name,
                    line_of(items, (i,)),
                    "each item of 'segments' must be a mapping",
                    ("segments", i),
                )
                continue
            if "name" not in item:
                out.add(
                    name,
                    item.line,
                    "missing 'name' (required in a 'segments:' list)",
                    ("segments", i),
                )
                continue
            result.extend(_stamp(item, name, ("segments", i), None, out))
        return result
    return _stamp(doc, name, (), file.stem, out)


def _stamp(
    raw: LineDict, file: str, path: tuple[Any, ...], default_name: str | None, out: _Collector
) -> list[_Draft]:
    """Expand ``for_each`` and parse each stamped copy."""
    unknown = [k for k in raw if k not in SEGMENT_KEYS]
    for key in unknown:
        out.add(
            file,
            line_of(raw, (key,)),
            f"unknown key '{key}'{suggest(key, SEGMENT_KEYS)}",
            (*path, key),
        )
    for_each = raw.get("for_each")
    if for_each is None:
        return [_parse_segment(raw, file, path, default_name, {}, out)]
    fe_line = line_of(raw, ("for_each",))
    fe_path = (*path, "for_each")
    name_template = str(raw.get("name") or default_name or "")
    if isinstance(for_each, LineList) and for_each:
        rows = _for_each_rows(for_each, name_template, raw, file, path, out)
        if rows is None:
            return _check_unstamped(raw, file, path, default_name, out)
        return [_stamped(raw, file, path, default_name, params, out) for params in rows]
    if not isinstance(for_each, LineDict) or not for_each:
        out.add(
            file,
            fe_line,
            "for_each must map a parameter to a list of values, "
            "e.g. {feature: [core_events, data_explorer]}, or be a list of rows, "
            "e.g. [{slug: core_events, feature: Core events}]",
            fe_path,
        )
        return []
    ok = True
    for key, values in for_each.items():
        if (
            not isinstance(values, LineList)
            or not values
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
        ):
            out.add(
                file,
                line_of(raw, ("for_each", key)),
                f"for_each.{key} must be a non-empty list of names",
                fe_path,
            )
            ok = False
        elif len(set(map(str, values))) != len(values):
            out.add(
                file, line_of(raw, ("for_each", key)), f"for_each.{key} repeats a value", fe_path
            )
            ok = False
        if f"{{{key}}}" not in name_template:
            out.add(
                file,
                line_of(raw, ("name",), fe_line),
                f"name '{name_template}' must contain '{{{key}}}' so each stamped "
                "segment gets its own name",
                (*path, "name"),
            )
            ok = False
    used = set(_PLACEHOLDER.findall(name_template)) - set(for_each)
    for key in sorted(used):
        out.add(
            file,
            line_of(raw, ("name",)),
            f"placeholder '{{{key}}}' in name is not a for_each parameter{suggest(key, for_each)}",
            (*path, "name"),
        )
        ok = False
    if not ok:
        return _check_unstamped(raw, file, path, default_name, out)
    keys = list(for_each)
    return [
        _stamped(raw, file, path, default_name, dict(zip(keys, combo, strict=True)), out)
        for combo in itertools.product(*(list(map(str, for_each[k])) for k in keys))
    ]


def _stamped(
    raw: LineDict,
    file: str,
    path: tuple[Any, ...],
    default_name: str | None,
    params: dict[str, str],
    out: _Collector,
) -> _Draft:
    """One copy of a ``for_each`` template with its placeholders filled from ``params``."""

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)

    copy = relabel(raw, fill)
    del copy["for_each"]
    if "name" not in copy and default_name:
        copy["name"] = fill(default_name)
        copy.key_lines["name"] = raw.line
    return _parse_segment(copy, file, path, None, params, out)


def _for_each_rows(
    rows: LineList,
    name_template: str,
    raw: LineDict,
    file: str,
    path: tuple[Any, ...],
    out: _Collector,
) -> list[dict[str, str]] | None:
    """``for_each`` as a list of rows, one segment each (parameters that go together, e.g.
    a name-safe ``slug`` for the segment name and the ``feature`` name Pendo shows)."""
    fe_path = (*path, "for_each")
    keys: list[str] | None = None
    params: list[dict[str, str]] = []
    ok = True
    for i, row in enumerate(rows):
        line = line_of(raw, ("for_each", i))
        good = (
            isinstance(row, LineDict)
            and bool(row)
            and all(isinstance(k, str) and _PLACEHOLDER.fullmatch(f"{{{k}}}") for k in row)
            and all(isinstance(v, str | int) and not isinstance(v, bool) for v in row.values())
        )
        if not good:
            out.add(
                file,
                line,
                "each row of for_each must map parameter names (lower case) to values, "
                "e.g. {slug: core_events, feature: Core events}",
                (*fe_path, i),
            )
            ok = False
            continue
        if keys is None:
            keys = list(row)
        elif set(row) != set(keys):
            out.add(
                file,
                line,
                f"this row of for_each has {', '.join(sorted(row))}; the first row has "
                f"{', '.join(sorted(keys))} (every row needs the same parameters)",
                (*fe_path, i),
            )
            ok = False
            continue
        params.append({str(k): str(v) for k, v in row.items()})
    if keys is not None:
        placeholders = set(_PLACEHOLDER.findall(name_template))
        if not placeholders & set(keys):
            out.add(
                file,
                line_of(raw, ("name",), line_of(raw, ("for_each",))),
                f"name '{name_template}' must contain a for_each parameter (one of "
                f"{', '.join('{' + k + '}' for k in keys)}) so each stamped segment gets "
                "its own name",
                (*path, "name"),
            )
            ok = False
        for key in sorted(placeholders - set(keys)):
            out.add(
                file,
                line_of(raw, ("name",)),
                f"placeholder '{{{key}}}' in name is not a for_each parameter{suggest(key, keys)}",
                (*path, "name"),
            )
            ok = False
    return params if ok else None


def _check_unstamped(
    raw: LineDict, file: str, path: tuple[Any, ...], default_name: str | None, out: _Collector
) -> list[_Draft]:
    """A broken ``for_each`` still gets its other keys and rule checked, once.

    Placeholders are filled with their own names (``{feature}`` → ``feature``);
    the result is not a segment and its feature ids are not checked.
    """
    copy = relabel(raw, lambda text: _PLACEHOLDER.sub(lambda m: m.group(1), text))
    del copy["for_each"]
    if "name" not in copy:
        copy["name"] = _PLACEHOLDER.sub(lambda m: m.group(1), default_name or "x")
        copy.key_lines["name"] = raw.line
    draft = _parse_segment(copy, file, path, None, {}, out)
    draft.name, draft.segment = None, None
    draft.mentions = [m for m in draft.mentions if m.kind != "feature"]
    return [draft]


def _parse_segment(
    raw: LineDict,
    file: str,
    path: tuple[Any, ...],
    default_name: str | None,
    params: dict[str, str],
    out: _Collector,
) -> _Draft:
    """Check every key of one segment, the rule included, even when some are broken."""
    before = len(out.found)
    fields: dict[str, Any] = {
        k: v for k, v in raw.items() if k in SEGMENT_KEYS and k not in ("rule", "for_each")
    }
    if "name" not in fields and default_name is not None:
        fields["name"] = default_name
    misspelt = {closest(str(k), SEGMENT_KEYS) for k in raw if k not in SEGMENT_KEYS}
    for required in ("title", "subject", "rule"):
        if required not in raw and required not in misspelt:
            out.add(file, raw.line, f"missing required key '{required}'", path)
    subject = raw.get("subject")
    if "subject" in raw and subject not in ("account", "visitor"):
        out.add(
            file,
            line_of(raw, ("subject",)),
            f"subject must be 'account' or 'visitor', not "
            f"{subject!r}{suggest(str(subject), ('account', 'visitor'))}",
            (*path, "subject"),
        )
        fields.pop("subject")
        subject = None
    parser = RuleParser(file, lambda line, where, msg: out.add(file, line, msg, where))
    rule = None
    if "rule" in raw:
        rule = parser.parse(raw["rule"], raw, ("rule",), path, subject=subject)
    draft = _Draft(
        name=str(fields["name"]) if isinstance(fields.get("name"), str) else None,
        subject=subject,
        file=file,
        line=raw.line,
        mentions=parser.mentions,
    )
    # The other keys are checked with a stand-in rule, so a broken rule hides nothing.
    check = {**fields, "rule": rule or SegmentRef(segment="x"), "params": params}
    if "title" not in raw:
        check.setdefault("title", "x")
    if "subject" not in fields:
        check["subject"] = "account"
    try:
        seg = Segment.model_validate(check)
    except ValidationError as err:
        for line, where, message in validation_messages(err, raw, path):
            out.add(file, line, message, where)
        return draft
    if rule is not None and len(out.found) == before:
        draft.segment = seg.with_source(file, raw.line)
    return draft


def _cross_check(drafts: list[_Draft], out: _Collector, alone: Path | None) -> dict[str, Segment]:
    by_name: dict[str, Segment] = {}
    first: dict[str, _Draft] = {}
    for draft in drafts:
        if draft.name is None or draft.unreadable and draft.name in first:
            continue
        if draft.name in first and not first[draft.name].unreadable:
            out.add(
                draft.file,
                draft.line,
                f"duplicate segment name '{draft.name}' (first defined at "
                f"{first[draft.name].file}:{first[draft.name].line})",
            )
            continue
        first[draft.name] = draft
        if draft.segment is not None:
            by_name[draft.name] = draft.segment
    for draft in drafts:
        for m in draft.mentions:
            if m.kind != "segment":
                continue
            other = first.get(m.name)
            if other is None:
                others = [n for n in first if n != draft.name]
                out.add(
                    draft.file,
                    m.line,
                    f"segment '{draft.name}' references unknown segment '{m.name}'"
                    f"{_not_loaded(m.name, alone) or suggest(m.name, others)}",
                    m.path,
                )
            elif draft.subject == "account" and other.subject == "visitor":
                out.add(
                    draft.file,
                    m.line,
                    f"account segment '{draft.name}' cannot reference visitor segment '{m.name}'",
                    m.path,
                )
    order = _topological(by_name, out)
    return {name: by_name[name] for name in order}


def _not_loaded(name: str, alone: Path | None) -> str:
    """When one file is validated alone: where the missing segment lives, if nearby."""
    if alone is None:
        return ""
    for folder in dict.fromkeys((alone.parent, Path("segment_defs"))):
        if not folder.is_dir():
            continue
        stems = {
            p.stem: p
            for p in sorted(folder.iterdir())
            if p.suffix in (".yaml", ".yml")
            and p.stem not in RESERVED_STEMS
            and p.resolve() != alone.resolve()
        }
        if name in stems:
            return f"; it is defined in {stems[name]}, which is not loaded (validate the folder)"
        near = closest(name, stems)
        if near:
            return f"; did you mean '{near}' (in {stems[near]}, not loaded: validate the folder)?"
    return "; only this file is loaded (validate the folder to see the others)"


def _topological(by_name: dict[str, Segment], out: _Collector) -> list[str]:
    """Dependency order; reports each reference cycle once, with its path."""
    state: dict[str, int] = {}
    order: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name) :] + [name]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                seg = by_name[name]
                out.add(
                    seg._source_file, seg._source_line, f"reference cycle: {' -> '.join(cycle)}"
                )
            return
        state[name] = 1
        for ref in references(by_name[name]):
            if ref in by_name:
                visit(ref, [*trail, name])
        state[name] = 2
        order.append(name)

    for name in by_name:
        visit(name, [])
    return order
