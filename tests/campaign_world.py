"""A tiny, hand-reasoned world for the no-login campaign tests.

Run day (as-of) 2026-11-01, so "no login in 30 days" means last active on or
before 2026-10-01 (days_since_last_visit > 30):

visitor     account  language  last active   days  email                 expected
v_en        A1       en        2026-09-15    47    en@acme.example       email (English)
v_ja        A1       ja-JP     2026-09-20    42    ja@acme.example       email (Japanese)
v_edge31    A1       en        2026-10-01    31    edge31@acme.example   email (boundary: 31 > 30)
v_edge30    A1       en        2026-10-02    30    edge30@acme.example   not in segment (30 ≯ 30)
v_recent    A1       en        2026-10-25     7    recent@acme.example   not in segment
v_never     A1       en        —              —    never@acme.example    not in segment (unknown)
v_optout    A1       en        2026-09-01    61    OptOut@Acme.example   skip: opted out (by email)
v_noemail   A1       en        2026-09-01    61    —                     skip: no email address
v_excl      A2       en        2026-09-01    61    excl@other.example    skip: excluded account
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 11, 1)
EXPECTED = ["v_edge31", "v_en", "v_ja"]  # emailed on AS_OF, sorted
ADDRESS = {"v_en": "en@acme.example", "v_ja": "ja@acme.example", "v_edge31": "edge31@acme.example"}

VISITORS = [
    # visitor_id, account_id, email, language, name
    ("v_en", "A1", "en@acme.example", "en", "Emma Stone"),
    ("v_ja", "A1", "ja@acme.example", "ja-JP", "山田 葵"),
    ("v_edge31", "A1", "edge31@acme.example", "en", "Eddie Edge"),
    ("v_edge30", "A1", "edge30@acme.example", "en", "Edna Edge"),
    ("v_recent", "A1", "recent@acme.example", "en", "Rita Recent"),
    ("v_never", "A1", "never@acme.example", "en", "Nev Never"),
    ("v_optout", "A1", "OptOut@Acme.example", "en", "Otto Out"),
    ("v_noemail", "A1", "", "en", "Nora None"),
    ("v_excl", "A2", "excl@other.example", "en", "Ezra Excl"),
]
LAST_ACTIVE = {
    "v_en": "2026-09-15",
    "v_ja": "2026-09-20",
    "v_edge31": "2026-10-01",
    "v_edge30": "2026-10-02",
    "v_recent": "2026-10-25",
    "v_optout": "2026-09-01",
    "v_noemail": "2026-09-01",
    "v_excl": "2026-09-01",
}


@dataclass
class World:
    """Usage rows that tests can extend ("v_en logs in on 11-03") and write out."""

    folder: Path
    usage: list[tuple[str, str, float, int]] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path) -> World:
        world = cls(folder)
        for visitor, day in LAST_ACTIVE.items():
            world.usage.append(("2026-08-20", visitor, 12.0, 5))  # tenure: active since August
            world.usage.append((day, visitor, 9.5, 3))
        world.write()
        return world

    def login(self, visitor: str, day: str) -> None:
        self.usage.append((day, visitor, 5.0, 2))
        self.write()

    def write(self) -> Path:
        data = self.folder / "usage"
        data.mkdir(parents=True, exist_ok=True)
        (data / "accounts.csv").write_text(
            "account_id,arr,plan,name,csm_owner\n"
            "A1,50000,Growth,Acme Corp,Casey CSM\nA2,9000,Starter,Other Ltd,\n",
            encoding="utf-8",
        )
        lines = ["visitor_id,account_id,email,language,name"]
        lines += [",".join(row) for row in VISITORS]
        (data / "visitors.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        usage = ["date,visitor_id,minutes,events"]
        usage += [f"{d},{v},{m},{e}" for d, v, m, e in sorted(self.usage)]
        (data / "usage_daily.csv").write_text("\n".join(usage) + "\n", encoding="utf-8")
        (data / "features.csv").write_text("feature_id,name\nf1,Feature one\n", encoding="utf-8")
        (data / "feature_usage.csv").write_text(
            "date,visitor_id,feature_id,clicks\n", encoding="utf-8"
        )
        (self.folder / "optout.txt").write_text(
            "# people who said no\noptout@acme.EXAMPLE\n", encoding="utf-8"
        )
        (self.folder / "tiers.csv").write_text(
            "account_id,tier,reason\nA1,P2,x\nA2,P3,y\n", encoding="utf-8"
        )
        return data

    @property
    def data(self) -> Path:
        return self.folder / "usage"

    def dataset(self) -> Any:
        from pendo_segments.data.loaders import load_dataset

        return load_dataset(self.data)

    def settings(self, **overrides: Any) -> Any:
        from pendo_segments.campaign.settings import no_login_settings

        values: dict[str, Any] = {
            "opt_out_file": self.folder / "optout.txt",
            "exclude_accounts": frozenset({"A2"}),
            "tiers_file": self.folder / "tiers.csv",
            "upload_file": self.folder / "welcome_back.csv",
        }
        values.update(overrides)
        return no_login_settings(None, state_file=self.folder / "state.sqlite", **values)


def smtp_env(port: int) -> dict[str, str]:
    """Environment for a plain-text local SMTP server (no TLS, no login)."""
    return {
        "PENDO_SEGMENTS_SMTP_HOST": "127.0.0.1",
        "PENDO_SEGMENTS_SMTP_PORT": str(port),
        "PENDO_SEGMENTS_SMTP_TLS": "none",
        "PENDO_SEGMENTS_SMTP_FROM": "Acme Insights <success@acme-insights.example>",
    }
