"""Builds the parts from settings: the event store application, read models, Kafka clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from itertools import islice
from urllib.parse import quote

from eventsourcing.persistence import IntegrityError

from consumers.dead_letter_topic import DeadLetterTopic
from contracts.events import EventBase
from consumers.ingest import Ingest, IngestOptions
from consumers.ingest_recorder import IngestTables
from consumers.kafka_source import KafkaSource, PositionsProvider, SourceOptions
from consumers.outage import OutagePolicy, is_transient, ride_out
from consumers.replay import ReplayRange, ReplaySource
from domain.application import Incidents
from producers.errors import PublishError
from producers.publisher import Publisher
from projections.channel_mix import ChannelMix
from projections.dynamics import Dynamics
from projections.incident_quality import IncidentQuality
from projections.incident_summaries import IncidentSummaries
from projections.per_incident import HistoryLoader, HistoryMemo
from projections.read_model import ReadModel
from projections.read_side import ReadSide
from projections.repeat_contacts import RepeatContacts
from projections.runner import ProjectionRunner
from projections.sla_clocks import SlaClocks
from projections.store_reader import DatastoreReader
from projections.thanks_share import ThanksShare
from domain.sla_rules import SlaRules
from ticketstream.config_file import load_sla_rules
from ticketstream.embedded_broker import BrokerStateFile, EmbeddedBroker
from ticketstream.customer_secret import customer_secret
from ticketstream.errors import NoBroker, StoreUnreachable, TicketstreamError
from ticketstream.event_store import (
    READ_ONLY_POSTGRES, ensure_schema, event_store_env, is_postgres, sqlite_path, store_exists,
)  # fmt: skip
from ticketstream.settings import Settings
from ticketstream.topics import ensure_topics


def open_incidents(settings: Settings, outage: OutagePolicy | None = None) -> Incidents:
    """The Incidents application on the configured event store (SQLite file or PostgreSQL).

    With ``outage``, a database that does not answer yet is waited for.

    Raises:
        StoreUnreachable: the database does not answer (when ``outage`` gives up: GaveUp).
        ConfigError: it refuses us.
    """
    if outage is not None:
        return ride_out(
            lambda: open_incidents(settings), outage, doing="opening_the_event_store",
            transient=lambda err: isinstance(err, StoreUnreachable) or is_transient(err),
        )  # fmt: skip
    if is_postgres(settings.event_store):
        ensure_schema(settings.event_store)
    env = event_store_env(settings.event_store)
    try:
        return Incidents(env=env)
    except IntegrityError:  # group members starting together on a fresh store: one made the tables
        return Incidents(env=env)


def ingest_recorder(app: Incidents) -> IngestTables:
    """The application's recorder, with the ingest loop's extra tables and queries."""
    recorder = app.recorder
    assert isinstance(recorder, IngestTables)
    return recorder


def sla_rules(settings: Settings) -> SlaRules:
    """Calendars and SLA policies from the config file (built-in defaults if the default
    file name does not exist).

    Raises:
        ConfigFileError: naming the file and the key that is wrong, or a missing file.
    """
    return load_sla_rules(settings.config_file)


def read_models(
    settings: Settings, app: Incidents, histories: HistoryLoader | None = None
) -> list[ReadModel]:
    """Every read model, in the reporting time zone; ``histories`` loads incidents' stored
    events for those kept per incident (default: straight from the store)."""
    zone = settings.zone
    load = histories or app.histories
    sla = SlaClocks(sla_rules(settings), load, zone)
    # The SLA clocks first: their computing is done before the batch's first write, so on
    # SQLite the write lock is not held while they compute (the consumer can commit). The
    # summaries compute under it, but cheaply next to the clocks.
    summaries = IncidentSummaries(load, zone)
    quality = IncidentQuality(load, zone)
    return [
        sla, summaries, quality, ChannelMix(zone, load), Dynamics(zone), ThanksShare(zone),
        RepeatContacts(load, zone),
    ]


def projection_runner(settings: Settings, app: Incidents) -> ProjectionRunner:
    """The runner of all read models over this event store; they share one load of the
    histories a batch touches."""
    histories = HistoryMemo(app.histories)
    models = read_models(settings, app, histories)
    return ProjectionRunner(
        app, models, batch_size=settings.project_batch_size, histories=histories
    )


def read_side(settings: Settings, outage: OutagePolicy | None = None) -> ReadSide:
    """The reports over the configured store, opened read-only: an SQLite file in ``mode=ro``,
    PostgreSQL in sessions whose every transaction is READ ONLY; no table is created. A store
    that is not made yet (no file, no events table) is an empty one in memory: the empty
    answers, and nothing made where the store will be. With ``outage``, a database that does
    not answer yet is waited for.

    Raises:
        StoreUnreachable: the database does not answer (when ``outage`` gives up: GaveUp).
    """
    if outage is not None:
        return ride_out(
            lambda: read_side(settings), outage, doing="opening_the_event_store",
            transient=lambda err: isinstance(err, StoreUnreachable) or is_transient(err),
        )  # fmt: skip
    location = settings.event_store
    env = event_store_env(location, make_directory=False)
    env["CREATE_TABLE"] = "n"
    if not store_exists(location):
        env = {**event_store_env(":memory:", make_directory=False), "CREATE_TABLE": "y"}
    elif is_postgres(location):
        env["PERSISTENCE_MODULE"] = READ_ONLY_POSTGRES
    else:
        env["SQLITE_DBNAME"] = f"file:{quote(str(sqlite_path(location).resolve()))}?mode=ro"
    return read_side_over(Incidents(env=env), settings)


def read_side_over(app: Incidents, settings: Settings) -> ReadSide:
    """The reports over this application's store (read through it, never written)."""
    models = read_models(settings, app)
    sla = next(m for m in models if isinstance(m, SlaClocks))
    return ReadSide(
        DatastoreReader(app), settings.zone, sla.rules, settings.quick_reopen_hours,
        tuple(m.name for m in models), sla.fingerprint,
    )  # fmt: skip


def read_only_tables(side: ReadSide) -> IngestTables:
    """The ingest loop's tables (dead letters, offsets) of the read side's store, read through
    its read-only connection (keep ``side``: its application closes the store when dropped)."""
    return ingest_recorder(side.reader.app)


def broker_state(settings: Settings) -> BrokerStateFile:
    """Where a foreground `ticketstream broker` announces its address."""
    return BrokerStateFile(settings.state_dir / "broker.json")


@contextmanager
def kafka_bootstrap(
    settings: Settings, outage: OutagePolicy | None = None, *, embedded: bool = False
) -> Iterator[str]:
    """The configured Kafka, else a running `ticketstream broker`, else — only when
    ``embedded`` — a private in-memory broker that stops when the block ends.

    The topics exist when the block starts. With ``outage``, a broker that does not answer
    yet is waited for (retried with backoff until the policy gives up).

    Raises:
        NoBroker: none is configured or running, and ``embedded`` is false (at once: data
            sent to a private broker would be gone when the command ends).
        BrokerUnavailable: no broker answers (at once, or when ``outage`` gives up: GaveUp).
    """

    def topics_on(servers: str) -> str:
        def create() -> None:
            ensure_topics(servers, settings.topics, settings.topic_partitions)

        if outage is None:
            create()
        else:
            ride_out(create, outage, doing="connecting_to_kafka")
        return servers

    if settings.kafka_bootstrap_servers:
        yield topics_on(settings.kafka_bootstrap_servers)
        return
    running = broker_state(settings).running()
    if running:
        yield topics_on(running)
        return
    if not embedded:
        raise NoBroker(
            "no Kafka broker: set KAFKA_BOOTSTRAP_SERVERS, run `ticketstream broker`, or pass"
            " --embedded for a private broker that stops with this command"
        )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(log_file=settings.state_dir / "broker.log") as broker:
        yield topics_on(broker.bootstrap_servers)


def ingest(settings: Settings, app: Incidents) -> Ingest:
    """The batch ingest step over this application."""
    options = IngestOptions(
        max_message_bytes=settings.max_message_bytes, orphan_after=settings.orphan_after,
        customer_secret=customer_secret(settings), customer_phone_region=settings.customer_phone_region,
    )
    return Ingest(app, options)


def _source_options(settings: Settings, servers: str) -> SourceOptions:
    return SourceOptions(
        bootstrap_servers=servers,
        topics=settings.topics.incident_topics,
        group_id=settings.consumer_group,
        max_poll_records=settings.max_poll_records,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        session_timeout_ms=settings.group_session_timeout_ms,
    )


def kafka_source(settings: Settings, servers: str, step: Ingest) -> KafkaSource:
    """A consumer-group member over the incident topics, positioned by the event store."""
    return KafkaSource(_source_options(settings, servers), positions=step.reload)


def replay_source(
    settings: Settings, servers: str, span: ReplayRange, positions: PositionsProvider
) -> ReplaySource:
    """A group-less reader of the incident topics over ``span`` (``positions``: what a target
    store has applied already)."""
    options = replace(_source_options(settings, servers), client_id="ticketstream-replay")
    return ReplaySource(options, span, positions)


def outage_policy(settings: Settings) -> OutagePolicy:
    """How the consume loop retries through broker and database outages."""
    return OutagePolicy(
        give_up_after=settings.give_up_after_seconds,
        max_delay=min(settings.retry_max_delay_seconds, settings.give_up_after_seconds),
    )


def publisher(settings: Settings, servers: str) -> Publisher:
    """The publisher SDK connected to ``servers``.

    Raises:
        TicketstreamError: when the broker cannot be reached.
    """
    try:
        return Publisher.connect(servers, settings.topics)
    except PublishError as err:
        raise TicketstreamError(str(err)) from None


def publish(
    settings: Settings, events: Iterable[EventBase], *, embedded: bool = False,
    chunk_size: int = 5000, progressed: Callable[[int], None] = lambda n: None,
) -> int:  # fmt: skip
    """Publish validated events to their topics as they come, ``chunk_size`` acknowledged at a
    time (``progressed`` told of each chunk); return how many the broker acknowledged.

    Raises:
        NoBroker: see ``kafka_bootstrap``.
    """
    with kafka_bootstrap(settings, embedded=embedded) as servers:
        sdk = publisher(settings, servers)
        try:
            stream, count = iter(events), 0
            while chunk := list(islice(stream, chunk_size)):
                count += sdk.publish(chunk)
                progressed(len(chunk))
            return count
        finally:
            sdk.close()


def dead_letter_topic(settings: Settings, producer_side: Publisher, app: Incidents) -> DeadLetterTopic:
    """The outbox that forwards stored dead letters to the dead-letter topic."""
    return DeadLetterTopic(producer_side.producer, settings.topics.dlq, ingest_recorder(app))
