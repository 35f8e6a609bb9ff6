"""JSON Schema export of the contract, one file per event type, for upstream teams."""

from __future__ import annotations

import json
from pathlib import Path

from contracts.events import EVENT_MODELS


def export_json_schemas(directory: Path) -> list[Path]:
    """Write ``<type>.schema.json`` for every event type into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, model in EVENT_MODELS.items():
        schema = model.model_json_schema()
        schema["$id"] = f"https://ticketstream.invalid/schemas/{event_type}.v1.json"
        path = directory / f"{event_type}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
