"""Record the HTTP cassettes under cassettes/ — on purpose, then review the diff.

    python scripts/record_cassettes.py            # against the fake Pendo (pendo_segments/pendo/fake.py)
    PENDO_INTEGRATION_KEY=... python scripts/record_cassettes.py --live   # a real subscription

One session, four cassettes (vcrpy, YAML): ``pull`` (``pendo-segments pull``
into a folder), ``sync_plan`` (first plan on that folder, saved as
cassettes/plan.json), ``sync_apply`` (``sync apply --plan cassettes/plan.json``)
and ``sync_plan_after`` (the second plan, which has nothing to do). The
integration key header is filtered out of every request; the fake's random
port is rewritten to ``http://pendo.test`` so the files are stable. tests/test_cassettes.py imports
this module, so replay and recording cannot disagree on the settings.

``--live`` WRITES TO THE SUBSCRIPTION (segments named "[ps] …", account
metadata): use a sandbox. It reads the key, region / PENDO_BASE_URL and
``[pendo]`` settings from the environment and pendo-segments.toml as usual.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
PLAN_FILE = CASSETTES / "plan.json"
SESSION_FILE = CASSETTES / "session.json"
STABLE_BASE_URL = "http://pendo.test"
#: The fake's key while recording: tests/test_no_secrets.py greps every cassette for it.
RECORDING_KEY = "fake-recording-key-7f3c9a1e5b2d4c6a"
KEY_HEADER = "x-pendo-integration-key"
AS_OF = dt.date(2026, 11, 1)
PULL_DAYS, PAGE_SIZE = 35, 1000  # two event calls (30 + 5 days), several pages each
#: The generated sample loaded into the fake (the generator needs >= 200 visitors).
SAMPLE = {"accounts": 20, "visitors": 200, "days": 40, "seed": 7}
SESSION = ("pull", "sync_plan", "sync_apply", "sync_plan_after")
#: Config used while recording and replaying: no client-side waits.
CONFIG_TOML = """[pendo]
rate_limit_per_second = 0
pull_requests_per_second = 0
max_retries = 0
timezone = "UTC"  # the fake stamps UTC midnights (pull, sync need the zone set)
[sync]
poll_interval = 0.0
audit_log = "{audit}"
"""


def make_vcr(
    record_mode: str = "none",
    base_url: str | None = None,
    *,
    stable_url: str = STABLE_BASE_URL,
    secret_header: str = KEY_HEADER,
    library: Path = CASSETTES,
) -> Any:
    """The one vcrpy configuration (match on method + path + query + body; no host).

    ``base_url`` (a server on a random local port) is written as ``stable_url`` so
    the files do not change between recordings; ``secret_header`` is never recorded.
    The Salesforce stand-in (tests/salesforce_standin.py) records through it too.
    """
    import vcr

    def scrub_request(request: Any) -> Any:
        if base_url:
            request.uri = request.uri.replace(base_url, stable_url)
        return request

    def scrub_response(response: Any) -> Any:
        body = response.get("body", {}).get("string")
        if base_url and isinstance(body, bytes):
            response["body"]["string"] = body.replace(base_url.encode(), stable_url.encode())
        return response

    return vcr.VCR(
        cassette_library_dir=str(library),
        serializer="yaml",
        record_mode=record_mode,
        match_on=["method", "path", "query", "body"],
        filter_headers=[secret_header],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )


def commands(data_dir: Path) -> dict[str, list[str]]:
    """The CLI calls of the session, by cassette name; the plans read the pulled folder."""
    plan = [
        "sync",
        "plan",
        "segment_defs",
        "--data",
        str(data_dir),
        "--as-of",
        AS_OF.isoformat(),
        "--format",
        "json",
    ]
    return {
        "pull": [
            "pull",
            "--out",
            str(data_dir),
            "--days",
            str(PULL_DAYS),
            "--as-of",
            AS_OF.isoformat(),
            "--page-size",
            str(PAGE_SIZE),
        ],
        "sync_plan": [*plan, "--out", str(PLAN_FILE)],
        "sync_apply": ["sync", "apply", "--plan", str(PLAN_FILE), "--format", "json"],
        "sync_plan_after": plan,
    }


@contextmanager
def environment(base_url: str, key: str, folder: Path) -> Iterator[dict[str, str]]:
    """Point the CLI at ``base_url`` with the fast config; restore os.environ after."""
    config = folder / "pendo-segments.toml"
    config.write_text(CONFIG_TOML.format(audit=(folder / "audit.jsonl").as_posix()))
    env = {
        "PENDO_BASE_URL": base_url,
        "PENDO_INTEGRATION_KEY": key,
        "PENDO_SEGMENTS_CONFIG": str(config),
        "NO_PROXY": "127.0.0.1,localhost,pendo.test",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_cli(args: list[str]) -> Any:
    from click.testing import CliRunner

    from pendo_segments.cli import main

    os.chdir(ROOT)  # segment_defs/ and guide_templates/ of this checkout
    return CliRunner().invoke(main, args, catch_exceptions=False)


def record(live: bool) -> None:
    from pendo_segments.data.sample import generate_sample
    from pendo_segments.pendo.fake import FakePendo

    CASSETTES.mkdir(exist_ok=True)
    for name in SESSION:
        (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
    source = generate_sample(**SAMPLE, end=AS_OF - dt.timedelta(days=1))
    fake = None
    if live:
        key = os.environ.get("PENDO_INTEGRATION_KEY", "")
        if not key:
            sys.exit("--live needs PENDO_INTEGRATION_KEY")
        from pendo_segments.config import load_config

        base_url = load_config().pendo.base_url
    else:
        # one "processing" status answer per build, whatever the machine's speed
        fake = FakePendo(key=RECORDING_KEY, upload_polls=1, build_seconds=600).start()
        fake.load_dataset(source)
        base_url, key = fake.url, RECORDING_KEY
    recorder = make_vcr("all", None if live else base_url)
    try:
        with tempfile.TemporaryDirectory() as tmp, environment(base_url, key, Path(tmp)):
            for name, args in commands(Path(tmp) / "pulled").items():
                with recorder.use_cassette(f"{name}.yaml"):
                    result = run_cli(args)
                print(f"{name}: exit {result.exit_code}", file=sys.stderr)
                if result.exit_code not in (0, 3):
                    sys.exit(result.output)
            if live:  # what the subscription held (the sample was not used)
                from pendo_segments.data.loaders import load_dataset

                source = load_dataset(Path(tmp) / "pulled")
    finally:
        if fake is not None:
            fake.stop()
    stable = STABLE_BASE_URL if not live else base_url
    _rebase_plan(stable)
    SESSION_FILE.write_text(
        json.dumps(
            {
                "recorded_against": "fake" if not live else "live",
                "base_url": stable,
                "as_of": AS_OF.isoformat(),
                "pull_days": PULL_DAYS,
                "source": {
                    "accounts": len(source.accounts),
                    "visitors": len(source.visitors),
                    "features": len(source.features),
                },
            },
            indent=2,
        )
        + "\n"
    )


def _rebase_plan(base_url: str) -> None:
    """Point the saved plan at the stable URL (its id is a hash of its content)."""
    from pendo_segments.atomic import write_text
    from pendo_segments.sync.plan import Plan, SegmentChange

    raw = json.loads(PLAN_FILE.read_text())
    segments = [SegmentChange(**s) for s in raw.pop("segments")]
    plan = Plan(**{**raw, "segments": segments, "base_url": base_url})
    plan.plan_id = plan.identity()
    write_text(PLAN_FILE, plan.to_json())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--live",
        action="store_true",
        help="record against the configured real subscription (writes to it)",
    )
    record(parser.parse_args(argv).live)


if __name__ == "__main__":
    main()
