"""``sync plan`` against the fake Pendo holding the hand-made data (tests/handmade.py).

Memberships come from the hand-made table (its EXPECTED dictionary was worked
out by hand); builder rows are written out from the shipped YAML by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handmade import EXPECTED

from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError, SyncError
from pendo_segments.pendo.api_shapes import RULE_SEGMENTS_UNVERIFIED
from pendo_segments.sync import Plan, SyncSettings, load_plan, load_sync_settings, make_plan
from pendo_segments.sync.plan import save_plan

SMB_ROW = {
    "name": "arr",
    "kind": "account",
    "schema": "number",
    "group": "agent",
    "field": "arr",
    "operator": "<=",
    "value": 15000,
}
ENTERPRISE_ROW = {
    "name": "plan",
    "kind": "account",
    "schema": "string",
    "group": "agent",
    "field": "plan",
    "operator": "==",
    "value": "Enterprise",
}
LISTS = {"anniversary", "contract_anniversary", "expansion_ready"}  # anniversary_within, not


def plan_for(w: Any, **kwargs: Any) -> Plan:
    kwargs.setdefault("as_of", w.as_of)
    return make_plan(w.defs, w.ds, w.client, kwargs.pop("settings", w.settings), **kwargs)


def by_name(plan: Plan) -> dict[str, Any]:
    return {s.name: s for s in plan.segments}


# -- creates ------------------------------------------------------------------------------
def test_first_plan_creates_every_segment_and_all_metadata(sync_world: Any) -> None:
    plan = plan_for(sync_world)
    segs = by_name(plan)
    assert set(segs) == set(EXPECTED) | {"expansion_ready", "contract_anniversary"}
    assert {s.action for s in plan.segments} == {"create"}
    assert {n for n, s in segs.items() if s.mode == "list"} == LISTS
    assert segs["smb"].pendo_name == "[ps] smb"
    assert segs["smb"].definition == {"filters": [[SMB_ROW]]}
    # account segments are uploaded as their accounts' visitors (A1 has a1v1 and a1v2)
    assert segs["contract_anniversary"].visitors == ["a1v1", "a1v2"]
    assert segs["anniversary"].visitors == ["a1v1", "x1"]
    assert segs["expansion_ready"].visitors == []
    assert segs["anniversary"].detail() == "+2 visitors (list of 2)"
    assert "anniversary_within" in segs["anniversary"].notes[0]
    assert RULE_SEGMENTS_UNVERIFIED in plan.notes
    updates = {u["accountId"]: u["values"] for u in plan.metadata_updates}
    assert updates == {
        "A1": {"plan": "Starter"},
        "A2": {"plan": "Growth"},
        "A3": {"plan": "Enterprise"},
        "A4": {"plan": "Growth"},
        "A5": {"plan": "Enterprise"},
    }
    assert plan.change_count == 18 + 5 and plan.has_changes


def test_references_come_after_what_they_reference(sync_world: Any) -> None:
    plan = plan_for(sync_world, names=["at_risk_enterprise"], metadata=False)
    assert [s.name for s in plan.segments] == ["at_risk", "enterprise", "at_risk_enterprise"]
    assert plan.segments[2].refs == ["at_risk", "enterprise"]
    assert plan.metadata is None


# -- updates and no-ops -----------------------------------------------------------------
def test_rule_update_shows_the_rule_diff(sync_world: Any) -> None:
    old = {**SMB_ROW, "value": 20000, "id": "row-1", "isValid": True}  # Pendo adds keys
    sync_world.fake.add_segment(
        "[ps] smb", definition={"filters": [[old]]}, created_by_api=True, segment_id="S1"
    )
    change = by_name(plan_for(sync_world, names=["smb"], metadata=False))["smb"]
    assert (change.action, change.segment_id) == ("update", "S1")
    assert change.rule_diff == {"removed": ["arr <= 20000"], "added": ["arr <= 15000"]}
    assert change.detail() == "- arr <= 20000; + arr <= 15000"


def test_same_rule_is_unchanged_even_with_extra_keys_from_pendo(sync_world: Any) -> None:
    row = {**ENTERPRISE_ROW, "id": "r9", "isValid": True}
    sync_world.fake.add_segment(
        "[ps] enterprise", definition={"filters": [[row]]}, created_by_api=True
    )
    plan = plan_for(sync_world, names=["enterprise"], metadata=False)
    assert plan.segments[0].action == "unchanged" and not plan.has_changes


def test_reference_by_id_in_pendo_matches_reference_by_name(sync_world: Any) -> None:
    fake = sync_world.fake
    fake.add_segment(
        "[ps] enterprise",
        definition={"filters": [[ENTERPRISE_ROW]]},
        created_by_api=True,
        segment_id="E1",
    )
    ref = {"name": "Segment", "kind": "segment", "operator": "in"}
    at_risk = plan_for(sync_world, names=["at_risk"], metadata=False).segments[0].definition
    fake.add_segment("[ps] at_risk", definition=at_risk, created_by_api=True, segment_id="R1")
    fake.add_segment(
        "[ps] at_risk_enterprise",
        created_by_api=True,
        definition={
            "filters": [
                [{**ref, "segmentId": "R1", "segmentName": "[ps] at_risk"}],
                [{**ref, "segmentId": "E1", "segmentName": "whatever Pendo calls it"}],
            ]
        },
    )
    plan = plan_for(sync_world, names=["at_risk_enterprise"], metadata=False)
    assert [s.action for s in plan.segments] == ["unchanged"] * 3


def test_list_update_counts_added_and_removed_visitors(sync_world: Any) -> None:
    sync_world.fake.add_segment(
        "[ps] anniversary", visitors=["a1v1", "a2v1", "a3v1"], created_by_api=True, segment_id="L1"
    )
    change = by_name(plan_for(sync_world, names=["anniversary"], metadata=False))["anniversary"]
    assert (change.action, change.added, change.removed) == ("update", 1, 2)
    assert (change.added_sample, change.removed_sample) == (["x1"], ["a2v1", "a3v1"])
    assert change.detail() == "+1 / -2 visitors (list of 2)"


def test_visitors_pendo_does_not_know_are_left_out_with_a_warning(sync_world: Any) -> None:
    del sync_world.fake.visitors["x1"]
    plan = plan_for(sync_world, names=["anniversary"], metadata=False)
    assert plan.segments[0].visitors == ["a1v1"]
    assert plan.warnings == [
        "segment 'anniversary': 1 member visitor(s) are not in Pendo and "
        "are left out of the uploaded list"
    ]


# -- what is not ours -------------------------------------------------------------------
def test_unmanaged_segments_are_counted_and_orphans_listed(sync_world: Any) -> None:
    fake = sync_world.fake
    fake.add_segment("smb", definition={"filters": [[SMB_ROW]]})  # same name, no prefix
    fake.add_segment("VIP customers", visitors=["a1v1"], created_by_api=True)
    fake.add_segment("[ps] retired_segment", visitors=["a1v1"], created_by_api=True)
    plan = plan_for(sync_world, names=["smb"], metadata=False)
    assert plan.unmanaged == ["VIP customers", "smb"]
    assert [s.action for s in plan.segments] == ["create"]
    assert plan.orphans == ["[ps] retired_segment"]
    assert plan.warnings == [
        "managed segment '[ps] retired_segment' is no longer defined; it is left in Pendo "
        "(no delete through the API): remove it in Pendo if unused"
    ]


def test_description_tag_marks_managed_segments_too(sync_world: Any) -> None:
    settings = SyncSettings(
        managed_prefix="[ps] ", managed_tag="#pendo-segments", metadata_fields=()
    )
    sid = sync_world.fake.add_segment("Old name", visitors=[], created_by_api=True)
    sync_world.fake.segments[sid]["description"] = "made by #pendo-segments"
    plan = plan_for(sync_world, names=["smb"], settings=settings)
    assert plan.orphans == ["Old name"] and plan.unmanaged == []
    assert plan.segments[0].description == "SMB accounts #pendo-segments"


def test_duplicate_managed_segments_block_that_segment(sync_world: Any) -> None:
    for sid in ("D1", "D2"):
        sync_world.fake.add_segment(
            "[ps] smb", definition={"filters": [[SMB_ROW]]}, created_by_api=True, segment_id=sid
        )
    change = plan_for(sync_world, names=["smb"], metadata=False).segments[0]
    assert change.action == "blocked" and not change.changes
    assert change.notes == [
        "Pendo has 2 managed segments named '[ps] smb' (ids D1, D2); "
        "delete the extra ones in Pendo, then plan again"
    ]


def test_a_rule_segment_cannot_become_a_list(sync_world: Any) -> None:
    sync_world.fake.add_segment(
        "[ps] smb", definition={"filters": [[SMB_ROW]]}, created_by_api=True
    )
    settings = SyncSettings(rule_segments=False, metadata_fields=())
    change = plan_for(sync_world, names=["smb"], settings=settings).segments[0]
    assert change.action == "blocked"
    assert change.notes[0].startswith(
        "'[ps] smb' is a rule segment in Pendo but is now planned as a visitor list"
    )


def test_rule_segments_off_uploads_everything_as_lists(sync_world: Any) -> None:
    settings = SyncSettings(rule_segments=False, metadata_fields=())
    plan = plan_for(sync_world, names=["smb"], settings=settings)
    assert plan.segments[0].mode == "list"
    assert plan.segments[0].visitors == ["a1v1", "a1v2"]  # smb = A1 (15000 is included)
    assert RULE_SEGMENTS_UNVERIFIED not in plan.notes


# -- guides -----------------------------------------------------------------------------
def test_guide_on_a_usage_rule_segment_gets_a_warning(sync_world: Any) -> None:
    at_risk = plan_for(sync_world, names=["at_risk"], metadata=False).segments[0].definition
    sid = sync_world.fake.add_segment("[ps] at_risk", definition=at_risk, created_by_api=True)
    sync_world.fake.add_guide("Win-back lightbox", segment_id=sid)
    plan = plan_for(
        sync_world, names=["at_risk", "smb"], metadata=False, local_guides={"smb_banner": ["smb"]}
    )
    assert plan.warnings == [
        "segment 'at_risk' is used by guide(s) Win-back lightbox; Pendo may not allow it for "
        "guide targeting: 'Number of days active' is a usage count Pendo limits in guide "
        "targeting (and is counted per account here); 'Time on site' is a usage count Pendo "
        "limits in guide targeting (and is counted per account here)"
    ]


def test_guide_warning_follows_segment_references(sync_world: Any) -> None:
    plan = plan_for(
        sync_world,
        names=["at_risk_enterprise"],
        metadata=False,
        local_guides={"escalation": ["at_risk_enterprise"]},
    )
    assert len(plan.warnings) == 1
    assert plan.warnings[0].startswith(
        "segment 'at_risk_enterprise' is used by guide(s) escalation (guides.yaml); Pendo may "
        "not allow it for guide targeting: via segment 'at_risk': 'Number of days active'"
    )


# -- metadata ---------------------------------------------------------------------------
def test_metadata_diff_skips_equal_values_and_lists_unknown_accounts(sync_world: Any) -> None:
    fake = sync_world.fake
    fake.accounts["A1"]["metadata"]["custom"]["plan"] = "Starter"
    fake.accounts["A2"]["metadata"]["custom"]["plan"] = "Legacy"
    del fake.accounts["A5"]
    meta = plan_for(sync_world, segments=False).metadata
    assert meta is not None
    assert [(u["accountId"], u["before"], u["values"]) for u in meta["updates"]] == [
        ("A2", {"plan": "Legacy"}, {"plan": "Growth"}),
        ("A3", {"plan": None}, {"plan": "Enterprise"}),
        ("A4", {"plan": None}, {"plan": "Growth"}),
    ]
    assert (meta["unchanged"], meta["unknown"]) == (1, ["A5"])
    assert meta["changed_per_field"] == {"plan": 3}


def test_numbers_compare_as_pendo_returns_them(sync_world: Any) -> None:
    for aid, arr in (
        ("A1", 15000),
        ("A2", "15000.01"),
        ("A3", 200000.0),
        ("A4", 50000),
        ("A5", 80000),
    ):
        sync_world.fake.accounts[aid]["metadata"]["custom"]["arr"] = arr
    settings = SyncSettings(metadata_fields=("arr",))
    assert plan_for(sync_world, segments=False, settings=settings).metadata_updates == []


def test_unknown_metadata_field_is_an_error(sync_world: Any) -> None:
    settings = SyncSettings(metadata_fields=("tierz",))
    with pytest.raises(
        SyncError,
        match="metadata_fields: 'tierz' is neither tier, health_score nor an accounts column",
    ):
        plan_for(sync_world, segments=False, settings=settings)


def test_default_fields_push_tier_and_health_score(sync_world: Any) -> None:
    plan = plan_for(sync_world, segments=False, settings=SyncSettings())
    values = {u["accountId"]: u["values"] for u in plan.metadata_updates}
    assert sorted(values) == ["A1", "A2", "A3", "A4", "A5"]
    for v in values.values():
        assert v["tier"] in {"P1", "P2", "P3", "Neighborhood"}
        assert 0 <= v["health_score"] <= 100


# -- the plan file ----------------------------------------------------------------------
def test_plan_file_round_trips_and_refuses_edits(sync_world: Any, tmp_path: Path) -> None:
    plan = plan_for(sync_world)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    again = load_plan(path)
    assert again == plan and again.plan_id == plan.plan_id
    raw = json.loads(path.read_text())
    raw["metadata"]["updates"][0]["values"]["plan"] = "Enterprise"
    path.write_text(json.dumps(raw))
    with pytest.raises(SyncError, match="the plan was edited after it was made"):
        load_plan(path)
    path.write_text('{"version": 99}')
    with pytest.raises(SyncError, match="not a pendo-segments plan"):
        load_plan(path)


def test_summary_is_json_without_member_lists(sync_world: Any) -> None:
    summary = plan_for(sync_world).summary()
    json.dumps(summary)
    assert summary["counts"] == {
        "create": 18,
        "update": 0,
        "unchanged": 0,
        "blocked": 0,
        "metadata_updates": 5,
        "unmanaged": 0,
    }
    ann = next(s for s in summary["segments"] if s["name"] == "anniversary")
    assert (ann["visitors"], ann["added_sample"]) == (2, ["a1v1", "x1"])
    assert summary["metadata"]["updates"] == 5


# -- settings ---------------------------------------------------------------------------
def _settings_from(tmp_path: Path, text: str) -> SyncSettings:
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text)
    return load_sync_settings(load_config(path, env={}))


def test_settings_read_the_sync_table(tmp_path: Path) -> None:
    s = _settings_from(
        tmp_path,
        '[pendo]\nmanaged_prefix = "cs: "\n[sync]\nmetadata_fields = ["tier"]\nbatch_size = 2\n',
    )
    assert (s.managed_prefix, s.metadata_fields, s.batch_size) == ("cs: ", ("tier",), 2)
    assert s.pendo_name("smb") == "cs: smb" and s.local_name("cs: smb") == "smb"


@pytest.mark.parametrize(
    "table, message",
    [
        ('managed_prefix = ""', "managed_prefix and managed_tag are both empty"),
        ("batch_size = 0", "batch_size must be a whole number >= 1, got 0"),
        ('metadata_fields = "tier"', "metadata_fields must be a list of field names"),
    ],
)
def test_settings_errors_name_the_key(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _settings_from(tmp_path, f"[sync]\n{table}\n")
    assert str(err.value).startswith(f"{tmp_path / 'pendo-segments.toml'}: [sync]: {message}")


def test_misspelt_sync_key_says_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _settings_from(tmp_path, "[sync]\nbatch_sise = 3\n")
    assert str(err.value) == (
        f"{tmp_path / 'pendo-segments.toml'}: unknown key "
        "[sync].batch_sise (did you mean 'batch_size'?)"
    )
