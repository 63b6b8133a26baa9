"""Japanese for the texts the health layer writes in English (alert signals, the
renewal-risk and override parts of a tier reason), for ``report --locale ja``.

:mod:`pendo_segments.health.wording` writes one fixed grammar ("health score
17.6 < 25; last login 32 days ago; …"): clauses joined by "; ", each one of a
dozen shapes. This module reads that grammar back clause by clause. What it
does not recognise (a custom accounts column and its value, text people wrote)
is kept as written; ``unknown`` lists such clauses for the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pendo_segments.health.config import LABELS
from pendo_segments.health.rules import SIGNALS

#: the labels wording.py puts before a value (signals, components, the score)
LABEL_JA: dict[str, str] = {
    "health score": "ヘルススコア",
    "login frequency": "ログイン頻度",
    "core feature adoption": "主要機能の導入",
    "breadth": "機能の幅",
    "NPS": "NPS",
    "support tickets": "サポート チケット数",
    "active days": "アクティブ日数",
    "key feature adoption": "主要機能の導入率",
    "share of features used": "利用した機能の割合",
    "NPS mean": "NPS 平均",
    "NPS responses": "NPS 回答数",
    "sessions": "セッション数",
    "usage growth on the window before": "前の期間からの利用の伸び",
    "days since last login": "最終ログインからの日数",
    "days to renewal": "更新までの日数",
    "renewal risk": "更新リスク",
}
_SIGNAL_NAMES_JA = {"renewal_risk": "更新リスク"}
_OPS = {"<=": "≤", ">=": "≥", "!=": "≠"}
_NUM = r"-?[\d.]+|unknown"


def _labels() -> str:
    labels = sorted({*LABEL_JA, *LABELS.values(), *(s[0] for s in SIGNALS.values())}, key=len)
    return "|".join(re.escape(x) for x in reversed(labels))


_LABEL = _labels()
_COMPARE = re.compile(
    rf"^(?P<prev>previous )?(?P<label>{_LABEL}) (?P<v>{_NUM})(?P<u> %|/10)? "
    rf"(?P<op><=|>=|!=|<|>|=) (?P<t>{_NUM})(?:(?: %|/10))?$"
)
_KNOWN = re.compile(rf"^(?P<prev>previous )?(?P<label>{_LABEL}) (?P<k>known|unknown)$")
_RENEWAL = re.compile(
    rf"^renewal risk: renews (?P<d>\S+) \(in (?P<n>{_NUM}) days\) "
    rf"with health (?P<s>{_NUM}) < (?P<b>{_NUM})$"
)
_DRIVER = re.compile(rf"^(?P<text>.+) \((?P<label>{_LABEL}) score (?P<v>{_NUM})\)$")
_CHANGE = re.compile(
    rf"^(?P<label>{_LABEL}) score (?P<verb>rose|fell) from (?P<a>{_NUM}) to (?P<b>{_NUM}) "
    r"\((?P<text>.+)\)$"
)
_COMPONENT: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"^(?P<a>{_NUM}) active days? in the last (?P<b>\d+)$"),
        "過去 {b} 日間に {a} 日アクティブ",
    ),
    (re.compile(rf"^(?P<a>{_NUM}) % of key features used$"), "主要機能の {a} % を利用"),
    (re.compile(rf"^(?P<a>{_NUM}) % of all features used$"), "全機能の {a} % を利用"),
    (
        re.compile(rf"^NPS mean (?P<a>{_NUM})/10 from (?P<b>{_NUM}) responses$"),
        "NPS 平均 {a}/10（回答 {b} 件）",
    ),
    (
        re.compile(rf"^(?P<a>{_NUM}) support tickets? in (?P<b>\d+) days$"),
        "{b} 日間のサポート チケット {a} 件",
    ),
    (re.compile(r"^last login yesterday$"), "最終ログインは昨日"),
    (re.compile(r"^last login (?P<a>\d+) days ago$"), "最終ログインは {a} 日前"),
    (re.compile(r"^no login recorded$"), "ログインの記録なし"),
]
_OVERRIDE = re.compile(
    r"^Override(?::(?P<note> .*)|, no note) \(policy said (?P<t>[^:]+): (?P<r>.*)\)$"
)


class SignalsJa:
    """Translates signal texts; ``segment`` shows a segment's name (its ``title_ja``),
    ``date`` an ISO day in Japanese."""

    def __init__(self, segment: Callable[[str], str], date: Callable[[str], str]) -> None:
        self.segment, self.date = segment, date
        self.unknown: set[str] = set()
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        """All clauses of ``text`` ("a; b; c")."""
        if not text:
            return text
        done = self._cache.get(text)
        if done is None:
            done = "、".join(self.clause(c) for c in split_clauses(text))
            if len(self._cache) < 200_000:
                self._cache[text] = done
        return done

    def clause(self, text: str) -> str:  # noqa: PLR0911 - one return per shape
        if text.startswith("not "):
            inner = text[4:]
            if inner.startswith("(") and inner.endswith(")"):
                inner = inner[1:-1]
            return f"次に該当しない：{self(inner)}"
        if text.startswith("in segment "):
            return f"セグメント「{self.segment(text[11:])}」に所属"
        if text.startswith("tier "):
            return f"ティア {text[5:]}"
        if text in _SIGNAL_NAMES_JA:
            return _SIGNAL_NAMES_JA[text]
        for pattern, ja in _COMPONENT:
            m = pattern.match(text)
            if m:
                return ja.format(**{k: _value(v) for k, v in m.groupdict().items()})
        if m := _RENEWAL.match(text):
            day = m["d"] if m["d"] == "?" else self.date(m["d"])
            return (
                f"更新リスク：{day} に更新（あと {_value(m['n'])} 日）、"
                f"ヘルス {_value(m['s'])} < {_value(m['b'])}"
            )
        if m := _CHANGE.match(text):
            verb = "上昇" if m["verb"] == "rose" else "低下"
            return (
                f"{_label(m['label'])}スコアが {m['a']} から {m['b']} に{verb}"
                f"（{self.clause(m['text'])}）"
            )
        if m := _DRIVER.match(text):
            return f"{self.clause(m['text'])}（{_label(m['label'])}スコア {m['v']}）"
        if m := _COMPARE.match(text):
            unit = m["u"] or ""
            op = _OPS.get(m["op"], m["op"])
            return f"{_prev(m)}{_label(m['label'])} {_value(m['v'])}{unit} {op} {m['t']}{unit}"
        if m := _KNOWN.match(text):
            return f"{_prev(m)}{_label(m['label'])}：{'既知' if m['k'] == 'known' else '不明'}"
        self.unknown.add(text)  # an accounts column and its value: data, kept as written
        return text

    def override(self, text: str, policy_reason: Callable[[str], str]) -> str | None:
        """``Override: NOTE (policy said T: REASON)`` in Japanese (None: not an override);
        ``policy_reason`` turns the policy's reason into Japanese."""
        m = _OVERRIDE.match(text)
        if m is None:
            return None
        note = (m["note"] or "").strip()
        said = f"ポリシーの判定は {m['t']}：{policy_reason(m['r'])}"
        return f"手動設定：{note}（{said}）" if note else f"手動設定、メモなし（{said}）"


def split_clauses(text: str) -> list[str]:
    """``text`` split at the "; " outside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith("; ", i):
            out.append(text[start:i])
            start = i + 2
    out.append(text[start:])
    return out


def _label(label: str) -> str:
    return LABEL_JA.get(label, label)


def _prev(m: re.Match[str]) -> str:
    return "前回の" if m["prev"] else ""


def _value(v: str) -> str:
    return "不明" if v == "unknown" else v
