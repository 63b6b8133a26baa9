"""``pendo check``: can sync run against this subscription? Read-only probes, one per need.

1. the key and region reach Pendo (a 401/403 names both; no answer at all says so,
   not that the key was refused);
2. segments can be listed (sync reads them first);
3. a one-day ``events`` aggregation over the configured apps returns rows (no
   rows: wrong ``app_ids`` or time zone, or no traffic yesterday);
4. the account fields sync writes exist in Data Mappings: Pendo's metadata value
   endpoint does not create custom fields, it reports them as errors.

Nothing is written: an unofficial OpenAPI lists ``POST
/api/v1/metadata/schema/{kind}/{group}`` (create a custom field), but adding a
field changes the subscription's Data Mappings, so check only names the fields
for a Pendo admin to add (docs/pendo-api.md §3). Each probe is a :class:`Probe` with a one-line detail that
says what to do when it fails.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pendo_segments.base.words import plural
from pendo_segments.errors import PendoAPIError
from pendo_segments.pendo.transport import PendoUnreachable

#: Data Mappings type of the fields sync writes (anything else: text).
FIELD_TYPES = {"health_score": "number", "tier": "text"}


@dataclass
class Probe:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checks(
    client: Any,
    *,
    region: str,
    app_ids: tuple[str, ...],
    timezone: str,
    metadata_group: str,
    metadata_fields: tuple[str, ...],
    day: dt.date | None = None,
) -> list[Probe]:
    """Every probe, in order; later ones are skipped (failed) when the key is refused."""
    from pendo_segments.data.pendo_source import app_id_param, events_pipeline, local_midnight_ms

    probes: list[Probe] = []
    try:
        segments = client.list_segments()
    except PendoAPIError as err:
        why, skipped = _first_failure(err, client.base_url, region)
        probes.append(Probe("key and region", False, why))
        probes += [
            Probe(n, False, f"not checked ({skipped})")
            for n in ("segments", "events", "data mappings")
        ]
        return probes
    probes.append(Probe("key and region", True, f"{client.base_url} (region {region})"))
    probes.append(Probe("segments", True, f"{plural(len(segments), 'segment')} listed"))

    day = day or dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)
    apps = (
        "every app"
        if "*" in app_ids
        else ("app " if len(app_ids) == 1 else "apps ") + ", ".join(app_ids)
    )
    pipeline = [
        *events_pipeline(local_midnight_ms(day, timezone), 1, app_id_param(app_ids)),
        {"limit": 5},
    ]
    try:
        rows = client.aggregate(pipeline)
    except PendoAPIError as err:
        probes.append(Probe("events", False, f"the aggregation failed: {err}"))
    else:
        probes.append(
            Probe(
                "events",
                bool(rows),
                f"{day.isoformat()} ({timezone}, {apps}): "
                + (
                    "events found"
                    if rows
                    else "no events: check [pendo] app_ids and timezone (or there was no traffic)"
                ),
            )
        )
    probes.append(_mappings(client, metadata_group, metadata_fields))
    return probes


def _first_failure(err: PendoAPIError, base_url: str, region: str) -> tuple[str, str]:
    """What went wrong with the first request, and why the later probes were skipped."""
    if err.status in (401, 403):
        return (
            f"Pendo refused the integration key at {base_url} (region {region}): "
            "check the key, its region ([pendo] region or the key's suffix) and that it "
            "allows write access",
            "the key was refused",
        )
    if isinstance(err, PendoUnreachable):  # no HTTP answer at all: nothing said about the key
        return (
            f"could not reach Pendo at {base_url} ({err.reason}); check [pendo] base_url / "
            "PENDO_BASE_URL, the region and the network",
            "Pendo could not be reached",
        )
    return str(err), "listing segments failed"


def _mappings(client: Any, group: str, fields: tuple[str, ...]) -> Probe:
    try:
        schema = client.metadata_schema("account")
    except PendoAPIError as err:
        return Probe("data mappings", False, f"cannot read the account schema: {err}")
    known = set((schema.get(group) or {}) if isinstance(schema, dict) else {})
    missing = [f for f in fields if f not in known]
    if not missing:
        return Probe("data mappings", True, f"account {group} fields: {', '.join(fields)}")
    add = ", ".join(f"{f} ({FIELD_TYPES.get(f, 'text')})" for f in missing)
    return Probe(
        "data mappings",
        False,
        f"add these account fields in Pendo under Settings > Data Mappings > Add Custom "
        f"Field (group {group}): {add}",
    )
