"""Guide-targeting warnings of ``sync plan`` say only what a public Pendo page says.

Pendo Adopt's "Segments" article: Feature clicks in guide targeting are "clicked"
(ever, within last, since, at least, at most) or "not clicked"; no public page we
have lists other ineligible rules, so usage counts and metadata are not flagged.
"""

from __future__ import annotations

from typing import Any

from pendo_segments.sync.guides import guide_warnings

NOTE = (
    "not available for guide targeting: Pendo offers Feature clicks there only as "
    "clicked at least / at most (or ever / since / within the last) or not clicked"
)


def feature_row(operator: str, value: int) -> dict[str, Any]:
    return {
        "name": "Feature clicks",
        "kind": "feature",
        "schema": "number",
        "fact": "numEvents",
        "featureId": "core_events",
        "operator": operator,
        "value": value,
        "time": "last",
        "count": 30,
        "granularity": "day",
    }


def usage_row(name: str, fact: str) -> dict[str, Any]:
    return {"name": name, "kind": "account", "schema": "number", "fact": fact, "operator": "<="}


def test_a_feature_clicks_row_pendo_does_not_offer_is_warned_about() -> None:
    rules = {"power": {"filters": [[feature_row(">", 9)]]}}
    assert guide_warnings({"power": ["Beta invite"]}, rules) == [
        f"segment 'power' is used by guide Beta invite; Feature clicks: {NOTE}"
    ]


def test_a_nested_segment_carries_its_rows_reason() -> None:
    rules = {
        "outer": {"filters": [[{"kind": "segment", "segmentName": "power"}]]},
        "power": {"filters": [[feature_row("<", 2)]]},
    }
    assert guide_warnings({"outer": ["A", "B"]}, rules) == [
        f"segment 'outer' is used by guides A, B; via segment 'power': Feature clicks: {NOTE}"
    ]


def test_at_least_at_most_and_usage_counts_are_not_flagged_without_a_source() -> None:
    rules = {
        "fine": {
            "filters": [
                [feature_row(">=", 10)],
                [feature_row("<=", 1)],
                [usage_row("Number of days active", "daysActive")],
                [usage_row("Time on site", "numMinutes")],
                [usage_row("Number of events", "numEvents")],
            ]
        }
    }
    assert guide_warnings({"fine": ["Welcome"]}, rules) == []
