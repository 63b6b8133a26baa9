"""tests/conftest.py's split of the Spark cases: which test ids run on Spark.

A Spark case outside SPARK_SMOKE belongs to the CI's ``-m spark_matrix`` step; one the
split misses runs in the README's command, starting a JVM in a file's non-Spark unit.
"""

from __future__ import annotations

import pytest
from conftest import SPARK_SMOKE, on_spark, spark_unit, work_unit

TIERS = "tests/conformance/test_tiers.py::test_bad_policy_gives_the_pandas_one_line_error"


@pytest.mark.parametrize(
    "nodeid",
    [
        "tests/conformance/test_members.py::test_handmade_members_are_the_hand_worked_ones[spark]",
        "tests/conformance/test_explain.py::test_explanation_is_the_hand_worked_one[spark-at_risk-A1]",
        "tests/conformance/test_as_of.py::test_as_of_lines_are_the_pandas_lines[spark-after-alerts]",
        "tests/conformance/test_health.py::test_handmade_scores_are_the_hand_worked_ones[full-spark]",
        # brackets inside a parameter's text (an expected error naming rules[0])
        f"{TIERS}[spark-{{field: revenue}}-{{f}}:8: rules[0].when: no column 'revenue']",
        f"{TIERS}[spark-{{all: [{{segment: smb}}]}}-{{f}}:8: rules[0].when.all[1]: text]",
    ],
    ids=["alone", "first", "first-of-two", "last", "brackets", "nested-brackets"],
)
def test_an_engine_parameter_spark_is_a_spark_case(nodeid: str) -> None:
    assert on_spark(nodeid)
    assert spark_unit(nodeid) == "spark:" + nodeid.split("::", 1)[0]


@pytest.mark.parametrize(
    "nodeid",
    [
        "tests/conformance/test_reading.py::test_layout_gives_the_flat_folders_members"
        "[pandas-spark folders by hand]",
        "tests/test_compile_sql.py::test_spark_family_sql_keeps_nested_ctes[databricks]",
        f"{TIERS}[duckdb-{{field: spark}}-{{f}}:8: rules[0].when: no column 'spark']",
        "tests/test_engines.py::test_spark_only_options_need_spark",
    ],
    ids=["a-layout-named-after-it", "databricks", "a-value-of-that-name", "no-parameters"],
)
def test_other_cases_are_not(nodeid: str) -> None:
    assert not on_spark(nodeid)
    assert spark_unit(nodeid) is None


def test_the_smoke_cases_are_one_unit_so_the_readmes_command_starts_one_jvm() -> None:
    assert {work_unit(f"tests/{smoke}") for smoke in SPARK_SMOKE} == {"spark:smoke"}
    # a matrix case keeps its file's Spark unit (both workers share the matrix step)
    matrix = "tests/conformance/test_members.py::test_boundary_draws_give_the_pandas_members[spark]"
    assert work_unit(matrix) == "spark:tests/conformance/test_members.py"
    assert work_unit("tests/test_atomic.py::test_symlink_to_proc_is_refused") is None
