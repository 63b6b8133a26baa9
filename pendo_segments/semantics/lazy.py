"""sqlglot's expressions, imported on first use.

The numpy engines import the semantic rules for their numpy half; they
should not pay sqlglot's import (a fifth of a second) for the SQL half they
never build. Modules write ``exp.GT(…)`` as usual and type-check against the
real module (``if TYPE_CHECKING: from sqlglot import exp``).
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class _Lazy(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        value = getattr(module, name)
        setattr(self, name, value)  # later lookups skip __getattr__
        return value


exp: Any = _Lazy("sqlglot.expressions")
