"""Where the event store lives: the eventsourcing environment for an SQLite file or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from eventsourcing.postgres import PostgresFactory
from psycopg import sql

from ticketstream.errors import ConfigError, StoreUnreachable

_PREFIXES = ("postgresql://", "postgres://")
# The library's JSON format, encoded and decoded by orjson (consumers/stored_json.py).
TRANSCODER_TOPIC = "consumers.stored_json:OrjsonTranscoder"
# The library's mapper, storing the same bytes with less work per event.
MAPPER_TOPIC = "consumers.stored_json:OrjsonMapper"


def is_postgres(location: str) -> bool:
    """Whether the event store setting names a PostgreSQL database."""
    return location.startswith(_PREFIXES)


# The library's PostgreSQL factory, its sessions refusing writes (the read side's).
READ_ONLY_POSTGRES = "ticketstream.event_store:ReadOnlyPostgresFactory"
# The table of stored events: it exists once anything has opened the store for writing.
EVENTS_TABLE = "incidents_events"


def event_store_env(location: str, *, make_directory: bool = True) -> dict[str, str]:
    """The eventsourcing environment for ``location`` (a file path, sqlite:///path or
    postgresql://); an SQLite file's directory is made unless not ``make_directory``.

    Raises:
        ConfigError: for a PostgreSQL URL without a database name.
    """
    if is_postgres(location):
        return _postgres_env(location)
    path = Path(location.removeprefix("sqlite:///"))
    if make_directory:
        path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "consumers.ingest_recorder:SQLiteIngestRecorder",
        "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
        "MAPPER_TOPIC": MAPPER_TOPIC,
    }


def sqlite_path(location: str) -> Path:
    """The file an SQLite event store setting names."""
    return Path(location.removeprefix("sqlite:///"))


class ReadOnlyPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory whose every session has
    ``default_transaction_read_only`` on: whatever the recorder runs, the server refuses to
    write (set before the pool makes its first connection)."""

    def __init__(self, env: object) -> None:
        super().__init__(env)  # type: ignore[arg-type]
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs["options"] = "-c default_transaction_read_only=on"


def store_exists(location: str) -> bool:
    """Whether the event store has been made (its file, or its events table in the schema),
    asked without making anything.

    Raises:
        StoreUnreachable: when the database server does not answer.
        ConfigError: when the database refuses us.
    """
    if not is_postgres(location):
        return sqlite_path(location).is_file()
    env = _postgres_env(location)
    try:
        with psycopg.connect(_conninfo(env), connect_timeout=10, options="-c default_transaction_read_only=on") as conn:
            found = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (env["POSTGRES_SCHEMA"], EVENTS_TABLE),
            ).fetchone()
    except psycopg.OperationalError as err:
        raise StoreUnreachable(f"cannot reach the PostgreSQL event store: {err}".strip()) from None
    except psycopg.Error as err:
        raise ConfigError(f"cannot use the PostgreSQL event store: {err}".strip()) from None
    return found is not None


def same_location(one: str, other: str) -> bool:
    """Whether two event store settings name the same store (same file, or same database and
    schema on the same server)."""
    if is_postgres(one) != is_postgres(other):
        return False
    if not is_postgres(one):
        return Path(one.removeprefix("sqlite:///")).resolve() == Path(other.removeprefix("sqlite:///")).resolve()
    keys = ("POSTGRES_DBNAME", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_SCHEMA")
    first, second = _postgres_env(one), _postgres_env(other)
    return all(first[k] == second[k] for k in keys)


def ensure_schema(location: str) -> None:
    """Create the PostgreSQL schema the URL names (``?schema=``) if it does not exist.

    Raises:
        StoreUnreachable: when the database server does not answer.
        ConfigError: when the database refuses us (e.g. no such database).
    """
    env = _postgres_env(location)
    try:
        with psycopg.connect(_conninfo(env), autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
            )
    except psycopg.OperationalError as err:
        raise StoreUnreachable(f"cannot reach the PostgreSQL event store: {err}".strip()) from None
    except psycopg.Error as err:
        raise ConfigError(f"cannot use the PostgreSQL event store: {err}".strip()) from None


def drop_schema(location: str) -> None:
    """Drop the URL's schema and everything in it (tests and throwaway stores only)."""
    env = _postgres_env(location)
    with psycopg.connect(_conninfo(env), autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
        )


def _postgres_env(location: str) -> dict[str, str]:
    url = urlsplit(location)
    dbname = url.path.lstrip("/")
    if not dbname:
        raise ConfigError(f"the PostgreSQL URL names no database: {url.scheme}://…/DBNAME")
    schema = parse_qs(url.query).get("schema", ["public"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        # Also how long a batch waits for a pooled connection: shorter than the outages the
        # consumer must report (it logs and backs off only once a wait has failed).
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # Check a pooled connection before use: after a database restart or a dropped
        # network path the pool would otherwise hand out dead connections one by one.
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": "consumers.ingest_recorder:PostgresIngestRecorder",
        "TRANSCODER_TOPIC": TRANSCODER_TOPIC,
        "MAPPER_TOPIC": MAPPER_TOPIC,
    }


def connection_info(location: str) -> tuple[str, str]:
    """A PostgreSQL URL's libpq connection string and its schema.

    Raises:
        ConfigError: for a URL without a database name.
    """
    env = _postgres_env(location)
    return _conninfo(env), env["POSTGRES_SCHEMA"]


def _conninfo(env: dict[str, str]) -> str:
    return psycopg.conninfo.make_conninfo(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
    )
