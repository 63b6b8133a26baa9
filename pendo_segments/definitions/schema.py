"""JSON Schema of a definition file, generated from the pydantic models.

Editors (VS Code YAML, JetBrains) use it for completion and inline checks;
``schema/segment-definition.schema.json`` in the repo is kept equal to this
output by a test.
"""

from __future__ import annotations

import json
from typing import Any

from pendo_segments.definitions.models import SegmentFile

SCHEMA_ID = "https://github.com/pendo-segments/pendo-segments/schema/segment-definition.schema.json"


def definition_schema() -> dict[str, Any]:
    schema = SegmentFile.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(definition_schema(), indent=2, sort_keys=True) + "\n"
