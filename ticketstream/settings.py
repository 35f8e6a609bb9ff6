"""Settings from TICKETSTREAM_* environment variables, read once by the CLI and passed down frozen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.routing import TopicMap
from domain.customer_key import phone_regions
from ticketstream.errors import ConfigError


# Tansu holds a consumer-group join for about half the session timeout (measured:
# 6000 → 3 s, 2000 → 1 s); real Kafka refuses sessions under its 6000 ms minimum.
EMBEDDED_SESSION_TIMEOUT_MS = 2000


class Settings(BaseSettings):
    """Everything configurable; every field is an environment variable TICKETSTREAM_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="TICKETSTREAM_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "TICKETSTREAM_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="host:port[,host:port]; unset = the broker `ticketstream broker` announced"
        " (or, for commands given --embedded, a private one)",
    )
    event_store: str = "var/ticketstream.db"
    topics: TopicMap = TopicMap()
    topic_partitions: int = Field(default=4, ge=1, le=256)
    consumer_group: str = "ticketstream-ingest"
    max_poll_records: int = Field(default=10_000, ge=1, le=100_000)
    max_poll_interval_ms: int = Field(default=3000, ge=1000)
    session_timeout_ms: int | None = Field(
        default=None,
        ge=1000,
        description="Consumer-group session; unset = 2000 on the embedded broker, else 10000",
    )
    give_up_after_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long `consume` rides out an unreachable broker or database (retrying"
        " with capped, jittered exponential backoff and logging every retry) before it exits"
        " with one line and code 3",
    )
    retry_max_delay_seconds: float = Field(
        default=30.0, gt=0, description="The longest pause between two retries during an outage"
    )
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    orphan_after_days: float = Field(default=7.0, gt=0)
    report_timezone: str = "UTC"
    api_token: str | None = Field(
        default=None, min_length=16,
        description="`serve` requires `Authorization: Bearer <token>` on every endpoint but"
        " /healthz; unset = it binds to loopback only",
    )
    ready_max_lag: int = Field(default=10_000, ge=0, description="/readyz: the largest projection lag that is ready")
    quick_reopen_hours: float = Field(
        default=72.0, gt=0, description="`report quality`: a reopen this soon after its resolution is a quick reopen"
    )
    month_close_after_days: int = Field(
        default=5, ge=1,
        description="`project` closes the month that just ended this many days after its end"
        " (its report figures frozen as the published edition; earlier months by hand)",
    )
    project_batch_size: int = Field(default=10_000, ge=1)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    state_dir: Path = Path("var")
    customer_key_secret: SecretStr | None = Field(
        default=None, min_length=16,
        description="The secret of the pseudonymous customer key; unset = the file"
        " customer_key.secret under the state directory (made on first use, mode 0600)",
    )
    customer_phone_region: str | None = Field(
        default=None,
        description="Where customers' national phone numbers are read (ISO 3166 code, e.g. RU:"
        " 8 912 … is +7 912 …); unset = only international numbers are recognised as one",
    )
    config_file: Path = Field(
        default=Path("ticketstream.toml"),
        description="Calendars and SLA policies; built-in defaults when the file is absent",
    )

    @field_validator("customer_phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phone_regions():
            raise ValueError(f"unknown phone region '{value}' (an ISO 3166 code such as RU)")
        return None if value is None else value.upper()

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @property
    def group_session_timeout_ms(self) -> int:
        """The session timeout to use: short on the embedded broker, whose group join lasts it."""
        if self.session_timeout_ms is not None:
            return self.session_timeout_ms
        return 10_000 if self.kafka_bootstrap_servers else EMBEDDED_SESSION_TIMEOUT_MS

    @property
    def zone(self) -> ZoneInfo:
        """The reporting time zone."""
        return ZoneInfo(self.report_timezone)

    @property
    def orphan_after(self) -> timedelta:
        """How long (in event time) an early event may stay parked."""
        return timedelta(days=self.orphan_after_days)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and explicit overrides).

    Raises:
        ConfigError: naming the first invalid setting.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors(include_input=False)[0]
        name = "TICKETSTREAM_" + "__".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"setting {name}: {first['msg']}") from None
