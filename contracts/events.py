"""Pydantic models of the incident event types: the single source of the v1 contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union, get_args
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from contracts.printable import described, first_unprintable, schema_pattern

SCHEMA_VERSION = 1

# Instants outside these years are typos or hostile: year 1 or 9999 overflow as soon as they
# are shifted to UTC, and one far-future event time would drag the consumer's watermark.
# Compared on the wall-clock part, so any offset of a plausible local time is accepted.
EARLIEST_YEAR, LATEST_YEAR = 1990, 2099


def _plausible(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must lie in {EARLIEST_YEAR}..{LATEST_YEAR}")
    return value


def _printable(value: str) -> str:
    character = first_unprintable(value)
    if character is not None:
        raise ValueError(
            f"holds {described(character)}; identifiers take printable characters only"
        )
    return value


def _printable_pattern(schema: dict[str, Any]) -> None:
    schema["pattern"] = schema_pattern()


Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]
# No string may carry U+0000: PostgreSQL text refuses it, so it would stop a projection.
_NO_NUL = r"^[^\x00]*$"
# Identifiers are shown in tables, CSV cells and pages, and grouped on: printable characters
# only (contracts.printable), so none can carry a terminal sequence, an invisible character
# or a bidi override.
_PRINTABLE = AfterValidator(_printable)
_PRINTABLE_SCHEMA = Field(json_schema_extra=_printable_pattern)
IncidentId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]
# Which fields are which (issue 13). Identifiers, printable only (Label, Handle): source,
# channel, department, category, store, escalated_to, resolution, root_cause, a pause's
# reason (awaiting_customer …) and assignee; priority and rating are closed sets, incident_id
# has its own alphabet. Free text, any character but U+0000 (LongText, Name, Customer):
# summary, the reasons of escalated, reopened, reassigned and closed, comment, praised, and
# the customer's name, phone and email.
# Vocabulary values (channels, departments, …) and system names are kept verbatim, bounded
# in length and printable.
Label = Annotated[
    str, StringConstraints(min_length=1, max_length=64), _PRINTABLE, _PRINTABLE_SCHEMA
]
# Who holds an incident (an assignee): a person's or a queue's name, printable.
Handle = Annotated[str, StringConstraints(max_length=200), _PRINTABLE, _PRINTABLE_SCHEMA]
# Free text keeps whatever people write (newlines, tabs, any script), but U+0000.
LongText = Annotated[str, StringConstraints(max_length=2000, pattern=_NO_NUL)]
Name = Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)]
# The source's per-incident change counter (e.g. ServiceNow's sys_mod_count), a signed 64-bit
# non-negative integer so every store can hold it.
Sequence = Annotated[int, Field(ge=0, le=2**63 - 1)]
Priority = Literal["low", "normal", "high", "critical"]
Rating = Literal["bad", "neutral", "good"]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        hide_input_in_errors=True,
    )


class Customer(_Strict):
    """Personal data of the customer: stored, never logged."""

    name: Annotated[str, StringConstraints(max_length=200, pattern=_NO_NUL)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40, pattern=_NO_NUL)] | None = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=_NO_NUL)] | None = None


class EventBase(_Strict):
    """Fields common to every event."""

    event_id: UUID
    schema_version: Annotated[int, Field(json_schema_extra={"const": SCHEMA_VERSION})] = Field(
        description="Contract version; only 1 exists"
    )
    incident_id: IncidentId
    occurred_at: Instant = Field(
        description="Event time as seen by Customer Service, RFC 3339 with offset"
    )
    source: Label = Field(description="Publishing system, e.g. store-014, callcentre, edms")
    sequence: Sequence | None = Field(
        default=None,
        description="The source system's per-incident change counter (e.g. ServiceNow"
        " sys_mod_count): orders this source's facts that share an occurred_at; absent = unknown",
    )

    # Which upstream concern's topic carries the type (contracts.routing.TopicMap).
    concern: ClassVar[str] = "lifecycle"

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema_version {value} is not supported; this reader knows 1")
        return value


class IncidentReceived(EventBase):
    """Customer Service has received an incident from a source department."""

    concern: ClassVar[str] = "received"
    type: Literal["incident.received"]
    channel: Label
    department: Label
    category: Label
    reported_at: Instant | None = Field(
        default=None,
        description="When the customer first contacted the source department; default occurred_at",
    )
    store: Label | None = None
    priority: Priority | None = "normal"
    customer: Customer | None = None
    summary: LongText | None = None

    @field_validator("priority", mode="before")
    @classmethod
    def _null_priority_is_normal(cls, value: Any) -> Any:
        return "normal" if value is None else value


class IncidentEscalated(EventBase):
    """The incident was handed to another party, e.g. technical support."""

    concern: ClassVar[str] = "escalated"
    type: Literal["incident.escalated"]
    escalated_to: Label
    reason: LongText | None = None


class IncidentResolved(EventBase):
    """The incident was resolved; ``completed_at`` is when the store did the work."""

    concern: ClassVar[str] = "resolved"
    type: Literal["incident.resolved"]
    resolution: Label
    root_cause: Label | None = None
    completed_at: Instant | None = None


class IncidentThanked(EventBase):
    """A customer said thanks, about an incident or as a contact of its own."""

    concern: ClassVar[str] = "thanked"
    type: Literal["incident.thanked"]
    channel: Label
    standalone: bool | None = False
    department: Label | None = None
    praised: Name | None = None

    @field_validator("standalone", mode="before")
    @classmethod
    def _null_standalone_is_false(cls, value: Any) -> Any:
        return False if value is None else value


class IncidentReopened(EventBase):
    """A resolved incident was opened again."""

    type: Literal["incident.reopened"]
    reason: LongText | None = None


class IncidentPaused(EventBase):
    """Work on the incident waits for someone outside Customer Service."""

    type: Literal["incident.paused"]
    reason: Label | None = None


class IncidentResumed(EventBase):
    """Work on a paused incident continues."""

    type: Literal["incident.resumed"]


class IncidentRated(EventBase):
    """The customer rated the service (CSAT)."""

    type: Literal["incident.rated"]
    rating: Rating
    comment: LongText | None = None


class IncidentReassigned(EventBase):
    """Another group now holds the incident (allowed while open and while resolved)."""

    type: Literal["incident.reassigned"]
    department: Label = Field(description="The group now holding the incident")
    assignee: Handle | None = None
    reason: LongText | None = None


class IncidentReclassified(EventBase):
    """The incident's priority, category or channel was corrected (at least one of them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("priority", "category", "channel")
            ]
        }
    )

    type: Literal["incident.reclassified"]
    priority: Priority | None = None
    category: Label | None = None
    channel: Label | None = None

    @model_validator(mode="after")
    def _says_something(self) -> IncidentReclassified:
        if self.priority is None and self.category is None and self.channel is None:
            raise ValueError("a reclassification names a priority, a category or a channel")
        return self


class IncidentClosed(EventBase):
    """A resolved incident was closed; it may still be reopened (and that is counted)."""

    type: Literal["incident.closed"]
    reason: LongText | None = None


IncidentEvent = Annotated[
    Union[
        IncidentReceived,
        IncidentEscalated,
        IncidentResolved,
        IncidentThanked,
        IncidentReopened,
        IncidentPaused,
        IncidentResumed,
        IncidentRated,
        IncidentReassigned,
        IncidentReclassified,
        IncidentClosed,
    ],
    Field(discriminator="type"),
]


def _wire_type(model: type[EventBase]) -> str:
    (literal,) = get_args(model.model_fields["type"].annotation)
    return str(literal)


# Every type of the contract, derived from the union above: the one list of them.
EVENT_MODELS: dict[str, type[EventBase]] = {
    _wire_type(model): model for model in get_args(get_args(IncidentEvent)[0])
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)
