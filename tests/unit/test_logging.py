"""Logs name facts and coordinates, never payloads or personal data."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import pytest
import structlog

from structlog.testing import capture_logs

from consumers.ingest import Ingest
from tests.unit.test_ingest import Feed, open_app, wire
from ticketstream.cli import _StopFlag
from ticketstream.log_setup import _mask_personal_data, configure_logging

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


def test_a_stop_signal_landing_while_a_line_is_being_written_is_logged_without_waiting(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The handler runs on the main thread between two bytecodes, possibly while structlog's
    printer holds its (non-reentrant) lock: logging there through that printer waits for ever
    (a consumer once hung on SIGTERM that way). Here the lock is held while the handler runs."""
    configure_logging("INFO", "json")
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = _StopFlag()
        printing = structlog._output._get_lock_for_file(sys.stderr)  # what a printing line holds
        handler = threading.Thread(target=stop._stop, args=(signal.SIGTERM, None), daemon=True)
        with printing:
            handler.start()
            handler.join(timeout=5)
            assert not handler.is_alive(), "the stop handler waited for the printer's lock"
        assert stop()
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        assert [(e["event"], e["signal"]) for e in lines] == [("stop_requested", "SIGTERM")]
    finally:
        for number, handler_before in handlers.items():
            signal.signal(number, handler_before)
