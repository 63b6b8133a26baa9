"""Salesforce faults are one line, retried where that is safe, and never show a secret.

All against the local stand-in on https://127.0.0.1 (tests/salesforce_standin.py):
an expired session (401 INVALID_SESSION_ID), 5xx answers (retried on GET / PATCH /
PUT, up to [salesforce] max_retries = 2 here), an org that cannot be reached.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from salesforce_standin import (
    SESSION_ID,
    StandIn,
    config_text,
    environment,
    plan_args,
    write_data,
)

from pendo_segments.cli import main


@pytest.fixture
def data(org: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "pendo-segments.toml"
    config.write_text(config_text(tmp_path / "state.sqlite"))
    for key, value in environment(org, config).items():
        monkeypatch.setenv(key, value)
    return write_data(tmp_path / "data")


def test_an_expired_session_is_one_line(org: StandIn, data: Path) -> None:
    org.expire_session()
    result = CliRunner().invoke(main, plan_args(data))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Salesforce describe of Account: the session was refused (HTTP 401: "
        "INVALID_SESSION_ID: Session expired or invalid); set a new SALESFORCE_SESSION_ID, "
        "or log in with SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN"
    )
    assert "Traceback" not in result.output
    assert SESSION_ID not in result.output


def test_an_expired_session_during_apply_stops_it(org: StandIn, data: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert CliRunner().invoke(main, plan_args(data, "--out", str(plan))).exit_code == 3
    org.expire_session()
    result = CliRunner().invoke(main, ["salesforce", "apply", "--plan", str(plan)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: Salesforce query of Account: the session was refused (HTTP 401: "
        "INVALID_SESSION_ID: Session expired or invalid); set a new SALESFORCE_SESSION_ID, "
        "or log in with SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN"
    ]


def test_5xx_on_reads_and_updates_is_retried(org: StandIn, data: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    org.fail_next(2, 503, "/query")
    planned = CliRunner().invoke(main, plan_args(data, "--out", str(plan)))
    assert planned.exit_code == 3, planned.output
    # 2 answers of 503, then the query: 3 GETs of the one Account query
    assert sum(1 for m, p in org.log if p.endswith("/query/")) == 3
    org.fail_next(1, 502, "/composite/sobjects")
    applied = CliRunner().invoke(main, ["salesforce", "apply", "--plan", str(plan)])
    assert applied.exit_code == 0, applied.output
    assert sum(1 for m, _ in org.log if m == "PATCH") == 2
    assert org.accounts["0015e00000AAAAAAAA"]["Pendo_Tier__c"] == "Neighborhood"


def test_5xx_beyond_the_retries_is_one_line(org: StandIn, data: Path) -> None:
    org.fail_next(3, 503, "/describe")  # max_retries = 2: three answers, all 503
    result = CliRunner().invoke(main, plan_args(data))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: Salesforce describe of Account failed: HTTP 503: SERVER_UNAVAILABLE: try later"
    )
    assert sum(1 for _, p in org.log if p.endswith("/describe")) == 3


def test_an_org_that_cannot_be_reached(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", f"https://127.0.0.1:{port}")
    result = CliRunner().invoke(main, plan_args(data))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: Salesforce describe of Account: could not reach https://127.0.0.1:{port} "
        "(ConnectionError)"
    )


def test_no_secret_in_output_logs_plan_or_state(
    org: StandIn, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plan = tmp_path / "plan.json"
    org.fail_next(1, 503, "/query")  # a retry, so urllib3 logs the request again
    runs = [
        CliRunner().invoke(main, ["salesforce", "check"]),
        CliRunner().invoke(main, plan_args(data, "--out", str(plan), "--format", "json")),
        CliRunner().invoke(main, ["salesforce", "apply", "--plan", str(plan), "--format", "json"]),
    ]
    assert [r.exit_code for r in runs] == [0, 3, 0], [r.output for r in runs]
    assert any("Retry" in r.getMessage() for r in caplog.records)
    texts = {f"run {i}": r.stdout + r.stderr for i, r in enumerate(runs)}
    texts["log"] = "\n".join(r.getMessage() for r in caplog.records)
    texts["plan"] = plan.read_text()
    texts["state"] = (tmp_path / "state.sqlite").read_bytes().decode("latin-1")
    for where, text in texts.items():
        assert SESSION_ID not in text, where
        assert SESSION_ID.split("!")[1] not in text, where


def test_a_password_never_shows_in_a_failed_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Username / password login goes to login.salesforce.com (SOAP), which a test cannot
    reach: the library's refusal stands in for it."""
    from simple_salesforce import api
    from simple_salesforce.exceptions import SalesforceAuthenticationFailed

    def refuse(**_kwargs: object) -> None:
        raise SalesforceAuthenticationFailed(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
        )

    monkeypatch.setattr(api, "SalesforceLogin", refuse)
    for key in ("SALESFORCE_SESSION_ID", "SALESFORCE_INSTANCE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SALESFORCE_USERNAME", "ops@example.com")
    monkeypatch.setenv("SALESFORCE_PASSWORD", "hunter2-secret-pw")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "tok-secret-123")
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(_empty_config(tmp_path)))
    result = CliRunner().invoke(main, ["salesforce", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == (
        'login,NO,"Salesforce login failed for user ops@example.com at login.salesforce.com: '
        'INVALID_LOGIN: Invalid username, password, security token; or user locked out."'
    )  # quoted: the message holds commas
    assert "hunter2" not in result.output and "tok-secret" not in result.output


def _empty_config(tmp_path: Path) -> Path:
    config = tmp_path / "empty.toml"
    config.write_text("")
    return config


def test_without_the_extra_it_says_what_to_install(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "simple_salesforce", None)  # import fails
    result = CliRunner().invoke(main, plan_args(data))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: the Salesforce commands need simple-salesforce: "
        "pip install 'pendo-segments[salesforce]'"
    )


def test_no_login_fails_before_reading_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in ("SALESFORCE_SESSION_ID", "SALESFORCE_INSTANCE_URL", "SALESFORCE_USERNAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PENDO_SEGMENTS_CONFIG", str(_empty_config(tmp_path)))
    result = CliRunner().invoke(main, plan_args(tmp_path / "no-such-folder"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no Salesforce login: set SALESFORCE_SESSION_ID and SALESFORCE_INSTANCE_URL, or "
        "SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (or the same "
        f"keys under [salesforce] in {tmp_path / 'empty.toml'})\n"
    )
