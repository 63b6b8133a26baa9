"""``[sync]`` settings: how managed segments are marked, which metadata is pushed.

::

    [sync]
    managed_prefix = "[ps] "            # default: [pendo].managed_prefix
    managed_tag = ""                    # also managed: description contains this tag
    metadata_fields = ["tier", "health_score"]   # plus any accounts column
    metadata_group = "custom"           # default: [pendo].metadata_group
    batch_size = 500                    # metadata values per request
    audit_log = "pendo-sync-audit.jsonl"
    lock_file = ""                      # default: the audit log's path + ".lock"
    lock_wait = 0.0                     # seconds a second apply waits for the lock
    poll_interval = 2.0                 # seconds between segment status checks
    upload_timeout = 300.0              # seconds to wait for Pendo to build a list
    page_size = 50000                   # rows per Aggregation API page
    tier_overrides = ""                 # tier overrides CSV (account_id,tier,note)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pendo_segments.config import reject_unknown_keys
from pendo_segments.errors import ConfigError

DEFAULT_FIELDS = ("tier", "health_score")
AUDIT_LOG = "pendo-sync-audit.jsonl"


@dataclass(frozen=True)
class SyncSettings:
    managed_prefix: str = "[ps] "
    managed_tag: str = ""
    metadata_fields: tuple[str, ...] = DEFAULT_FIELDS
    metadata_group: str = "custom"
    batch_size: int = 500
    audit_log: Path = Path(AUDIT_LOG)
    lock_file: Path | None = None
    lock_wait: float = 0.0
    poll_interval: float = 2.0
    upload_timeout: float = 300.0
    page_size: int = 50_000
    tier_overrides: Path | None = None
    # From [pendo]: which apps event sources count, and whose days a window counts.
    app_ids: tuple[str, ...] = ("*",)
    timezone: str = "UTC"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def lock_path(self, audit_log: Path | None = None) -> Path:
        """One lock per audit log unless ``lock_file`` names another."""
        return self.lock_file or Path(f"{audit_log or self.audit_log}.lock")

    def pendo_name(self, name: str) -> str:
        """The name a definition's segment carries in Pendo."""
        return f"{self.managed_prefix}{name}"

    def local_name(self, pendo_name: str) -> str | None:
        """The definition name behind a managed Pendo name (None when not prefixed)."""
        if self.managed_prefix and pendo_name.startswith(self.managed_prefix):
            return pendo_name[len(self.managed_prefix) :]
        return None if self.managed_prefix else pendo_name

    def is_managed(self, segment: dict[str, Any]) -> bool:
        """Ours to change: the name prefix, or the description tag when one is set."""
        name = str(segment.get("name") or "")
        if self.managed_prefix and name.startswith(self.managed_prefix):
            return True
        return bool(self.managed_tag) and self.managed_tag in str(segment.get("description") or "")

    def description(self, text: str) -> str:
        return f"{text} {self.managed_tag}".strip() if self.managed_tag else text


def load_sync_settings(config: Any) -> SyncSettings:
    """``[sync]`` of the config (``pendo_segments.config.Config``), checked key by key."""
    table = config.section("sync")
    if "rule_segments" in table:
        raise ConfigError(
            f"{config.path or 'pendo-segments.toml'}: [sync] rule_segments was removed: "
            "Pendo's API cannot write rule segments, so sync now uploads every managed "
            "segment as a visitor list; `compile --target pendo` prints the builder "
            "recipe to build by hand. Delete the rule_segments line"
        )
    reject_unknown_keys(
        table,
        sorted({f.name for f in fields(SyncSettings)} - {"extra", "app_ids", "timezone"}),
        str(config.path or "pendo-segments.toml"),
        "sync",
    )
    where = f"{config.path or 'pendo-segments.toml'}: [sync]"
    pendo = config.pendo
    prefix = _text(table, "managed_prefix", where, pendo.managed_prefix)
    tag = _text(table, "managed_tag", where, "")
    if not prefix.strip() and not tag.strip():
        raise ConfigError(
            f"{where}: managed_prefix and managed_tag are both empty, so "
            "managed segments could not be told apart from others"
        )
    raw_fields = table.get("metadata_fields", list(DEFAULT_FIELDS))
    if not isinstance(raw_fields, list) or not all(isinstance(f, str) and f for f in raw_fields):
        raise ConfigError(f"{where}: metadata_fields must be a list of field names")
    overrides = _text(table, "tier_overrides", where, "")
    return SyncSettings(
        managed_prefix=prefix,
        managed_tag=tag,
        metadata_fields=tuple(dict.fromkeys(raw_fields)),
        metadata_group=_text(table, "metadata_group", where, pendo.metadata_group),
        batch_size=int(_number(table, "batch_size", where, 500, minimum=1, whole=True)),
        audit_log=Path(_text(table, "audit_log", where, AUDIT_LOG)),
        lock_file=Path(lock) if (lock := _text(table, "lock_file", where, "")) else None,
        lock_wait=_number(table, "lock_wait", where, 0.0, minimum=0.0),
        poll_interval=_number(table, "poll_interval", where, 2.0, minimum=0.0),
        upload_timeout=_number(table, "upload_timeout", where, 300.0, minimum=0.001),
        page_size=int(_number(table, "page_size", where, 50_000, minimum=1, whole=True)),
        tier_overrides=Path(overrides) if overrides else None,
        app_ids=pendo.app_ids,
        timezone=pendo.timezone,
        extra=table,
    )


def _text(table: dict[str, Any], name: str, where: str, default: str) -> str:
    value = table.get(name, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {name} must be a string, got {value!r}")
    return value


def _number(
    table: dict[str, Any],
    name: str,
    where: str,
    default: float,
    *,
    minimum: float,
    whole: bool = False,
) -> float:
    value = table.get(name, default)
    bad = (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < minimum
        or (whole and not float(value).is_integer())
    )
    if bad:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{where}: {name} must be {kind} >= {minimum:g}, got {value!r}")
    return float(value)
