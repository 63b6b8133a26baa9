"""Slack messages for alerts: Block Kit blocks with a plain ``text`` fallback.

Payload shape (Slack, "Sending messages using incoming webhooks",
https://api.slack.com/messaging/webhooks): a JSON object posted to the webhook
URL, ``{"text": "…", "blocks": [...]}``; ``text`` is what notifications and
clients without blocks show. Blocks used (https://api.slack.com/reference/block-kit/blocks):
``section`` with a ``mrkdwn`` text (at most 3,000 characters) or ``fields``
(at most 10, each at most 2,000), and ``context`` (at most 10 elements).

Everything that comes from data (account names and ids, CSM names, tiers,
signals, actions, alert titles) is escaped for mrkdwn, where ``&``, ``<`` and
``>`` are control characters (https://api.slack.com/reference/surfaces/formatting#escaping):
an account called ``<!channel>`` or ``<https://evil.example|click>`` is shown as
written, and can neither ping a channel nor become a link. The fallback
``text`` is mrkdwn too, and is escaped the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from pendo_segments.report.i18n import Words

SECTION_MAX = 3000
FIELD_MAX = 2000
NAME_MAX = 300  # an account name longer than this is cut (…) in messages

EMOJI = {
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
    "recovered": ":white_check_mark:",
}

WORDS = {
    "en": {
        "high": "High",
        "medium": "Medium",
        "low": "Low",
        "info": "Info",
        "tier": "Tier",
        "arr": "ARR",
        "health": "Health score",
        "csm": "CSM",
        "signals": "Signals",
        "action": "Action",
        "recovered": "Recovered",
        "fallback": "{severity} alert: {title}: {account}",
        "fallback_recovered": "Recovered: {title} no longer fires: {account}",
        "cleared": "{title} fired on {fired} and no longer does; no problem alert fires now.",
        "as_of": "As of {date}",
        "page": "Account page",
        "report": "Report",
    },
    "ja": {
        "high": "高",
        "medium": "中",
        "low": "低",
        "info": "情報",
        "tier": "ティア",
        "arr": "ARR",
        "health": "ヘルススコア",
        "csm": "CSM",
        "signals": "シグナル",
        "action": "対応",
        "recovered": "回復",
        "fallback": "アラート（重要度 {severity}）：{title}：{account}",
        "fallback_recovered": "回復：{title} は解消しました：{account}",
        "cleared": "{fired} に発生した「{title}」は解消し、現在問題のアラートはありません。",
        "as_of": "{date} 時点",
        "page": "アカウントのページ",
        "report": "レポート",
    },
}


def escape(text: str) -> str:
    """Text from data, safe inside Slack mrkdwn (only ``&``, ``<``, ``>`` are special)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(mrkdwn: str, limit: int) -> str:
    """At most ``limit`` characters, cut with "…" and never inside an ``&amp;`` entity."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: limit - 1]
    return re.sub(r"&[a-z]{0,3}$", "", cut) + "…"


def signal_lines(text: str) -> list[str]:
    """An alert's signals ("a; b; not (c; d)") one per line: split at the "; " that
    are not inside parentheses (the health layer's wording joins its clauses so)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith("; ", i):
            out.append(text[start:i])
            start = i + 2
    out.append(text[start:])
    return [line for line in out if line]


@dataclass(frozen=True)
class AlertFacts:
    """One account's alert as a message shows it, already in the message's language
    (``title``, ``signals``, ``action``)."""

    account_id: str
    name: str
    tier: str | None
    arr: float | None
    health_score: float | None
    csm: str | None
    alert: str
    title: str
    severity: str
    signals: list[str]
    action: str
    as_of: dt.date
    link: str | None = None  # the account's report page, or the report
    link_is_page: bool = False
    locale: str = "en"


def _account(facts: AlertFacts) -> str:
    name = facts.name.strip()
    shown = f"{name} ({facts.account_id})" if name else facts.account_id
    return clip(escape(shown), NAME_MAX)


def _fields(facts: AlertFacts, words: dict[str, str], w: Words) -> dict[str, Any]:
    def field(label: str, value: str) -> dict[str, str]:
        return {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", FIELD_MAX)}

    missing = "–"
    arr = facts.arr
    score = facts.health_score
    return {
        "type": "section",
        "fields": [
            field(words["tier"], escape(facts.tier) if facts.tier else missing),
            field(
                words["arr"], w.money(arr) if arr is not None and math.isfinite(arr) else missing
            ),
            field(
                words["health"],
                w.num(score, 1) if score is not None and math.isfinite(score) else missing,
            ),
            field(words["csm"], escape(facts.csm) if facts.csm else missing),
        ],
    }


def _context(facts: AlertFacts, words: dict[str, str], w: Words) -> dict[str, Any]:
    parts = [escape(words["as_of"].format(date=w.date(facts.as_of)))]
    if facts.link:
        label = words["page"] if facts.link_is_page else words["report"]
        parts.append(f"<{facts.link}|{escape(label)}>")  # the URL is checked: no | < > in it
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(parts)}]}


def alert_message(facts: AlertFacts) -> dict[str, Any]:
    """The message for an alert that fired."""
    words, w = WORDS[facts.locale], Words(facts.locale)
    severity = words.get(facts.severity, facts.severity)
    title, account = clip(escape(facts.title), 500), _account(facts)
    signals = "\n".join(f"• {escape(s)}" for s in facts.signals)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{EMOJI.get(facts.severity, '')} *{severity} · {title}*\n*{account}*",
            },
        },
        _fields(facts, words, w),
    ]
    if signals:
        blocks.append(_text_section(f"*{words['signals']}*\n{signals}"))
    if facts.action:
        blocks.append(_text_section(f"*{words['action']}*\n{escape(facts.action)}"))
    blocks.append(_context(facts, words, w))
    text = words["fallback"].format(severity=severity, title=title, account=account)
    return {"text": clip(text, SECTION_MAX), "blocks": blocks}


def recovered_message(facts: AlertFacts, fired_on: dt.date) -> dict[str, Any]:
    """The message for a problem alert that cleared (the account has none left)."""
    words, w = WORDS[facts.locale], Words(facts.locale)
    title, account = clip(escape(facts.title), 500), _account(facts)
    cleared = words["cleared"].format(title=title, fired=escape(w.date(fired_on)))
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{EMOJI['recovered']} *{words['recovered']} · {title}*\n*{account}*",
            },
        },
        _fields(facts, words, w),
        _text_section(cleared),
        _context(facts, words, w),
    ]
    text = words["fallback_recovered"].format(title=title, account=account)
    return {"text": clip(text, SECTION_MAX), "blocks": blocks}


def _text_section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, SECTION_MAX)}}
