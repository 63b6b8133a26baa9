"""health.yaml: the shipped file restates docs/semantics.md §5; errors say FILE:LINE: key.path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.errors import DefinitionError
from pendo_segments.health.config import HealthConfig, find_config, load_health_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "health.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_equals_contract_defaults() -> None:
    shipped = load_health_config(ROOT / "segment_defs" / "health.yaml")
    assert shipped.model_dump() == HealthConfig().model_dump()
    assert shipped.weights.as_dict() == {
        "login_frequency": 20,
        "core_feature_adoption": 30,
        "breadth": 20,
        "nps": 15,
        "support_tickets": 15,
    }
    assert (
        shipped.login_frequency.full_at_active_days,
        shipped.core_feature_adoption.full_at_share,
        shipped.breadth.full_at_share,
        shipped.nps.window_days,
        shipped.support_tickets.zero_at_tickets,
    ) == (16, 0.8, 0.5, 90, 5)


def test_none_and_empty_file_give_defaults(tmp_path: Path) -> None:
    assert load_health_config(None).model_dump() == HealthConfig().model_dump()
    assert load_health_config(write(tmp_path, "")).model_dump() == HealthConfig().model_dump()


def test_partial_weights_keep_other_defaults(tmp_path: Path) -> None:
    config = load_health_config(write(tmp_path, "weights:\n  nps: 0\n"))
    assert config.weights.nps == 0 and config.weights.login_frequency == 20
    assert config.source == str(tmp_path / "health.yaml")


def test_unknown_key_suggests_and_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "weights:\n  login_frequency: 20\n  npss: 10\n")
    with pytest.raises(DefinitionError) as err:
        load_health_config(path)
    assert str(err.value) == f"{path}:3: weights.npss: unknown key 'npss'; did you mean 'nps'?"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "weights:\n  breadth: -1\n"
        "login_frequency:\n  window_days: 0\n"
        "support_tickets:\n  zero_at_tickets: lots\n",
    )
    with pytest.raises(DefinitionError) as err:
        load_health_config(path)
    assert err.value.problems == [
        f"{path}:2: weights.breadth: Input should be greater than or equal to 0",
        f"{path}:4: login_frequency.window_days: Input should be greater than or equal to 1",
        f"{path}:6: support_tickets.zero_at_tickets: 'lots' is not a number",
    ]


def test_all_zero_weights_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "weights:\n  login_frequency: 0\n  core_feature_adoption: 0\n"
        "  breadth: 0\n  nps: 0\n  support_tickets: 0\n",
    )
    with pytest.raises(
        DefinitionError,
        match=r"health.yaml:1: weights: at least one weight "
        r"must be above 0",
    ):
        load_health_config(path)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "weights:\n  nps: [1\n")
    with pytest.raises(DefinitionError, match=rf"^{path}:\d+: YAML syntax error"):
        load_health_config(path)


def test_find_config(tmp_path: Path) -> None:
    assert find_config(tmp_path, "health.yaml") is None
    path = write(tmp_path, "")
    assert find_config(tmp_path, "health.yaml") == path
    assert find_config(path, "health.yaml") == path
    assert find_config(None, "health.yaml") is None
