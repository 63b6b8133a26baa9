"""``explain`` on whichever engine a command opened.

The counts of a subject depend only on its account's rows, so the SQL
engines pick those rows (DuckDB here, Spark in ``explain.explain_spark``) and
the numpy evaluator explains them exactly as it would the whole data set.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pendo_segments.definitions.loader import DefinitionSet
    from pendo_segments.engines import Engine
    from pendo_segments.evaluate.explain import Explanation

USAGE = ("usage_daily", "feature_usage")


def explain_on(
    engine: Engine,
    defs: DefinitionSet,
    name: str,
    subject_id: str,
    *,
    as_of: dt.date | None = None,
) -> Explanation:
    """Each condition of segment ``name`` for ``subject_id``, computed from ``engine``'s data."""
    from pendo_segments.evaluate import explain

    seg = defs.get(name)  # an unknown segment fails before the data is read
    if engine.in_memory is not None:
        return explain(defs, engine.in_memory, name, subject_id, as_of=as_of)
    if engine.name == "spark":
        from pendo_segments.evaluate.explain import explain_spark

        return explain_spark(defs, engine.spark_data, name, subject_id, as_of=as_of)  # type: ignore[attr-defined]
    from pendo_segments.evaluate.explain import _explain

    ds = _subject_dataset(engine, seg.subject, str(subject_id))
    day = engine.day(as_of)
    engine.warn_as_of(defs, as_of)
    return _explain(defs, ds, seg, str(subject_id), day)


def _subject_dataset(engine: Engine, subject: str, subject_id: str) -> Any:
    """The small tables, and the usage rows of the subject's account (its visitors)."""
    from pendo_segments.data.loaders import dataset_from_frames

    small = engine.small_tables()
    visitors = engine.subjects("visitor")  # DuckDB on a folder keeps their rows apart
    if subject == "visitor":
        hit = visitors.loc[visitors["visitor_id"] == subject_id, "account_id"]
    else:
        hit = small.accounts.loc[small.accounts["account_id"] == subject_id, "account_id"]
    account = hit.iloc[0] if len(hit) else None
    if account is None or account != account:  # unknown id, or a visitor without an account
        ids = [subject_id]
    else:
        ids = [str(v) for v in visitors.loc[visitors["account_id"] == account, "visitor_id"]]
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in ids) or "NULL"
    tables: dict[str, Any] = {
        name: engine.query(
            f"SELECT * FROM {name} WHERE CAST(visitor_id AS VARCHAR) IN ({listed})"
        ).astype(str)
        for name in USAGE
    }
    for name in ("accounts", "features", "nps", "tickets", "outcomes"):
        frame = getattr(small, name)
        if frame is not None:
            tables[name] = frame
    tables["visitors"] = visitors
    ds = dataset_from_frames(tables, source=small.source, warn=lambda _m: None)
    ds.accounts_history, ds.visitors_history = small.accounts_history, small.visitors_history
    return ds
