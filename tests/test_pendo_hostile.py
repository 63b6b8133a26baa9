"""Hostile settings and answers around Pendo: each is one line, never a traceback.

``[pendo] timeout = inf`` or ``rate_limit_per_second = 1e-300`` (OverflowError from
the socket or the sleep), ``Retry-After: nan`` (ValueError from tenacity), and Pendo
answering a list of non-objects (AttributeError further down) were all tracebacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fake_pendo import FakePendo

from pendo_segments.cli import main
from pendo_segments.config import load_config
from pendo_segments.errors import ConfigError, PendoAPIError
from pendo_segments.pendo import api_shapes
from pendo_segments.pendo.client import PendoClient
from pendo_segments.sync.settings import load_sync_settings


def config_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pendo-segments.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "line,message",
    [
        (
            "timeout = inf",
            "[pendo].timeout: must be a number greater than 0 and at most 3600, got inf",
        ),
        (
            "timeout = 1e9",
            "[pendo].timeout: must be a number greater than 0 and at most 3600, got 1000000000.0",
        ),
        (
            "rate_limit_per_second = 1e-300",
            "[pendo].rate_limit_per_second: must be 0 (no limit) or a number from 0.01 to 1000, "
            "got 1e-300",
        ),
        (
            "rate_limit_per_second = inf",
            "[pendo].rate_limit_per_second: must be 0 (no limit) or a number from 0.01 to 1000, "
            "got inf",
        ),
        (
            "max_retries = 1000000",
            "[pendo].max_retries: must be a whole number from 0 to 100, got 1000000",
        ),
    ],
)
def test_pendo_settings_out_of_range_are_one_line(tmp_path: Path, line: str, message: str) -> None:
    path = config_with(tmp_path, f"[pendo]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "line,message",
    [
        ("poll_interval = inf", "[sync].poll_interval: must be a number from 0 to 3600, got inf"),
        ("lock_wait = inf", "[sync].lock_wait: must be a number from 0 to 86400, got inf"),
        (
            "upload_timeout = inf",
            "[sync].upload_timeout: must be a number greater than 0 and at most 86400, got inf",
        ),
    ],
)
def test_sync_waits_out_of_range_are_one_line(tmp_path: Path, line: str, message: str) -> None:
    path = config_with(tmp_path, f"[sync]\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_sync_settings(load_config(path, env={}))
    assert str(err.value) == f"{path}: {message}"


def test_a_sensible_rate_and_no_limit_still_load(tmp_path: Path) -> None:
    path = config_with(tmp_path, "[pendo]\nrate_limit_per_second = 0.5\ntimeout = 3600\n")
    assert load_config(path, env={}).pendo.rate_limit_per_second == 0.5
    path.write_text("[pendo]\nrate_limit_per_second = 0\n", encoding="utf-8")
    assert load_config(path, env={}).pendo.rate_limit_per_second is None


def test_timeout_inf_from_the_cli_is_one_line(tmp_path: Path) -> None:
    path = config_with(tmp_path, "[pendo]\ntimeout = inf\n")
    env = {
        "PENDO_SEGMENTS_CONFIG": str(path),
        "PENDO_INTEGRATION_KEY": "k-123456789012",
        "PENDO_BASE_URL": "http://127.0.0.1:9",  # never the real Pendo, even before the fix
    }
    result = CliRunner().invoke(main, ["pendo", "check"], env=env)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}: [pendo].timeout: must be a number greater than 0 and at most 3600, "
        "got inf\n"
    )


# --- Retry-After ---------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_retry_after_that_is_not_a_finite_number_is_ignored(value: str) -> None:
    assert api_shapes.retry_after_seconds(value) is None


def test_retry_after_nan_falls_back_to_backoff(fake_pendo: FakePendo) -> None:
    sleeps: list[float] = []
    fake_pendo.fail_next(1, status=429, retry_after=float("nan"))
    client = PendoClient(
        fake_pendo.url, fake_pendo.key, rate_limit_per_second=None, sleep=sleeps.append
    )
    assert fake_pendo.calls() == []
    assert client.list_segments() == []
    assert fake_pendo.calls()[0].path == "/api/v1/segment"
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0  # base 1 s plus up to 1 s of jitter


# --- malformed answers -----------------------------------------------------------------
def client(fake: FakePendo) -> PendoClient:
    return PendoClient(
        fake.url, fake.key, rate_limit_per_second=None, max_retries=0, sleep=lambda s: None
    )


@pytest.mark.parametrize(
    "call,body,message",
    [
        (
            lambda c: c.list_segments(),
            '[1, "x", null]',
            "Pendo API GET /api/v1/segment returned an unexpected body (item 0 of the array "
            'is not a JSON object): [1, "x", null]',
        ),
        (
            # an item without an id: sync would use the segment id "None" in paths
            lambda c: c.list_segments(),
            '[{"name": "[ps] smb", "rootVersionId": "r1", "createdByApi": true}]',
            "Pendo API GET /api/v1/segment returned an unexpected body (item 0 of the array "
            'has no \'id\'): [{"name": "[ps] smb", "rootVersionId": "r1", "createdByApi": true}]',
        ),
        (
            lambda c: c.list_guides(),
            '[{"id": "g1"}, "x"]',
            "Pendo API GET /api/v1/guide returned an unexpected body (item 1 of the array "
            'is not a JSON object): [{"id": "g1"}, "x"]',
        ),
        (
            lambda c: c.aggregate([{"source": {"accounts": None}}]),
            '{"results": [{"accountId": "a"}, null]}',
            "Pendo API POST /api/v1/aggregation returned an unexpected body (results[1] "
            'is not a JSON object): {"results": [{"accountId": "a"}, null]}',
        ),
        (
            lambda c: c.set_metadata("account", [{"accountId": "a", "values": {"tier": "P1"}}]),
            '{"total": 1, "updated": "many"}',
            "Pendo API POST /api/v1/metadata/account/custom/value returned an unexpected body "
            '(\'updated\' is not a whole number): {"total": 1, "updated": "many"}',
        ),
        (
            lambda c: c.set_metadata("account", [{"accountId": "a", "values": {"tier": "P1"}}]),
            '{"total": 1, "missing": "a"}',
            "Pendo API POST /api/v1/metadata/account/custom/value returned an unexpected body "
            '(\'missing\' is not a list): {"total": 1, "missing": "a"}',
        ),
    ],
)
def test_malformed_answers_name_the_endpoint(
    fake_pendo: FakePendo, call: Any, body: str, message: str
) -> None:
    fake_pendo.fail_next(1, status=200, body=body)
    with pytest.raises(PendoAPIError) as err:
        call(client(fake_pendo))
    assert str(err.value) == message


def test_a_segment_list_of_non_objects_stops_sync_plan_in_one_line(
    handmade_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    from handmade import frames

    from pendo_segments.data.loaders import dataset_from_frames, write_dataset

    data = tmp_path / "usage"
    write_dataset(dataset_from_frames(frames()), data)
    handmade_pendo.fail_next(1, status=200, body=json.dumps([1, "x", None]))
    result = CliRunner().invoke(
        main, ["sync", "plan", "segment_defs", "--data", str(data), "--as-of", "2026-11-01"]
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: Pendo API GET /api/v1/segment returned an unexpected body (item 0 of the "
        'array is not a JSON object): [1, "x", null]'
    )
    assert "Traceback" not in result.stderr
