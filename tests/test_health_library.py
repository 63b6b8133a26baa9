"""The tiers / alerts / export steps as library calls: what the CLI, demo and sync share."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from health_handmade import AS_OF, dataset

from pendo_segments.errors import DefinitionError
from pendo_segments.export import export_for_salesforce, read_crm_ids
from pendo_segments.tiers.alerts import alert_inputs, alert_notes, alerts_for_view, check_alerts
from pendo_segments.tiers.run import policy_for, run_tiers, tier_inputs
from pendo_segments.tiers.view import account_view

DEFS = Path(__file__).resolve().parent.parent / "segment_defs"


def test_run_tiers_notes_moves_and_renewal_risk(tmp_path: Path) -> None:
    previous = tmp_path / "before.csv"
    # A1 was P1 (now Neighborhood: down), A3 was P2 (now P1: up), A9 is gone; A2, A4, A5 new.
    previous.write_text("account_id,tier\nA1,P1\nA3,P2\nA9,P3\n", encoding="utf-8")
    run = run_tiers(dataset(), tier_inputs(DEFS, previous=previous), as_of=AS_OF)
    assert run.frame.set_index("account_id")["move"].to_dict() == {
        "A1": "down",
        "A2": "new",
        "A3": "up",
        "A4": "new",
        "A5": "new",
    }
    assert run.notes == [
        f"moves since {previous}: 1 up, 1 down, 0 unchanged, 3 new; 1 no longer in the data (A9)",
        "2 accounts flagged as renewal risk (see the reason column)",
    ]
    assert run.capacity.iloc[-1]["accounts"] == 5


def test_missing_policy_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r": no tiers.yaml tier policy \(or pass --policy"):
        policy_for(tmp_path)
    assert policy_for(tmp_path, required=False) is None


def test_check_alerts_matches_the_demo_path() -> None:
    ds = dataset()
    result = check_alerts(ds, alert_inputs(DEFS), as_of=AS_OF)
    view = account_view(ds, DEFS, as_of=AS_OF)
    via_view = alerts_for_view(ds, DEFS, view)
    assert via_view is not None
    pd.testing.assert_frame_equal(result.rows, via_view.rows)
    # 3 escalations, 2 renewal risks, 1 at-risk, 1 no-login (see test_alerts by hand)
    assert alert_notes(result)[-1] == "3 escalation, 2 renewal_risk, 1 at_risk, 1 no_login_p1"


def test_alerts_need_rules(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "title: X\nsubject: account\nrule: {field: arr, op: '>', value: 1}\n", encoding="utf-8"
    )
    with pytest.raises(DefinitionError, match=r": no alerts.yaml alert rules \(or pass --rules"):
        alert_inputs(tmp_path)


def test_salesforce_flag_is_the_at_risk_condition_not_the_replaced_task() -> None:
    result = export_for_salesforce(dataset(), DEFS, as_of=AS_OF)
    accounts = dataset().accounts.set_index("crm_id")["account_id"].to_dict()
    flags = {
        accounts.get(k, k): v
        for k, v in zip(result.rows["crm_id"], result.rows["Pendo_At_Risk_Flag__c"], strict=True)
    }
    # score < 40 for A1 (38.9), A2 (22.1), A3 (0), A4 (1.5); A5 scores 97.8. Escalation
    # replaced the at-risk task of A2-A4, but they are still at risk.
    for account, flag in flags.items():
        assert bool(flag) == (account in {"A1", "A2", "A3", "A4"}), account


def test_crm_ids_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("Name,Id\nx,001A\ny, 001B \nz,\n", encoding="utf-8")
    assert read_crm_ids(path) == ["001A", "001B"]
