"""Hostile definition files are refused with one FILE:LINE line, fast and without a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError

HEAD = "name: x\ntitle: X\nsubject: account\n"


def problems(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_definitions(path)
    return err.value.problems


def test_billion_laughs_is_refused_at_the_alias(tmp_path: Path) -> None:
    # 9 levels of 9 aliases: about 387 million strings once expanded.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(path.read_bytes()) < 500
    (message,) = problems(path)
    assert message.startswith(f"{path}:")
    line = int(message.split(":")[1])
    assert 2 <= line <= 9  # at an alias line, not the top of the file
    assert "alias" in message


def test_aliases_nested_too_deep(tmp_path: Path) -> None:
    text = "a: &a [1]\nb: &b [*a]\nc: &c [*b]\nd: &d [*c]\ne: &e [*d]\nf: [*e]\n"
    path = tmp_path / "deep_alias.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems(path) == [
        f"{path}:6: aliases nested more than 4 deep (an alias bomb?)",
    ]


def test_too_many_aliases(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n", encoding="utf-8")
    assert problems(path) == [f"{path}:2: more than 100 aliases (*name) in one file"]


def test_a_few_ordinary_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        HEAD + "window_days: &w 14\nrule: {metric: active_days, op: '<=', value: *w}\n",
        encoding="utf-8",
    )
    seg = load_definitions(path).get("x")
    assert seg.window_days == 14 and seg.rule.value == 14


def nested_not(depth: int) -> str:
    return "rule: " + "{not: " * depth + "{metric: minutes, op: '>', value: 1}" + "}" * depth


def test_forty_nested_nots_are_refused_by_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + nested_not(40) + "\n", encoding="utf-8")
    assert problems(path) == [
        f"{path}:4: rule: conditions nested more than 32 deep (all / any / not)"
    ]


def test_thirty_two_levels_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + nested_not(32) + "\n", encoding="utf-8")
    assert "x" in load_definitions(path)


def test_block_style_depth_error_points_at_the_deep_line(tmp_path: Path) -> None:
    lines = [HEAD.rstrip("\n"), "rule:", "  all:"]
    for level in range(1, 35):
        lines.append("  " * level + "- all:")
    lines.append("  " * 35 + "- {metric: minutes, op: '>', value: 1}")
    path = tmp_path / "x.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # 'rule:' is line 4 and its 'all' level 0; the item at level 33 is on line 5 + 33.
    assert problems(path) == [
        f"{path}:38: rule: conditions nested more than 32 deep (all / any / not)"
    ]


def test_five_hundred_levels_do_not_exhaust_the_stack(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + nested_not(500) + "\n", encoding="utf-8")
    assert problems(path) == [f"{path}:4: lists / mappings nested more than 100 deep"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[a, b]: 1\n", 4),
        ("rule:\n  {metric: minutes}: 1\n", 5),
        ("? {a: 1}\n: 2\n", 4),
    ],
)
def test_list_or_mapping_as_key(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + text, encoding="utf-8")
    assert problems(path) == [
        f"{path}:{line}: a list or mapping cannot be a key (write the key as plain text)"
    ]


@pytest.mark.parametrize(
    ("condition", "shown"),
    [
        ("{metric: minutes, op: '>', value: 1e400}", "inf"),
        ("{metric: minutes, op: '>', value: -.inf}", "-inf"),
        ("{field: arr, op: '<=', value: .nan}", "nan"),
        ("{field: arr, op: in, value: [1, .inf]}", "inf"),
        ("{field: arr, op: '>', value: 1e400}", "1e400"),
        ("{field: arr, op: '>', value: '-2E+999'}", "-2E+999"),
    ],
)
def test_non_finite_numbers_are_refused(tmp_path: Path, condition: str, shown: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + f"rule:\n  all:\n    - {condition}\n", encoding="utf-8")
    assert problems(path) == [f"{path}:6: rule.all[0]: value must be a finite number, not {shown}"]


@pytest.mark.parametrize("args", [["validate"], ["compile", "--target", "sql"]])
def test_commands_refuse_deep_nesting_with_one_line(tmp_path: Path, args: list[str]) -> None:
    from click.testing import CliRunner

    from pendo_segments.cli import main

    path = tmp_path / "x.yaml"
    path.write_text(HEAD + nested_not(40) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, [*args, str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}:4: rule: conditions nested more than 32 deep (all / any / not)\n"
    )
