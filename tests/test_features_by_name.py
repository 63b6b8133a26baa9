"""Features written by name (issue 26 #1): resolved to the catalogue's ids before any engine
or compile target sees a rule.

Real Pendo feature ids are opaque, so the reference for "same answers" is the
bundled sample with its readable ids and definitions that write those ids; the
copy under test has opaque ids (as a real subscription, and the outside check)
and the shipped definitions, which write the features' names.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data.loaders import bundled_sample_path
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError, EvaluationError
from pendo_segments.evaluate import evaluate
from pendo_segments.pendo.fake import FakePendo
from pendo_segments.sources import open_dataset

SHIPPED = Path("segment_defs")
#: the sample's features the shipped definitions name, as its features.csv names them
NAMES = {
    "core_events": "Core events",
    "data_explorer": "Data Explorer",
    "path_reports": "Path reports",
    "guide_publishing": "Guide publishing",
}
#: opaque ids, as Pendo's look (written by hand: no code computes them here)
OPAQUE = {
    "core_events": "6r2iMJST3l_l8fyDsjyxhMnRGso",
    "data_explorer": "Qm9vX3dpdGhfYV9kYXRhX2V4cGw",
    "path_reports": "cGF0aF9yZXBvcnRzX29wYXF1ZTE",
    "guide_publishing": "Z3VpZGVfcHVibGlzaGluZ19pZDI",
}


def _opaque_copy(tmp_path: Path) -> Path:
    """The bundled sample with opaque ids for the four named features (features.csv and
    feature_usage.csv), every other file as it is."""
    out = tmp_path / "opaque"
    shutil.copytree(bundled_sample_path(), out)
    for name in ("features.csv", "feature_usage.csv"):
        frame = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        frame["feature_id"] = frame["feature_id"].replace(OPAQUE)
        frame.to_csv(out / name, index=False)
    return out


def _defs_by_id(tmp_path: Path) -> Path:
    """The shipped definitions with every feature written as the sample's id (the reference)."""
    out = tmp_path / "by_id"
    shutil.copytree(SHIPPED, out)
    for path in out.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        for fid, name in NAMES.items():
            text = text.replace(f"feature_name: {name}}}", f"feature_name: {fid}}}")
            text = text.replace(f"feature: {name},", f"feature: {fid},")
        path.write_text(text, encoding="utf-8")
    assert "Core events" not in (out / "never_used_feature.yaml").read_text(encoding="utf-8")
    return out


def _members(defs: Path, data: Path | str, engine: str = "pandas") -> str:
    result = CliRunner().invoke(
        main,
        ["evaluate", str(defs), "--data", str(data), "--engine", engine, "--format", "csv"],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_shipped_definitions_name_their_features() -> None:
    for path in ("never_used_feature.yaml", "active_feature.yaml", "expansion_ready.yaml"):
        text = (SHIPPED / path).read_text(encoding="utf-8")
        assert re.search(r"feature: (Data Explorer|Path reports|\"\{feature_name\}\")", text)
    names = [s.name for s in load_definitions(SHIPPED)]
    assert "never_used_core_events" in names and "active_guide_publishing" in names


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_opaque_ids_give_the_sample_memberships(tmp_path: Path, engine: str) -> None:
    reference = _members(_defs_by_id(tmp_path), "sample")
    assert _members(SHIPPED, "sample", engine) == reference  # the sample did not change
    got = _members(SHIPPED, _opaque_copy(tmp_path), engine)
    assert got == reference
    # not vacuous: the named features have members on both sides
    assert "never_used_core_events" in got and "active_data_explorer" in got


def test_unknown_feature_is_file_line_with_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "name: x\ntitle: X\nsubject: visitor\nrule:\n"
        "  all:\n    - {metric: feature_clicks, feature: Core event, op: '>=', value: 1}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--data", "sample"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'x.yaml'}:6: rule.all[0].feature: unknown feature 'Core event' "
        "(not in the feature catalogue); did you mean 'Core events'?\n"
    )
    # evaluate (the definitions loaded without a catalogue): the same line, from the data
    result = CliRunner().invoke(
        main, ["evaluate", str(tmp_path), "--data", "sample", "--format", "csv"]
    )
    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"Error: {tmp_path / 'x.yaml'}:6: rule.all[0].feature: unknown feature 'Core event' "
        "(not in the feature catalogue); did you mean 'Core events'?\n"
    )


def _catalogue(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["feature_id", "name"])


def _one_rule(tmp_path: Path, feature: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(
        "name: x\ntitle: X\nsubject: visitor\nrule:\n"
        f"  all:\n    - {{metric: feature_clicks, feature: {feature}, op: '>=', value: 1}}\n",
        encoding="utf-8",
    )
    return path


def test_an_id_wins_over_another_features_name(tmp_path: Path) -> None:
    # 'reports' is the id of one feature and the name of another
    features = _catalogue([("reports", "Dashboards"), ("Xy9_opaque", "reports")])
    defs = load_definitions(_one_rule(tmp_path, "reports"), features=features)
    assert defs.get("x").rule.all[0].feature == "reports"
    defs = load_definitions(_one_rule(tmp_path, "Dashboards"), features=features)
    assert defs.get("x").rule.all[0].feature == "reports"


def test_a_name_two_features_share_must_be_written_as_an_id(tmp_path: Path) -> None:
    features = _catalogue([("a1", "Export"), ("b2", "Export")])
    with pytest.raises(DefinitionError) as err:
        load_definitions(_one_rule(tmp_path, "Export"), features=features)
    assert str(err.value) == (
        f"{tmp_path / 'x.yaml'}:6: rule.all[0].feature: feature name 'Export' is ambiguous: "
        "2 features have it (ids a1, b2); write the id"
    )


def test_engines_get_ids_when_the_definitions_were_loaded_without_a_catalogue(
    tmp_path: Path,
) -> None:
    data = _opaque_copy(tmp_path)
    defs = load_definitions(SHIPPED)  # no catalogue: names as written
    assert defs.get("never_used_core_events").rule.all[0].feature == "Core events"
    ds = open_dataset(str(data))
    ev = evaluate(defs, ds, names=["never_used_core_events", "active_core_events"])
    assert defs.get("active_core_events").rule.all[0].feature == OPAQUE["core_events"]
    # hand check: visitors with >= 10 clicks on core_events in the 30 days before as-of
    usage = pd.read_csv(data / "feature_usage.csv", parse_dates=["date"])
    day = pd.Timestamp(ev.as_of)
    window = usage[
        (usage["feature_id"] == OPAQUE["core_events"])
        & (usage["date"] >= day - pd.Timedelta(days=30))
        & (usage["date"] < day)
    ]
    clicks = window.groupby("visitor_id")["clicks"].sum()
    assert set(ev.members("active_core_events")) == set(clicks[clicks >= 10].index)
    assert len(clicks[clicks >= 10]) > 0


def test_a_segment_not_evaluated_does_not_need_its_features(tmp_path: Path) -> None:
    (tmp_path / "features.csv").write_text("feature_id,name\nf1,Feature one\n")
    defs = load_definitions(SHIPPED)
    catalogue = pd.read_csv(tmp_path / "features.csv")
    defs.use_features(catalogue, check=["at_risk"])  # no error: at_risk names no feature
    with pytest.raises(EvaluationError, match=r"never_used_feature.yaml:\d+: .*'Core events'"):
        defs.use_features(catalogue, EvaluationError, check=["never_used_core_events"])


# -- compile ---------------------------------------------------------------------------
def test_compile_with_the_catalogue_sends_ids_and_shows_names(tmp_path: Path) -> None:
    data = _opaque_copy(tmp_path)
    args = ["compile", "-s", "never_used_core_events", "--format", "json", "--data", str(data)]
    result = CliRunner().invoke(main, [*args, "--target", "pendo"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = json.loads(result.stdout)[0]["output"]
    assert out["definition"]["filters"][0][0]["featureId"] == "6r2iMJST3l_l8fyDsjyxhMnRGso"
    assert out["recipe"][0]["source"] == "Feature Core events (6r2iMJST3l_l8fyDsjyxhMnRGso)"
    assert out["summary"].startswith(
        "Feature clicks on Core events (6r2iMJST3l_l8fyDsjyxhMnRGso) at most 1"
    )
    result = CliRunner().invoke(main, [*args, "--target", "aggregation", "--timezone", "UTC"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert '"featureId": "6r2iMJST3l_l8fyDsjyxhMnRGso"' in text
    assert "Core events" not in text.replace('"title"', "")  # no name sent as an id


def test_compile_without_a_catalogue_says_the_ids_are_unresolved() -> None:
    result = CliRunner().invoke(
        main, ["compile", "-s", "expansion_ready", "--target", "aggregation", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Warning: feature ids unresolved (no feature catalogue; give --data DIR with "
        "features.csv, as pull writes it): 'Data Explorer', 'Path reports' sent as written\n"
    )
    quiet = CliRunner().invoke(main, ["compile", "-s", "at_risk", "--format", "json"])
    assert quiet.stderr == ""  # no feature, nothing to say


# -- pull ------------------------------------------------------------------------------
def test_pull_writes_the_catalogue_with_pendos_ids_and_names(
    fake_pendo: FakePendo, pendo_env: dict[str, str], tmp_path: Path
) -> None:
    from pendo_segments.data.loaders import load_sample
    from pendo_segments.pendo.fake.data import opaque_id

    fake_pendo.load_dataset(load_sample(), opaque_ids=True)
    out = tmp_path / "pulled"
    result = CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "35", "--as-of", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    pulled = pd.read_csv(out / "features.csv", dtype=str).set_index("name")["feature_id"]
    sample = pd.read_csv(bundled_sample_path() / "features.csv", dtype=str)
    assert len(pulled) == len(sample)
    assert pulled["Core events"] == opaque_id("core_events")
    assert len(pulled["Core events"]) == 27 and pulled["Core events"] != "core_events"
    # the shipped definitions find their features by name in what was pulled
    defs = load_definitions(SHIPPED, features=pd.read_csv(out / "features.csv", dtype=str))
    assert defs.get("never_used_core_events").rule.all[0].feature == pulled["Core events"]
