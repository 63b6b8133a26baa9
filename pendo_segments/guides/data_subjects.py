"""Gallery subjects picked from the members of each page's segment in real data.

A page of the gallery is a guide for one segment and tier; with usage data
its subject is a visitor the evaluator puts in that segment (docs/semantics.md
§3), so the no-login email quotes a real lapse, the welcome guide greets a
new user and the Core Events intervention goes to someone who never used it.
The choice is stable: the first member by visitor id whose account is in the
page's tier and whose language picks the page's locale; else the first member
who reads the locale, else the first in the tier, else the first member (the
tier variant's copy is shown all the same). A segment without members gets the
invented example subject, labelled as such in the gallery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.guides.context import OBJECT_FIELDS, plain_value
from pendo_segments.guides.i18n import pick_locale
from pendo_segments.guides.subjects import ExampleChooser, SubjectChoice, Variant

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.guides.manifest import Manifest

#: Data columns a subject takes: the template fields (``first_name`` is derived).
VISITOR_FIELDS = tuple(f for f in OBJECT_FIELDS["visitor"] if f != "first_name")
ACCOUNT_FIELDS = (*OBJECT_FIELDS["account"], "name_latin")


def _record(frame: pd.DataFrame, pos: int, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: plain_value(frame[f].iloc[pos]) for f in fields if f in frame.columns}


class DataChooser:
    """Chooses each gallery page's subject among the members of its segment.

    ``evaluation`` and ``view`` (an account view with health and tiers) are
    computed when not given; pass the ones you already have (the demo does).
    """

    def __init__(
        self,
        manifest: Manifest,
        ds: Dataset,
        defs: Any,
        *,
        defs_path: Path,
        examples: Sequence[dict[str, Any]],
        as_of: dt.date | None = None,
        evaluation: Any = None,
        view: Any = None,
    ) -> None:
        from pendo_segments.evaluate import evaluate
        from pendo_segments.tiers.view import account_view

        wanted = sorted({s for g in manifest.guides for s in g.segments if s in defs})
        if evaluation is None or any(s not in evaluation.masks for s in wanted):
            evaluation = evaluate(defs, ds, as_of=as_of, names=wanted)
        self.evaluation = evaluation
        self.as_of: dt.date = evaluation.as_of
        if view is None:
            view = account_view(
                ds, defs_path, defs=defs, as_of=self.as_of, metrics=evaluation.metrics
            )
        self.view = view
        self.ds = ds
        self.defs = defs
        self.examples = ExampleChooser(manifest, examples)
        self.description = f"subjects from the data, as of {self.as_of.isoformat()}"
        self._locales: dict[tuple[str, ...], np.ndarray] = {}

        metrics = evaluation.metrics
        self.v2a = np.asarray(metrics.v2a)
        self.visitor_ids = np.asarray(ds.visitors["visitor_id"].astype(str))
        self.order = np.argsort(self.visitor_ids, kind="stable")
        if "language" in ds.visitors.columns:
            self.languages = [plain_value(x) for x in ds.visitors["language"]]
        else:
            self.languages = [None] * len(self.visitor_ids)
        self.since = metrics.metric("visitor", "days_since_last_visit")
        self.score = np.asarray(view.health.score, dtype=float)
        tiers = view.tiers
        account_tier = np.asarray(tiers.tier, dtype=object) if tiers is not None else None
        known = self.v2a >= 0
        self.visitor_tier = np.full(len(self.visitor_ids), None, dtype=object)
        if account_tier is not None:
            self.visitor_tier[known] = account_tier[self.v2a[known]]

    def members(self, segment: str) -> np.ndarray:
        """Visitor positions in the segment, in visitor-id order (an account
        segment's members are the visitors of its member accounts)."""
        mask = self.evaluation.masks[segment]
        if self.evaluation.segments[segment].subject == "account":
            visitor_mask = np.zeros(len(self.visitor_ids), dtype=bool)
            known = self.v2a >= 0
            visitor_mask[known] = np.asarray(mask)[self.v2a[known]]
            mask = visitor_mask
        mask = np.asarray(mask, dtype=bool)
        return self.order[mask[self.order]]

    def __call__(self, variant: Variant, locale: str) -> SubjectChoice:
        segment, tier, guide = variant.segment, variant.tier, variant.guide
        if segment not in self.evaluation.masks:
            why = f"Example person — segment {segment} is not in the definitions"
            return self.examples.choose(variant, locale, why=why, member=False)
        members = self.members(segment)
        if not len(members):
            why = f"Example person — no member of {segment} in the data"
            return self.examples.choose(variant, locale, why=why, member=False)
        reads = self.locales(tuple(guide.locales)) == locale
        in_tier = np.full(len(reads), True) if tier is None else self.visitor_tier == tier
        # Best first: in the tier and reading the locale; reading it; in the tier; anyone.
        for wanted in (in_tier & reads, reads, in_tier):
            hits = members[wanted[members]]
            if len(hits):
                v = int(hits[0])
                break
        else:
            v = int(members[0])
        context = self.context(v, tier)
        why = self._why(v, segment, tier, locale, bool(reads[v]), bool(in_tier[v]))
        account_id = context["account"].get("account_id")
        return SubjectChoice(context, why, True, str(self.visitor_ids[v]), account_id)

    def locales(self, available: tuple[str, ...]) -> np.ndarray:
        """The locale each visitor's ``language`` picks among ``available`` (cached)."""
        if available not in self._locales:
            default = self.examples.manifest.default_locale
            codes, uniques = pd.factorize(pd.Series(self.languages, dtype=object))
            picked = np.array(
                [pick_locale(u, list(available), default) for u in uniques]
                + [pick_locale(None, list(available), default)],
                dtype=object,
            )
            self._locales[available] = picked[codes]  # code -1 (no language) → the last
        return self._locales[available]

    def _why(
        self, v: int, segment: str, tier: str | None, locale: str, reads: bool, in_tier: bool
    ) -> str:
        own_tier = self.visitor_tier[v]
        parts = [f"member of {segment}"]
        if tier is not None and self.view.tiers is None:
            parts.append(f"{tier} copy (no tiers in the definitions)")
        elif tier is not None:
            parts.append(
                f"tier {tier}"
                if in_tier
                else f"tier {own_tier or 'none'} (no {tier} member; {tier} copy shown)"
            )
        language = self.languages[v] or "no language"
        parts.append(
            f"language {language}" if reads else f"language {language} (no member reads {locale})"
        )
        return ", ".join(parts)

    def context(self, v: int, tier: str | None = None) -> dict[str, Any]:
        """The render context of visitor position ``v`` (guides/context.py), from the data.

        ``tier`` overrides the account's tier (the page's variant decides the copy).
        """
        ds = self.ds
        a = int(self.v2a[v])
        since = self.since[v]
        return {
            "visitor": _record(ds.visitors, v, VISITOR_FIELDS),
            "account": _record(ds.accounts, a, ACCOUNT_FIELDS) if a >= 0 else {},
            "tier": tier if tier is not None else self.visitor_tier[v],
            "health": None if a < 0 or np.isnan(self.score[a]) else round(float(self.score[a]), 1),
            "days_since_last_visit": None if np.isnan(since) else int(since),
            "as_of": self.as_of,
        }
