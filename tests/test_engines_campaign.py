"""``campaign no-login run --engine pandas|duckdb|spark``: the same plan on every engine.

On DuckDB / Spark the members of the no-login segment come from the engine, the
days since each visitor's last / first visit from one query of the semantic
core's visit-day rules, tiers and health from the tier policy's query and the
returns of a send run from an active-day query: the usage stays where it is.
Compared byte for byte with pandas (stdout, stderr, the CSM alerts file) on the
bundled sample (P1 exclusion from the shipped tiers.yaml) and on the hand-made
world of tests/campaign_world.py, whose expectations are worked out there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_world import AS_OF, World, smtp_env
from click.testing import CliRunner

from pendo_segments.cli import main

pytest.importorskip("duckdb")

NO_PENDO = {"PENDO_INTEGRATION_KEY": None, "PENDO_BASE_URL": None, "PENDO_SEGMENTS_CONFIG": None}
CONFIG = """
[campaign]
state_file = "state.sqlite"

[campaign.no_login]
opt_out_file = "optout.txt"
exclude_accounts = ["A2"]
tiers_file = "tiers.csv"
upload_file = "welcome_back.csv"
min_tenure_days = {tenure}
"""


def world_at(folder: Path, tenure: int = 0) -> World:
    world = World.create(folder)
    (folder / "pendo-segments.toml").write_text(CONFIG.format(tenure=tenure), encoding="utf-8")
    return world


def run(world: World, engine: str, *args: str, env: dict | None = None) -> tuple[int, str, str]:
    argv = ["campaign", "no-login", "run", "--data", str(world.data), "--engine", engine]
    argv += ["--config", str(world.folder / "pendo-segments.toml"), *args]
    result = CliRunner().invoke(main, argv, env={**NO_PENDO, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_handmade_dry_run_same_bytes(tmp_path: Path) -> None:
    """The world's plan (campaign_world.py): three emailed, three skipped, edges left out."""
    world = world_at(tmp_path)
    args = ("--as-of", AS_OF.isoformat(), "--show-skipped", "--format", "csv")
    pandas = run(world, "pandas", *args)
    duckdb = run(world, "duckdb", *args)
    assert pandas[0] == 0, pandas[2]
    assert duckdb == pandas
    rows = {line.split(",")[0]: line.split(",")[7] for line in duckdb[1].splitlines()[1:]}
    assert rows == {
        "v_edge31": "email",
        "v_en": "email",
        "v_ja": "email",
        "v_excl": "skip",
        "v_noemail": "skip",
        "v_optout": "skip",
    }
    assert ",31,en,email," in duckdb[1] and ",47,en,email," in duckdb[1]


def test_tenure_from_first_visit_days(tmp_path: Path) -> None:
    """Tenure reads days since first visit: every visitor was first active on 2026-08-20,
    73 days before 2026-11-01, so a 73-day minimum passes and 74 skips them all."""
    args = ("--as-of", AS_OF.isoformat(), "--format", "json")
    passes, fails = world_at(tmp_path / "a", tenure=73), world_at(tmp_path / "b", tenure=74)
    for world, emailed in ((passes, 3), (fails, 0)):
        pandas, duckdb = run(world, "pandas", *args), run(world, "duckdb", *args)
        assert duckdb == pandas
        assert sum(r["action"] == "email" for r in json.loads(duckdb[1])) == emailed
    assert (
        "tenure too short: first visit 73 days ago (minimum 74)"
        in run(fails, "duckdb", *args, "--show-skipped")[1]
    )


def test_sample_with_tier_exclusions_same_bytes(tmp_path: Path) -> None:
    """The sample: tiers from the shipped policy (P1 lapsed visitors become CSM alerts)."""
    outputs = {}
    for engine in ("pandas", "duckdb"):
        alerts = tmp_path / f"alerts-{engine}.csv"
        argv = ["campaign", "no-login", "run", "--data", "sample", "--engine", engine]
        argv += ["--show-skipped", "--format", "csv", "--csm-alerts", str(alerts)]
        argv += ["--state", str(tmp_path / "state.sqlite")]
        result = CliRunner().invoke(main, argv, env=NO_PENDO)
        assert result.exit_code == 0, result.stderr
        outputs[engine] = (
            result.stdout,
            result.stderr.replace(str(alerts), "FILE"),
            alerts.read_bytes(),
        )
    assert outputs["duckdb"] == outputs["pandas"]
    assert "excluded tier P1" in outputs["duckdb"][0]


def test_send_then_return_read_on_duckdb(tmp_path: Path, smtp_server, fake_pendo) -> None:  # noqa: ANN001
    """A send run on DuckDB, then v_en logs in on 11-03: the next run (11-05) records one
    return (contact day 11-01, window 11-01..11-14) and plans a cancel for nobody else."""
    recorder, port = smtp_server
    fake_pendo.add_segment("[campaign] no-login welcome back", visitors=[], created_by_api=True)
    env = {
        **smtp_env(port),
        "PENDO_INTEGRATION_KEY": fake_pendo.key,
        "PENDO_BASE_URL": fake_pendo.url,
    }
    world = world_at(tmp_path)
    first = run(world, "duckdb", "--as-of", "2026-11-01", "--send", "--format", "csv", env=env)
    assert first[0] == 0, first[2]
    assert len(recorder.messages) == 3
    world.login("v_en", "2026-11-03")
    again = run(world, "duckdb", "--as-of", "2026-11-05", "--send", "--format", "csv", env=env)
    assert again[0] == 0, again[2]
    status = CliRunner().invoke(
        main,
        ["campaign", "no-login", "status", "--format", "json"]
        + ["--config", str(world.folder / "pendo-segments.toml")],
        env=NO_PENDO,
    )
    assert json.loads(status.stdout)["summary"]["returned"] == 1


def test_spark_dry_run_same_bytes(tmp_path: Path, spark) -> None:  # noqa: ANN001
    world = world_at(tmp_path)
    args = ("--as-of", AS_OF.isoformat(), "--show-skipped", "--format", "csv")
    pandas = run(world, "pandas", *args)
    got = run(world, "spark", *args, "--spark-master", "local[1]")
    assert got == pandas
