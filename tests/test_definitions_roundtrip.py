"""Property: any valid definition survives dump → YAML → load unchanged."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pendo_segments.definitions import load_definitions
from pendo_segments.definitions.models import (
    COMPARISON_OPS,
    AllOf,
    AnyOf,
    FieldCondition,
    MetricCondition,
    NotOf,
    Segment,
)

numbers = st.one_of(
    st.integers(0, 10_000), st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 3))
)
metric = (
    st.builds(
        MetricCondition,
        metric=st.sampled_from(["active_days", "minutes", "events"]),
        op=st.sampled_from(COMPARISON_OPS),
        value=numbers,
        window_days=st.one_of(st.none(), st.integers(1, 365)),
    )
    | st.builds(
        MetricCondition,
        metric=st.just("feature_clicks"),
        op=st.sampled_from(COMPARISON_OPS),
        value=numbers,
        feature=st.sampled_from(["core_events", "data_explorer"]),
    )
    | st.builds(
        MetricCondition,
        metric=st.sampled_from(["days_since_last_visit", "days_since_first_visit"]),
        op=st.sampled_from(["exists", "not_exists"]),
    )
)
text = st.text("abcdefghijklmnopqrstuvwxyz éあ", min_size=1, max_size=8)
field = (
    st.builds(
        FieldCondition,
        field=st.sampled_from(["plan", "region", "crm_id"]),
        op=st.sampled_from(["=", "!=", "contains"]),
        value=text,
    )
    | st.builds(
        FieldCondition,
        field=st.sampled_from(["arr", "seats"]),
        op=st.sampled_from(["in", "not_in"]),
        value=st.lists(st.integers(0, 100), min_size=1, max_size=3),
    )
    | st.builds(
        FieldCondition,
        field=st.just("contract_start"),
        op=st.just("anniversary_within"),
        value=st.integers(1, 30),
    )
)
rules = st.recursive(
    metric | field,
    lambda inner: (
        st.builds(AllOf, all=st.lists(inner, min_size=1, max_size=3))
        | st.builds(AnyOf, any=st.lists(inner, min_size=1, max_size=3))
        | inner.map(lambda r: NotOf(**{"not": r}))
    ),
    max_leaves=6,
)
segments = st.builds(
    Segment,
    name=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    title=text,
    description=text,
    subject=st.just("account"),
    window_days=st.integers(1, 365),
    rule=rules,
    tags=st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seg=segments)
def test_dump_load_roundtrip(tmp_path: Path, seg: Segment) -> None:
    data = seg.model_dump(by_alias=True, exclude_none=True, exclude={"params"})
    path = tmp_path / f"{seg.name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loaded = load_definitions(path).get(seg.name)
    # Compare content: the loaded copy also knows its file and line (private attributes).
    assert loaded.model_dump() == seg.model_dump()
    assert repr(loaded) == repr(seg)
