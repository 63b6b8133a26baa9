"""Local evaluation of segments on usage data (pandas / numpy engine)."""

from __future__ import annotations

from pendo_segments.evaluate.engine import MEMBERSHIP_COLUMNS, Evaluation, Evaluator, evaluate
from pendo_segments.evaluate.explain import Explanation, explain

__all__ = ["MEMBERSHIP_COLUMNS", "Evaluation", "Evaluator", "Explanation", "evaluate", "explain"]
