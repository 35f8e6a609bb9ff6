"""The batch ingest step: decode → translate → record → one transaction with offsets and letters."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from eventsourcing.persistence import IntegrityError, Tracking

from consumers.ingest_recorder import StoredDeadLetter
from consumers.personal_data import AliasLookup, BatchVault, KeyLookup, check_secret, seal_payload
from consumers.records import DeadLetter, IngestBatch, LetterUpdate, Message, ParkedEvent
from consumers.translation import to_fact
from contracts.codec import DEFAULT_MAX_MESSAGE_BYTES, decode
from contracts.errors import ContractError
from domain.application import Decision, Incidents
from domain.errors import DomainError
from domain.fact import Fact

log = structlog.get_logger(__name__)

MAX_SAVE_ATTEMPTS = 3

# A dead letter whose customer was erased: its sealed bytes can never be opened again.
ERASED_REASON = "payload_erased"
ERASED_DETAIL = "its customer's personal data was erased: the message can never be read or applied again"

# Asked (at most once per batch, and only when a parked event is old enough to expire) whether
# every partition of the incident topics has been read to its end: then nothing a parked event
# waits for can still be on its way.
ReadToEnd = Callable[[], bool]


class IngestStore(Protocol):
    """What the ingest step reads back from its recorder."""

    def stored_offsets(self) -> dict[str, int]: ...
    def parked_events(self) -> list[ParkedEvent]: ...
    def stream_times(self) -> dict[str, datetime]: ...
    def data_keys(self, key_ids: Collection[str]) -> dict[str, bytes]: ...
    def customer_aliases(self, indexes: Collection[str]) -> dict[str, str]: ...
    def secret_rotations(self) -> list[tuple[str, str, int]]: ...


@dataclass(frozen=True)
class IngestOptions:
    """Limits of the ingest step."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    orphan_after: timedelta = timedelta(days=7)
    # The customer-key secret (ticketstream.customer_secret); None: a random one, so keys
    # hold for this Ingest's life only (tests).
    customer_secret: bytes | None = None
    # Where national phone numbers are read (ISO 3166 code; None: international ones only).
    customer_phone_region: str | None = None
    # Who stores the batches, recorded with each in the ingest ledger (None: a new id for
    # this process, see member_id).
    member: str | None = None


def member_id() -> str:
    """An id for this writer: host, process id and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


@dataclass
class BatchResult:
    """Counts of what one batch did."""

    messages: int = 0
    applied: int = 0
    duplicates: int = 0
    redelivered: int = 0
    parked: int = 0
    unparked: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Ingest:
    """Applies batches of Kafka messages to the Incidents application, exactly once."""

    def __init__(self, app: Incidents, options: IngestOptions | None = None) -> None:
        """Raises:
            SecretMismatch: when the store was rotated to another customer key secret.
        """
        self.app = app
        self.options = options or IngestOptions()
        self.store: IngestStore = app.recorder  # type: ignore[assignment]
        self.positions: dict[str, int] = {}
        self.parked: dict[str, dict[str, ParkedEvent]] = {}
        self.stream_times: dict[str, datetime] = {}
        self.secret = self.options.customer_secret or os.urandom(32)
        if self.options.customer_secret is not None:
            check_secret(self.secret, self.store.secret_rotations())
        self.member = self.options.member or member_id()
        self.vault = self._new_vault()
        self.reload()

    def reload(self) -> dict[str, int]:
        """Re-read offsets, parked events and stream times from the store; return the offsets."""
        self.positions = self.store.stored_offsets()
        self._reload_parked()
        self.stream_times = self.store.stream_times()
        return dict(self.positions)

    def _reload_parked(self) -> None:
        # Every group member's: the table is shared, and one member's waiting event may be
        # what another's waits for.
        self.parked = {}
        for parked in self.store.parked_events():
            self.parked.setdefault(parked.incident_id, {})[parked.event_id] = parked

    def process(
        self, messages: Sequence[Message], read_to_end: ReadToEnd | None = None
    ) -> BatchResult:
        """Apply one batch of messages; everything it produces is stored in one transaction.

        A parked event expires (to the dead letters) only when ``read_to_end()`` says no
        partition has unread data left, and then only if it is older than the newest event
        time seen minus the orphan time; before expiring, waiting events are tried once more
        (their incident may have begun through another group member). None: never expire.
        An empty batch does only that (call it when the consumer is idle).

        Raises:
            IntegrityError: when another writer keeps winning the race for the same
                incidents or offsets after MAX_SAVE_ATTEMPTS.
        """
        for attempt in range(1, MAX_SAVE_ATTEMPTS + 1):
            try:
                with self._forgetting_cache_on_failure():
                    return self._process_once(messages, _asked_once(read_to_end))
            except IntegrityError:
                self.reload()
                log.warning("batch_conflict_retried", attempt=attempt)
                if attempt == MAX_SAVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def expirable(self) -> bool:
        """Whether some parked event is old enough to expire once everything is read."""
        limit = self._expiry_limit({})
        return limit is not None and any(
            p.occurred_at < limit for group in self.parked.values() for p in group.values()
        )

    def _parked_ids(self) -> set[str]:
        return {event_id for group in self.parked.values() for event_id in group}

    def refresh_stream_times(self) -> None:
        """Re-read every partition's stream time (other group members advance theirs)."""
        self.stream_times.update(self.store.stream_times())

    def _process_once(self, messages: Sequence[Message], read_to_end: ReadToEnd) -> BatchResult:
        fresh = [m for m in messages if m.coordinates.offset > self._position(m)]
        result = BatchResult(messages=len(messages), redelivered=len(messages) - len(fresh))
        batch = IngestBatch(offsets=_last_offsets(fresh), member=self.member)
        self.vault = self._new_vault()
        decoded: dict[Fact, tuple[Message, ParkedEvent | None]] = {}
        refused = self._decode(fresh, batch, decoded)
        touched = {f.incident_id for f in decoded} | self._retried_incidents(batch, read_to_end, idle=not messages)
        # Waiting events arrived first: they claim their event ids before the new messages.
        origin = {**self._parked_facts(touched), **decoded}
        self.vault.seal()  # the batch's data keys, refused messages' too: one lookup
        for message, err, number in refused:
            stored = None if number is None else self.vault.sealed_letter(number)
            batch.dead_letters.append(DeadLetter(message, err.reason, err.detail, stored_value=stored))
        decision = self._decided_on_what_is_stored(origin)
        self._judge(origin, dict(decision.rejected), batch)
        # Counted before expiry: an event parked and expired in one batch was parked too;
        # one parked again under another reason is not parked twice.
        result.parked = sum(p.event_id not in self.parked.get(p.incident_id, {}) for p in batch.parked)
        self._expire_parked(batch, read_to_end)
        batch.data_keys = self.vault.new_keys
        result.applied = sum(len(i.pending_events) for i in decision.incidents)
        leaving = batch.unparked
        # Only stored rows are deleted, and each must still be there (the save fails if
        # another member released or expired one meanwhile); an event parked and expired
        # within this batch never had a row.
        with_rows = self._parked_ids()
        batch.unparked = [e for e in leaving if e in with_rows]
        released = len(set(leaving) - {d.event_id for d in batch.dead_letters})
        if released:  # parked events applied at last, about to be stored
            log.debug("parked_events_releasing", released=released,
                      to={t.application_name: t.notification_id for t in batch.offsets})  # fmt: skip
        if decision.incidents or batch.offsets or batch.dead_letters or batch.parked or batch.data_keys:
            self.app.save_decision(decision, ingest=batch)
        self._committed(batch)
        result.duplicates = decision.duplicates
        result.unparked = len(leaving)
        result.dead_lettered = len(batch.dead_letters)
        for letter in batch.dead_letters:
            result.reasons[letter.reason] = result.reasons.get(letter.reason, 0) + 1
        return result

    def retry(self, letters: Sequence[StoredDeadLetter]) -> list[LetterUpdate]:
        """Validate and apply stored dead letters again, in one transaction.

        A letter whose event now applies (or is already in the store) is resolved; one that
        still fails stays open with the reason it fails for now. Nothing is deleted.
        """
        batch = IngestBatch(member=self.member)
        self.vault = self._new_vault()
        origin: dict[Fact, StoredDeadLetter] = {}
        for stored in letters:
            if stored.letter.stored_value is not None and not stored.letter.message.value:
                batch.letter_updates.append(LetterUpdate(stored.id, False, ERASED_REASON, ERASED_DETAIL))
                continue
            try:
                fact = self._fact_of(stored.letter.message)
            except ContractError as err:
                batch.letter_updates.append(LetterUpdate(stored.id, False, err.reason, err.detail))
                continue
            origin[fact] = stored
        # Parked events keep their claim on their event ids against a retried letter too.
        waiting = self._parked_facts({f.incident_id for f in origin})
        self.vault.seal()
        decision = self.app.decide([*waiting, *origin])
        rejected = dict(decision.rejected)
        self._judge(waiting, rejected, batch)
        for fact, stored in origin.items():
            error = rejected.get(fact)
            if error is None:
                batch.letter_updates.append(LetterUpdate(stored.id, True, stored.letter.reason, stored.letter.detail))
            else:
                batch.letter_updates.append(LetterUpdate(stored.id, False, error.code, str(error)))
        batch.data_keys = self.vault.new_keys
        with self._forgetting_cache_on_failure():
            self.app.save_decision(decision, ingest=batch)
        self._committed(batch)
        return batch.letter_updates

    @contextmanager
    def _forgetting_cache_on_failure(self) -> Iterator[None]:
        # A failed save leaves cached aggregates ahead of the store.
        try:
            yield
        except BaseException:
            self.app.forget_cached()
            raise

    def _fact_of(self, message: Message, max_bytes: int | None = None) -> Fact:
        """The domain fact a message carries.

        Raises:
            ContractError: when the message breaks the wire contract.
        """
        limit = self.options.max_message_bytes if max_bytes is None else max_bytes
        event = decode(message.value, key=message.key, max_bytes=limit)
        c = message.coordinates
        fact = to_fact(event, arrival=(c.tracking_name, c.offset))
        self.vault.admit(fact)
        return fact

    def _new_vault(self) -> BatchVault:
        lookup: KeyLookup = self.store.data_keys
        aliases: AliasLookup = self.store.customer_aliases
        return BatchVault(self.secret, lookup, self.options.customer_phone_region, aliases)

    def _sealed(self, message: Message, fact: Fact) -> bytes | None:
        """The refused fact's message sealed under its data key; None: it has no personal
        data, stored as it came."""
        key_id = self.vault.key_id(fact)
        if key_id is None:
            return None
        return seal_payload(key_id, self.vault.data_key(key_id), message.value)

    def _position(self, message: Message) -> int:
        return self.positions.get(message.coordinates.tracking_name, -1)

    def _decode(
        self,
        messages: Sequence[Message],
        batch: IngestBatch,
        origin: dict[Fact, tuple[Message, ParkedEvent | None]],
    ) -> list[tuple[Message, ContractError, int | None]]:
        """Decode the messages into ``origin``; return those the contract refuses, each with
        its number in the vault when it names a customer (sealed once the vault is)."""
        refused: list[tuple[Message, ContractError, int | None]] = []
        times = batch.stream_times
        limit = self.options.max_message_bytes
        for message in messages:  # _fact_of, inlined: once per message
            c = message.coordinates
            name = c.tracking_name
            try:
                event = decode(message.value, key=message.key, max_bytes=limit)
            except ContractError as err:
                refused.append((message, err, self.vault.admit_letter(message.value)))
                continue
            fact = to_fact(event, arrival=(name, c.offset))
            self.vault.admit(fact)
            origin[fact] = (message, None)
            seen = times.get(name) or self.stream_times.get(name)
            if seen is None or fact.occurred_at > seen:
                times[name] = fact.occurred_at
        return refused

    def _decided_on_what_is_stored(self, origin: dict[Fact, tuple[Message, ParkedEvent | None]]) -> Decision:
        """The batch decided, refusals on cached incidents checked against the store.

        Another group member may have stored more of a cached incident (its other topics'
        partitions are theirs): a fact refused on the cached state is decided again from the
        store, or a close would wait for a resolution stored long ago, and expire.
        """
        decision = self.app.decide(origin)
        refused = {fact.incident_id for fact, _ in decision.rejected} & decision.cached.keys()
        if not refused or not self.app.stale({i: decision.cached[i] for i in refused}):
            return decision
        # The first decision changed the cached incidents of this batch: read them all again.
        self.app.forget_cached({fact.incident_id for fact in origin})
        log.info("stale_incidents_read_again", incidents=len(refused))
        return self.app.decide(origin)

    def _parked_facts(
        self, incident_ids: set[str]
    ) -> dict[Fact, tuple[Message, ParkedEvent | None]]:
        """The parked events of these incidents, as facts to try again."""
        facts: dict[Fact, tuple[Message, ParkedEvent | None]] = {}
        for incident_id in incident_ids & self.parked.keys():
            for parked in self.parked[incident_id].values():
                # Accepted once already: a limit lowered since must not strand it.
                try:
                    fact = self._fact_of(parked.message, max_bytes=len(parked.message.value))
                except ContractError:  # its customer was erased: it waits to expire
                    continue
                facts[fact] = (parked.message, parked)
        return facts

    def _judge(
        self,
        origin: dict[Fact, tuple[Message, ParkedEvent | None]],
        rejected: dict[Fact, DomainError],
        batch: IngestBatch,
    ) -> None:
        """Unpark what was recorded; park, keep parked or dead-letter what was refused."""
        for fact, (message, parked) in origin.items():
            error = rejected.get(fact)
            if error is None:
                if parked is not None:
                    batch.unparked.append(parked.event_id)
            else:
                self._refuse(fact, error, message, parked, batch)

    def _refuse(
        self,
        fact: Fact,
        error: DomainError,
        message: Message,
        parked: ParkedEvent | None,
        batch: IngestBatch,
    ) -> None:
        stored = parked.stored_value if parked is not None else self._sealed(message, fact)
        if error.fixable:
            if parked is None or parked.reason != error.code:
                batch.parked.append(
                    ParkedEvent(
                        message, fact.event_id, fact.incident_id, fact.occurred_at,
                        error.code, str(error), stored,
                    )
                )
            return
        batch.dead_letters.append(
            DeadLetter(message, error.code, str(error), fact.event_id, fact.incident_id, stored)
        )
        if parked is not None:
            batch.unparked.append(parked.event_id)

    def _expiry_limit(self, batch_times: dict[str, datetime]) -> datetime | None:
        """Parked events older than this may expire: the newest event time seen, minus the
        orphan time (a function of the data read, not of batch boundaries)."""
        times = [*self.stream_times.values(), *batch_times.values()]
        return max(times) - self.options.orphan_after if times else None

    def _retried_incidents(self, batch: IngestBatch, read_to_end: ReadToEnd, idle: bool) -> set[str]:
        """Incidents of parked events to try again once everything is read: those of old
        events (before they expire), and when idle (an empty batch) all of them, for another
        group member may have begun or continued them from partitions this one never reads.

        Idle, the parked events are read again first: those other members parked too. Two
        members may each hold half of what makes an incident's history valid (a reopening
        parked by one, the resolution before it by the other); tried together they apply.
        """
        if idle:
            if not self.parked or not read_to_end():
                return set()
            self._reload_parked()
            return set(self.parked)
        else:
            limit = self._expiry_limit(batch.stream_times)
            if limit is None:
                return set()
            waiting = {
                p.incident_id
                for group in self.parked.values()
                for p in group.values()
                if p.occurred_at < limit
            }
        return waiting if waiting and read_to_end() else set()

    def _expire_parked(self, batch: IngestBatch, read_to_end: ReadToEnd) -> None:
        limit = self._expiry_limit(batch.stream_times)
        if limit is None:
            return
        leaving = set(batch.unparked)
        waiting = {p.event_id: p for group in self.parked.values() for p in group.values()}
        waiting.update({p.event_id: p for p in batch.parked})
        expiring = {
            event_id: parked
            for event_id, parked in waiting.items()
            if event_id not in leaving and parked.occurred_at < limit
        }
        if not expiring or not read_to_end():
            return
        for event_id, parked in expiring.items():
            reason = "orphan" if parked.reason == "not_received" else parked.reason
            detail = (
                f"still parked when every partition was read to its end, older than the"
                f" newest event time minus {self.options.orphan_after}: {parked.detail}"
            )
            batch.dead_letters.append(
                DeadLetter(parked.message, reason, detail, event_id, parked.incident_id, parked.stored_value)
            )
            batch.unparked.append(event_id)
        leaving.update(batch.unparked)
        batch.parked = [p for p in batch.parked if p.event_id not in leaving]

    def _committed(self, batch: IngestBatch) -> None:
        for letter in batch.dead_letters:
            c = letter.message.coordinates
            log.warning(
                "message_dead_lettered", topic=c.topic, partition=c.partition, offset=c.offset,
                reason=letter.reason, incident_id=letter.incident_id, event_id=letter.event_id,
            )
        for parked in batch.parked:
            c = parked.message.coordinates
            log.info(
                "event_parked", topic=c.topic, partition=c.partition, offset=c.offset,
                reason=parked.reason, incident_id=parked.incident_id, event_id=parked.event_id,
            )
        for tracking in batch.offsets:
            self.positions[tracking.application_name] = tracking.notification_id
        gone = set(batch.unparked)
        for group in self.parked.values():
            for event_id in gone & group.keys():
                del group[event_id]
        for parked in batch.parked:
            self.parked.setdefault(parked.incident_id, {})[parked.event_id] = parked
        self.parked = {k: v for k, v in self.parked.items() if v}
        self.stream_times.update(batch.stream_times)


def _asked_once(read_to_end: ReadToEnd | None) -> ReadToEnd:
    """``read_to_end`` asked at most once (it may ask the broker); None answers False."""
    answer: list[bool] = []

    def ask() -> bool:
        if not answer:
            answer.append(read_to_end is not None and read_to_end())
        return answer[0]

    return ask


def _last_offsets(messages: Sequence[Message]) -> list[Tracking]:
    last: dict[str, int] = {}
    for message in messages:
        name = message.coordinates.tracking_name
        last[name] = max(last.get(name, -1), message.coordinates.offset)
    return [Tracking(application_name=name, notification_id=o) for name, o in last.items()]
