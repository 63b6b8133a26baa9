"""Who is eligible and why: the derived segment, static rules, opt-out files, state rules."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from campaign_world import AS_OF, World

from pendo_segments.campaign.eligibility import derive_segment, find_candidates, make_plan
from pendo_segments.campaign.optout import OptOuts, load_opt_outs
from pendo_segments.campaign.state import OutboxRow
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import ConfigError
from pendo_segments.shipped import shipped_path


@pytest.fixture(scope="module")
def defs():  # noqa: ANN201
    return load_definitions(shipped_path("segment_defs"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World.create(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def ds(world: World):  # noqa: ANN201
    return world.dataset()


def candidates(ds, defs, world: World, tiers=None, **settings):  # noqa: ANN001, ANN201
    cfg = world.settings(**settings)
    tiers = tiers or {"A1": "P2", "A2": "P3"}
    return find_candidates(
        ds, defs, cfg, AS_OF, tiers=tiers, opt_outs=load_opt_outs(cfg.opt_out_file)
    )


def test_the_window_is_a_derived_definition(defs) -> None:  # noqa: ANN001
    base = defs.get("no_login_30d")
    derived = derive_segment(base, 45)
    assert derived.name == "no_login_45d"
    assert derived.rule.all[0].value == 45 and derived.rule.all[0].op == ">"
    assert base.rule.all[0].value == 30  # the loaded definition is untouched
    assert derive_segment(base, 30).name == "no_login_30d"


def test_a_segment_without_a_last_visit_threshold_cannot_drive_the_campaign(defs) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="segment 'healthy' cannot drive the no-login campaign"):
        derive_segment(defs.get("healthy"), 30)


def test_window_45_takes_only_visitors_gone_more_than_45_days(ds, defs, world: World) -> None:  # noqa: ANN001
    found = candidates(ds, defs, world, window_days=45)
    assert found.segment == "no_login_45d"
    # last active 09-15 → 47 days; 09-20 → 42 (out); 09-01 → 61
    assert [c.visitor_id for c in found.items] == ["v_en", "v_excl", "v_noemail", "v_optout"]
    assert [c.lapse_day for c in found.items][0] == dt.date(2026, 9, 15)


def test_static_reasons_in_order(ds, defs, world: World) -> None:  # noqa: ANN001
    found = candidates(ds, defs, world, exclude_tiers=frozenset({"P3"}))
    skips = {c.visitor_id: c.skip for c in found.items}
    assert skips == {
        "v_edge31": None,
        "v_en": None,
        "v_ja": None,
        "v_excl": "excluded account: A2",  # account rule comes before tier
        "v_noemail": "no email address",
        "v_optout": "opted out",
    }
    by_tier = candidates(
        ds, defs, world, exclude_accounts=frozenset(), exclude_tiers=frozenset({"P3"})
    )
    assert {c.visitor_id: c.skip for c in by_tier.items}["v_excl"] == (
        "excluded tier P3: for the CSM (alert p3_lapsed_visitors)"
    )


def test_minimum_tenure(ds, defs, world: World) -> None:  # noqa: ANN001
    # everyone's first active day is 2026-08-20: 73 days before 11-01
    assert all(
        c.skip is None or "tenure" not in c.skip
        for c in candidates(ds, defs, world, min_tenure_days=73).items
    )
    short = candidates(ds, defs, world, min_tenure_days=74).items
    assert {c.visitor_id: c.skip for c in short}[
        "v_en"
    ] == "tenure too short: first visit 73 days ago (minimum 74)"


def test_tier_exclusion_without_tiers_is_a_config_error(ds, defs, world: World) -> None:  # noqa: ANN001
    cfg = world.settings(tiers_file=None)  # P1 is excluded by default
    with pytest.raises(ConfigError) as err:
        find_candidates(ds, defs, cfg, AS_OF, tiers=None, opt_outs=OptOuts())
    assert str(err.value) == (
        "campaign.no_login.exclude_tiers (P1; P1 unless set) needs account tiers: a tiers.yaml "
        "policy in the definitions folder, or campaign.no_login.tiers_file; set "
        "exclude_tiers = [] to email every tier"
    )
    # an explicit empty list: every tier is emailed and no tiers are needed
    assert find_candidates(
        ds, defs, world.settings(exclude_tiers=frozenset()), AS_OF, tiers=None, opt_outs=OptOuts()
    ).items


def test_p1_is_excluded_by_default_and_comes_before_the_other_reasons(
    ds,  # noqa: ANN001
    defs,  # noqa: ANN001
    world: World,
) -> None:
    found = candidates(ds, defs, world, tiers={"A1": "P1", "A2": "P3"})
    p1 = "excluded tier P1: for the CSM (alert p1_lapsed_visitors)"
    assert {c.visitor_id: c.skip for c in found.items} == {
        "v_edge31": p1,
        "v_en": p1,
        "v_ja": p1,
        "v_excl": "excluded account: A2",
        "v_noemail": p1,  # the tier rule comes before "no email address"
        "v_optout": p1,  # ... and before "opted out", which the CSM alert still says
    }
    assert [c.visitor_id for c in found.items if c.opted_out] == ["v_optout"]


def test_lapsed_longer_than_max_days_is_not_emailed(ds, defs, world: World) -> None:  # noqa: ANN001
    # last active: v_edge31 31 days ago, v_ja 42, v_en 47, v_optout and v_noemail 61
    found = candidates(ds, defs, world, max_days_lapsed=46)
    assert {c.visitor_id: c.skip for c in found.items} == {
        "v_edge31": None,
        "v_ja": None,
        "v_en": "lapsed over 46 days: last visit 47 days ago",
        "v_excl": "excluded account: A2",
        "v_noemail": "lapsed over 46 days: last visit 61 days ago",
        "v_optout": "lapsed over 46 days: last visit 61 days ago",
    }
    at_the_limit = candidates(ds, defs, world, max_days_lapsed=47)  # 47 is not over 47
    assert {c.visitor_id: c.skip for c in at_the_limit.items}["v_en"] is None


def test_csm_alert_for_the_excluded_tier(ds, defs, world: World) -> None:  # noqa: ANN001
    from pendo_segments.campaign.csm_alerts import CSM_ALERT_COLUMNS, csm_alerts

    found = candidates(ds, defs, world, tiers={"A1": "P1", "A2": "P3"})
    alerts = csm_alerts(found, world.settings(), {"A1": 35.5})
    # A1's five lapsed visitors (v_excl is an excluded account, not a tier skip), most
    # recent lapse first; accounts.csv gives A1's CSM
    assert alerts == [
        {
            "account_id": "A1",
            "alert": "p1_lapsed_visitors",
            "severity": "medium",
            "tier": "P1",
            "health_score": 35.5,
            "action": "CSM reaches out to these users personally; the no-login campaign "
            "does not email P1 accounts",
            "signals": "5 users without a login for over 30 days: "
            "Eddie Edge <edge31@acme.example>, 31 days; "
            "山田 葵 <ja@acme.example>, 42 days; "
            "Emma Stone <en@acme.example>, 47 days; "
            "Nora None, 61 days, no email address; "
            "Otto Out <OptOut@acme.example>, 61 days, opted out of campaign email",
            "csm_owner": "Casey CSM",
            "visitors": 5,
            "visitor_ids": "v_edge31 v_ja v_en v_noemail v_optout",
        }
    ]
    assert list(alerts[0]) == CSM_ALERT_COLUMNS
    assert csm_alerts(candidates(ds, defs, world), world.settings()) == []  # A1 is P2 here


def test_opt_out_files(tmp_path: Path) -> None:
    plain = tmp_path / "optout.txt"
    plain.write_text("v-1\n  Someone@Example.COM  # asked on the phone\n\n# comment\n")
    opts = load_opt_outs(plain)
    assert ("v-1", None) in opts and ("v-2", "someone@example.com") in opts
    assert ("v-2", "other@example.com") not in opts
    table = tmp_path / "optout.csv"
    table.write_text("email,visitor_id,date\nA@B.example,,2026-01-01\n,v-9,\n")
    opts = load_opt_outs(table)
    assert (opts.visitor_ids, opts.emails) == ({"v-9"}, {"a@b.example"})
    table.write_text("email,visitor_id\na@b.example\n")
    with pytest.raises(ConfigError, match=r"optout.csv: row 1: expected 2 columns, got 1"):
        load_opt_outs(table)
    with pytest.raises(ConfigError, match=r"nope.txt: opt-out file not found"):
        load_opt_outs(tmp_path / "nope.txt")


_IDS = itertools.count(1)


def _row(visitor: str, lapse: dt.date, state: str, attempts: int = 0) -> OutboxRow:
    return OutboxRow(
        id=next(_IDS),
        visitor_id=visitor,
        lapse_day=lapse,
        account_id="A1",
        email="x@y.z",
        locale="en",
        tier=None,
        days_since_last_visit=40,
        segment="no_login_30d",
        message_id="<m>",
        subject="s",
        body_text="t",
        body_html="h",
        state=state,
        attempts=attempts,
        last_error="451 later" if attempts else None,
    )


def test_state_rules(ds, defs, world: World) -> None:  # noqa: ANN001
    found = candidates(ds, defs, world)
    lapse = {c.visitor_id: c.lapse_day for c in found.items}
    rows = [
        _row("v_en", lapse["v_en"], "failed", attempts=1),
        _row("v_ja", lapse["v_ja"], "unconfirmed"),
        _row("v_recent", dt.date(2026, 9, 1), "pending"),  # came back on 10-25
        _row("v_gone", dt.date(2026, 9, 1), "pending"),
    ]  # not in the data any more
    last = {"v_edge31": AS_OF - dt.timedelta(days=30)}  # contacted 30 days ago
    plan = make_plan(found, rows, last, world.settings())
    got = {
        (i.visitor_id, i.action): i.detail
        for i in plan.items
        if i.action != "skip" or i.visitor_id in ("v_ja", "v_edge31")
    }
    assert got == {
        ("v_en", "retry"): "no_login_30d: 47 days since last visit; attempt 2 "
        "(last error: 451 later)",
        ("v_ja", "skip"): "already contacted for this lapse (unconfirmed)",
        ("v_edge31", "skip"): "in cooldown: contacted on 2026-10-02 (30 days ago)",
        ("v_recent", "cancel"): "came back: logged in on 2026-10-25",
        ("v_gone", "cancel"): "visitor no longer in the data",
    }
    plan = make_plan(found, [], {"v_edge31": AS_OF - dt.timedelta(days=31)}, world.settings())
    assert [i.action for i in plan.items if i.visitor_id == "v_edge31"] == ["email"]
