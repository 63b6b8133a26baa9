"""JSON Schema of a definition file, generated from the pydantic models.

Editors (VS Code YAML, JetBrains) use it for completion and inline checks;
``schema/segment-definition.schema.json`` in the repo is kept equal to this
output by a test.
"""

from __future__ import annotations

import json
from typing import Any

from pendo_segments.definitions.models import LEAF_MODELS, SegmentFile
from pendo_segments.definitions.rules import SEGMENT_LEAVES

#: Leaves of tiers.yaml / alerts.yaml rules: part of the one tree, refused in segment files.
_ACCOUNT_ONLY = {LEAF_MODELS[k].__name__ for k in LEAF_MODELS if k not in SEGMENT_LEAVES}

SCHEMA_ID = "https://github.com/pendo-segments/pendo-segments/schema/segment-definition.schema.json"


def definition_schema() -> dict[str, Any]:
    schema = _drop_account_leaves(SegmentFile.model_json_schema(by_alias=True))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(definition_schema(), indent=2, sort_keys=True) + "\n"


def _drop_account_leaves(node: Any) -> Any:
    """The schema without the leaves a segment file may not use (health, signal, …)."""
    refs = {f"#/$defs/{name}" for name in _ACCOUNT_ONLY}
    if isinstance(node, list):
        return [
            _drop_account_leaves(v)
            for v in node
            if not (isinstance(v, dict) and v.get("$ref") in refs)
        ]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$defs":
            value = {k: v for k, v in value.items() if k not in _ACCOUNT_ONLY}
        elif key == "mapping" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v not in refs}
        out[key] = _drop_account_leaves(value)
    return out
