"""``pendo check``: can sync run against this subscription? Read-only probes, one per need.

1. the key and region reach Pendo (a 401/403 names both; no answer at all says so,
   not that the key was refused);
2. segments can be listed (sync reads them first);
3. a one-day ``events`` aggregation over the configured apps returns rows (no
   rows: wrong ``app_ids`` or time zone, or no traffic yesterday);
3b. the subscription's time zone, inferred from those rows' ``day`` stamps (Pendo's
   days start at the subscription's local midnight, in epoch ms): the IANA zones
   with a midnight at every stamp; the configured ``[pendo] timezone`` must be one;
4. the account fields sync writes exist in Data Mappings: Pendo's metadata value
   endpoint does not create custom fields, it reports them as errors.

Nothing is written: an unofficial OpenAPI lists ``POST
/api/v1/metadata/schema/{kind}/{group}`` (create a custom field), but adding a
field changes the subscription's Data Mappings, so check only names the fields
for a Pendo admin to add (docs/pendo-api.md §3). Each probe is a :class:`Probe` with a one-line detail that
says what to do when it fails.
"""

from __future__ import annotations

import contextlib
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
    timezone_set: bool = True,
) -> list[Probe]:
    """Every probe, in order; later ones are skipped (failed) when the key is refused.

    ``timezone`` is the zone the events query uses; ``timezone_set`` False means it is
    the UTC stand-in for an unset ``[pendo] timezone`` (the time zone probe then fails
    and names the zone to set)."""
    from pendo_segments.base.pendo_fields import DAY_MS, epoch_ms
    from pendo_segments.data.pendo_source import app_id_param, events_pipeline, local_midnight_ms

    probes: list[Probe] = []
    try:
        segments = client.list_segments()
    except PendoAPIError as err:
        why, skipped = _first_failure(err, client.base_url, region)
        probes.append(Probe("key and region", False, why))
        probes += [
            Probe(n, False, f"not checked ({skipped})")
            for n in ("segments", "events", "time zone", "data mappings")
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
    # Unset zone: ask from noon UTC, which is day ``day`` from UTC-12 to UTC+11, so the
    # answer's day stamps (that day's local midnight) show the subscription's zone.
    first = local_midnight_ms(day, timezone) if timezone_set else epoch_ms(day) + DAY_MS // 2
    pipeline = [*events_pipeline(first, 1, app_id_param(app_ids)), {"limit": 5}]
    zone = timezone if timezone_set else "time zone not set"
    rows: list[Any] = []
    try:
        rows = client.aggregate(pipeline)
    except PendoAPIError as err:
        probes.append(Probe("events", False, f"the aggregation failed: {err}"))
    else:
        probes.append(
            Probe(
                "events",
                bool(rows),
                f"{day.isoformat()} ({zone}, {apps}): "
                + (
                    "events found"
                    if rows
                    else "no events: check [pendo] app_ids and timezone (or there was no traffic)"
                ),
            )
        )
    if not rows and timezone_set:
        # A wrong zone can start the day where the subscription has none of that day's
        # events: ask once more from noon UTC (day ``day`` from UTC-12 to UTC+11).
        noon = [*events_pipeline(epoch_ms(day) + DAY_MS // 2, 1, app_id_param(app_ids))]
        with contextlib.suppress(PendoAPIError):
            rows = client.aggregate([*noon, {"limit": 5}])
    probes.append(time_zone_probe(rows, timezone if timezone_set else None, day))
    probes.append(_mappings(client, metadata_group, metadata_fields))
    return probes


# -- the subscription's time zone ------------------------------------------------------
#: Zones listed first among candidates (where subscriptions usually are); the rest follow
#: alphabetically. Only a presentation order: every zone with a midnight there is listed.
COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "UTC",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
)
_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
SHOWN_ZONES = 6


def canonical_zones() -> list[str]:
    """IANA zone names of places (``Asia/Tokyo``), plus ``UTC``: not the ``Etc/GMT+9``,
    ``US/Pacific`` or ``posix/`` aliases, in :data:`COMMON_ZONES` order first."""
    from zoneinfo import available_timezones

    names = {z for z in available_timezones() if z.startswith(_REGIONS)} | {"UTC"}
    common = [z for z in COMMON_ZONES if z in names]
    return common + sorted(names - set(common))


def midnight_zones(stamps: set[int]) -> list[str]:
    """The zones in which every epoch-ms stamp is a local midnight (Pendo's day start)."""
    out = []
    for name in canonical_zones():
        zone = ZoneInfo(name)
        if all(dt.datetime.fromtimestamp(ms / 1000, zone).time() == dt.time() for ms in stamps):
            out.append(name)
    return out


def _offset(ms: int, zone: str) -> str:
    """``UTC+09:00`` / ``UTC-07:00``: the zone's offset at ``ms``."""
    offset = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _listed(zones: list[str]) -> str:
    shown = ", ".join(zones[:SHOWN_ZONES])
    more = len(zones) - SHOWN_ZONES
    return f"{shown} and {more} more" if more > 0 else shown


def time_zone_probe(rows: list[Any], configured: str | None, day: dt.date) -> Probe:
    """Infer the subscription's zone from the ``day`` stamps of an events aggregation and
    compare it with ``[pendo] timezone`` (``configured``; None: not set)."""
    how = 'set timezone = "{}" under [pendo] or PENDO_TIMEZONE'
    stamps = {
        int(r["day"])
        for r in rows
        if isinstance(r, dict)
        and isinstance(r.get("day"), int | float)
        and not isinstance(r.get("day"), bool)
    }
    if not stamps:
        if configured:
            return Probe("time zone", True, f"{configured} (not checked: no events that day)")
        return Probe(
            "time zone",
            False,
            "[pendo] timezone is not set and no events were found to infer it from: run "
            "`pendo-segments pendo check --day DAY` with a day of traffic",
        )
    zones = midnight_zones(stamps)
    first = min(stamps)
    seen = dt.datetime.fromtimestamp(first / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if not zones:
        return Probe(
            "time zone",
            False,
            f"Pendo's days start at {seen}, a midnight in no known time zone: set [pendo] "
            "timezone by hand",
        )
    if configured in zones:
        return Probe(
            "time zone",
            True,
            f"{configured} ({_offset(first, configured)}) as configured: Pendo's days start "
            "at its midnights",
        )
    offset = _offset(first, zones[0])
    others = f" (other zones at that offset: {_listed(zones[1:])})" if len(zones) > 1 else ""
    start = f"Pendo's days start at {offset} midnights (e.g. {seen})"
    if configured is None:
        return Probe(
            "time zone",
            False,
            f"[pendo] timezone is not set; {start}: {how.format(zones[0])}{others}",
        )
    return Probe(
        "time zone",
        False,
        f"[pendo] timezone {configured} disagrees with Pendo: {start}; "
        f"{how.format(zones[0])}{others}",
    )


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
