"""Domain errors: each names the rule an incident's facts would break."""

from __future__ import annotations


class DomainError(Exception):
    """A fact cannot be recorded on an incident.

    ``code`` is the machine-readable rule name. ``fixable`` says whether a fact that has
    not arrived yet (from another topic) could make this one valid, in which case the
    consumer parks it instead of dead-lettering it at once. ``event_id`` names the fact.
    """

    code = "invariant_violation"
    fixable = False

    def __init__(self, message: str, *, event_id: str = "") -> None:
        super().__init__(message)
        self.event_id = event_id


class IncidentNotReceived(DomainError):
    """Nothing but a standalone thanks may begin an incident's stream except `received`."""

    code = "not_received"
    fixable = True


class AlreadyReceived(DomainError):
    code = "already_received"


class BeforeReceipt(DomainError):
    code = "before_receipt"


class StandaloneThanksIsClosed(DomainError):
    code = "standalone_thanks_is_closed"


class AlreadyResolved(DomainError):
    code = "already_resolved"
    fixable = True


class EscalatedAfterResolution(DomainError):
    code = "escalated_after_resolution"
    fixable = True


class NotResolved(DomainError):
    code = "not_resolved"
    fixable = True


class AlreadyPaused(DomainError):
    code = "already_paused"
    fixable = True


class NotPaused(DomainError):
    code = "not_paused"
    fixable = True


class PausedWhileResolved(DomainError):
    code = "paused_while_resolved"
    fixable = True


class AlreadyClosed(DomainError):
    code = "already_closed"
    fixable = True


class ClosedWhileOpen(DomainError):
    code = "closed_while_open"
    fixable = True


class IncidentClosed(DomainError):
    """Only a reopen, a rating or a thanks may follow a closure."""

    code = "incident_closed"
    fixable = True


class RatedBeforeResolution(DomainError):
    code = "rated_before_resolution"
    fixable = True


class EventIdConflict(DomainError):
    """An event id already names an event with a different body: one of them is wrong."""

    code = "event_id_conflict"
