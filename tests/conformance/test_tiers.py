"""The tier policy on every engine: each leaf alone, the first match, reasons, capacity.

One policy holds every leaf kind a tier rule may use (field with every op,
segment, health, signal, all / any / not), one rule each; the SQL engines return
each rule's own condition too, so every leaf is checked alone: on the hand-made
accounts against members worked out by hand from tests/health_handmade.py, and
against the pandas engine there and on the sample, next to the first-match tiers
and reasons. The commands' output is compared with pandas' bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from health_handmade import AS_OF, dataset, sample

from conformance.data import SHIPPED_DEFS, write_folder
from conformance.run import same_as_pandas, skip_the_sample_on_spark
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError, EvaluationError
from pendo_segments.health.config import HealthConfig
from pendo_segments.health.rules import mask
from pendo_segments.tiers import TierInputs, assign_tiers, load_policy
from pendo_segments.tiers.sql import tier_result

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

TIERS = """\
tiers:
  - {name: P1, accounts_per_csm: 15}
  - {name: P2, accounts_per_csm: 40}
  - {name: P3, accounts_per_csm: 150, pooled: true}
  - {name: Neighborhood, accounts_per_csm: 200, pooled: true}
renewal_risk: {within_days: 90, score_below: 60}
rules:
"""
#: leaf → the hand-made accounts it holds for, worked out by hand (None: pandas only).
#: Scores 38.875→38.9, 22.06→22.1, 0, 1.47→1.5, 97.79→97.8; renewals +60, +90, +91, -1, +14.
LEAVES: dict[str, list[str] | None] = {
    '{field: self_service, op: "=", value: true}': ["A1"],
    '{not: {field: self_service, op: "=", value: true}}': ["A2", "A3", "A4", "A5"],  # A3 unknown
    "{field: self_service, op: not_exists}": ["A3"],
    '{field: arr, op: ">", value: 15000}': ["A2", "A3", "A4", "A5"],
    '{field: arr, op: "<=", value: "15000.01"}': ["A1", "A2"],  # text read as a number
    '{field: arr, op: "!=", value: 50000}': ["A1", "A2", "A3", "A5"],
    "{field: plan, op: in, value: [Enterprise, Growth]}": ["A2", "A3", "A4", "A5"],
    "{field: plan, op: not_in, value: [Starter]}": ["A2", "A3", "A4", "A5"],
    "{field: plan, op: contains, value: rise}": ["A3", "A5"],
    '{field: plan, op: "=", value: Growth}': ["A2", "A4"],
    '{field: renewal_date, op: "<", value: "2026-12-01"}': ["A4", "A5"],
    '{field: renewal_date, op: in, value: ["2026-12-31", "2027-01-30"]}': ["A1", "A2"],
    "{field: contract_start, op: anniversary_within, value: 7}": ["A1"],  # A5: < 1 year
    "{field: contract_start, op: exists}": ["A1", "A2", "A3", "A5"],
    "{segment: at_risk}": ["A1", "A3"],
    "{segment: enterprise}": ["A3", "A5"],
    '{health: score, op: ">=", value: 38.9}': ["A1", "A5"],  # compared at 1 decimal
    '{health: score, op: "<", value: 22.1}': ["A3", "A4"],
    '{health: login_frequency, op: "=", value: 6.3}': ["A1", "A4"],  # 6.25 → 6.3
    "{health: nps, op: exists}": ["A1"],
    "{health: nps, op: not_exists}": ["A2", "A3", "A4", "A5"],
    '{health: support_tickets, op: "<=", value: 60}': ["A1", "A3", "A4"],
    '{health: core_feature_adoption, op: ">", value: 90}': ["A5"],
    "{signal: renewal_risk}": ["A1", "A2"],
    '{signal: days_since_last_login, op: ">", value: 20}': ["A1", "A4"],  # 27, 20, -, 30, 15
    "{signal: days_since_last_login, op: not_exists}": ["A3"],
    '{signal: sessions, op: ">=", value: 2}': ["A1", "A2", "A5"],
    '{signal: usage_growth, op: ">=", value: 0}': None,
    '{signal: renewal_in_days, op: "<=", value: 14}': ["A4", "A5"],
    '{signal: tickets, op: ">=", value: 5}': ["A3", "A4"],
    '{signal: nps_responses, op: "=", value: 2}': ["A1"],
    '{signal: nps, op: "<", value: 8}': ["A1"],
    '{signal: active_days, op: ">=", value: 3}': ["A2", "A5"],
    '{signal: feature_adoption, op: ">", value: 50}': ["A5"],
    '{signal: breadth, op: ">=", value: 20}': ["A1", "A5"],
    '{all: [{field: arr, op: ">", value: 15000}, {not: {segment: enterprise}}]}': ["A2", "A4"],
    '{any: [{health: score, op: "<", value: 1}, {signal: tickets, op: ">", value: 5}]}': [
        "A3",
        "A4",
    ],
}
#: leaves that hold for no sample account or for all of them
SAMPLE_TRIVIAL = {
    "{field: self_service, op: not_exists}",
    '{health: login_frequency, op: "=", value: 6.3}',
    '{field: arr, op: "!=", value: 50000}',
    "{field: contract_start, op: exists}",
}
#: the leaves as one policy, the most selective first so accounts spread over many rules
COMBINED = sorted(LEAVES, key=lambda leaf: len(LEAVES[leaf] or "abc"))
REASON = (
    "'{arr:,.0f} {plan} {renewal_date} {self_service} {score} {usage_growth:.1f} "
    "{days_since_last_login} {nps} {renewal_in_days}'"
)


@pytest.fixture(scope="module")
def defs():
    return load_definitions(SHIPPED_DEFS)


def policy_file(folder: Path, leaves: list[str], name: str = "tiers.yaml") -> Path:
    """One rule per leaf (tiers in turn, reasons with placeholders), then a catch-all."""
    tiers = ["P1", "P2", "P3", "Neighborhood"]
    rules = [
        f"  - {{tier: {tiers[i % 4]}, reason: {REASON}, when: {leaf}}}\n"
        for i, leaf in enumerate(leaves)
    ]
    path = folder / name
    path.write_text(TIERS + "".join(rules) + "  - {tier: P2, reason: 'rest {arr}'}\n", "utf-8")
    return path


def inputs_for(policy_path: Path, defs, overrides=None) -> TierInputs:
    return TierInputs(
        defs=SHIPPED_DEFS,
        policy=load_policy(policy_path),
        definitions=defs,
        health_config=HealthConfig(),
        overrides=overrides,
    )


def assert_same_tiers(got, expected) -> None:
    """The same table (tiers, reasons), rule per account, risk flags and capacity."""
    pd.testing.assert_frame_equal(got.frame(), expected.frame())
    for name in ("rule", "renewal_risk"):  # arrays are in each engine's account order
        g = pd.Series(getattr(got, name), index=got.account_ids).sort_index()
        e = pd.Series(getattr(expected, name), index=expected.account_ids).sort_index()
        assert g.tolist() == e.tolist(), name
    pd.testing.assert_frame_equal(got.capacity(), expected.capacity())


def leaf_members(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per leaf of the COMBINED policy: the accounts its own condition holds for (SQL)."""
    ids = frame["account_id"].astype(str)
    return {
        leaf: sorted(ids[frame[f"when_{i}"].fillna(False).astype(bool).to_numpy()])
        for i, leaf in enumerate(COMBINED)
    }


def pandas_leaf_members(result) -> dict[str, list[str]]:
    return {
        leaf: sorted(result.account_ids[mask(rule.when, result.facts)])
        for leaf, rule in zip(COMBINED, result.policy.rules, strict=False)
    }


def policy_rows(engine: str, data, inputs: TierInputs, as_of):
    """(per-account rows with each rule's own ``when_i``, the query) computed by ``engine``."""
    if engine == "duckdb":
        from pendo_segments.engines import open_engine
        from pendo_segments.tiers.run import engine_policy_rows

        with open_engine("duckdb", "frames", dataset=data) as duck:
            return engine_policy_rows(duck, inputs, as_of)
    from conformance.run import spark_over
    from pendo_segments.tiers.run import engine_policy_rows

    with spark_over(data) as spark:
        return engine_policy_rows(spark, inputs, as_of)


def engine_tiers(engine: str, data, inputs: TierInputs, as_of):
    """The TierResult of ``engine`` (raises the engine's policy errors)."""
    if engine == "pandas":
        return assign_tiers(data, inputs.policy, defs=inputs.definitions, as_of=as_of)
    frame, query = policy_rows(engine, data, inputs, as_of)
    return tier_result(frame, query, inputs.policy, inputs.health_config, inputs.overrides)


@pytest.mark.parametrize("data", ["handmade", "sample"])
def test_every_leaf_and_the_first_match_by_hand_and_like_pandas(
    engine: str, tmp_path: Path, defs, data: str
) -> None:
    ds, as_of = (dataset(), AS_OF) if data == "handmade" else (sample(), None)
    inputs = inputs_for(policy_file(tmp_path, COMBINED), defs)
    expected = assign_tiers(ds, inputs.policy, defs=defs, as_of=as_of)
    if engine == "pandas":
        members = pandas_leaf_members(expected)
    else:
        frame, query = policy_rows(engine, ds, inputs, as_of)
        got = tier_result(frame, query, inputs.policy, inputs.health_config, None)
        assert_same_tiers(got, expected)
        members = leaf_members(frame)
        assert members == pandas_leaf_members(expected)
    if data == "handmade":  # worked out by hand
        assert {k: v for k, v in members.items() if LEAVES[k] is not None} == {
            k: v for k, v in LEAVES.items() if v is not None
        }
        assert len(set(expected.rule.tolist())) >= 5  # accounts spread over many rules
    else:  # on the sample nearly every leaf splits the accounts
        trivial = {k for k, v in members.items() if not 0 < len(v) < len(expected.account_ids)}
        assert trivial == SAMPLE_TRIVIAL
        assert len(set(expected.rule.tolist())) >= 8


@pytest.mark.parametrize(
    "leaf, message",
    [
        (
            '{field: revenue, op: ">", value: 1}',
            "{f}:8: rules[0].when: no column 'revenue' in accounts",
        ),
        (
            '{all: [{segment: smb}, {field: plan, op: "=", value: 5}]}',
            "{f}:8: rules[0].when.all[1]: column is text; quote the value ('5') to compare as text",
        ),
        (
            '{field: self_service, op: ">", value: "true"}',
            "{f}:8: rules[0].when: op '>' cannot order true/false values",
        ),
        ("{segment: entreprise}", "{f}:8: rules[0].when: unknown segment 'entreprise'"),
    ],
)
def test_bad_policy_gives_the_pandas_one_line_error(
    engine: str, tmp_path: Path, defs, leaf, message
) -> None:
    path = policy_file(tmp_path, [leaf])
    inputs = inputs_for(path, defs)
    with pytest.raises((DefinitionError, EvaluationError)) as err:
        engine_tiers(engine, dataset(), inputs, AS_OF)
    assert str(err.value).startswith(message.format(f=path)), str(err.value)


def test_placeholder_of_a_missing_column_fails_like_pandas(
    engine: str, tmp_path: Path, defs
) -> None:
    path = tmp_path / "tiers.yaml"
    path.write_text(TIERS + "  - {tier: P2, reason: 'owner {csm}'}\n", "utf-8")
    with pytest.raises(DefinitionError) as err:
        engine_tiers(engine, dataset(), inputs_for(path, defs), AS_OF)
    assert str(err.value).startswith(f"{path}:8: rules[0].reason: unknown placeholder")


def test_shipped_policy_on_the_sample_with_overrides_and_previous(
    engine: str, tmp_path: Path
) -> None:
    skip_the_sample_on_spark(engine)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("account_id,tier,note\nacc-00003,P1,Strategic\nZZ,P3,\n", "utf-8")
    common = [
        "tiers",
        SHIPPED_DEFS,
        "--data",
        "sample",
        "--format",
        "csv",
        "--overrides",
        overrides,
    ]
    first = same_as_pandas("pandas", *common)
    previous = tmp_path / "previous.csv"
    previous.write_text(first.stdout.replace(",P2,", ",P3,", 20), "utf-8")  # some moves up
    capacity = tmp_path / "cap.csv"
    out = same_as_pandas(engine, *common, "--previous", previous, "--capacity", capacity)
    assert "Override: Strategic" in out.stdout and "up" in out.stdout
    assert capacity.read_text("utf-8").startswith("tier,")  # written by the engine's run last


def test_handmade_cli_tiers_with_previous_and_overrides(engine: str, tmp_path: Path) -> None:
    folder = write_folder(dataset(), tmp_path / "usage")
    previous = tmp_path / "previous.csv"
    previous.write_text("account_id,tier,reason\nA1,P1,x\nA2,P3,x\nA9,P1,x\n", "utf-8")
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("account_id,tier,note\nA5,P1,Strategic logo\n", "utf-8")
    args = [
        "tiers", SHIPPED_DEFS, "--data", folder, "--as-of", AS_OF, "--format", "csv",
        "--previous", previous, "--overrides", overrides,
    ]  # fmt: skip
    out = same_as_pandas(engine, *args)
    assert "renewal risk: renews 2027-01-30 (in 90 days) with health 22.1 < 60" in out.stdout
    assert "moves since" in out.stderr
