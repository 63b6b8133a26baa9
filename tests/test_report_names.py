"""The report in Japanese: what the product writes is translated, names people chose
stay as written unless they have a ``title_ja`` (segments, alerts) or the policy a
``reason_ja``. Expected Japanese is written by hand here; the browser check that no
English label is left on the page is in test_report_browser.py.
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path, load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.definitions.schema import definition_schema
from pendo_segments.errors import DefinitionError
from pendo_segments.report import ReportOptions, build_report, collect
from pendo_segments.report.signals_ja import SignalsJa
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
SAMPLE = bundled_sample_path()


@pytest.fixture(scope="module")
def ja_page() -> dict[str, Any]:
    return collect(
        load_definitions(DEFS),
        load_sample(),
        defs_path=DEFS,
        options=ReportOptions(locale="ja"),
        progress=lambda _m: None,
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("names")
    out = {}
    for locale in ("en", "ja"):
        out[locale] = root / locale
        build_report(
            load_definitions(DEFS),
            load_sample(),
            out[locale],
            defs_path=DEFS,
            options=ReportOptions(locale=locale),
        )
    return out


# -- the signal texts ------------------------------------------------------------------------
_TITLES = {"at_risk": "リスクのある顧客"}
CASES = [
    ("health score 17.6 < 25", "ヘルススコア 17.6 < 25"),
    ("previous health score 35 < 40", "前回のヘルススコア 35 < 40"),
    ("key feature adoption 100 % > 80 %", "主要機能の導入率 100 % > 80 %"),
    ("days since last login unknown", "最終ログインからの日数：不明"),
    ("last login yesterday", "最終ログインは昨日"),
    ("last login 32 days ago", "最終ログインは 32 日前"),
    ("no login recorded", "ログインの記録なし"),
    ("tier P1", "ティア P1"),
    ("in segment at_risk", "セグメント「リスクのある顧客」に所属"),
    ("in segment smb", "セグメント「smb」に所属"),
    (
        "0 active days in the last 30 (login frequency score 0)",
        "過去 30 日間に 0 日アクティブ（ログイン頻度スコア 0）",
    ),
    ("1 active day in the last 30 (login frequency score 6.3)",
     "過去 30 日間に 1 日アクティブ（ログイン頻度スコア 6.3）"),
    (
        "68.8 % of all features used (breadth score 100)",
        "全機能の 68.8 % を利用（機能の幅スコア 100）",
    ),
    (
        "NPS mean 9/10 from 2 responses (NPS score 90)",
        "NPS 平均 9/10（回答 2 件）（NPSスコア 90）",
    ),
    ("1 support ticket in 30 days (support tickets score 80)",
     "30 日間のサポート チケット 1 件（サポート チケット数スコア 80）"),
    (
        "core feature adoption score fell from 75 to 25 (25 % of key features used)",
        "主要機能の導入スコアが 75 から 25 に低下（主要機能の 25 % を利用）",
    ),
    (
        "renewal risk: renews 2026-12-25 (in 54 days) with health 14.1 < 60",
        "更新リスク：2026/12/25 に更新（あと 54 日）、ヘルス 14.1 < 60",
    ),
    ("not (in segment smb; tier P3)", "次に該当しない：セグメント「smb」に所属、ティア P3"),
    ("plan Enterprise", "plan Enterprise"),  # an accounts column and its value: data
]  # fmt: skip


@pytest.mark.parametrize(("english", "japanese"), CASES, ids=[c[0][:30] for c in CASES])
def test_each_signal_shape_reads_in_japanese(english: str, japanese: str) -> None:
    ja = SignalsJa(lambda n: _TITLES.get(n, n), lambda d: d.replace("-", "/"))
    assert ja(english) == japanese


def test_clauses_are_joined_the_japanese_way() -> None:
    ja = SignalsJa(str, str)
    assert ja("health score 3.5 < 25; last login 94 days ago") == (
        "ヘルススコア 3.5 < 25、最終ログインは 94 日前"
    )
    assert ja.unknown == set()


def test_every_alert_of_the_sample_is_translated_with_a_previous_run(tmp_path: Path) -> None:
    """With --previous the signals also say how components changed ("rose from")."""
    from pendo_segments.report.definitions import Names
    from pendo_segments.report.i18n import Words
    from pendo_segments.tiers.alerts import alert_rules_for

    before = tmp_path / "before.csv"
    result = CliRunner().invoke(main, ["health", "--data", str(SAMPLE), "--format", "csv"])
    rows = list(csv.DictReader(result.stdout.splitlines()))
    for k, r in enumerate(rows):  # every account was 30 points better or 45 worse before
        for c, v in r.items():
            if c != "account_id" and v:
                r[c] = str(min(100.0, float(v) + 30) if k % 2 else max(0.0, float(v) - 45))
    with before.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(
        main,
        ["alerts", str(DEFS), "--data", str(SAMPLE), "--previous", str(before), "--format",
         "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    alerts = list(csv.DictReader(result.stdout.splitlines()))
    assert {"recovery", "upsell", "escalation"} <= {a["alert"] for a in alerts}
    assert any(" score rose from " in a["signals"] for a in alerts)
    assert any(" score fell from " in a["signals"] for a in alerts)
    names = Names(Words("ja"), load_definitions(DEFS), alert_rules_for(DEFS))
    shown = names.alert_rows(alerts)
    assert names.signals is not None and names.signals.unknown == set()
    for a in shown:
        assert not re.search(r"[a-z]{3}", a["signals"]), a["signals"]
        assert not re.search(r"[a-z]{3}", a["action"]), a["action"]


# -- names people chose, with their title_ja -------------------------------------------------
def test_title_ja_is_part_of_a_definition_and_stamped_by_for_each() -> None:
    defs = load_definitions(DEFS)
    assert defs.get("at_risk").title_ja == "リスクのある顧客"
    assert defs.get("never_used_data_explorer").title_ja == "data_explorer を使ったことがない"
    assert defs.get("at_risk").tags == ["health", "playbook", "risk"]
    props = definition_schema()["properties"]
    assert props["title_ja"]["anyOf"][0]["type"] == "string"
    assert "risk" in props["tags"]["description"]


def test_a_bad_placeholder_in_reason_ja_names_reason_ja(tmp_path: Path) -> None:
    from pendo_segments.tiers.assign import assign_tiers
    from pendo_segments.tiers.policy import load_policy

    text = (DEFS / "tiers.yaml").read_text(encoding="utf-8")
    bad = text.replace('reason_ja: "SMB（ARR ${arr:,.0f}', 'reason_ja: "SMB（ARR ${arr_usd:,.0f}')
    assert bad != text
    (tmp_path / "tiers.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"tiers.yaml:\d+: rules\[4\]\.reason_ja: unknown "):
        assign_tiers(
            load_sample(), load_policy(tmp_path / "tiers.yaml"), defs=load_definitions(DEFS)
        )


def test_the_japanese_page_uses_the_japanese_names_and_reasons(ja_page: dict[str, Any]) -> None:
    p1 = {a["id"]: a for a in ja_page["p1"]}
    # tiers.yaml: reason_ja "エンタープライズ規模の ARR（${arr:,.0f} ≥ $100,000）：高価値・ハイタッチ"
    assert (
        p1["acc-00002"]["reason"]
        == "エンタープライズ規模の ARR（$1,078,000 ≥ $100,000）：高価値・ハイタッチ"
    )
    # acc-00006 also renews within 90 days with health below 60 (tiers --format csv says so)
    assert p1["acc-00006"]["reason"] == (
        "エンタープライズ規模の ARR（$408,000 ≥ $100,000）：高価値・ハイタッチ。"
        "更新リスク：2026/12/26 に更新（あと 55 日）、ヘルス 20.6 < 60"
    )
    assert "リスクのある顧客" in p1["acc-00002"]["segments"]
    shown = {a["alert"] for a in ja_page["alerts"]}
    assert "ヘルス 25 未満" in shown and "escalation" not in shown
    escalation = next(a for a in ja_page["alerts"] if a["alert"] == "ヘルス 25 未満")
    assert escalation["action"].startswith("CS マネージャーにエスカレーション")
    assert {r["shown"] for r in ja_page["catch"]} >= {"リスクのある顧客", "ヘルス 40 未満"}


def test_the_english_page_names_things_as_written(reports: dict[str, Path]) -> None:
    index = html.unescape((reports["en"] / "index.html").read_text(encoding="utf-8"))
    assert '<td class="alert">escalation</td>' in index
    assert "リスク" not in index


def test_the_index_alert_table_has_the_action_of_each_alert(reports: dict[str, Path]) -> None:
    """The alerts command prints an action per alert; the page's table had none."""
    folder = reports["en"]
    with (folder / "alerts.csv").open(encoding="utf-8") as fh:
        alerts = list(csv.DictReader(fh))
    index = html.unescape((folder / "index.html").read_text(encoding="utf-8"))
    table = index.split('<section id="alerts">')[1].split("</table>")[0]
    assert '<th scope="col">Action</th>' in table
    actions = re.findall(r'<td class="action">(.*?)</td>', table)
    assert actions == [a["action"] for a in alerts]


def test_months_and_kinds_read_in_the_pages_language(reports: dict[str, Path]) -> None:
    en = html.unescape((reports["en"] / "index.html").read_text(encoding="utf-8"))
    ja = html.unescape((reports["ja"] / "index.html").read_text(encoding="utf-8"))
    nps_en = en.split('<section id="nps">')[1].split("</section>")[0]
    nps_ja = ja.split('<section id="nps">')[1].split("</section>")[0]
    assert "Aug 2026" in nps_en and "2026-08" not in nps_en
    assert "2026年8月" in nps_ja and "2026-08" not in nps_ja
    backtest = ja.split('<section id="backtest">')[1]
    assert "<td>セグメント</td>" in backtest and "<td>アラート</td>" in backtest
    assert "<td>segment</td>" not in backtest


def test_time_to_first_use_says_who_new_users_are(reports: dict[str, Path]) -> None:
    en = html.unescape((reports["en"] / "index.html").read_text(encoding="utf-8"))
    said = en.split('<p class="muted" id="new-users">')[1].split("</p>")[0]
    assert "30 days before the as-of day" in said and "new_users segment (96 visitors)" in said
