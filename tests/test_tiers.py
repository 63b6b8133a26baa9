"""Tier policy: first match wins, overrides, moves, renewal risk and capacity arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from health_handmade import AS_OF, dataset, sample

from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError, DefinitionError
from pendo_segments.tiers import assign_tiers, load_policy, read_overrides, read_previous
from pendo_segments.tiers.assign import removed_accounts
from pendo_segments.tiers.capacity import capacity_table, csms_needed, parse_ratios

ROOT = Path(__file__).resolve().parent.parent
DEFS = ROOT / "segment_defs"

TIERS_BLOCK = """\
tiers:
  - {name: P1, accounts_per_csm: 15}
  - {name: P2, accounts_per_csm: 40}
  - {name: P3, accounts_per_csm: 150, pooled: true}
  - {name: Neighborhood, accounts_per_csm: 200, pooled: true}
"""


@pytest.fixture(scope="module")
def defs():
    return load_definitions(DEFS)


@pytest.fixture(scope="module")
def shipped():
    return load_policy(DEFS / "tiers.yaml")


def policy_file(tmp_path: Path, rules: str, name: str = "tiers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(TIERS_BLOCK + "rules:\n" + rules, encoding="utf-8")
    return path


def by_account(result) -> dict[str, tuple[str, str]]:
    return {r.account_id: (r.tier, r.reason) for r in result.frame().itertuples()}


def test_shipped_policy_on_handmade_accounts(shipped, defs) -> None:
    # A1 self_service → Neighborhood; A3 ARR 200k → P1 (score 0, not "healthy");
    # A2 15000.01, A4 50k, A5 80k → mid-tier P2 (A5 is healthy but not expansion-ready:
    # 1 Data Explorer and 2 Path Reports clicks). Renewal risk: A1 (+60 d, 38.9) and
    # A2 (+90 d included, 22.1); A3 renews in 91 days, A4's date is past, A5 scores 97.8.
    got = by_account(assign_tiers(dataset(), shipped, defs=defs, as_of=AS_OF))
    assert got == {
        "A1": (
            "Neighborhood",
            "Prefers self-service (self_service = true); pooled Neighborhood "
            "team of named CSMs; renewal risk: renews 2026-12-31 (in 60 days) with health "
            "38.9 < 60",
        ),
        "A2": (
            "P2",
            "Mid-tier (ARR $15,000): CSM judgment decides between P1 and P3; renewal "
            "risk: renews 2027-01-30 (in 90 days) with health 22.1 < 60",
        ),
        "A3": ("P1", "Enterprise-level ARR ($200,000 >= $100,000): high value, high touch"),
        "A4": ("P2", "Mid-tier (ARR $50,000): CSM judgment decides between P1 and P3"),
        "A5": ("P2", "Mid-tier (ARR $80,000): CSM judgment decides between P1 and P3"),
    }


def test_first_match_wins_and_order_matters(tmp_path: Path, defs) -> None:
    big = '  - {tier: P1, reason: "big ({arr:,.0f})", when: {field: arr, op: ">=", value: 50000}}\n'
    ent = "  - {tier: P3, reason: enterprise plan, when: {segment: enterprise}}\n"
    rest = "  - {tier: P2, reason: the rest}\n"
    ds = dataset()
    first = assign_tiers(
        ds, load_policy(policy_file(tmp_path, big + ent + rest)), defs=defs, as_of=AS_OF
    )
    got = {k: v[0] for k, v in by_account(first).items()}
    # A3 (200k, Enterprise) and A5 (80k, Enterprise) match both rules; A4 (50k) only the first
    assert got == {"A1": "P2", "A2": "P2", "A3": "P1", "A4": "P1", "A5": "P1"}
    assert by_account(first)["A4"][1] == "big (50,000)"
    second = assign_tiers(
        ds, load_policy(policy_file(tmp_path, ent + big + rest, "b.yaml")), defs=defs, as_of=AS_OF
    )
    got = {k: v[0] for k, v in by_account(second).items()}
    assert got == {"A1": "P2", "A2": "P2", "A3": "P3", "A4": "P1", "A5": "P3"}
    assert list(second.rule) == [2, 2, 0, 1, 0]


def test_health_conditions_use_the_rounded_score(tmp_path: Path, defs) -> None:
    # A1 scores 38.875 → shown 38.9; a rule ">= 38.9" must agree with what users see
    rules = (
        "  - {tier: P1, reason: 'score {score}',\n"
        "     when: {health: score, op: '>=', value: 38.9}}\n"
        "  - {tier: P3, reason: low}\n"
    )
    result = assign_tiers(dataset(), load_policy(policy_file(tmp_path, rules)), as_of=AS_OF)
    got = by_account(result)
    assert got["A1"][0] == "P1" and got["A1"][1].startswith("score 38.9")
    assert got["A2"][0] == "P3"


def test_overrides_win_and_say_so(tmp_path: Path, shipped, defs) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(
        "account_id,tier,note\nA5,P1,Strategic logo\nA4,P3,\nZZ,P1,gone\n", encoding="utf-8"
    )
    overrides = read_overrides(path, shipped)
    result = assign_tiers(
        dataset(renewals=False), shipped, defs=defs, as_of=AS_OF, overrides=overrides
    )
    got = by_account(result)
    assert got["A5"] == (
        "P1",
        "Override: Strategic logo (policy said P2: Mid-tier (ARR "
        "$80,000): CSM judgment decides between P1 and P3)",
    )
    assert got["A4"] == (
        "P3",
        "Override, no note (policy said P2: Mid-tier (ARR $50,000): "
        "CSM judgment decides between P1 and P3)",
    )
    assert result.unknown_overrides == ["ZZ"]
    assert result.overridden.tolist() == [False, False, False, True, True]


def test_override_file_errors_name_row_and_column(tmp_path: Path, shipped) -> None:
    path = tmp_path / "o.csv"
    path.write_text("account_id,tier\nA1,P1\nA2,Neighbourhood\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_overrides(path, shipped)
    assert str(err.value) == (
        f"{path}: row 2, column tier: unknown tier 'Neighbourhood'; did you "
        "mean 'Neighborhood'? (tiers: P1, P2, P3, Neighborhood)"
    )
    path.write_text("account_id,tier\nA1,P1\nA1,P2\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"o.csv: row 2, column account_id: 'A1' appears twice "
        r"\(first at row 1\)$",
    ):
        read_overrides(path, shipped)
    path.write_text("account,tier\nA1,P1\n", encoding="utf-8")
    with pytest.raises(DataError, match="o.csv: missing required column 'account_id'$"):
        read_overrides(path, shipped)


def test_moves_against_a_previous_run(tmp_path: Path, shipped, defs) -> None:
    path = tmp_path / "previous.csv"
    path.write_text(
        "account_id,tier,reason\nA1,Neighborhood,x\nA2,P3,x\nA3,P2,x\nA4,P1,x\nA9,P1,x\n",
        encoding="utf-8",
    )
    previous = read_previous(path, shipped)
    result = assign_tiers(dataset(), shipped, defs=defs, as_of=AS_OF)
    frame = result.frame(previous)
    assert list(frame.columns) == ["account_id", "tier", "reason", "previous_tier", "move"]
    # now: A1 Neighborhood, A2 P2, A3 P1, A4 P2, A5 P2 (up = towards P1)
    assert frame[["account_id", "previous_tier", "move"]].fillna("").values.tolist() == [
        ["A1", "Neighborhood", "unchanged"],
        ["A2", "P3", "up"],
        ["A3", "P2", "up"],
        ["A4", "P1", "down"],
        ["A5", "", "new"],
    ]
    assert removed_accounts(result.account_ids, previous) == ["A9"]


def test_capacity_arithmetic(shipped) -> None:
    tier = np.array(["P1"] * 31 + ["P2"] * 40 + ["Neighborhood"] * 201, dtype=object)
    arr = np.array([100_000.0] * 31 + [20_000.0] * 40 + [5_000.0] * 200 + [np.nan])
    table = capacity_table(tier, arr, shipped)
    # ceil(31/15) = 3, 40/40 = 1, no P3 → 0, ceil(201/200) = 2
    assert table.values.tolist() == [
        ["P1", 31, 3_100_000.0, 15, False, 3],
        ["P2", 40, 800_000.0, 40, False, 1],
        ["P3", 0, 0.0, 150, True, 0],
        ["Neighborhood", 201, 1_000_000.0, 200, True, 2],
        ["Total", 272, 4_900_000.0, None, None, 6],
    ]
    table = capacity_table(tier, arr, shipped, parse_ratios(["P1=10", "Neighborhood=250"]))
    assert table["csms"].tolist() == [4, 1, 0, 1, 6]
    assert (csms_needed(45, 15), csms_needed(46, 15), csms_needed(0, 15)) == (3, 4, 0)


def test_bad_ratio_options(shipped) -> None:
    from pendo_segments.errors import ConfigError

    with pytest.raises(ConfigError, match=r"--ratio 'P1': expected TIER=ACCOUNTS_PER_CSM"):
        parse_ratios(["P1"])
    with pytest.raises(ConfigError, match=r"unknown tier 'P9'"):
        capacity_table(np.array([]), np.array([]), shipped, {"P9": 3.0})


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "  - {tier: P4, reason: x, when: {segment: smb}}\n  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0].tier: unknown tier 'P4' (tiers: P1, P2, P3, Neighborhood)",
        ),
        (
            "  - {tier: Neighbourhood, reason: x, when: {segment: smb}}\n  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0].tier: unknown tier 'Neighbourhood'; did you mean 'Neighborhood'? "
            "(tiers: P1, P2, P3, Neighborhood)",
        ),
        (
            "  - {tier: P1, reason: x}\n  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0]: only the last rule may leave out 'when' (rules after it could never "
            "match)",
        ),
        (
            "  - {tier: P1, reason: x, when: {segment: smb}}\n",
            "{f}:7: rules[0]: the last rule must have no 'when', so every account gets a tier "
            "(e.g. {{tier: P2, reason: CSM judgment}})",
        ),
        (
            "  - {tier: P1, reason: x, when: {health: scor, op: '<', value: 3}}\n"
            "  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0].when.health: unknown health value 'scor'; did you mean 'score'? (one of "
            "score, login_frequency, core_feature_adoption, breadth, nps, support_tickets)",
        ),
        (
            "  - tier: P1\n    reason: x\n    when:\n      all:\n        - {segment: smb}\n"
            "        - {feild: arr, op: '>', value: 3}\n  - {tier: P2, reason: y}\n",
            "{f}:12: rules[0].when.all[1]: a condition has exactly one of field / segment / health / "
            "signal / all / any / not; keys 'feild', 'op', 'value'; did you mean 'field'?",
        ),
        (
            "  - {tier: P1, reason: x, when: {tier: P2}}\n  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0].when.tier: 'tier' conditions are not available here (use field, "
            "segment, health, signal)",
        ),
        (
            "  - {tier: P1, reason: 'x {arr', when: {segment: smb}}\n  - {tier: P2, reason: y}\n",
            "{f}:7: rules[0].reason: bad placeholder in reason: expected '}}' before end of string "
            "(write {{{{ for a literal brace)",
        ),
    ],
)
def test_policy_errors_name_file_and_line(tmp_path: Path, rules: str, message: str) -> None:
    path = policy_file(tmp_path, rules)
    with pytest.raises(DefinitionError) as err:
        load_policy(path)
    assert str(err.value) == message.format(f=path)


def test_unknown_segment_and_placeholder_found_at_assignment(tmp_path: Path, defs) -> None:
    rules = (
        "  - {tier: P1, reason: x, when: {any: [{segment: smb}, {segment: entreprise}]}}\n"
        "  - {tier: P2, reason: y}\n"
    )
    path = policy_file(tmp_path, rules)
    with pytest.raises(DefinitionError) as err:
        assign_tiers(dataset(), load_policy(path), defs=defs, as_of=AS_OF)
    assert str(err.value) == (
        f"{path}:7: rules[0].when.any[1]: unknown segment 'entreprise'; did you mean 'enterprise'?"
    )
    path = policy_file(tmp_path, "  - {tier: P2, reason: 'owner {csm}'}\n")
    with pytest.raises(
        DefinitionError,
        match=r"tiers.yaml:7: rules\[0\].reason: unknown "
        r"placeholder '\{csm\}'",
    ):
        assign_tiers(dataset(), load_policy(path), as_of=AS_OF)


def test_every_sample_account_gets_exactly_one_tier(shipped, defs) -> None:
    ds = sample()
    result = assign_tiers(ds, shipped, defs=defs)
    frame = result.frame()
    assert len(frame) == len(ds.accounts) == frame["account_id"].nunique()
    assert set(frame["tier"]) == {"P1", "P2", "P3", "Neighborhood"}
    assert frame["reason"].str.len().min() > 10
    # every rule of the shipped policy fires except possibly the catch-all
    fired = set(pd.Series(result.rule).unique())
    assert {0, 2, 3, 4, 5} <= fired
    capacity = result.capacity()
    assert capacity.iloc[-1]["accounts"] == len(ds.accounts)
    # SMB accounts are P3 unless they prefer self-service
    smb = ds.accounts["arr"].to_numpy() <= 15000
    self_service = ds.accounts["self_service"].fillna(False).to_numpy(dtype=bool)
    assert set(result.tier[smb & ~self_service]) == {"P3"}
    assert set(result.tier[self_service]) == {"Neighborhood"}
