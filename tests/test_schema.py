"""The shipped JSON Schema stays equal to what the models generate, and it validates."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.definitions.schema import definition_schema, schema_text

SHIPPED = Path("schema/segment-definition.schema.json")


def test_shipped_schema_in_sync() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(), (
        "regenerate with: pendo-segments schema -o schema/segment-definition.schema.json"
    )


def test_schema_lists_metrics_and_ops() -> None:
    text = json.dumps(definition_schema())
    for word in ("active_days", "feature_clicks", "anniversary_within", "not_in", "for_each"):
        assert word in text


def test_schema_command_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = CliRunner().invoke(main, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["title"] == "pendo-segments definition file"
