"""``pendo check`` (can sync run here?) and ``pendo fake-server`` (try sync without a key)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from pendo_segments.cli.output import emit_checks

FAKE_KEY = "fake-local-key"


@click.group()
def pendo() -> None:
    """Probe a Pendo subscription, or run a local fake Pendo to try sync.

    \b
    Examples:
      pendo-segments pendo check
      pendo-segments pendo fake-server --port 8765
    """


@pendo.command("check")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default=None,
    help="Output format. Default: table on a terminal, csv otherwise.",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (atomically) instead of stdout.",
)
@click.option(
    "--day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Day whose events to look for. Default: yesterday in [pendo] timezone.",
)
@click.pass_context
def check(ctx: click.Context, fmt: str | None, output: Path | None, day: Any) -> None:
    """Read-only probe: can `sync` run against the configured subscription?

    Checks that the key and region reach Pendo, that segments can be listed,
    that a one-day aggregation over [pendo] app_ids returns rows, which time
    zone Pendo's days are in (inferred from those rows' day stamps, the local
    midnights; it says when [pendo] timezone is not set or disagrees), and that the
    account fields sync writes ([sync] metadata_fields) exist in Data Mappings
    (it says exactly which to add). Writes nothing. Exit 0 when sync can run,
    1 otherwise.

    \b
    Examples:
      pendo-segments pendo check
      pendo-segments pendo check --format json
      pendo-segments pendo check --day 2026-10-31
    """
    from pendo_segments.config import load_config
    from pendo_segments.pendo.check import run_checks
    from pendo_segments.pendo.client import client_from_config
    from pendo_segments.sync import load_sync_settings

    config = load_config()
    settings = load_sync_settings(config)
    with client_from_config(config) as client:
        probes = run_checks(
            client,
            region=config.pendo.region if not config.pendo.base_url_override else "custom URL",
            app_ids=config.pendo.app_ids,
            timezone=config.pendo.timezone,
            timezone_set=config.pendo.timezone_set,
            metadata_group=settings.metadata_group,
            metadata_fields=settings.metadata_fields,
            day=day.date() if day else None,
        )
    if not emit_checks(probes, fmt, output):
        ctx.exit(1)


@pendo.command("fake-server")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--key", default=FAKE_KEY, show_default=True, help="Key the fake accepts.")
@click.option(
    "--data",
    default="sample",
    show_default=True,
    metavar="DIR",
    help="Accounts, visitors and usage to serve: a data folder, or sample.",
)
@click.option("--timezone", default="UTC", show_default=True, help="The fake's time zone.")
def fake_server(port: int, key: str, data: str, timezone: str) -> None:
    """Serve a local fake Pendo (127.0.0.1) holding sample data, to try sync without a key.

    It answers only the documented shapes of Pendo's API (docs/pendo-api.md),
    keeps everything in memory and stops with Ctrl-C. Point the other
    commands at it with the two variables it prints.

    \b
    Examples:
      pendo-segments pendo fake-server
      pendo-segments pendo fake-server --port 9000 --data usage/
    """
    import threading

    from pendo_segments.cli.common import load_data
    from pendo_segments.pendo.fake import FakePendo

    ds = load_data(data)
    fake = FakePendo(key, port=port, timezone=timezone, upload_polls=0)
    fake.load_dataset(ds)
    for name, type_ in (("tier", "string"), ("health_score", "number")):
        fake.add_metadata_field("account", "custom", name, type_)
    try:
        fake.start()
    except OSError as err:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {err.strerror}") from None
    last_day = ds.default_as_of() - dt.timedelta(days=1)
    click.echo(
        f"Fake Pendo on {fake.url} with {len(fake.accounts)} accounts and "
        f"{len(fake.visitors)} visitors; its events end on {last_day.isoformat()}. "
        "In another terminal:\n"
        f"  export PENDO_BASE_URL={fake.url}\n"
        f"  export PENDO_INTEGRATION_KEY={key}\n"
        f"  export PENDO_TIMEZONE={timezone}\n"
        f"  pendo-segments pendo check --day {last_day.isoformat()}   # a day with events\n"
        "Stop with Ctrl-C."
    )
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
