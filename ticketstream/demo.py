"""`ticketstream demo`: months of simulated traffic through Kafka into reports, on a fresh store."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from kafka import KafkaProducer
from rich.console import Console

from consumers.consume import consume
from producers.jsonl import read_events
from producers.simulator import SimulationSpec, simulate
from projections.queries import Period
from projections.sla_queries import ClockFilter
from ticketstream.report_output import render
from ticketstream import assembly, dashboard, reports, sla_reports
from ticketstream.safe_text import say
from ticketstream.settings import Settings

# A few messages no upstream system should send, to show the dead-letter path.
_BAD_MESSAGES: list[tuple[str, bytes]] = [
    ("incidents.received", b"this is not JSON"),
    ("incidents.resolved", b'{"type": "incident.teleported", "schema_version": 1}'),
    ("incidents.received", b'{"event_id": "not-a-uuid", "type": "incident.received"}'),
]


def run_demo(settings: Settings, spec: SimulationSpec, console: Console) -> None:
    """Simulate, publish, consume, project and print the reports; leaves no process behind."""
    database = settings.state_dir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    settings = settings.model_copy(update={"event_store": str(database)})
    started = time.perf_counter()
    events = simulate(spec)
    lines = (json.dumps(e, separators=(",", ":")).encode() for e in events)
    valid = read_events(lines).events
    say(console, f"simulated {len(valid)} events over {spec.months} months (seed {spec.seed})")
    app = assembly.open_incidents(settings)
    # The demo's data lives and dies with it: a private broker is what it wants.
    with assembly.kafka_bootstrap(settings, embedded=True) as servers:
        sdk = assembly.publisher(settings, servers)
        try:
            sdk.publish(valid)
            _send_bad_messages(sdk.producer, settings)
            say(console, f"published to Kafka at {servers}")
            step = assembly.ingest(settings, app)
            source = assembly.kafka_source(settings, servers, step)
            try:
                totals = consume(
                    source, step, assembly.dead_letter_topic(settings, sdk, app), once=True
                )
            finally:
                source.close()
        finally:
            sdk.close()
    waiting = len(assembly.ingest_recorder(app).parked_events())
    say(console, reports.consume_summary(totals, waiting))
    runner = assembly.projection_runner(settings, app)
    say(console, f"projected {runner.catch_up()} notifications into the read models")
    app.close()
    side = assembly.read_side(settings)  # the reports, read-only
    now = datetime.now(timezone.utc)
    for name in ("channels", "dynamics", "thanks"):
        reports.print_report(side, name, None, None, None, "table", now, console)
    question = sla_reports.SlaQuestion(
        ClockFilter(Period.of(None, None, now, settings.zone)), now
    )
    for answer in (side.sla(question), side.root_causes(question)):
        render(answer.rows, "table", answer.title, console)
    page = settings.state_dir / "report.html"
    board = dashboard.gather(side, None, None, now)
    page.write_text(dashboard.render_page(board, "en", picker=False), encoding="utf-8")
    say(console, f"the monthly report of {board.month} as a page: {page}")
    say(console, f"demo finished in {time.perf_counter() - started:.1f} s; event store: {database}")


def _send_bad_messages(producer: KafkaProducer, settings: Settings) -> None:
    topics = settings.topics
    for topic, value in _BAD_MESSAGES:
        target = topics.received if topic == "incidents.received" else topics.resolved
        producer.send(target, key=b"DEMO-BAD", value=value).get(timeout=30)
