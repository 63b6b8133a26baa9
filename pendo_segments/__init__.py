"""pendo-segments: customer segments as code for Pendo.

The library is usable without the CLI; heavy dependencies (pandas, duckdb)
are imported by the modules that need them, not here.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
