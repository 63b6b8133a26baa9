"""The report's words in English and Japanese, and locale formatting (babel)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

from pendo_segments.guides.i18n import format_date, format_money, format_number


@lru_cache(maxsize=65536)
def _number(value: float, locale: str, digits: int | None) -> str:
    # babel re-parses the locale and pattern on every call; a report formats
    # hundreds of thousands of numbers (tables and chart texts of every P1 page)
    if digits is not None and locale in LOCALES:
        return fixed_digits(value, digits)
    return format_number(value, locale, digits)


def fixed_digits(value: float, digits: int) -> str:
    """What babel's ``#,##0.0…`` pattern gives in English and Japanese (both group with
    "," and use "." and "-"), ten times faster: babel's own steps, ``Decimal(str(value))``
    rounded half to even, the sign kept even when the number rounds to zero."""
    exact = Decimal(str(value))
    rounded = abs(exact).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    return ("-" if exact.is_signed() else "") + f"{rounded:,.{digits}f}"


@lru_cache(maxsize=65536)
def _money(value: int, locale: str) -> str:
    return format_money(value, locale)


LOCALES = ("en", "ja")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customer success report",
        "book_all": "All accounts",
        "book_csm": "CSM: {name}",
        "book_segment": "Segment: {name}",
        "as_of": "As of {date}",
        "accounts": "Accounts",
        "visitors": "Visitors",
        "arr": "ARR",
        "arr_at_risk": "ARR at risk",
        "arr_at_risk_note": "accounts with a high or medium alert",
        "avg_health": "Average health",
        "pes": "Product Engagement Score",
        "health_dist": "Health score distribution by tier",
        "health_dist_desc": "Accounts per 10-point health score band, stacked by tier.",
        "score_band": "Score",
        "tier": "Tier",
        "tier_mix": "Tier mix",
        "tier_mix_accounts": "Accounts per tier",
        "tier_mix_arr": "ARR per tier",
        "capacity": "CSM capacity",
        "accounts_per_csm": "Accounts per CSM",
        "pooled": "Pooled",
        "csms": "CSMs needed",
        "total": "Total",
        "yes": "yes",
        "no": "no",
        "movers": "Movers since the previous report",
        "movers_none": "No previous report given (--previous FILE).",
        "movers_empty": "No tier moves and no score changes of 5 points or more.",
        "account": "Account",
        "name": "Name",
        "before": "Before",
        "now": "Now",
        "change": "Change",
        "move": "Move",
        "alerts": "Alerts",
        "alerts_empty": "No alerts.",
        "shown_alerts": "The first {shown} of {total} alerts, most severe first; all are in {file}.",
        "shown_p1": "The {shown} of {total} P1 accounts with the highest ARR; every one has its page in accounts/ and all are in {file}.",
        "alert": "Alert",
        "severity": "Severity",
        "score": "Health",
        "signals": "Signals",
        "action": "Action",
        "segment_sizes": "Segment sizes over time",
        "segment_sizes_desc": "Members of each account segment at each weekly as-of day.",
        "segment": "Segment",
        "members": "Members",
        "week_of": "Week of",
        "time_in_app": "Total time in app per week",
        "time_in_app_desc": "Minutes in app per 7-day week, summed over all visitors.",
        "minutes": "Minutes",
        "feature_usage": "Key feature usage by visitor (last 30 days)",
        "feature_usage_desc": "Share of active visitors who used each key feature.",
        "feature": "Feature",
        "visitors_used": "Visitors who used it",
        "share_active": "Share of active visitors",
        "first_use": "Time to first use of key features (new users)",
        "first_use_desc": "Median days from a new visitor's first visit to the first use of each key feature.",
        "first_use_who": "New users: visitors whose first visit was on one of the {days} days before the as-of day, the definition of the {segment} segment ({members} visitors). Days count from the first visit to the first click on the feature, up to the day before the as-of day.",
        "first_use_who_default": "New users: visitors whose first visit was on one of the {days} days before the as-of day (there is no {segment} segment with a first-visit window to follow). Days count from the first visit to the first click on the feature, up to the day before the as-of day.",
        "new_users": "New users",
        "used": "Used it",
        "median_days": "Median days",
        "nps": "NPS",
        "nps_dist": "NPS responses (last 90 days)",
        "nps_dist_desc": "Responses per score 0-10: detractors 0-6, passives 7-8, promoters 9-10.",
        "nps_trend": "NPS per month",
        "nps_trend_desc": "Net Promoter Score (% promoters - % detractors) per calendar month.",
        "responses": "Responses",
        "month": "Month",
        "pes_title": "Product Engagement Score (PES)",
        "pes_desc": "Adoption, stickiness and growth, and their average, as Pendo defines them.",
        "adoption": "Adoption",
        "stickiness": "Stickiness",
        "growth": "Growth",
        "pes_note": "Adoption: average share of key features used by active visitors. Stickiness: daily active ÷ monthly active visitors. Growth: new + recovered visitors against dropped ones ({new} new, {recovered} recovered, {dropped} dropped). Definition: Pendo's Product Engagement Score.",
        "backtest": "Would the at-risk rules have caught the churners?",
        "backtest_note": "Each rule evaluated at every weekly as-of day from {start} to {end}; a churner is caught when the rule flagged it within {horizon} days before it churned.",
        "backtest_none": "No outcomes.csv in the data: nothing to backtest against.",
        "rule": "Rule",
        "kind": "Kind",
        "churners": "Churners",
        "flagged": "Flagged",
        "caught": "Caught",
        "precision": "Precision",
        "recall": "Recall",
        "lift": "Lift",
        "lead": "Median lead (days)",
        "p1_accounts": "P1 accounts",
        "drill": "Details",
        "back": "Back to the report",
        "components": "Health score components",
        "components_desc": "Each component of the health score, 0-100.",
        "component": "Component",
        "value": "Value",
        "missing": "no data",
        "last_login": "Last login",
        "never": "never",
        "days_ago": "{days} days ago ({date})",
        "in_segments": "Segments",
        "reason": "Tier reason",
        "score_trend": "Health score over time",
        "score_trend_desc": "The account's health score at each weekly as-of day.",
        "plan": "Plan",
        "csm": "CSM",
        "renewal": "Renewal",
        "data_table": "Data",
        "generated": "Generated by pendo-segments from {source}.",
        "caption": "{title}. {order}",
        "list_sep": ", ",
        "movers_order": "Largest score change first (ties by account id); tier moves without a score change last.",
        "alerts_order": "Most severe first, then in the order of alerts.yaml and by account id.",
        "p1_order": "Highest ARR first (ties by account id).",
        "backtest_rules": "Rules: the account segments tagged “{tag}” in their definition and the high and medium severity alerts.",
        "no_history": "Account fields are today's values for every past day: the data has no accounts_history / visitors_history files, so trends and the backtest use today's ARR, plan, renewal date and CSM on every past day; a scheduled pull keeps their history.",
        "backtest_no_rules": "No account segment is tagged “{tag}” (tags: [{tag}] in a definition) and no high or medium severity alert ran: there is no risk rule to backtest.",
        "axis_score": "Health score (0–100)",
        "axis_accounts": "Accounts",
        "axis_arr": "ARR (USD)",
        "axis_tier": "Tier",
        "axis_as_of": "Weekly as-of day",
        "axis_members": "Members (accounts)",
        "axis_week": "Week starting",
        "axis_minutes": "Minutes in app",
        "axis_share": "Share of active visitors (%)",
        "axis_feature": "Key feature",
        "axis_median_days": "Median days to first use",
        "axis_nps_score": "Score (0–10)",
        "axis_responses": "Responses",
        "axis_month": "Month",
        "axis_nps": "NPS (−100 to 100)",
        "axis_component": "Component",
        "axis_value": "Score (0–100)",
        # the QBR pack (report --account / --within: report/qbr.py)
        "qbr_title": "QBR pack",
        "qbr_packs": "QBR packs",
        "qbr_period": "The 90 days before {date}: {start} – {end}",
        "qbr_date": "QBR date",
        "qbr_packs_note": "One pack per account; each covers the 90 days before the as-of day.",
        "qbr_weeks_note": "Weekly figures are the {weeks} whole 7-day weeks before the as-of day; top features and NPS cover all 90 days.",
        "adoption_trend": "Key feature adoption per week",
        "adoption_trend_desc": "Visitors of the account who clicked each key feature, per 7-day week.",
        "key_features_used": "Key features used",
        "adoption_none": "No key features are defined (the key column of features.csv).",
        "top_features": "Top features by clicks (90 days)",
        "top_features_desc": "The account's most clicked features over the 90 days.",
        "top_features_none": "No feature clicks from this account's visitors in these 90 days.",
        "clicks": "Clicks",
        "users": "Users",
        "key_feature": "Key feature",
        "active_users": "Active users per week",
        "active_users_desc": "Visitors of the account with events or minutes in each 7-day week.",
        "active_users_90": "Active users (90 days)",
        "of_visitors": "of {n} visitors",
        "nps_month": "NPS per month (90 days)",
        "nps_month_desc": "Mean score (0–10) of the account's NPS responses per calendar month.",
        "mean_score": "Mean score",
        "nps_none": "No NPS responses from this account's visitors in these 90 days.",
        "nps_no_file": "The data has no nps.csv.",
        "health_history": "Health score per week",
        "health_history_desc": "The account's health score at each weekly as-of day, each over the 30 days before it.",
        "health_history_note": "From {date} on: earlier 30-day windows would reach before the first usage date.",
        "open_alerts": "Open alerts",
        "open_alerts_empty": "No open alerts on the as-of day.",
        "axis_users": "Visitors",
        "axis_clicks": "Clicks (90 days)",
        "axis_mean_score": "Mean score (0–10)",
    },
    "ja": {
        "title": "カスタマーサクセス レポート",
        "book_all": "全アカウント",
        "book_csm": "CSM: {name}",
        "book_segment": "セグメント: {name}",
        "as_of": "{date} 時点",
        "accounts": "アカウント数",
        "visitors": "ビジター数",
        "arr": "ARR",
        "arr_at_risk": "リスクのある ARR",
        "arr_at_risk_note": "重要度が高・中のアラートがあるアカウント",
        "avg_health": "平均ヘルススコア",
        "pes": "プロダクト エンゲージメント スコア",
        "health_dist": "ティア別ヘルススコア分布",
        "health_dist_desc": "ヘルススコア 10 点刻みの帯ごとのアカウント数（ティア別に積み上げ）。",
        "score_band": "スコア",
        "tier": "ティア",
        "tier_mix": "ティア構成",
        "tier_mix_accounts": "ティア別アカウント数",
        "tier_mix_arr": "ティア別 ARR",
        "capacity": "CSM の必要人数",
        "accounts_per_csm": "CSM 1 人あたりのアカウント数",
        "pooled": "プール制",
        "csms": "必要な CSM 数",
        "total": "合計",
        "yes": "はい",
        "no": "いいえ",
        "movers": "前回レポートからの変化",
        "movers_none": "前回のレポートが指定されていません（--previous FILE）。",
        "movers_empty": "ティアの移動も 5 点以上のスコア変化もありません。",
        "account": "アカウント",
        "name": "名前",
        "before": "前回",
        "now": "今回",
        "change": "変化",
        "move": "移動",
        "alerts": "アラート",
        "alerts_empty": "アラートはありません。",
        "shown_alerts": "{total} 件のアラートのうち重大度の高い順に {shown} 件を表示しています。すべて {file} にあります。",
        "shown_p1": "{total} 件の P1 アカウントのうち ARR の高い {shown} 件を表示しています。各アカウントのページは accounts/ に、すべての一覧は {file} にあります。",
        "alert": "アラート",
        "severity": "重要度",
        "score": "ヘルス",
        "signals": "シグナル",
        "action": "アクション",
        "segment_sizes": "セグメント規模の推移",
        "segment_sizes_desc": "毎週の基準日における各アカウント セグメントのメンバー数。",
        "segment": "セグメント",
        "members": "メンバー数",
        "week_of": "週の開始日",
        "time_in_app": "週ごとのアプリ利用時間の合計",
        "time_in_app_desc": "7 日間ごとのアプリ利用時間（分）の全ビジター合計。",
        "minutes": "分",
        "feature_usage": "ビジター別の主要機能の利用（過去 30 日）",
        "feature_usage_desc": "各主要機能を使ったアクティブ ビジターの割合。",
        "feature": "機能",
        "visitors_used": "利用したビジター数",
        "share_active": "アクティブ ビジターに占める割合",
        "first_use": "新規ユーザーが主要機能を初めて使うまでの日数",
        "first_use_desc": "新規ビジターの初回訪問から各主要機能の初回利用までの日数の中央値。",
        "first_use_who": "新規ユーザー：基準日の前 {days} 日間に初めて訪問したビジター（{segment} セグメントと同じ定義、{members} 人）。日数は初回訪問から各機能の初回クリックまでで、基準日の前日までを数えます。",
        "first_use_who_default": "新規ユーザー：基準日の前 {days} 日間に初めて訪問したビジター（初回訪問の期間を定めた {segment} セグメントがないため既定の期間）。日数は初回訪問から各機能の初回クリックまでで、基準日の前日までを数えます。",
        "new_users": "新規ユーザー",
        "used": "利用済み",
        "median_days": "中央値（日）",
        "nps": "NPS",
        "nps_dist": "NPS 回答（過去 90 日）",
        "nps_dist_desc": "スコア 0〜10 ごとの回答数：批判者 0〜6、中立者 7〜8、推奨者 9〜10。",
        "nps_trend": "月別 NPS",
        "nps_trend_desc": "月ごとのネット プロモーター スコア（推奨者の割合 − 批判者の割合）。",
        "responses": "回答数",
        "month": "月",
        "pes_title": "プロダクト エンゲージメント スコア（PES）",
        "pes_desc": "Pendo の定義による導入度・定着度・成長度とその平均。",
        "adoption": "導入度",
        "stickiness": "定着度",
        "growth": "成長度",
        "pes_note": "導入度：アクティブ ビジターが使った主要機能の割合の平均。定着度：日次アクティブ ÷ 月次アクティブ ビジター。成長度：新規と復帰のビジター数と離脱したビジター数の比（新規 {new}、復帰 {recovered}、離脱 {dropped}）。定義：Pendo のプロダクト エンゲージメント スコア（PES）。",
        "backtest": "リスク ルールは解約を事前に捉えられたか",
        "backtest_note": "{start} から {end} までの毎週の基準日で各ルールを評価。解約の {horizon} 日前以内にフラグを立てていれば「捕捉」です。",
        "backtest_none": "データに outcomes.csv がないため、バックテストできません。",
        "rule": "ルール",
        "kind": "種類",
        "churners": "解約数",
        "flagged": "フラグ数",
        "caught": "捕捉数",
        "precision": "適合率",
        "recall": "再現率",
        "lift": "リフト",
        "lead": "リードタイム中央値（日）",
        "p1_accounts": "P1 アカウント",
        "drill": "詳細",
        "back": "レポートに戻る",
        "components": "ヘルススコアの構成要素",
        "components_desc": "ヘルススコアの各構成要素（0〜100）。",
        "component": "構成要素",
        "value": "値",
        "missing": "データなし",
        "last_login": "最終ログイン",
        "never": "なし",
        "days_ago": "{days} 日前（{date}）",
        "in_segments": "所属セグメント",
        "reason": "ティアの理由",
        "score_trend": "ヘルススコアの推移",
        "score_trend_desc": "毎週の基準日におけるこのアカウントのヘルススコア。",
        "plan": "プラン",
        "csm": "CSM",
        "renewal": "更新日",
        "data_table": "データ",
        "generated": "pendo-segments が {source} から作成。",
        "caption": "{title}。{order}",
        "list_sep": "、",
        "movers_order": "スコアの変化が大きい順（同じ場合はアカウント ID 順）。スコアの変化がないティア移動は最後。",
        "alerts_order": "重要度の高い順、次に alerts.yaml の順、アカウント ID 順。",
        "p1_order": "ARR の高い順（同じ場合はアカウント ID 順）。",
        "backtest_rules": "対象ルール：定義で「{tag}」タグが付いたアカウント セグメントと、重要度が高・中のアラート。",
        "no_history": "過去のどの日についても、アカウントの項目は現在の値です。データに accounts_history / visitors_history ファイルがないため、推移とバックテストは毎日に現在の ARR・プラン・更新日・担当 CSM を使っています。定期的な pull で履歴が残ります。",
        "backtest_no_rules": "「{tag}」タグ（定義の tags: [{tag}]）が付いたアカウント セグメントも、重要度が高・中のアラートもないため、バックテストするリスク ルールがありません。",
        "axis_score": "ヘルススコア（0〜100）",
        "axis_accounts": "アカウント数",
        "axis_arr": "ARR（米ドル）",
        "axis_tier": "ティア",
        "axis_as_of": "毎週の基準日",
        "axis_members": "メンバー数（アカウント）",
        "axis_week": "週の開始日",
        "axis_minutes": "アプリ利用時間（分）",
        "axis_share": "アクティブ ビジターに占める割合（%）",
        "axis_feature": "主要機能",
        "axis_median_days": "初回利用までの日数（中央値）",
        "axis_nps_score": "スコア（0〜10）",
        "axis_responses": "回答数",
        "axis_month": "月",
        "axis_nps": "NPS（−100〜100）",
        "axis_component": "構成要素",
        "axis_value": "スコア（0〜100）",
        "qbr_title": "QBR 資料",
        "qbr_packs": "QBR 資料一覧",
        "qbr_period": "{date} までの 90 日間：{start}〜{end}",
        "qbr_date": "QBR 実施日",
        "qbr_packs_note": "アカウントごとに 1 つの資料。各資料は基準日の前 90 日間を対象とします。",
        "qbr_weeks_note": "週ごとの数値は基準日の前の 7 日間 × {weeks} 週です。よく使われた機能と NPS は 90 日間全体が対象です。",
        "adoption_trend": "主要機能の週ごとの利用",
        "adoption_trend_desc": "7 日間ごとに各主要機能をクリックしたこのアカウントのビジター数。",
        "key_features_used": "利用された主要機能の数",
        "adoption_none": "主要機能が定義されていません（features.csv の key 列）。",
        "top_features": "クリック数の多い機能（90 日間）",
        "top_features_desc": "90 日間でこのアカウントが最も多くクリックした機能。",
        "top_features_none": "この 90 日間、このアカウントのビジターによる機能のクリックはありません。",
        "clicks": "クリック数",
        "users": "ユーザー数",
        "key_feature": "主要機能",
        "active_users": "週ごとのアクティブ ユーザー数",
        "active_users_desc": "7 日間ごとにイベントまたは利用時間があったこのアカウントのビジター数。",
        "active_users_90": "アクティブ ユーザー数（90 日間）",
        "of_visitors": "ビジター {n} 人中",
        "nps_month": "月別 NPS（90 日間）",
        "nps_month_desc": "月ごとのこのアカウントの NPS 回答の平均スコア（0〜10）。",
        "mean_score": "平均スコア",
        "nps_none": "この 90 日間、このアカウントのビジターからの NPS 回答はありません。",
        "nps_no_file": "データに nps.csv がありません。",
        "health_history": "ヘルススコアの週ごとの推移",
        "health_history_desc": "毎週の基準日におけるこのアカウントのヘルススコア（それぞれ基準日の前 30 日間）。",
        "health_history_note": "{date} 以降を表示：それより前は 30 日間の期間が最初の利用データより前にかかります。",
        "open_alerts": "未解決のアラート",
        "open_alerts_empty": "基準日に未解決のアラートはありません。",
        "axis_users": "ビジター数",
        "axis_clicks": "クリック数（90 日間）",
        "axis_mean_score": "平均スコア（0〜10）",
    },
}

#: alert severities, tier moves and rule kinds as shown (the data keeps the English keys)
TERMS = {
    "en": {},
    "ja": {
        "high": "高",
        "medium": "中",
        "low": "低",
        "info": "情報",
        "up": "上へ",
        "down": "下へ",
        "unchanged": "変化なし",
        "new": "新規",
        "segment": "セグメント",
        "alert": "アラート",
    },
}

COMPONENT_TEXT = {
    "en": {
        "login_frequency": "Login frequency",
        "core_feature_adoption": "Core feature adoption",
        "breadth": "Breadth",
        "nps": "NPS",
        "support_tickets": "Support tickets",
    },
    "ja": {
        "login_frequency": "ログイン頻度",
        "core_feature_adoption": "主要機能の導入",
        "breadth": "機能の幅",
        "nps": "NPS",
        "support_tickets": "サポート チケット",
    },
}


@lru_cache(maxsize=4096)
def _date(value: Any, locale: str, fmt: str) -> str:
    return format_date(value, locale, fmt)


class Words:
    """Labels and number / date / money formatting for one locale."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.text = TEXT[self.locale]

    def __call__(self, key: str, **values: Any) -> str:
        return self.text[key].format(**values) if values else self.text[key]

    def term(self, key: str) -> str:
        return TERMS[self.locale].get(key, key)

    def component(self, name: str) -> str:
        return COMPONENT_TEXT[self.locale].get(name, name)

    def num(self, value: Any, digits: int | None = None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return _number(float(value), self.locale, digits)

    def pct(self, value: Any, digits: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{_number(float(value), self.locale, digits)}%"

    def money(self, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return _money(round(float(value)), self.locale)

    def money_short(self, value: float) -> str:
        """Axis labels: $1.2M / $350K (en), ¥ style grouping is left to the tables."""
        v = float(value)
        if abs(v) >= 1e6:
            return f"${format_number(v / 1e6, self.locale, 1)}M"
        if abs(v) >= 1e3:
            return f"${format_number(v / 1e3, self.locale, 0)}K"
        return f"${format_number(v, self.locale, 0)}"

    def date(self, value: Any, fmt: str = "medium") -> str:
        return _date(value, self.locale, fmt)

    def short_date(self, value: Any) -> str:
        return _date(value, self.locale, "M/d" if self.locale == "ja" else "MMM d")

    def month(self, value: str) -> str:
        """A calendar month ``YYYY-MM`` as the locale writes it ("Aug 2026", "2026年8月")."""
        return _month(value, self.locale)


@lru_cache(maxsize=1024)
def _month(value: str, locale: str) -> str:
    from babel.dates import format_skeleton

    from pendo_segments.guides.i18n import babel_locale

    year, month = (int(p) for p in value.split("-")[:2])
    return format_skeleton("yMMM", dt.date(year, month, 1), locale=babel_locale(locale))
