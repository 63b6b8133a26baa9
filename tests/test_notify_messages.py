"""Slack payloads of ``alerts notify``, written out by hand."""

from __future__ import annotations

import datetime as dt

from pendo_segments.notify.messages import (
    AlertFacts,
    alert_message,
    clip,
    escape,
    recovered_message,
    signal_lines,
)

FACTS = AlertFacts(
    account_id="acc-7",
    name="Smith & <Wesson>",
    tier="P1",
    arr=1234567.0,
    health_score=18.46,
    csm="Dana Lee",
    alert="escalation",
    title="Health below 25",
    severity="high",
    signals=["health score 18.5 < 25", "last login 32 days ago"],
    action="Escalate to the CS manager",
    as_of=dt.date(2026, 11, 1),
    link="https://cs.example.com/report/accounts/acc-7.html",
    link_is_page=True,
)


def test_alert_message_by_hand() -> None:
    assert alert_message(FACTS) == {
        "text": "High alert: Health below 25: Smith &amp; &lt;Wesson&gt; (acc-7)",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":red_circle: *High · Health below 25*\n"
                    "*Smith &amp; &lt;Wesson&gt; (acc-7)*",
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Tier*\nP1"},
                    {"type": "mrkdwn", "text": "*ARR*\n$1,234,567"},
                    {"type": "mrkdwn", "text": "*Health score*\n18.5"},
                    {"type": "mrkdwn", "text": "*CSM*\nDana Lee"},
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Signals*\n• health score 18.5 &lt; 25\n• last login 32 days ago",
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Action*\nEscalate to the CS manager"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "As of Nov 1, 2026 · "
                        "<https://cs.example.com/report/accounts/acc-7.html|Account page>",
                    }
                ],
            },
        ],
    }


def test_missing_values_and_no_link() -> None:
    facts = AlertFacts(
        account_id="acc-8",
        name="",
        tier=None,
        arr=None,
        health_score=None,
        csm=None,
        alert="upsell",
        title="Key feature adoption above 80 %",
        severity="info",
        signals=[],
        action="",
        as_of=dt.date(2026, 11, 1),
    )
    message = alert_message(facts)
    assert message["text"] == "Info alert: Key feature adoption above 80 %: acc-8"
    assert [f["text"] for f in message["blocks"][1]["fields"]] == [
        "*Tier*\n–",
        "*ARR*\n–",
        "*Health score*\n–",
        "*CSM*\n–",
    ]
    # no signals, no action: title, fields, context
    assert [b["type"] for b in message["blocks"]] == ["section", "section", "context"]
    assert message["blocks"][2]["elements"][0]["text"] == "As of Nov 1, 2026"


def test_recovered_message_by_hand_in_japanese() -> None:
    facts = AlertFacts(
        **{
            **FACTS.__dict__,
            "title": "ヘルス 25 未満",
            "locale": "ja",
            "link": "https://cs.example.com/report/index.html",
            "link_is_page": False,
        }
    )
    message = recovered_message(facts, dt.date(2026, 10, 4))
    account = "Smith &amp; &lt;Wesson&gt; (acc-7)"
    assert message == {
        "text": f"回復：ヘルス 25 未満 は解消しました：{account}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":white_check_mark: *回復 · ヘルス 25 未満*\n*{account}*",
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*ティア*\nP1"},
                    {"type": "mrkdwn", "text": "*ARR*\n$1,234,567"},
                    {"type": "mrkdwn", "text": "*ヘルススコア*\n18.5"},
                    {"type": "mrkdwn", "text": "*CSM*\nDana Lee"},
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "2026/10/04 に発生した「ヘルス 25 未満」は解消し、現在問題のアラートはありません。",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "2026/11/01 時点 · <https://cs.example.com/report/index.html|レポート>",
                    }
                ],
            },
        ],
    }


def test_recovered_message_in_english() -> None:
    message = recovered_message(FACTS, dt.date(2026, 10, 4))
    assert message["text"] == (
        "Recovered: Health below 25 no longer fires: Smith &amp; &lt;Wesson&gt; (acc-7)"
    )
    assert message["blocks"][2]["text"]["text"] == (
        "Health below 25 fired on Oct 4, 2026 and no longer does; no problem alert fires now."
    )


def test_escape_only_the_three_control_characters() -> None:
    assert (
        escape("<!here> & *bold* _x_ `code` &lt;")
        == "&lt;!here&gt; &amp; *bold* _x_ `code` &amp;lt;"
    )


def test_clip_never_cuts_an_entity() -> None:
    text = escape("a" * 8 + "&b")  # aaaaaaaa&amp;b: 14 characters
    assert clip(text, 14) == text
    assert clip(text, 12) == "aaaaaaaa…"  # "&am" would be cut: dropped whole
    assert clip(text, 10) == "aaaaaaaa…"
    assert clip(escape("x" * 5000), 3000) == "x" * 2999 + "…"


def test_long_signals_stay_within_slacks_section_limit() -> None:
    facts = AlertFacts(**{**FACTS.__dict__, "signals": ["<" * 2000]})
    text = alert_message(facts)["blocks"][2]["text"]["text"]
    assert len(text) == 12 + 746 * 4 + 1 and text.endswith("…")  # 746 whole &lt; fit
    assert text.startswith("*Signals*\n• &lt;&lt;")
    assert text[:-1].endswith("&lt;")


def test_signal_lines_split_outside_parentheses() -> None:
    text = "health score 18.5 < 25; not (in segment a; tier P1); last login 3 days ago"
    assert signal_lines(text) == [
        "health score 18.5 < 25",
        "not (in segment a; tier P1)",
        "last login 3 days ago",
    ]
    assert signal_lines("") == []
