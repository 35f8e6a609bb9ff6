"""The `ticketstream` command line."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import sys
import time
from contextlib import nullcontext
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from rich.console import Console

from consumers.consume import consume as consume_loop
from consumers.errors import BrokerUnavailable, ConsumerError, GaveUp
from consumers.outage import ride_out
from consumers.partition_status import PartitionLag, partition_lags
from consumers.replay import ReplayRange, parse_offsets
from contracts.errors import ContractError
from contracts.schema import export_json_schemas
from producers.errors import PublishError
from producers.jsonl import read_events
from producers.servicenow import DEFAULT_SOURCE
from producers.simulator import SimulationSpec, simulate, write_jsonl
from projections.errors import ProjectionError
from domain.sla_rules import CLOCKS
from projections.month import parse_month
from projections.queries import Period
from projections.read_side import ReadSide
from projections.repeat_contacts import DEFAULT_WITHIN_DAYS, MAX_WITHIN_DAYS
from projections.runner import ProjectionRunner
from projections.recompute import incident_table, recompute_incidents
from projections.shadow import rebuild
from projections.sla_queries import ClockFilter
from ticketstream import dashboard, editions
from ticketstream.choices import LangName, PolicyName, RootCauseDimension
from ticketstream.event_store import is_postgres
from ticketstream.live_projection import STANDBY_RETRY_SECONDS, LiveProjection
from ticketstream.progress import progress
from ticketstream.report_output import render
from ticketstream.replay_command import parse_moment, replay_into, verification_lines, verify_store
from ticketstream import (
    assembly, reconciliation, reports, servicenow_import, sla_config_report, sla_explain,
    sla_reports,
)  # fmt: skip
from ticketstream.config_file import load_sla_rules
from ticketstream.customer_command import customer_app
from ticketstream.demo import run_demo
from ticketstream.embedded_broker import EmbeddedBroker
from ticketstream.errors import NoBroker, TicketstreamError
from ticketstream.log_setup import configure_logging, signal_safe_logger
from ticketstream.safe_text import say, shown
from ticketstream.settings import Settings, load_settings

# Distinct from user mistakes (2): the broker or the database was out of reach (for longer
# than the give-up time, where a command waits). A supervisor may restart on 3.
GAVE_UP_EXIT_CODE = 3
USER_ERRORS = (TicketstreamError, ProjectionError, PublishError, ContractError, ConsumerError)

app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Event-sourced ticket processing for customer-service departments.",
)
schema_app = typer.Typer(no_args_is_help=True, help="The wire contract for upstream teams.")
incident_app = typer.Typer(no_args_is_help=True, help="One incident from the event store.")
projections_app = typer.Typer(no_args_is_help=True, help="Read-model positions and rebuilds.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: messages that were not applied.")
config_app = typer.Typer(no_args_is_help=True, help="Calendars and SLA policies (ticketstream.toml).")
report_app = typer.Typer(no_args_is_help=True, help="Reports from the read models.")
import_app = typer.Typer(no_args_is_help=True, help="History from other systems, as contract events.")
month_app = typer.Typer(no_args_is_help=True, help="Published editions of month reports.")
app.add_typer(report_app, name="report")
app.add_typer(schema_app, name="schema")
app.add_typer(incident_app, name="incident")
app.add_typer(projections_app, name="projections")
app.add_typer(dlq_app, name="dlq")
app.add_typer(config_app, name="config")
app.add_typer(import_app, name="import")
app.add_typer(month_app, name="month")
app.add_typer(customer_app, name="customer")

# Off a terminal rich would assume 80 columns; reports are wider than that. COLUMNS, when
# set, is the width asked for (rich reads it).
_ASKED = bool(os.environ.get("COLUMNS"))
out = Console(width=None if _ASKED or sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if _ASKED or sys.stderr.isatty() else 160)


Embedded = Annotated[
    bool,
    typer.Option(
        "--embedded",
        help="With no broker configured or running, start a private in-memory one that stops"
        " (with everything sent to it) when this command ends",
    ),
]
ClockName = Enum("ClockName", {name: name for name in CLOCKS}, type=str)  # type: ignore[misc]


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


class _StopFlag:
    """Set by SIGTERM/SIGINT; loops check it between batches."""

    def __init__(self) -> None:
        self.stopped = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopped = True
        # Not the usual logger: its lock may be held by the very line the signal interrupted.
        signal_safe_logger().info("stop_requested", signal=signal.Signals(signum).name)

    def __call__(self) -> bool:
        return self.stopped


@app.command()
def demo(
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of traffic")] = 12,
    seed: Annotated[int, typer.Option(help="Simulation seed")] = 1,
    incidents_per_month: Annotated[int, typer.Option(min=1)] = 120,
) -> None:
    """Embedded broker + fresh SQLite store: simulate, publish, consume, project, report."""
    settings = _settings()
    spec = SimulationSpec(months=months, seed=seed, incidents_per_month=incidents_per_month)
    run_demo(settings, spec, out)


@app.command()
def broker(port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free)")] = 0) -> None:
    """Run the embedded broker in the foreground until Ctrl-C or SIGTERM; others find it."""
    settings = _settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    state = assembly.broker_state(settings)
    stop = _StopFlag()  # before the broker starts: a signal from then on stops it
    with EmbeddedBroker(port or None, log_file=settings.state_dir / "broker.log") as b:
        state.write(b)
        say(out, f"embedded broker listening on {b.bootstrap_servers} (memory only; Ctrl-C stops)")
        say(out, f"export KAFKA_BOOTSTRAP_SERVERS={b.bootstrap_servers}")
        try:
            # A short sleep, not sigtimedwait: that one takes the signal away from the handler.
            while not stop() and b.process is not None and b.process.poll() is None:
                time.sleep(0.1)
        finally:
            state.remove()
        if not stop():
            raise TicketstreamError(f"the embedded broker exited on its own; see {b.log_file}")
    say(out, "embedded broker stopped")


@app.command("simulate")
def simulate_command(
    months: Annotated[int, typer.Option(min=1, max=240)] = 12,
    seed: Annotated[int, typer.Option()] = 1,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM")] = "2025-01",
    incidents_per_month: Annotated[int, typer.Option(min=1)] = 120,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write JSONL here")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish to Kafka")] = False,
    embedded: Embedded = False,
) -> None:
    """Generate realistic, seeded customer-service traffic (same seed → same bytes)."""
    settings = _settings()
    if embedded and not publish:
        raise TicketstreamError("--embedded goes with --publish")
    spec = SimulationSpec(
        months=months, seed=seed, start=_first_day(start), incidents_per_month=incidents_per_month
    )
    events = simulate(spec)
    if publish:
        _publish_dicts(settings, events, embedded)
    elif output is not None:
        with output.open("w") as stream:
            count = write_jsonl(events, stream)
        say(out, f"wrote {count} events to {output}")
    else:
        write_jsonl(events, sys.stdout)


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(help="JSONL file, one event per line")],
    skip_invalid: Annotated[bool, typer.Option(help="Publish the valid lines, report the rest")] = False,
    embedded: Embedded = False,
) -> None:
    """Validate every line, then publish the events to their topics."""
    settings = _settings()
    if not file.is_file():
        raise TicketstreamError(f"no such file: {file}")
    with file.open("rb") as lines:
        batch = read_events(lines, skip_invalid=skip_invalid, max_bytes=settings.max_message_bytes)
    for invalid in batch.invalid:
        typer.echo(shown(f"skipped {invalid}"), err=True)
    with progress(err, "publishing", len(batch.events)) as advance:
        count = assembly.publish(settings, batch.events, embedded=embedded, progressed=advance)
    say(out, f"published {count} events ({len(batch.invalid)} invalid lines skipped)")


# On PostgreSQL `project` waits for the store's NOTIFY at most this long between batches.
PUSH_WAIT_SECONDS = 30.0  # a safety net: the NOTIFY wakes it at once


def _ignore(count: int) -> None:
    """Progress nobody watches (a consumer that runs until stopped)."""


@app.command()
def consume(
    once: Annotated[bool, typer.Option("--once", help="Drain all partitions, then exit")] = False,
    embedded: Embedded = False,
) -> None:
    """Consume the incident topics into the event store (a consumer-group member)."""
    settings = _settings()
    stop = _StopFlag()
    # A broker or database that is not up yet is waited for, as an outage later would be.
    outage = assembly.outage_policy(settings)
    with assembly.kafka_bootstrap(settings, outage, embedded=embedded) as servers:
        incidents = assembly.open_incidents(settings, outage)
        step = assembly.ingest(settings, incidents)
        source = ride_out(
            lambda: assembly.kafka_source(settings, servers, step), outage,
            doing="connecting_to_kafka",
        )  # fmt: skip
        sdk = assembly.publisher(settings, servers)
        try:
            with progress(err, "consuming", None) if once else nullcontext(_ignore) as advance:
                totals = consume_loop(
                    source, step, assembly.dead_letter_topic(settings, sdk, incidents),
                    once=once, should_stop=stop, outage=outage, progressed=advance,
                )
        finally:
            source.close()
            sdk.close()
    waiting = len(assembly.ingest_recorder(incidents).parked_events())
    say(out, reports.consume_summary(totals, waiting))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
) -> None:
    """The read models over HTTP: the reports API, /metrics, /healthz, /readyz (read-only)."""
    settings = _settings()
    if settings.api_token is None:
        if not _is_loopback(host):
            _fail(f"without TICKETSTREAM_API_TOKEN serve listens on loopback only, not on {host}")
        say(err, "no TICKETSTREAM_API_TOKEN: serving on loopback only, without authentication")
    import uvicorn  # the server only when serving

    from ticketstream.api import create_app

    say(err, f"serving http://{host}:{port}/ (OpenAPI at /openapi.json, docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def replay(
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at each partition's beginning")] = False,
    from_timestamp: Annotated[Optional[str], typer.Option("--from-timestamp", help="Start at the first record at or after this moment (RFC 3339, or local date/time in the reporting zone)")] = None,
    from_offsets: Annotated[Optional[str], typer.Option("--from-offsets", help="TOPIC:PARTITION=OFFSET,… (partitions not named start at their beginning)")] = None,
    to_timestamp: Annotated[Optional[str], typer.Option("--to-timestamp", help="Stop before the first record at or after this moment (default: the end at the start)")] = None,
    into: Annotated[Optional[str], typer.Option("--into", help="A fresh event store to rebuild the write side into (file path or postgresql:// URL)")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Dry run: compare the log with the current store; exit 1 when they differ")] = False,
    embedded: Embedded = False,
) -> None:  # fmt: skip
    """Re-read the incident topics with a reader of its own (never the live group's offsets)."""
    starts = [name for name, given in (("--from-beginning", from_beginning),
              ("--from-timestamp", from_timestamp), ("--from-offsets", from_offsets)) if given]  # fmt: skip
    if len(starts) != 1:
        _fail("give one start: --from-beginning, --from-timestamp T or --from-offsets TOPIC:PARTITION=OFFSET,…")
    if (into is None) == (not verify):
        _fail("give --into STORE_URL or --verify (one of them)")
    settings = _settings()
    span = ReplayRange(
        from_timestamp=None if from_timestamp is None else parse_moment(from_timestamp, settings.zone, "--from-timestamp"),
        from_offsets=parse_offsets(from_offsets) if from_offsets else {},
        to_timestamp=None if to_timestamp is None else parse_moment(to_timestamp, settings.zone, "--to-timestamp"),
    )  # fmt: skip
    if into is not None:
        say(out, replay_into(settings, span, into, embedded, err))
        return
    result = verify_store(settings, span, embedded, err)
    for line in verification_lines(result, span):
        say(out, line)
    if not result.agrees:
        sys.exit(1)


@app.command()
def project(
    once: Annotated[bool, typer.Option("--once", help="Catch up, then exit")] = False,
) -> None:
    """Keep the read models current with the event store."""
    settings = _settings()
    outage = assembly.outage_policy(settings)
    runner = assembly.projection_runner(settings, assembly.open_incidents(settings, outage))
    # Each batch commits with its positions, so a batch cut short by an outage is redone.
    closing = _MonthClosing(runner, settings)
    if once:
        with progress(err, "projecting", ride_out(runner.backlog, outage, doing="projecting")) as advance:
            count = ride_out(lambda: runner.catch_up(advance), outage, doing="projecting")
        say(out, f"projected {count} notifications")
        closing.when_due(force=True)
    else:

        def step() -> int:
            count = ride_out(runner.run_batch, outage, doing="projecting")
            if count == 0:  # caught up: a month may be due for its edition
                closing.when_due()
            return count

        stop = _StopFlag()
        if not is_postgres(settings.event_store):
            runner.run_forever(stop, step=step)  # SQLite has no push: poll
            return
        channel = str(getattr(runner.app.recorder, "channel_name"))
        with LiveProjection(settings.event_store, channel) as live:
            while not stop():
                if not live.active():
                    live.wait(STANDBY_RETRY_SECONDS)
                elif step() == 0:
                    live.wait_for_events(PUSH_WAIT_SECONDS, stop)


class _MonthClosing:
    """Closes the month that just ended, TICKETSTREAM_MONTH_CLOSE_AFTER_DAYS after its end."""

    CHECK_EVERY_SECONDS = 60.0

    def __init__(self, runner: ProjectionRunner, settings: Settings) -> None:
        self.runner, self.settings = runner, settings
        self.checked = 0.0

    def when_due(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.checked < self.CHECK_EVERY_SECONDS:
            return
        self.checked = time.monotonic()
        now = datetime.now(timezone.utc)
        due = editions.month_to_close(self.runner, now, self.settings.zone, self.settings.month_close_after_days)
        if due is not None:
            side = assembly.read_side_over(self.runner.app, self.settings)
            count = editions.close_month(self.runner, side, due, now)
            say(err, f"closed {due}: {count} report editions published (month closed automatically)")


def _print_report(
    name: str, from_month: str | None, to_month: str | None, department: str | None,
    fmt: OutputFormat, csv_raw: bool, edition: EditionChoice,
) -> None:  # fmt: skip
    settings = _settings()
    side = assembly.read_side(settings)
    now = datetime.now(timezone.utc)
    if edition == EditionChoice.restated:
        reports.print_report(side, name, from_month, to_month, department, fmt.value, now, out, csv_raw=csv_raw)
        return
    _print_edition(side, name, Period.of(from_month, to_month, now, settings.zone), department, edition, fmt, csv_raw)


def _print_edition(
    side: ReadSide, name: str, period: Period, department: str | None, edition: EditionChoice,
    fmt: OutputFormat, csv_raw: bool,
) -> None:  # fmt: skip
    rows, missing = side.edition(name, period, department, edition.value, datetime.now(timezone.utc))
    if missing:
        typer.echo(shown(f"ticketstream: note: not published: {', '.join(missing)}"), err=True)
    title = f"{name}, {edition.value} edition" + (f" — {department}" if department else "")
    if edition == EditionChoice.diff and not rows and fmt == OutputFormat.table:
        say(out, f"{title}: no figure changed since publication")
        return
    render(rows, fmt.value, title, out, csv_raw=csv_raw)


FromMonth = Annotated[Optional[str], typer.Option("--from", help="First month, YYYY-MM")]
ToMonth = Annotated[Optional[str], typer.Option("--to", help="Last month, YYYY-MM (default: this month)")]
Department = Annotated[Optional[str], typer.Option(help="Only this department")]
Format = Annotated[OutputFormat, typer.Option("--format", help="table, csv or json")]
CsvRaw = Annotated[
    bool,
    typer.Option(
        "--csv-raw",
        help="CSV cells exactly as stored, for machine consumers: no ' before a leading"
        " = + - @ tab or CR, no escaping of control characters (never open it in a spreadsheet)",
    ),
]
AsOf = Annotated[
    Optional[str],
    typer.Option("--as-of", help="The moment to evaluate at: now, RFC 3339, or a local date[-time]"),
]
Clock = Annotated[Optional[ClockName], typer.Option(help="Only this clock")]


class EditionChoice(str, Enum):
    published = "published"
    restated = "restated"
    diff = "diff"


EditionOption = Annotated[
    EditionChoice,
    typer.Option("--edition", help="restated: today's numbers; published: as the month was"
                 " closed; diff: what changed since, and the late events that changed it"),
]
Policy = Annotated[
    PolicyName,
    typer.Option(help="started: each clock's own policy version; current: today's for all"),
]


@report_app.command("channels")
def report_channels(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False,
    edition: EditionOption = EditionChoice.restated,
) -> None:  # fmt: skip
    """Channel mix: contacts per month and channel."""
    _print_report("channels", from_month, to_month, department, fmt, csv_raw, edition)


@report_app.command("dynamics")
def report_dynamics(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False,
    edition: EditionOption = EditionChoice.restated,
) -> None:  # fmt: skip
    """Incidents received per month."""
    _print_report("dynamics", from_month, to_month, department, fmt, csv_raw, edition)


@report_app.command("thanks")
def report_thanks(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False,
    edition: EditionOption = EditionChoice.restated,
) -> None:  # fmt: skip
    """The share of thanks among contacts per month."""
    _print_report("thanks", from_month, to_month, department, fmt, csv_raw, edition)


@report_app.command("sla")
def report_sla(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    clock: Clock = None, as_of: AsOf = None,
    status: Annotated[Optional[str], typer.Option(help="Only clocks with this status as of then")] = None,
    listing: Annotated[bool, typer.Option("--list", help="One row per incident clock")] = False,
    policy: Policy = PolicyName.started, fmt: Format = OutputFormat.table,
    csv_raw: CsvRaw = False, edition: EditionOption = EditionChoice.restated,
) -> None:  # fmt: skip
    """SLA per department and clock: started, met, breached, compliance, working minutes."""
    side, question = _sla_question(from_month, to_month, department, clock, as_of, policy)
    if edition != EditionChoice.restated:
        if listing or status or clock or as_of or policy != PolicyName.started:
            _fail("--edition shows the month's summary as published: without --list, --status, --clock, --as-of or --policy")
        _print_edition(side, "sla", question.which.period, department, edition, fmt, csv_raw)
        return
    answer = side.sla(question, status, listing=listing)
    render(answer.rows, fmt.value, answer.title, out, csv_raw=csv_raw)


@report_app.command("root-causes")
def report_root_causes(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    as_of: AsOf = None,
    by: Annotated[RootCauseDimension, typer.Option(help="Group by root_cause or category")] = RootCauseDimension.root_cause,
    monthly: Annotated[bool, typer.Option("--monthly", help="One Pareto per month")] = False,
    policy: Policy = PolicyName.started, fmt: Format = OutputFormat.table,
    csv_raw: CsvRaw = False, edition: EditionOption = EditionChoice.restated,
) -> None:  # fmt: skip
    """Reasons for long service: breached resolutions by root cause, with a Pareto."""
    side, question = _sla_question(from_month, to_month, department, None, as_of, policy)
    if edition != EditionChoice.restated:
        if monthly or as_of or by != RootCauseDimension.root_cause or policy != PolicyName.started:
            _fail("--edition shows the month's root causes as published: without --monthly, --by, --as-of or --policy")
        _print_edition(side, "root-causes", question.which.period, department, edition, fmt, csv_raw)
        return
    answer = side.root_causes(question, by.value, monthly)
    render(answer.rows, fmt.value, answer.title, out, csv_raw=csv_raw)


@report_app.command("quality")
def report_quality(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    as_of: AsOf = None, fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False,
) -> None:  # fmt: skip
    """Counter-metrics per month and department: CSAT, reopens, first-contact resolution, escalations."""
    settings = _settings()
    moment = sla_reports.parse_instant(as_of, settings.zone, datetime.now(timezone.utc))
    answer = reports.quality_report(assembly.read_side(settings), from_month, to_month, department, moment)
    render(answer.rows, fmt.value, answer.title, out, csv_raw=csv_raw)


@report_app.command("repeat-contacts")
def report_repeat_contacts(
    from_month: FromMonth = None, to_month: ToMonth = None, department: Department = None,
    within_days: Annotated[int, typer.Option(min=1, max=MAX_WITHIN_DAYS, help="A contact this many days after another of the same customer is a repeat")] = DEFAULT_WITHIN_DAYS,
    fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False,
) -> None:  # fmt: skip
    """Repeat contacts per month and department: customers coming back within N days, and about what."""
    side = assembly.read_side(_settings())
    answer = reports.repeat_contacts(side, from_month, to_month, department, within_days, datetime.now(timezone.utc))
    render(answer.rows, fmt.value, answer.title, out, csv_raw=csv_raw)


@report_app.command("html")
def report_html(
    output: Annotated[Path, typer.Option("-o", "--output", help="The page to write")],
    month: Annotated[Optional[str], typer.Option(help="YYYY-MM (default: the latest month with incidents)")] = None,
    department: Department = None, as_of: AsOf = None,
    lang: Annotated[LangName, typer.Option(help="Labels in English or Russian")] = LangName.en,
) -> None:  # fmt: skip
    """The monthly report as one self-contained page that opens offline."""
    settings = _settings()
    moment = sla_reports.parse_instant(as_of, settings.zone, datetime.now(timezone.utc))
    chosen = parse_month(month) if month else None
    board = dashboard.gather(assembly.read_side(settings), chosen, department, moment)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dashboard.render_page(board, lang.value, picker=False), encoding="utf-8")
    say(out, f"wrote {output} ({board.month}{', ' + department if department else ''})")


@report_app.command("at-risk")
def report_at_risk(
    as_of: AsOf = None, department: Department = None, clock: Clock = None,
    policy: Policy = PolicyName.started, fmt: Format = OutputFormat.table,
    csv_raw: CsvRaw = False,
) -> None:  # fmt: skip
    """Open clocks at risk or already breached, with the time left and when they are due."""
    side, question = _sla_question(None, None, department, clock, as_of, policy)
    answer = side.at_risk(question)
    render(answer.rows, fmt.value, answer.title, out, csv_raw=csv_raw)


def _sla_question(
    from_month: str | None, to_month: str | None, department: str | None,
    clock: ClockName | None, as_of: str | None, policy: PolicyName,
) -> tuple[ReadSide, sla_reports.SlaQuestion]:  # fmt: skip
    settings = _settings()
    side = assembly.read_side(settings)
    now = datetime.now(timezone.utc)
    moment = sla_reports.parse_instant(as_of, settings.zone, now)
    period = Period.of(from_month, to_month, moment, settings.zone)
    which = ClockFilter(period, department, clock.value if clock else None)
    question = sla_reports.SlaQuestion(which, moment, policy.value)
    stale = side.stale_rules()
    if stale is not None:
        typer.echo(shown(f"ticketstream: warning: the SLA read model was {stale}"), err=True)
    return side, question


@month_app.command("close")
def month_close(month: Annotated[str, typer.Argument(help="YYYY-MM, a month that is over")]) -> None:
    """Freeze the month's report figures (all departments and each) as its published edition."""
    settings = _settings()
    runner = assembly.projection_runner(settings, assembly.open_incidents(settings))
    now = datetime.now(timezone.utc)
    count = editions.close_month(runner, assembly.read_side_over(runner.app, settings), month, now)
    say(out, f"closed {month}: {count} report editions published {now.isoformat(timespec='seconds')}")


@month_app.command("list")
def month_list(fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False) -> None:
    """The closed months and when each was published."""
    side = assembly.read_side(_settings())
    rows = [{"month": m, "published_at": at} for m, at in side.published_months().items()]
    render(rows, fmt.value, "Published months", out, csv_raw=csv_raw)


@import_app.command("servicenow")
def import_servicenow(
    file: Annotated[Path, typer.Argument(help="ServiceNow incident audit export, one row per update (CSV)")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write JSONL here")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish to Kafka")] = False,
    zone: Annotated[Optional[str], typer.Option("--timezone", help="The export's time zone (default: TICKETSTREAM_REPORT_TIMEZONE)")] = None,
    reconcile: Annotated[bool, typer.Option("--reconcile", help="Compare the CSV's monthly counts with the read models")] = False,
    skip_invalid: Annotated[bool, typer.Option(help="Skip rows that cannot be imported, and count them")] = False,
    source: Annotated[str, typer.Option(help="The events' source")] = DEFAULT_SOURCE,
    fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False, embedded: Embedded = False,
) -> None:  # fmt: skip
    """Import a ServiceNow incident audit export as events (JSONL on stdout without -o or --publish)."""
    settings = _settings()
    if output is not None and publish:
        raise TicketstreamError("give -o FILE or --publish, not both")
    if embedded and not publish:
        raise TicketstreamError("--embedded goes with --publish")
    if not file.is_file():
        raise TicketstreamError(f"no such file: {file}")
    options = servicenow_import.import_options(settings, zone, source, skip_invalid)
    if publish:
        summary = servicenow_import.publish(settings, file, options, err, embedded=embedded)
        servicenow_import.print_summary(summary, "published {n} events", out)
    elif output is not None or not reconcile:
        summary = servicenow_import.write(file, options, output, err)
        target = f"wrote {{n}} events to {output or 'stdout'}"
        servicenow_import.print_summary(summary, target, out if output else err)
    if reconcile:
        rows, title = reconciliation.reconcile(assembly.read_side(settings), file, options)
        render(rows, fmt.value, title, out, csv_raw=csv_raw)


@schema_app.command("export")
def schema_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory to write into")],
) -> None:
    """Write one JSON Schema per event type."""
    written = export_json_schemas(output)
    say(out, f"wrote {len(written)} schemas to {output}")


@incident_app.command("explain")
def incident_explain(
    incident_id: Annotated[str, typer.Argument()], as_of: AsOf = None,
    policy: Policy = PolicyName.started,
) -> None:  # fmt: skip
    """Each SLA clock minute by minute: calendar, counted, paused and closed time, status."""
    settings = _settings()
    moment = sla_reports.parse_instant(as_of, settings.zone, datetime.now(timezone.utc))
    sla_explain.print_report(assembly.read_side(settings).explain(incident_id, moment, policy.value), out)


@incident_app.command("show")
def incident_show(incident_id: Annotated[str, typer.Argument()]) -> None:
    """The incident's timeline from the event store."""
    settings = _settings()
    reports.print_incident(assembly.read_side(settings).reader.app, incident_id, out)


@projections_app.command("status")
def projections_status(fmt: Format = OutputFormat.table, csv_raw: CsvRaw = False) -> None:
    """Each read model's position and lag (in notifications, event time and wall time)."""
    settings = _settings()
    reports.print_projection_status(assembly.read_side(settings), fmt.value, out, datetime.now(timezone.utc), csv_raw=csv_raw)


@app.command()
def status(fmt: Format = OutputFormat.table) -> None:
    """The ops screen: per partition Kafka's end, the stored position and the lag; the
    projections' lag; open dead letters by reason."""
    if fmt == OutputFormat.csv:
        _fail("status has three sections: use --format table or json")
    settings = _settings()
    side = assembly.read_side(settings)
    tables = assembly.read_only_tables(side)
    try:
        with assembly.kafka_bootstrap(settings) as servers:
            lags: list[PartitionLag] | str = partition_lags(
                servers, settings.topics.incident_topics, tables.stored_offsets()
            )
    except (NoBroker, BrokerUnavailable) as err:
        lags = f"not asked: {err}"
    screen = reports.status_screen(side, tables, lags, datetime.now(timezone.utc))
    reports.print_status(screen, fmt.value, out)


@projections_app.command("rebuild")
def projections_rebuild(
    names: Annotated[Optional[list[str]], typer.Argument(help="Read models (see status)")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every read model")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff, keep the live read models")] = False,
    incidents: Annotated[Optional[list[str]], typer.Option("--incident", help="Only these incidents, in place (repeatable)")] = None,
) -> None:  # fmt: skip
    """Build read models again in shadow tables while the live ones keep answering, print
    what changes, and swap them in with one transaction."""
    if not names and not everything:
        _fail("name the read models to rebuild, or give --all")
    if names and everything:
        _fail("give read model names or --all, not both")
    if incidents and dry_run:
        _fail("--dry-run compares whole read models: not with --incident")
    settings = _settings()
    runner = assembly.projection_runner(settings, assembly.open_incidents(settings))
    models = runner.chosen(names or [])
    if incidents:
        in_place = [m for m in models if incident_table(m) is not None]
        read = recompute_incidents(runner, in_place, incidents)
        say(out, f"recomputed {len(incidents)} incidents in {', '.join(m.name for m in in_place) or 'no read model'}"
                 f" from {read} events, in one transaction")  # fmt: skip
        models = [m for m in models if incident_table(m) is None]
        if not models:
            return
        say(out, f"{', '.join(m.name for m in models)}: counts over all incidents, rebuilt whole")
    head = runner.app.recorder.max_notification_id() or 0
    with progress(err, "rebuilding", head) as advance:
        built = rebuild(runner, [m.name for m in models], dry_run=dry_run, progressed=advance)
    for table in built.diffs:
        for line in table.lines():
            say(out, line)
    did = "swapped in" if built.swapped else "dry run: the live read models are unchanged"
    say(out, f"rebuilt {', '.join(m.name for m in models)} from {built.notifications} notifications; {did}")


@dlq_app.command("list")
def dlq_list(
    reason: Annotated[Optional[str], typer.Option(help="Only this reason")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Include resolved letters")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    csv_raw: CsvRaw = False,
) -> None:
    """Dead letters with their reasons and coordinates (open ones unless --all)."""
    side = assembly.read_side(_settings())  # kept: its application closes the store when dropped
    letters = assembly.read_only_tables(side).dead_letters(
        reason=reason, open_only=not everything, limit=100_000
    )
    reports.print_dead_letters(letters, fmt.value, out, csv_raw=csv_raw)


@dlq_app.command("retry")
def dlq_retry(
    letter_id: Annotated[Optional[int], typer.Argument(help="The dead letter to retry")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Retry every open dead letter")] = False,
) -> None:
    """Validate and apply dead letters again: those that now apply are resolved, never deleted."""
    if (letter_id is None) == (not everything):
        raise TicketstreamError("give one dead-letter ID or --all")
    settings = _settings()
    incidents = assembly.open_incidents(settings)
    recorder = assembly.ingest_recorder(incidents)
    if everything:
        letters = recorder.dead_letters(open_only=True, limit=1_000_000)
    else:
        assert letter_id is not None
        stored = recorder.dead_letter(letter_id)
        if stored is None or stored.status != "open":
            raise TicketstreamError(f"no open dead letter with id {letter_id}")
        letters = [stored]
    updates = assembly.ingest(settings, incidents).retry(letters)
    say(out, reports.retry_summary(updates))


@dlq_app.command("show")
def dlq_show(letter_id: Annotated[int, typer.Argument()]) -> None:
    """One dead letter, its original bytes shown safely."""
    side = assembly.read_side(_settings())  # kept: its application closes the store when dropped
    stored = assembly.read_only_tables(side).dead_letter(letter_id)
    if stored is None:
        raise TicketstreamError(f"no dead letter with id {letter_id}")
    reports.print_dead_letter(stored, out)


@config_app.command("check")
def config_check(
    file: Annotated[Optional[Path], typer.Argument(help="Config file; default TICKETSTREAM_CONFIG_FILE")] = None,
) -> None:
    """Validate a config file and show the calendars and SLA policies it gives."""
    settings = _settings()
    path = file or settings.config_file
    if file is not None and not file.is_file():
        raise TicketstreamError(f"no such file: {file}")
    rules = load_sla_rules(path if path.exists() else None)
    source = str(path) if path.exists() else "built-in defaults"
    sla_config_report.print_sla_rules(rules, source, out)
    say(out, sla_config_report.read_model_line(settings, rules))


def _publish_dicts(settings: Settings, events: list[dict[str, object]], embedded: bool) -> None:
    lines = (_line(e) for e in events)
    batch = read_events(lines, max_bytes=settings.max_message_bytes)
    with progress(err, "publishing", len(batch.events)) as advance:
        count = assembly.publish(settings, batch.events, embedded=embedded, progressed=advance)
    say(out, f"published {count} events")


def _line(event: dict[str, object]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _first_day(month: str) -> date:
    try:
        return datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise TicketstreamError(f"'{month}' is not a month; expected YYYY-MM") from None


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    if len(sys.argv) == 1:
        sys.argv.append("--help")
    try:
        code = app(standalone_mode=False, prog_name="ticketstream")
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as err:  # bad options and arguments
        message = getattr(err, "format_message", lambda: str(err))()
        _fail(" ".join(str(message).split()))
    except GaveUp as err:  # an outage outlasted TICKETSTREAM_GIVE_UP_AFTER_SECONDS
        _fail(str(err), code=GAVE_UP_EXIT_CODE)
    except USER_ERRORS as err:
        _fail(str(err))
    except (OperationalError, InterfaceError) as err:  # commands that do not wait for it
        _fail(f"the event store cannot be reached: {' '.join(str(err).split())}", GAVE_UP_EXIT_CODE)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(shown(f"ticketstream: error: {message}"), err=True)
    sys.exit(code)
