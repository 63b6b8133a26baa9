"""Loader errors: every kind of mistake, reported as FILE:LINE with a hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    return err.value.problems


def test_shipped_definitions_load() -> None:
    defs = load_definitions("segment_defs")
    names = set(defs.segments)
    for required in (
        "at_risk",
        "healthy",
        "enterprise",
        "smb",
        "new_users",
        "no_login_30d",
        "anniversary",
    ):
        assert required in names
    for feature in ("core_events", "data_explorer", "path_reports", "guide_publishing"):
        assert f"never_used_{feature}" in names
        assert f"active_{feature}" in names
    for seg in defs:
        assert seg.title and seg.description, f"{seg.name} needs a title and description"


def test_dependencies_come_first() -> None:
    order = list(load_definitions("segment_defs").segments)
    assert order.index("at_risk") < order.index("at_risk_enterprise")
    assert order.index("healthy") < order.index("expansion_ready")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: [unclosed
        """,
    )
    [msg] = problems(tmp_path)
    assert msg.startswith(f"{tmp_path / 'x.yaml'}:3: YAML syntax error")


def test_unknown_metric_suggests_closest(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: X
        subject: account
        rule:
          all:
            - {metric: minutes, op: "<=", value: 10}
            - {metric: active_day, op: "<=", value: 2}
        """,
    )
    assert problems(tmp_path) == [
        f"{tmp_path / 'x.yaml'}:7: rule.all[1].metric: unknown metric 'active_day'; "
        "did you mean 'active_days'?"
    ]


def test_unknown_op_and_reversed_op(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: X
        subject: account
        rule: {metric: minutes, op: "=<", value: 10}
        """,
    )
    [msg] = problems(tmp_path)
    assert ":4: rule.op: unknown op '=<'" in msg and "did you mean '<='?" in msg


def test_misspelt_standard_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: X
        subject: account
        rule: {field: paln, op: "=", value: Enterprise}
        """,
    )
    [msg] = problems(tmp_path)
    assert ":4: rule.field: unknown field 'paln'; did you mean 'plan'?" in msg


def test_custom_fields_are_allowed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: X
        subject: visitor
        rule:
          all: [{field: region, op: "=", value: EMEA}, {field: account.plan, op: in, value: [A, B]}]
        """,
    )
    assert load_definitions(tmp_path).get("x").subject == "visitor"


def test_wrong_type(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        title: X
        subject: account
        window_days: 30
        rule:
          any:
            - {metric: events, op: ">", value: lots}
        """,
    )
    [msg] = problems(tmp_path)
    assert msg == (
        f"{tmp_path / 'x.yaml'}:7: rule.any[0].value: 'lots' is not a valid value; "
        "expected a number"
    )


def test_missing_required_keys_and_unknown_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: x
        subjct: account
        rule: {metric: events, op: ">", value: 1}
        """,
    )
    # Both in one run; 'subject' is not also reported missing: the typo already says it.
    assert problems(tmp_path) == [
        f"{tmp_path / 'x.yaml'}:1: missing required key 'title'",
        f"{tmp_path / 'x.yaml'}:2: subjct: unknown key 'subjct'; did you mean 'subject'?",
    ]


def test_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\ntitle: A\nsubject: account\nrule: {segment: b}\n")
    write(tmp_path, "b.yaml", "name: b\ntitle: B\nsubject: account\nrule: {segment: a}\n")
    [msg] = problems(tmp_path)
    assert "reference cycle: a -> b -> a" in msg
    assert msg.startswith(str(tmp_path / "a.yaml") + ":1:")


def test_duplicate_name_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: dup\ntitle: A\nsubject: account\nrule: {segment: smb}\n")
    write(
        tmp_path,
        "b.yaml",
        "segments:\n  - name: dup\n    title: B\n    subject: account\n"
        "    rule: {field: arr, op: '<', value: 1}\n  - name: smb\n    title: S\n"
        "    subject: account\n    rule: {field: arr, op: '<', value: 1}\n",
    )
    [msg] = problems(tmp_path)
    assert msg == (
        f"{tmp_path / 'b.yaml'}:2: duplicate segment name 'dup' "
        f"(first defined at {tmp_path / 'a.yaml'}:1)"
    )


def test_unknown_reference_suggests(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\ntitle: A\nsubject: account\nrule: {segment: at_risc}\n")
    write(
        tmp_path,
        "at_risk.yaml",
        "title: R\nsubject: account\nrule: {metric: active_days, op: '<=', value: 2}\n",
    )
    [msg] = problems(tmp_path)
    assert msg.endswith("references unknown segment 'at_risc'; did you mean 'at_risk'?")


def test_account_segment_cannot_reference_visitor_segment(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\ntitle: A\nsubject: account\nrule: {segment: v}\n")
    write(
        tmp_path,
        "v.yaml",
        "title: V\nsubject: visitor\nrule: {field: language, op: '=', value: ja}\n",
    )
    [msg] = problems(tmp_path)
    assert "account segment 'a' cannot reference visitor segment 'v'" in msg


@pytest.mark.parametrize(
    "for_each, expected",
    [
        ("{feature: []}", "for_each.feature must be a non-empty list of names"),
        ("[core_events]", "for_each[0]: each row of for_each must map parameter names"),
        ("{feature: [a, a]}", "for_each.feature repeats a value"),
        ("{feat: [a, b]}", "must contain '{feat}'"),
    ],
)
def test_bad_for_each(tmp_path: Path, for_each: str, expected: str) -> None:
    write(
        tmp_path,
        "x.yaml",
        f"""
        name: never_used_{{feature}}
        title: Never used {{feature}}
        subject: visitor
        for_each: {for_each}
        rule: {{metric: feature_clicks, feature: "{{feature}}", op: "<=", value: 1}}
        """,
    )
    msgs = problems(tmp_path)
    assert any(expected in m for m in msgs), msgs
    assert all(m.startswith(str(tmp_path / "x.yaml") + ":") for m in msgs)


def test_for_each_stamps_names_and_strings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: never_used_{feature}
        title: Never used {feature}
        subject: visitor
        for_each: {feature: [core_events, data_explorer]}
        rule: {metric: feature_clicks, feature: "{feature}", op: "<=", value: 1}
        """,
    )
    defs = load_definitions(tmp_path)
    seg = defs.get("never_used_data_explorer")
    assert seg.title == "Never used data_explorer"
    assert seg.rule.feature == "data_explorer"
    assert seg.params == {"feature": "data_explorer"}
    assert list(defs.segments) == ["never_used_core_events", "never_used_data_explorer"]


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        "name: x\ntitle: X\ntitle: Y\nsubject: account\nrule: {field: arr, op: '<', value: 1}\n",
    )
    [msg] = problems(tmp_path)
    assert msg == f"{tmp_path / 'x.yaml'}:3: duplicate key 'title' (first at line 2)"


def test_five_mistakes_five_messages(tmp_path: Path) -> None:
    """The issue's acceptance check: five different mistakes, five FILE:LINE messages."""
    write(
        tmp_path,
        "a.yaml",
        "name: a\ntitle: A\nsubject: account\nrule: {metric: active_day, op: '<=', value: 2}\n",
    )
    write(
        tmp_path,
        "b.yaml",
        "name: b\ntitle: B\nsubject: account\nrule: {metric: minutes, op: '=>', value: 2}\n",
    )
    write(tmp_path, "c.yaml", "name: c\ntitle: C\nsubject: account\nrule: {segment: nope}\n")
    write(tmp_path, "d.yaml", "name: d\ntitle: [\n")
    write(
        tmp_path,
        "e.yaml",
        "name: e\ntitle: E\nsubject: acount\nrule: {field: arr, op: '<', value: 1}\n",
    )
    msgs = problems(tmp_path)
    assert len(msgs) == 5, msgs
    for msg, file in zip(sorted(msgs), "abcde", strict=True):
        assert msg.startswith(f"{tmp_path / (file + '.yaml')}:"), msg
        assert msg.split(":")[1].isdigit()


def test_reserved_files_are_not_segments(tmp_path: Path) -> None:
    write(tmp_path, "tiers.yaml", "rules: []\n")
    write(
        tmp_path,
        "smb.yaml",
        "title: S\nsubject: account\nrule: {field: arr, op: '<=', value: 15000}\n",
    )
    assert list(load_definitions(tmp_path).segments) == ["smb"]


@pytest.mark.parametrize(
    "rule, expected",
    [
        (
            "{all: [{field: arr, op: '<', value: 1}], op: '<'}",
            "rule.op: unexpected key 'op' beside 'all'",
        ),
        (
            "{not: {field: arr, op: '<', value: 1}, value: 3}",
            "rule.value: unexpected key 'value' beside 'not'",
        ),
    ],
)
def test_stray_key_beside_a_group(tmp_path: Path, rule: str, expected: str) -> None:
    write(tmp_path, "x.yaml", f"title: X\nsubject: account\nrule: {rule}\n")
    assert problems(tmp_path) == [f"{tmp_path / 'x.yaml'}:3: {expected}"]
