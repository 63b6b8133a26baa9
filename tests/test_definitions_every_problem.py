"""One ``validate`` run lists every mistake of a folder, each at the line of the mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def many_mistakes(folder: Path) -> None:
    write(
        folder,
        "a.yaml",
        """
        name: Bad-Name
        titel: A
        subject: account
        window_days: 0
        rule:
          all:
            - {metric: active_day, op: "<=", value: 2}
            - {metric: minutes, op: "=<", value: 10}
        """,
    )
    write(
        folder,
        "b.yaml",
        """
        name: b
        title: B
        subject: visitor
        rule:
          any:
            - {segment: entreprise}
            - {field: acount.arr, op: ">", value: 1000}
            - {metric: feature_clicks, feature: core_event, op: ">=", value: 1}
        """,
    )
    write(
        folder,
        "enterprise.yaml",
        """
        title: Enterprise
        subject: account
        rule: {field: plan, op: "=", value: Enterprise}
        """,
    )
    write(folder, "d.yaml", "name: d\ntitle: [unclosed\n")


def test_a_folder_with_many_kinds_of_mistakes_in_one_run(tmp_path: Path) -> None:
    many_mistakes(tmp_path)
    write(tmp_path, "features.yaml", "features: [core_events, data_explorer]\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    a, b, d = (tmp_path / f for f in ("a.yaml", "b.yaml", "d.yaml"))
    assert result.stderr.splitlines() == [
        f"Error: {a}:1: name: 'Bad-Name' is not a valid name (lowercase letters, digits, _)",
        f"Error: {a}:2: titel: unknown key 'titel'; did you mean 'title'?",
        f"Error: {a}:4: window_days: Input should be greater than or equal to 1",
        f"Error: {a}:7: rule.all[0].metric: unknown metric 'active_day'; did you mean "
        "'active_days'?",
        f"Error: {a}:8: rule.all[1].op: unknown op '=<' for a metric condition; did you mean "
        "'<='? (valid: =, !=, <, <=, >, >=, exists, not_exists)",
        f"Error: {b}:6: rule.any[0]: segment 'b' references unknown segment 'entreprise'; "
        "did you mean 'enterprise'?",
        f"Error: {b}:7: rule.any[1].field: unknown field 'acount.arr'; did you mean 'account.arr'?",
        f"Error: {b}:8: rule.any[2].feature: unknown feature 'core_event' (not in the feature "
        "catalogue); did you mean 'core_events'?",
        f"Error: {d}:3: YAML syntax error: expected ',' or ']', but got '<stream end>'",
    ]


def test_features_checked_against_the_data(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        title: X
        subject: visitor
        rule:
          all:
            - {metric: events, op: ">", value: 1}
            - {metric: feature_clicks, feature: data_explorr, op: ">=", value: 1}
        """,
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--data", "sample"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'x.yaml'}:6: rule.all[1].feature: unknown feature 'data_explorr' "
        "(not in the feature catalogue); did you mean 'data_explorer'?\n"
    )
    ok = CliRunner().invoke(main, ["validate", "segment_defs", "--data", "sample"])
    assert ok.exit_code == 0 and ok.stderr == ""


def test_without_a_catalogue_features_are_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        "title: X\nsubject: visitor\nrule: {metric: feature_clicks, feature: zz, op: '>', value: 1}\n",
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: feature ids not checked")


def test_for_each_copies_report_an_unknown_feature_once_each(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: used_{feature}
        title: Used {feature}
        subject: visitor
        for_each: {feature: [a, b]}
        rule: {metric: feature_clicks, feature: "{feature}", op: ">", value: 1}
        """,
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path, features=["a"])
    assert err.value.problems == [
        f"{tmp_path / 'x.yaml'}:5: rule.feature: unknown feature 'b' (not in the feature catalogue)"
    ]


def test_file_alone_points_at_the_sibling_not_at_itself(tmp_path: Path) -> None:
    many_mistakes(tmp_path)
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path / "b.yaml", features=["core_event"])
    assert err.value.problems[0] == (
        f"{tmp_path / 'b.yaml'}:6: rule.any[0]: segment 'b' references unknown segment "
        f"'entreprise'; did you mean 'enterprise' (in {tmp_path / 'enterprise.yaml'}, not "
        "loaded: validate the folder)?"
    )
    write(tmp_path, "c.yaml", "title: C\nsubject: account\nrule: {segment: enterprise}\n")
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path / "c.yaml")
    assert err.value.problems == [
        f"{tmp_path / 'c.yaml'}:3: rule: segment 'c' references unknown segment 'enterprise'; "
        f"it is defined in {tmp_path / 'enterprise.yaml'}, which is not loaded (validate the "
        "folder)"
    ]


def test_a_self_reference_suggestion_is_never_the_segment_itself(tmp_path: Path) -> None:
    write(tmp_path, "enterprize.yaml", "title: E\nsubject: account\nrule: {segment: enterprise}\n")
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path)
    assert err.value.problems == [
        f"{tmp_path / 'enterprize.yaml'}:3: rule: segment 'enterprize' references unknown "
        "segment 'enterprise'"
    ]


def test_references_of_a_broken_segment_are_still_checked(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        title: X
        subject: account
        rule:
          all:
            - {metric: minuts, op: ">", value: 1}
            - {segment: nope}
        """,
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path)
    assert err.value.problems == [
        f"{tmp_path / 'x.yaml'}:5: rule.all[0].metric: unknown metric 'minuts'; did you mean "
        "'minutes'?",
        f"{tmp_path / 'x.yaml'}:6: rule.all[1]: segment 'x' references unknown segment 'nope'",
    ]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("acount.arr", "unknown field 'acount.arr'; did you mean 'account.arr'?"),
        ("visitor.arr", "unknown field 'visitor.arr': only 'account.' may prefix a column"),
    ],
)
def test_account_prefix_typos(tmp_path: Path, field: str, message: str) -> None:
    write(
        tmp_path,
        "x.yaml",
        f"title: X\nsubject: visitor\nrule: {{field: {field}, op: '>', value: 1}}\n",
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path)
    assert err.value.problems == [f"{tmp_path / 'x.yaml'}:3: rule.field: {message}"]


def test_health_leaves_are_refused_in_segment_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        "title: X\nsubject: account\nrule: {health: score, op: '<', value: 40}\n",
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path)
    assert err.value.problems == [
        f"{tmp_path / 'x.yaml'}:3: rule.health: 'health' conditions are not available here "
        "(use metric, field, segment)"
    ]


def test_a_broken_for_each_does_not_hide_the_rest(tmp_path: Path) -> None:
    write(
        tmp_path,
        "x.yaml",
        """
        name: never_used_{feature}
        title: Never used {feature}
        subject: visitr
        for_each: {feature: []}
        rule: {metric: feature_clickz, feature: "{feature}", op: "<=", value: 1}
        """,
    )
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path, features=["core_events"])
    x = tmp_path / "x.yaml"
    assert err.value.problems == [
        f"{x}:3: subject: subject must be 'account' or 'visitor', not 'visitr'; did you mean "
        "'visitor'?",
        f"{x}:4: for_each: for_each.feature must be a non-empty list of names",
        f"{x}:5: rule.metric: unknown metric 'feature_clickz'; did you mean 'feature_clicks'?",
    ]


def test_a_reference_to_an_unreadable_file_is_not_a_second_error(tmp_path: Path) -> None:
    write(tmp_path, "d.yaml", "name: d\ntitle: [unclosed\n")
    write(tmp_path, "e.yaml", "title: E\nsubject: account\nrule: {segment: d}\n")
    with pytest.raises(DefinitionError) as err:
        load_definitions(tmp_path)
    assert err.value.problems == [
        f"{tmp_path / 'd.yaml'}:3: YAML syntax error: expected ',' or ']', but got '<stream end>'"
    ]


def test_validate_checks_the_settings_files_beside_the_segments(tmp_path: Path) -> None:
    many_mistakes(tmp_path)
    write(
        tmp_path,
        "tiers.yaml",
        """
        tiers:
          - {name: P1, accounts_per_csm: 15}
          - {name: P2, accounts_per_csm: 40}
        rules:
          - {tier: P1, reason: x, when: {any: [{segment: entreprise}, {health: scor, op: '<', value: 3}]}}
          - {tier: P1, reason: x, when: {segment: b}}
          - {tier: P2, reason: y}
        """,
    )
    write(tmp_path, "health.yaml", "weights:\n  nps: -1\n")
    write(
        tmp_path,
        "alerts.yaml",
        "alerts:\n  - {name: a, title: A, when: {all: [{tier: P9}, {segment: d}]}}\n",
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    tiers, alerts = tmp_path / "tiers.yaml", tmp_path / "alerts.yaml"
    lines = result.stderr.splitlines()
    # the 8 segment problems (no feature catalogue here), then the settings files
    assert len(lines) == 8 + 5, lines
    assert lines[8].startswith(f"Error: {tmp_path / 'health.yaml'}:2: weights.nps: ")
    assert lines[9:] == [
        f"Error: {tiers}:5: rules[0].when.any[1].health: unknown health value 'scor'; did you "
        "mean 'score'? (one of score, login_frequency, core_feature_adoption, breadth, nps, "
        "support_tickets)",
        f"Error: {tiers}:5: rules[0].when.any[0]: unknown segment 'entreprise'; did you mean "
        "'enterprise'?",
        f"Error: {tiers}:6: rules[1].when: segment 'b' is a visitor segment; conditions here "
        "need account segments",
        # d.yaml cannot be read: naming it is not a second error
        f"Error: {alerts}:2: alerts[0].when.all[0].tier: unknown tier 'P9' (tiers: P1, P2)",
    ]
