"""Logs name facts and coordinates, never payloads or personal data."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs

from consumers.ingest import Ingest
from tests.unit.test_ingest import Feed, open_app, wire
from ticketstream.log_setup import _mask_personal_data

CUSTOMER = {"name": "Ivan Petrovich Sidorov", "phone": "+7 912 555 01 23", "email": "ivan@example.org"}


def test_a_dead_lettered_message_is_logged_with_coordinates_and_no_personal_data(
    tmp_path: Path,
) -> None:
    ingest = Ingest(open_app(tmp_path / "e.db"))
    feed = Feed()
    received = wire("received", customer=CUSTOMER)
    mismatched = feed(received, key=b"SOME-OTHER-INCIDENT")
    naive = feed.raw(json.dumps({**received, "occurred_at": "2025-01-01T10:00:00"}).encode(), "incidents.received")

    with capture_logs() as logs:
        ingest.process([mismatched, naive])

    letters = [entry for entry in logs if entry["event"] == "message_dead_lettered"]
    assert [(e["topic"], e["partition"], e["offset"], e["reason"]) for e in letters] == [
        ("incidents.received", 0, 0, "key_mismatch"),
        ("incidents.received", 0, 1, "schema_violation"),
    ]
    logged = json.dumps(logs, default=str)
    for secret in CUSTOMER.values():
        assert secret not in logged


def test_personal_data_keys_are_masked_by_the_log_pipeline() -> None:
    event = {"event": "something_happened", "customer_name": "Ivan", "phone": "+7 912", "topic": "t"}

    masked = _mask_personal_data(None, "info", dict(event))

    assert masked == {"event": "something_happened", "customer_name": "***", "phone": "***", "topic": "t"}
