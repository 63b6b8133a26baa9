"""The meaning of a segment, stated once (docs/semantics.md §2, §5).

Every rule is written here twice, side by side: as a SQL expression tree
(sqlglot, read as DuckDB; the SQL targets render it for DuckDB, Spark or a
warehouse) and as the numpy function the in-memory engine calls. Targets and
engines build on these and restate none of them; ``tests/test_semantics.py``
runs both forms of each rule on the same hand-made rows.

* :mod:`~pendo_segments.semantics.rules`: the window, the active day, last
  visit, first seen, days since, the roll-up of visitors to accounts;
* :mod:`~pendo_segments.semantics.catalogue`: per metric the table, the rows
  it counts, its aggregate, its roll-up and whether it has a window;
* :mod:`~pendo_segments.semantics.score`: the health score's component
  curves, its weighted mean of the components present, and its rounding.
"""

from __future__ import annotations
