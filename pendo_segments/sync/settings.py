"""``[sync]`` settings: how managed segments are marked, which metadata is pushed.

::

    [sync]
    managed_prefix = "[ps] "            # default: [pendo].managed_prefix
    managed_tag = ""                    # also managed: description contains this tag
    metadata_fields = ["tier", "health_score"]   # plus any accounts column
    metadata_group = "custom"           # default: [pendo].metadata_group
    batch_size = 500                    # metadata values per request
    patch_batch_size = 500              # visitor ids per segment PATCH (1 to 1000)
    audit_log = "pendo-sync-audit.jsonl"
    lock_file = ""                      # another lock to hold too (the per-subscription one always is)
    lock_wait = 0.0                     # seconds a second apply waits for the lock (<= 86400)
    poll_interval = 2.0                 # seconds between segment status checks (<= 3600)
    upload_timeout = 300.0              # seconds to wait for Pendo to build a list (<= 86400)
    page_size = 50000                   # rows per Aggregation API page
    tier_overrides = ""                 # tier overrides CSV (account_id,tier,note)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from pendo_segments.base.settings import Section, Text, number, problem, read_section, whole
from pendo_segments.errors import ConfigError
from pendo_segments.pendo.api_shapes import DEFAULT_PATCH_IDS, MAX_PATCH_IDS

DEFAULT_FIELDS = ("tier", "health_score")
AUDIT_LOG = "pendo-sync-audit.jsonl"


def _field_names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(f, str) and f for f in value):
        raise ValueError(f"must be a list of field names, got {value!r}")
    return list(dict.fromkeys(value))


class SyncSection(Section):
    """The keys of ``[sync]`` as written in the file (None: not set, use the default)."""

    managed_prefix: Text | None = None
    managed_tag: Text = ""
    metadata_fields: Annotated[list[str], BeforeValidator(_field_names)] = list(DEFAULT_FIELDS)
    metadata_group: Text | None = None
    batch_size: Annotated[int, BeforeValidator(whole(1))] = 500
    # Pendo asks for "small batches"; Segment's destination sends at most 1000 (api_shapes).
    patch_batch_size: Annotated[int, BeforeValidator(whole(1, MAX_PATCH_IDS))] = DEFAULT_PATCH_IDS
    audit_log: Text = AUDIT_LOG
    lock_file: Text = ""
    # Bounded: an infinite wait overflows time.sleep, and a day is already more than enough.
    lock_wait: Annotated[float, BeforeValidator(number(minimum=0, maximum=86400))] = 0.0
    poll_interval: Annotated[float, BeforeValidator(number(minimum=0, maximum=3600))] = 2.0
    upload_timeout: Annotated[float, BeforeValidator(number(above=0, maximum=86400))] = 300.0
    page_size: Annotated[int, BeforeValidator(whole(1))] = 50_000
    tier_overrides: Text = ""


@dataclass(frozen=True)
class SyncSettings:
    managed_prefix: str = "[ps] "
    managed_tag: str = ""
    metadata_fields: tuple[str, ...] = DEFAULT_FIELDS
    metadata_group: str = "custom"
    batch_size: int = 500
    patch_batch_size: int = DEFAULT_PATCH_IDS
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

    def lock_paths(self, subscription: str) -> list[Path]:
        """The per-subscription lock (see :mod:`~pendo_segments.sync.lock`), then
        ``lock_file`` when one is set."""
        from pendo_segments.sync.lock import subscription_lock_path

        return [subscription_lock_path(subscription), *([self.lock_file] if self.lock_file else [])]

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
    where = str(config.path or "pendo-segments.toml")
    if "rule_segments" in table:
        raise ConfigError(
            problem(
                where,
                "sync",
                "rule_segments",
                "this setting was removed: Pendo's API cannot write rule segments, so sync now uploads "
                "every managed segment as a visitor list; `compile --target pendo` prints the "
                "builder recipe to build by hand. Delete the rule_segments line",
            )
        )
    section = read_section(SyncSection, table, where=where, section="sync")
    pendo = config.pendo
    prefix = pendo.managed_prefix if section.managed_prefix is None else section.managed_prefix
    if not prefix.strip() and not section.managed_tag.strip():
        raise ConfigError(
            problem(
                where,
                "sync",
                "managed_prefix",
                "is empty and so is managed_tag, so managed segments could not be "
                "told apart from others",
            )
        )
    group = section.metadata_group
    return SyncSettings(
        managed_prefix=prefix,
        managed_tag=section.managed_tag,
        metadata_fields=tuple(section.metadata_fields),
        metadata_group=pendo.metadata_group if group is None else group,
        batch_size=section.batch_size,
        patch_batch_size=section.patch_batch_size,
        audit_log=Path(section.audit_log),
        lock_file=Path(section.lock_file) if section.lock_file else None,
        lock_wait=section.lock_wait,
        poll_interval=section.poll_interval,
        upload_timeout=section.upload_timeout,
        page_size=section.page_size,
        tier_overrides=Path(section.tier_overrides) if section.tier_overrides else None,
        app_ids=pendo.app_ids,
        timezone=pendo.timezone,
        extra=table,
    )
