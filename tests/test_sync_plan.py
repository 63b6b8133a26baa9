"""``sync plan`` against the strict fake: every managed segment is a visitor list, diffs go
by PATCH or PUT (whichever is smaller), emptied lists, hand-built rule segments (drift),
duplicates, and the removed ``rule_segments`` setting.

Expected members come from tests/handmade.py (worked out by hand), expanded to visitors
with the hand-made visitor→account table below, not from the evaluator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handmade import EXPECTED

from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError, SyncError
from pendo_segments.sync import Plan, load_plan, load_sync_settings, make_plan, save_plan

#: tests/handmade.py visitors → accounts (x1's account "ghost" is not an account).
VISITORS = {
    "A1": ["a1v1", "a1v2"],
    "A2": ["a2v1", "a2v2"],
    "A3": ["a3v1"],
    "A4": ["a4v1"],
    "A5": ["a5v1"],
}


def expected_visitors(name: str) -> list[str]:
    """Members as visitors: account segments (ids A…) expanded to their visitors."""
    out: list[str] = []
    for member in EXPECTED[name]:
        out += VISITORS.get(member, [member])
    return sorted(out)


def plan_for(w: Any, **kwargs: Any) -> Plan:
    return make_plan(w.defs, w.ds, w.client, w.settings, as_of=w.as_of, **kwargs)


def by_name(plan: Plan) -> dict[str, Any]:
    return {s.name: s for s in plan.segments}


def test_every_segment_with_members_is_an_upload_of_its_visitors(sync_world: Any) -> None:
    plan = plan_for(sync_world, metadata=False)
    rows = by_name(plan)
    assert set(rows) == set(EXPECTED)
    for name in EXPECTED:
        want = expected_visitors(name)
        row = rows[name]
        if want:
            assert (row.action, row.visitors) == ("create", want), name
        else:  # Pendo needs at least one visitor: nothing is created
            assert row.action == "unchanged", name
            assert row.notes == ["no members: not created (Pendo needs at least one visitor)"]
    assert plan.problems == []


def test_update_is_a_patch_diff_or_a_put_whichever_is_smaller(sync_world: Any) -> None:
    fake = sync_world.fake
    # smb wants a1v1, a1v2: +a1v2 -a2v1 is 2 ids, the whole list is 2: PATCH
    fake.add_segment("[ps] smb", visitors=["a1v1", "a2v1"], created_by_api=True)
    # enterprise wants a3v1, a5v1: +2 -3 is 5 ids, the whole list is 2: PUT
    fake.add_segment("[ps] enterprise", visitors=["x1", "a2v1", "a4v1"], created_by_api=True)
    rows = by_name(plan_for(sync_world, names=["smb", "enterprise"], metadata=False))
    smb, ent = rows["smb"], rows["enterprise"]
    assert (smb.action, smb.method, smb.add, smb.remove) == ("update", "patch", ["a1v2"], ["a2v1"])
    assert (ent.action, ent.method, ent.add) == ("update", "put", ["a3v1", "a5v1"])
    assert ent.remove == ["a2v1", "a4v1", "x1"]


def test_a_list_that_empties_is_deleted_unless_a_guide_targets_it(sync_world: Any) -> None:
    fake = sync_world.fake
    sid = fake.add_segment("[ps] expansion_ready", visitors=["a1v1"], created_by_api=True)
    row = by_name(plan_for(sync_world, names=["expansion_ready"], metadata=False))[
        "expansion_ready"
    ]
    assert (row.action, row.segment_id, row.remove) == ("delete", sid, ["a1v1"])
    fake.add_guide("Upsell banner", segment_id=sid)
    plan = plan_for(sync_world, names=["expansion_ready"], metadata=False)
    row = by_name(plan)["expansion_ready"]  # with the segments it references
    assert row.action == "blocked" and plan.problems == [row]
    assert "guide Upsell banner targets it: stop or retarget it, then" in row.notes[0]


def test_duplicated_managed_name_blocks_the_row(sync_world: Any) -> None:
    fake = sync_world.fake
    first = fake.add_segment("[ps] smb", visitors=["a1v1"], created_by_api=True)
    second = fake.add_segment("[ps] smb", visitors=["a1v1"], created_by_api=True)
    plan = plan_for(sync_world, names=["smb"], metadata=False)
    (row,) = plan.segments
    assert row.action == "blocked" and plan.problems == [row]
    assert row.notes == [
        f"Pendo has 2 managed segments named '[ps] smb' (ids {first}, {second}); "
        "delete the extra ones in Pendo, then plan again"
    ]


def test_hand_built_rule_segment_is_compared_never_written(sync_world: Any) -> None:
    from pendo_segments.compile import compile_segments

    (smb,) = compile_segments(sync_world.defs, "pendo", names=["smb"])
    recipe = smb.output["definition"]
    # what a person entered from the recipe, as Pendo returns it (extra keys)
    entered = {
        "filters": [[{**row, "id": "r1", "isValid": True} for row in g] for g in recipe["filters"]]
    }
    fake = sync_world.fake
    sid = fake.add_segment(
        "[ps] smb", definition=entered, pipeline=[{"source": {"visitors": None}}]
    )
    (row,) = plan_for(sync_world, names=["smb"], metadata=False).segments
    assert (row.action, row.hand_built, row.changes) == ("unchanged", True, False)

    changed = json.loads(json.dumps(recipe).replace("15000", "20000"))
    fake.segments[sid]["definition"] = changed
    plan = plan_for(sync_world, names=["smb"], metadata=False)
    (row,) = plan.segments
    assert row.action == "drift" and plan.problems == [row]
    assert row.drift is not None and row.drift["removed"] and row.drift["added"]
    assert "20000" in row.drift["removed"][0] and "15000" in row.drift["added"][0]


def test_a_ui_list_under_a_managed_name_is_blocked(sync_world: Any) -> None:
    sync_world.fake.add_segment("[ps] smb", visitors=["a1v1"])  # uploaded by a person
    (row,) = plan_for(sync_world, names=["smb"], metadata=False).segments
    assert row.action == "blocked" and "not made through the API" in row.notes[0]


def test_plan_round_trips_and_refuses_edits_and_old_plans(sync_world: Any, tmp_path: Path) -> None:
    plan = plan_for(sync_world, names=["smb"])
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    assert load_plan(path).to_dict() == plan.to_dict()
    raw = json.loads(path.read_text())
    raw["segments"][0]["visitors"].append("intruder")
    path.write_text(json.dumps(raw))
    with pytest.raises(SyncError, match="edited after it was made"):
        load_plan(path)
    raw["version"] = 1
    path.write_text(json.dumps(raw))
    with pytest.raises(SyncError, match="not a pendo-segments plan of version 2"):
        load_plan(path)


def test_rule_segments_setting_is_gone_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "pendo-segments.toml"
    config.write_text("[sync]\nrule_segments = true\n")
    with pytest.raises(ConfigError) as err:
        load_sync_settings(load_config(config, env={}))
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{config}: [sync].rule_segments: this setting was removed: ")
    assert "visitor list" in str(err.value)


def test_app_ids_and_timezone_reach_the_sync_settings(tmp_path: Path) -> None:
    config = tmp_path / "pendo-segments.toml"
    config.write_text('[pendo]\napp_ids = [123]\ntimezone = "America/New_York"\n')
    settings = load_sync_settings(load_config(config, env={}))
    assert (settings.app_ids, settings.timezone) == (("123",), "America/New_York")
