"""`ticketstream incident show`: the incident's facts in timeline order, never personal data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from consumers.ingest import Ingest
from tests.unit.test_ingest import messages_of, open_app, wire


def test_incident_show_lists_facts_of_one_minute_in_the_sources_order_without_personal_data(
    tmp_path: Path,
) -> None:
    store = tmp_path / "e.db"
    app = open_app(store)
    minute = "2025-03-03T14:47:00+03:00"
    events = [
        wire("received", customer={"name": "Zinaida Prokhorova", "phone": "+7 912 345-67-89"}),
        wire("resolved", occurred_at=minute, sequence=7),  # published last, happened last
        wire("resolved", occurred_at=minute, sequence=5),
        wire("reopened", occurred_at=minute, sequence=6),
    ]
    Ingest(app).process(messages_of(events))
    app.close()

    shown = subprocess.run(
        [sys.executable, "-m", "ticketstream", "incident", "show", "INC-1"],
        env={**os.environ, "TICKETSTREAM_EVENT_STORE": str(store), "COLUMNS": "200"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    ).stdout

    rows = [line for line in shown.splitlines() if "Resolved" in line or "Reopened" in line]
    assert [("Reopened" if "Reopened" in r else "Resolved") for r in rows] == [
        "Resolved", "Reopened", "Resolved",
    ]  # fmt: skip
    assert ["5", "6", "7"] == [next(c.strip() for c in r.split("│")[4:5]) for r in rows]
    assert "Zinaida" not in shown and "345-67" not in shown
