"""The Pendo segment-builder target: native rows per construct, and every non-native reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pendo_segments.compile.base import CompileResult, compile_segments
from pendo_segments.compile.pendo import PendoGenerator
from pendo_segments.definitions.loader import DefinitionSet, load_definitions
from pendo_segments.definitions.models import Segment
from pendo_segments.errors import CompileError

ENTERPRISE = {
    "name": "enterprise",
    "title": "E",
    "subject": "account",
    "rule": {"field": "plan", "op": "=", "value": "Enterprise"},
}
NOT_SMB = {
    "name": "not_smb",
    "title": "N",
    "subject": "account",
    "rule": {"not": {"field": "arr", "op": "<=", "value": 15000}},
}


def make_defs(*raw: dict[str, Any]) -> DefinitionSet:
    segments = [Segment.model_validate(r) for r in raw]
    return DefinitionSet(segments={s.name: s for s in segments})


def compile_rule(
    rule: dict[str, Any],
    subject: str = "account",
    *,
    strict: bool = False,
    window_days: int = 30,
    as_of: dt.date | None = None,
) -> CompileResult:
    seg = {"name": "s", "title": "S", "subject": subject, "window_days": window_days, "rule": rule}
    defs = make_defs(seg, ENTERPRISE, NOT_SMB)
    return PendoGenerator(defs, strict=strict, as_of=as_of).compile(defs.get("s"))


def filters(result: CompileResult) -> list[list[dict[str, Any]]]:
    assert result.native, result.unsupported
    return result.output["definition"]["filters"]


def constructs(result: CompileResult) -> list[tuple[str, str]]:
    return [(u.construct, u.path) for u in result.unsupported]


ACTIVE_LE_2 = {"metric": "active_days", "op": "<=", "value": 2}
MINUTES_LE_10 = {"metric": "minutes", "op": "<=", "value": 10}


# -- native shapes --------------------------------------------------------------------
def test_single_metric_leaf_is_one_and_group_with_a_window() -> None:
    assert filters(compile_rule(ACTIVE_LE_2)) == [
        [
            {
                "name": "Number of days active",
                "kind": "account",
                "schema": "number",
                "fact": "daysActive",
                "operator": "<=",
                "value": 2,
                "time": "last",
                "count": 30,
                "granularity": "day",
            }
        ]
    ]


def test_all_of_leaves_is_and_of_groups_and_reads_as_the_rule() -> None:
    result = compile_rule({"all": [ACTIVE_LE_2, MINUTES_LE_10]})
    groups = filters(result)
    assert [len(g) for g in groups] == [1, 1]
    assert [g[0]["name"] for g in groups] == ["Number of days active", "Time on site"]
    # Pendo's words: "at most", "within the last N days" (never "<=" or "in the last")
    assert result.output["summary"] == (
        "Number of days active at most 2 within the last 30 days AND "
        "Time on site at most 10 minutes within the last 30 days"
    )


def test_any_of_leaves_is_one_or_group() -> None:
    groups = filters(compile_rule({"any": [ACTIVE_LE_2, MINUTES_LE_10]}, subject="visitor"))
    assert len(groups) == 1
    assert [r["kind"] for r in groups[0]] == ["visitor", "visitor"]


def test_all_with_a_nested_any_and_a_nested_all_stays_native() -> None:
    rule = {
        "all": [
            ACTIVE_LE_2,
            {"all": [MINUTES_LE_10]},  # AND inside AND flattens
            {
                "any": [
                    {"field": "plan", "op": "=", "value": "A"},
                    {"field": "plan", "op": "=", "value": "B"},
                ]
            },
        ]
    }
    groups = filters(compile_rule(rule))
    assert [len(g) for g in groups] == [1, 1, 2]
    assert [r["value"] for r in groups[2]] == ["A", "B"]


def test_window_comes_from_the_condition_then_the_segment() -> None:
    rule = {"all": [ACTIVE_LE_2, {**MINUTES_LE_10, "window_days": 7}]}
    groups = filters(compile_rule(rule, window_days=14))
    assert [g[0]["count"] for g in groups] == [14, 7]


def test_feature_clicks_is_a_feature_rule() -> None:
    rule = {"metric": "feature_clicks", "feature": "data_explorer", "op": ">=", "value": 10}
    ((row,),) = filters(compile_rule(rule))
    assert row["kind"] == "feature" and row["featureId"] == "data_explorer"
    assert row["operator"] == ">=" and row["value"] == 10 and row["count"] == 30


def test_days_since_last_visit_is_a_last_visit_days_ago_rule() -> None:
    result = compile_rule(
        {"metric": "days_since_last_visit", "op": ">", "value": 30}, subject="visitor"
    )
    ((row,),) = filters(result)
    assert (row["group"], row["field"], row["schema"]) == ("auto", "lastvisit", "time")
    assert (row["operator"], row["value"], row["time"]) == (">", 30, "daysAgo")
    assert "count" not in row
    assert result.output["summary"] == "Last visit is more than 30 days ago"


def test_presence_on_a_count_is_always_true_or_false() -> None:
    ((row,),) = filters(compile_rule({"metric": "events", "op": "exists"}))
    assert (row["operator"], row["value"]) == (">=", 0)
    ((row,),) = filters(compile_rule({"metric": "events", "op": "not_exists"}))
    assert (row["operator"], row["value"]) == ("<", 0)


def test_field_maps_to_metadata_group_and_type() -> None:
    ((row,),) = filters(compile_rule({"field": "arr", "op": "<=", "value": 15000}))
    assert row == {
        "name": "arr",
        "kind": "account",
        "schema": "number",
        "group": "agent",
        "field": "arr",
        "operator": "<=",
        "value": 15000,
    }


def test_visitor_segment_reads_account_fields_as_account_rules() -> None:
    ((row,),) = filters(
        compile_rule({"field": "account.plan", "op": "=", "value": "Growth"}, subject="visitor")
    )
    assert (row["kind"], row["group"], row["field"]) == ("account", "agent", "plan")


def test_custom_field_goes_to_the_custom_group_typed_by_its_value() -> None:
    ((row,),) = filters(compile_rule({"field": "tier", "op": "=", "value": "P1"}))
    assert (row["group"], row["schema"]) == ("custom", "string")
    ((row,),) = filters(compile_rule({"field": "health_score", "op": ">=", "value": 70}))
    assert (row["group"], row["schema"]) == ("custom", "number")


def test_in_is_an_or_group_of_equals() -> None:
    groups = filters(compile_rule({"field": "plan", "op": "in", "value": ["A", "B"]}))
    assert [[(r["operator"], r["value"]) for r in g] for g in groups] == [
        [("==", "A"), ("==", "B")]
    ]


def test_is_not_gets_an_exists_companion_so_unknown_stays_out() -> None:
    groups = filters(compile_rule({"field": "plan", "op": "!=", "value": "A"}))
    assert [[r["operator"] for r in g] for g in groups] == [["!="], ["exists"]]
    groups = filters(compile_rule({"field": "plan", "op": "not_in", "value": ["A", "B"]}))
    assert [[r["operator"] for r in g] for g in groups] == [["!="], ["!="], ["exists"]]


def test_reference_at_and_level_is_a_segment_rule_by_name() -> None:
    result = compile_rule({"all": [ACTIVE_LE_2, {"segment": "enterprise"}]})
    assert filters(result)[1] == [
        {
            "name": "Segment",
            "kind": "segment",
            "operator": "in",
            "segmentName": "enterprise",
            "segmentId": None,
        }
    ]
    assert result.output["summary"].endswith(" AND in segment enterprise")


def test_as_of_does_not_change_builder_rules() -> None:
    rule = {"all": [ACTIVE_LE_2, {"metric": "days_since_first_visit", "op": "<=", "value": 9}]}
    assert compile_rule(rule).output == compile_rule(rule, as_of=dt.date(2026, 11, 1)).output


# -- not native: every reason ------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"all": [ACTIVE_LE_2, {"not": MINUTES_LE_10}]}, [("not", "rule.all[1]")]),
        ({"any": [ACTIVE_LE_2, {"any": [MINUTES_LE_10]}]}, [("any inside any", "rule.any[1]")]),
        ({"any": [ACTIVE_LE_2, {"all": [MINUTES_LE_10]}]}, [("all inside any", "rule.any[1]")]),
        (
            {"any": [ACTIVE_LE_2, {"segment": "enterprise"}]},
            [("segment reference inside any", "rule.any[1]")],
        ),
        ({"all": [{"segment": "not_smb"}]}, [("reference to non-native segment", "rule.all[0]")]),
        (
            {"field": "contract_start", "op": "anniversary_within", "value": 7},
            [("anniversary_within", "rule")],
        ),
        ({"field": "plan", "op": "<", "value": "M"}, [("text comparison", "rule")]),
        (
            {"any": [ACTIVE_LE_2, {"field": "plan", "op": "!=", "value": "A"}]},
            [("'is not' inside any", "rule.any[1]")],
        ),
    ],
)
def test_unsupported_constructs_are_collected(
    rule: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    result = compile_rule(rule)
    assert not result.native
    assert constructs(result) == expected
    assert all(u.reason and u.segment == "s" for u in result.unsupported)


def test_non_native_output_is_a_visitor_list_upload_marker() -> None:
    result = compile_rule({"not": ACTIVE_LE_2})
    out = result.output
    assert out["upload"] == "visitor_list" and out["expandAccounts"] is True
    assert "definition" not in out
    assert out["summary"].startswith("not a native Pendo rule (not)")
    visitor = compile_rule({"not": ACTIVE_LE_2}, subject="visitor").output
    assert visitor["expandAccounts"] is False


def test_every_problem_is_reported_not_only_the_first() -> None:
    rule = {
        "all": [
            {"not": {"field": "first_visit", "op": "anniversary_within", "value": 3}},
            {"any": [{"any": [ACTIVE_LE_2]}]},
        ]
    }
    got = constructs(compile_rule(rule, subject="visitor"))
    assert got == [
        ("not", "rule.all[0]"),
        ("anniversary_within", "rule.all[0].not"),
        ("any inside any", "rule.all[1].any[0]"),
    ]


def test_strict_mode_raises_compile_error_naming_segment_path_and_reason() -> None:
    with pytest.raises(CompileError) as err:
        compile_rule({"all": [ACTIVE_LE_2, {"not": MINUTES_LE_10}]}, strict=True)
    assert str(err.value).startswith(
        "pendo: s: rule.all[1]: not: Pendo's segment builder has no NOT around a rule"
    )


def test_strict_mode_passes_native_segments() -> None:
    assert compile_rule({"all": [ACTIVE_LE_2]}, strict=True).native


def test_reference_to_a_native_segment_that_references_a_non_native_one() -> None:
    defs = make_defs(
        ENTERPRISE,
        NOT_SMB,
        {
            "name": "mid",
            "title": "M",
            "subject": "account",
            "rule": {"all": [{"segment": "not_smb"}]},
        },
        {
            "name": "top",
            "title": "T",
            "subject": "account",
            "rule": {"all": [{"segment": "mid"}, {"segment": "enterprise"}]},
        },
    )
    result = PendoGenerator(defs).compile(defs.get("top"))
    assert constructs(result) == [("reference to non-native segment", "rule.all[0]")]
    assert "'mid'" in result.unsupported[0].reason


# -- shipped definitions ---------------------------------------------------------------
def test_shipped_segments_native_except_the_three_that_cannot_be() -> None:
    results = compile_segments(load_definitions("segment_defs"), "pendo")
    not_native = {
        r.segment.name: [u.construct for u in r.unsupported] for r in results if not r.native
    }
    # expansion_ready has `not: {segment: smb}`; the anniversaries use anniversary_within.
    assert not_native == {
        "expansion_ready": ["not"],
        "anniversary": ["anniversary_within"],
        "contract_anniversary": ["anniversary_within"],
    }


# -- builder recipes (the rows a person enters), written out by hand ---------------------
def recipe(result: CompileResult) -> list[tuple]:
    return [
        (r["group"], r["join"], r["source"], r["field"], r["operator"], r["value"], r["window"])
        for r in result.output["recipe"]
    ]


def test_recipe_rows_and_and_or_groups() -> None:
    rule = {
        "all": [
            ACTIVE_LE_2,
            {"any": [{"field": "plan", "op": "=", "value": "Growth"}, MINUTES_LE_10]},
            {"segment": "enterprise"},
        ]
    }
    assert recipe(compile_rule(rule, window_days=14)) == [
        (1, "", "Account", "Number of days active", "at most", "2", "within the last 14 days"),
        (2, "AND", "Account", "plan (agent metadata)", "is", "Growth", ""),
        (
            2,
            "OR",
            "Account",
            "Time on site (minutes)",
            "at most",
            "10",
            "within the last 14 days",
        ),
        (3, "AND", "Segment", "Segment", "is in", "enterprise", ""),
    ]


def test_recipe_of_visit_features_lists_and_presence() -> None:
    rule = {
        "all": [
            {"metric": "days_since_last_visit", "op": ">", "value": 30},
            {"metric": "feature_clicks", "feature": "core_events", "op": ">=", "value": 10},
            {"field": "language", "op": "in", "value": ["ja", "de"]},
            {"field": "email", "op": "exists"},
            {"field": "first_visit", "op": ">=", "value": "2026-01-01"},
        ]
    }
    assert recipe(compile_rule(rule, "visitor")) == [
        (1, "", "Visitor", "Last visit", "is more than", "30 days ago", ""),
        (
            2,
            "AND",
            "Feature core_events",
            "Feature clicks",
            "at least",
            "10",
            "within the last 30 days",
        ),
        (3, "AND", "Visitor", "language (agent metadata)", "is", "ja", ""),
        (3, "OR", "Visitor", "language (agent metadata)", "is", "de", ""),
        (4, "AND", "Visitor", "email (agent metadata)", "exists", "", ""),
        (5, "AND", "Visitor", "firstvisit (auto metadata)", "is on or after", "2026-01-01", ""),
    ]


def test_not_equal_recipe_keeps_unknown_values_out_with_an_exists_row() -> None:
    result = compile_rule({"field": "plan", "op": "!=", "value": "Starter"})
    assert recipe(result) == [
        (1, "", "Account", "plan (agent metadata)", "is not", "Starter", ""),
        (2, "AND", "Account", "plan (agent metadata)", "exists", "", ""),
    ]


def notes(result: CompileResult) -> list[str]:
    return [r["note"] for r in result.output["recipe"]]


def test_a_nested_segment_row_says_it_must_be_shared_with_everyone() -> None:
    # Pendo's "Segments" article: only a segment shared with Everyone (Visibility) can
    # be used in nested segments.
    result = compile_rule({"all": [ACTIVE_LE_2, {"segment": "enterprise"}]})
    assert notes(result) == [
        "",
        "segment 'enterprise' must be shared with Everyone in Pendo (Visibility: Everyone) "
        "to be used in another segment",
    ]
    text = PendoGenerator.render_text(result).splitlines()
    assert text[-1] == (
        "  * row 2: segment 'enterprise' must be shared with Everyone in Pendo "
        "(Visibility: Everyone) to be used in another segment"
    )
    md = PendoGenerator.render_markdown(result).splitlines()
    assert md[-1] == (
        "- row 2: segment 'enterprise' must be shared with Everyone in Pendo "
        "(Visibility: Everyone) to be used in another segment"
    )


@pytest.mark.parametrize(
    "op, value, words, marked",
    [
        # Pendo Adopt's "Segments": Feature clicks in guide targeting are "clicked ...
        # at least, and at most" or "not clicked" (ever / within last / since)
        (">=", 10, "at least", False),
        ("<=", 1, "at most", False),
        (">", 9, "greater than", True),
        ("<", 2, "less than", True),
        ("=", 3, "equals", True),
    ],
)
def test_feature_clicks_pendo_does_not_offer_for_guides_are_marked(
    op: str, value: int, words: str, marked: bool
) -> None:
    rule = {"metric": "feature_clicks", "feature": "core_events", "op": op, "value": value}
    result = compile_rule(rule, "visitor")
    assert recipe(result)[0][4] == words
    expected = (
        "not available for guide targeting: Pendo offers Feature clicks there only as "
        "clicked at least / at most (or ever / since / within the last) or not clicked"
    )
    assert notes(result) == [expected if marked else ""]


def test_no_public_source_marks_usage_counts_or_metadata_for_guides() -> None:
    rule = {
        "all": [
            {"metric": "active_days", "op": ">", "value": 3},
            {"metric": "minutes", "op": "<", "value": 10},
            {"metric": "events", "op": "=", "value": 0},
            {"field": "plan", "op": "=", "value": "Growth"},
        ]
    }
    assert notes(compile_rule(rule)) == ["", "", "", ""]


def test_non_native_segment_has_no_recipe_and_says_why() -> None:
    result = compile_rule({"not": ACTIVE_LE_2})
    assert result.output["recipe"] is None
    assert result.output["upload"] == "visitor_list"
    assert len(result.output["why"]) == 1
    assert result.output["why"][0].startswith("rule: not: Pendo's segment builder has no NOT")
    native = compile_rule(ACTIVE_LE_2)
    assert native.output["why"] == []


def test_text_and_markdown_renderers_show_every_row() -> None:
    result = compile_rule({"all": [ACTIVE_LE_2, {"field": "plan", "op": "=", "value": "A|B"}]})
    text = PendoGenerator.render_text(result).splitlines()
    assert text[0] == "s: S (account segment, builder recipe)"
    assert text[1].split() == [
        "#",
        "join",
        "source",
        "field",
        "operator",
        "value",
        "time",
        "window",
    ]
    assert text[2].split() == [
        "1",
        "Account",
        "Number",
        "of",
        "days",
        "active",
        "at",
        "most",
        "2",
        "within",
        "the",
        "last",
        "30",
        "days",
    ]
    md = PendoGenerator.render_markdown(result).splitlines()
    assert md[0] == "## s: S"
    assert "| # | join | source | field | operator | value | time window |" in md
    assert "| 2 | AND | Account | plan (agent metadata) | is | A\\|B |  |" in md
    not_native = compile_rule({"not": ACTIVE_LE_2})
    assert "Synced as a visitor list" in PendoGenerator.render_markdown(not_native)
    assert "synced as a visitor list" in PendoGenerator.render_text(not_native).splitlines()[0]


def test_json_keys_are_stable() -> None:
    """sync plan and other tools read these keys; changing them is a breaking change."""
    native = compile_rule({"all": [ACTIVE_LE_2, {"segment": "enterprise"}]})
    assert list(native.to_dict()) == [
        "segment",
        "subject",
        "target",
        "native",
        "unsupported",
        "output",
    ]
    assert list(native.output) == [
        "name",
        "title",
        "description",
        "subject",
        "summary",
        "definition",
        "recipe",
        "why",
    ]
    assert list(native.output["definition"]) == ["filters"]
    for row in native.output["recipe"]:
        assert list(row) == [
            "group",
            "join",
            "source",
            "field",
            "operator",
            "value",
            "window",
            "note",
        ]
    listed = compile_rule({"not": ACTIVE_LE_2})
    assert list(listed.output) == [
        "name",
        "title",
        "description",
        "subject",
        "summary",
        "recipe",
        "why",
        "upload",
        "expandAccounts",
    ]
