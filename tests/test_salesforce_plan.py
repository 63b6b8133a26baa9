"""``salesforce plan`` against the local stand-in org: only the changes, worked out by hand.

The world (tests/salesforce_standin.py): desired values from tests/health_handmade.py;
the org holds A1 with tier P3 (else equal), A2 blank, A3 and A5 equal, A4 with a stale
NPS of 8.0. So three Accounts change and two do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from click.testing import CliRunner
from salesforce_standin import (
    IDS,
    JANE,
    SAM,
    StandIn,
    config_text,
    environment,
    plan_args,
    seed,
    write_data,
)

from pendo_segments.cli import main
from pendo_segments.salesforce.org import id_chunks
from pendo_segments.salesforce.plan import load_plan, task_subject, to_field

ESCALATION = "Pendo: Health below 25 [escalation 2026-11-01]"
RENEWAL = "Pendo: Renewal within 90 days with health below 60 [renewal_risk 2026-11-01]"


def _env(org: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    config = tmp_path / "pendo-segments.toml"
    config.write_text(config_text(tmp_path / "state.sqlite", extra))
    for key, value in environment(org, config).items():
        monkeypatch.setenv(key, value)
    return write_data(tmp_path / "data")


def test_plan_lists_only_the_changes(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    data = _env(org, tmp_path, monkeypatch)
    plan_file = tmp_path / "plan.json"
    result = CliRunner().invoke(main, plan_args(data, "--out", str(plan_file), "--format", "json"))
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["write_with"] == "collections"
    assert summary["counts"] == {
        "updates": 3,
        "unchanged": 2,
        "tasks": 4,
        "cleared": 0,
        "skipped": 0,
    }
    assert [
        (u["account_id"], u["record_id"], u["values"], u["before"]) for u in summary["updates"]
    ] == [
        ("A1", IDS["A1"], {"Pendo_Tier__c": "Neighborhood"}, {"Pendo_Tier__c": "P3"}),
        (
            "A2",
            IDS["A2"],
            {
                "Pendo_Health_Score__c": 22.1,
                "Pendo_Tier__c": "P2",
                "Pendo_Last_Login__c": "2026-10-12",
                "Pendo_Feature_Adoption_Rate__c": 0.0,
                "Pendo_Session_Count_30d__c": 3,
                "Pendo_At_Risk__c": True,
            },
            dict.fromkeys(
                [
                    "Pendo_Health_Score__c",
                    "Pendo_Tier__c",
                    "Pendo_Last_Login__c",
                    "Pendo_Feature_Adoption_Rate__c",
                    "Pendo_Session_Count_30d__c",
                    "Pendo_At_Risk__c",
                ]
            ),  # NPS: none in 90 days and none in Salesforce, so unchanged
        ),
        ("A4", IDS["A4"], {"Pendo_NPS_Score__c": None}, {"Pendo_NPS_Score__c": 8.0}),
    ]
    # High alerts in alert order (escalation, renewal_risk), then account; A4's CSM
    # ("Neighborhood team") has no User Id, so its escalation gets no Task.
    assert [
        (t["account_id"], t["alert"], t["owner_id"], t["subject"], t["due"])
        for t in summary["tasks"]
    ] == [
        ("A2", "escalation", JANE, ESCALATION, "2026-11-04"),
        ("A3", "escalation", SAM, ESCALATION, "2026-11-04"),
        ("A1", "renewal_risk", JANE, RENEWAL, "2026-11-04"),
        ("A2", "renewal_risk", JANE, RENEWAL, "2026-11-04"),
    ]
    assert (
        "Warning: 1 high alert gets no Task: no Salesforce User Id for CSM 'Neighborhood team' (1); "
        "add them under [salesforce.owners] or set default_owner"
    ) in result.stderr.splitlines()
    saved = load_plan(plan_file)  # its id matches its content
    assert saved.plan_id == summary["plan_id"] and saved.instance_url == org.url
    assert [m for m, _ in org.log if m != "GET"] == []  # a plan writes nothing


def test_csv_rows_say_before_and_after(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    data = _env(org, tmp_path, monkeypatch)
    result = CliRunner().invoke(main, plan_args(data, "--format", "csv"))
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "type,target,action,detail"
    assert lines[1] == f"account,A1 {IDS['A1']},update,Pendo_Tier__c: P3 -> Neighborhood"
    assert lines[3] == f"account,A4 {IDS['A4']},update,Pendo_NPS_Score__c: 8.0 -> (empty)"
    assert lines[4] == f"task,A2 escalation,create,{ESCALATION}; owner {JANE}; due 2026-11-04"


def test_nothing_to_do_exits_0(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    data = _env(org, tmp_path, monkeypatch, "tasks = false")
    org.accounts[IDS["A1"]]["Pendo_Tier__c"] = "Neighborhood"
    org.accounts[IDS["A2"]].update(
        Pendo_Health_Score__c=22.1,
        Pendo_Tier__c="P2",
        Pendo_Last_Login__c="2026-10-12",
        Pendo_Feature_Adoption_Rate__c=0.0,
        Pendo_Session_Count_30d__c=3.0,
        Pendo_At_Risk__c=True,
    )
    org.accounts[IDS["A4"]]["Pendo_NPS_Score__c"] = None
    result = CliRunner().invoke(main, plan_args(data, "--format", "table"))
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("0 alerts cleared, 0 skipped\nNo changes.\n")


def test_numbers_compare_at_the_fields_decimal_places(
    org: StandIn, tmp_path: Path, monkeypatch
) -> None:
    """Health score as Number(3, 0): 38.9 is stored 39, 1.5 is 2, 97.8 is 98, 22.1 is 22."""
    data = _env(org, tmp_path, monkeypatch, "tasks = false")
    org.fields["Pendo_Health_Score__c"]["scale"] = 0
    for account, stored in (("A1", 39.0), ("A4", 2.0), ("A5", 98.0)):
        org.accounts[IDS[account]]["Pendo_Health_Score__c"] = stored
    result = CliRunner().invoke(main, plan_args(data, "--format", "json"))
    updates = {u["account_id"]: u["values"] for u in json.loads(result.stdout)["updates"]}
    assert "Pendo_Health_Score__c" not in updates["A1"]
    assert updates["A2"]["Pendo_Health_Score__c"] == 22
    assert set(updates) == {"A1", "A2", "A4"}


def test_salesforce_rounds_half_up() -> None:
    assert to_field(2.5, {"type": "double", "scale": 0}) == 3  # round() would say 2
    assert to_field(0.125, {"type": "percent", "scale": 2}) == 0.13  # round() says 0.12
    assert to_field(7.25, {"type": "double", "scale": 1}) == 7.3
    assert to_field(True, {"type": "boolean"}) is True
    assert to_field(None, {"type": "double", "scale": 1}) is None


def test_accounts_without_a_usable_record_are_listed(
    org: StandIn, tmp_path: Path, monkeypatch
) -> None:
    _env(org, tmp_path, monkeypatch)
    import pandas as pd
    from health_handmade import VALID_CRM, dataset, write_folder
    from salesforce_standin import CSMS

    ds = dataset(crm=[*VALID_CRM[:3], None, VALID_CRM[4]])  # A4: blank crm_id
    ds.accounts["csm_owner"] = pd.array(CSMS, dtype="string")
    data = write_folder(ds, tmp_path / "data2")
    del org.accounts[IDS["A5"]]  # deleted in Salesforce
    result = CliRunner().invoke(main, plan_args(data, "--format", "json"))
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == [
        {"account_id": "A4", "crm_id": "", "problem": "no crm_id"},
        {
            "account_id": "A5",
            "crm_id": "0015e00000EEEEE",
            "problem": "crm_id '0015e00000EEEEE' is not an Account in Salesforce "
            "(deleted, or not visible to this user)",
        },
    ]
    assert [u["account_id"] for u in summary["updates"]] == ["A1", "A2"]
    warnings = [line for line in result.stderr.splitlines() if "Warning: 2 accounts" in line]
    assert warnings == [
        "Warning: 2 accounts are not written (no usable crm_id, or not in Salesforce): A4, A5; "
        "see 'skipped' in the plan"
    ]
    assert "Warning: 1 high alert of accounts that are not written gets no Task" in result.stderr


def test_queries_are_split_to_stay_under_the_url_limit(
    org: StandIn, tmp_path: Path, monkeypatch
) -> None:
    from pendo_segments.salesforce import org as org_module

    data = _env(org, tmp_path, monkeypatch, "tasks = false")
    fields = "Id, Pendo_Health_Score__c, Pendo_Tier__c, Pendo_Last_Login__c, "
    fields += "Pendo_Feature_Adoption_Rate__c, Pendo_Session_Count_30d__c, Pendo_NPS_Score__c, "
    fields += "Pendo_At_Risk__c"
    prefix = f"SELECT {fields} FROM Account WHERE Id IN "
    # Room for the prefix, a 15-character id (%27 + 15 + %27 = 21), a comma (%2C = 3) and
    # an 18-character one (24). Sorted ids: AAAAA, BBBBBQAZ (18), CCCCC, DDDDD, EEEEE ->
    # [AAAAA, BBBBBQAZ] (48), [CCCCC, DDDDD] (45; EEEEE would make 69), [EEEEE].
    limit = len(quote_plus(prefix + "()")) + 21 + 3 + 24
    monkeypatch.setattr(org_module, "MAX_QUERY_URL", limit)
    result = CliRunner().invoke(main, plan_args(data, "--format", "json"))
    assert result.exit_code == 3, result.output
    account_queries = [q for q in org.queries if q.startswith(prefix)]
    assert len(account_queries) == 3
    assert all(len(quote_plus(q)) <= limit for q in account_queries)
    assert len(json.loads(result.stdout)["updates"]) == 3


def test_id_chunks_by_hand() -> None:
    prefix = "SELECT Id FROM X WHERE Id IN "  # 29 characters, spaces become '+': still 29
    ids = ["001000000000001", "001000000000002", "001000000000003"]
    # "()" -> %28%29 (6): 35; an id -> %27 + 15 + %27 = 21; a comma -> %2C = 3
    assert id_chunks(prefix, ids, 35 + 21) == [[i] for i in ids]
    assert id_chunks(prefix, ids, 35 + 21 + 3 + 21) == [ids[:2], ids[2:]]
    assert id_chunks(prefix, ids, 35 + 3 * 21 + 2 * 3) == [ids]


def test_query_pages_are_followed(tmp_path: Path, monkeypatch) -> None:
    org = StandIn(page_size=2)  # 5 Accounts come back as 2 + 2 + 1
    org.start(tmp_path)
    seed(org)
    try:
        data = _env(org, tmp_path, monkeypatch, "tasks = false")
        result = CliRunner().invoke(main, plan_args(data, "--format", "json"))
    finally:
        org.stop()
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["updates"] == 3 and summary["counts"]["unchanged"] == 2
    assert sum(1 for m, p in org.log if m == "GET" and "/query/01g" in p) == 2


def test_missing_field_is_one_line(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    data = _env(org, tmp_path, monkeypatch)
    del org.fields["Pendo_NPS_Score__c"]
    result = CliRunner().invoke(main, plan_args(data))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Salesforce Account has no field Pendo_NPS_Score__c: create it (README: "
        "Salesforce), or set the name under [salesforce.fields]; `pendo-segments salesforce "
        "check` lists every field"
    )


def test_renamed_and_skipped_fields(org: StandIn, tmp_path: Path, monkeypatch) -> None:
    org.fields["Health__c"] = {"type": "double", "scale": 1}
    org.accounts[IDS["A1"]]["Health__c"] = 10.0
    extra = 'tasks = false\n[salesforce.fields]\nhealth_score = "Health__c"\ntier = ""\n'
    data = _env(org, tmp_path, monkeypatch, extra)
    result = CliRunner().invoke(main, plan_args(data, "--format", "json"))
    updates = {u["account_id"]: u["values"] for u in json.loads(result.stdout)["updates"]}
    assert updates["A1"] == {"Health__c": 38.9}  # no tier: A1's P3 stays
    assert "Pendo_Tier__c" not in updates["A2"]


def test_subject_fits_salesforce() -> None:
    subject = task_subject("x" * 400, "escalation", "2026-11-01")
    assert len(subject) == 255 and subject.endswith(" [escalation 2026-11-01]")
