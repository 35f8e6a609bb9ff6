"""What the clocks of one incident share while they are computed: the incident and its rules."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from domain.calendar import BusinessCalendar, as_utc
from domain.classification import ClassificationHistory
from domain.clocks import ClockName, ClockRow, Pause, Policy, Rules, Target
from domain.incident import Incident


@dataclass(frozen=True)
class Subject:
    """What every clock of one incident shares, and how a row of it is made."""

    received: Incident.Received
    history: ClassificationHistory
    rules: Rules
    policy_version: int | None

    def row(
        self, clock: ClockName, cycle: int, party: str, started: datetime, stopped: datetime | None,
        *, holder: str | None = None, resolved: Incident.Resolved | None = None,
        pauses: tuple[Pause, ...] = (), carried: float = 0.0, policy_from: datetime | None = None,
    ) -> ClockRow:  # fmt: skip
        """One row; ``holder`` (the ownership clock's) stands for the source department."""
        received, history = self.received, self.history
        final = history.values[-1]
        department = holder or received.department
        policy = self._policy(policy_from or started)
        since = history.since
        first = 0 if len(since) == 1 else max(bisect_right(since, started) - 1, 0)
        if first == len(since) - 1:
            # The common case: no change of classification after the start, one target.
            now = history.values[first]
            rule = policy.rule_for(clock, department, now.channel, now.category, now.priority)
            target_minutes, grace_minutes = rule.target_minutes, rule.grace_minutes
            kept: tuple[Target, ...] = () if now is final or (
                now.channel, now.category, now.priority,
            ) == (final.channel, final.category, final.priority) else (
                Target(started, now.channel, now.category, now.priority, target_minutes,
                       grace_minutes),
            )  # fmt: skip
        else:
            targets = self._targets(policy, clock, department, started, stopped)
            target_minutes, grace_minutes = targets[-1].target_minutes, targets[-1].grace_minutes
            kept = _kept(targets, (final.channel, final.category, final.priority))
        return ClockRow(
            received.originator_id, clock, cycle, department, final.channel, final.category,
            final.priority, received.store, party, self.calendar(clock, department).name,
            started, stopped, target_minutes, grace_minutes, policy.version, pauses,
            resolved.root_cause if resolved else None, resolved.resolution if resolved else None,
            carried, kept,
        )  # fmt: skip

    def calendar(self, clock: ClockName, department: str | None = None) -> BusinessCalendar:
        """The calendar of ``clock`` (for the ownership clock: ``department``'s)."""
        department = department or self.received.department
        return self.rules.calendar_for(clock, department, self.received.store)

    def _policy(self, started: datetime) -> Policy:
        if self.policy_version is None:
            return self.rules.policy_at(started)
        return self.rules.policy(self.policy_version)

    def _targets(
        self, policy: Policy, clock: str, department: str, started: datetime,
        stopped: datetime | None,
    ) -> list[Target]:  # fmt: skip
        """The clock's target at its start and after each change of classification until
        its stop (a change at the stop included: it is in force at that instant)."""
        since, values = self.history.since, self.history.values
        first = max(bisect_right(since, started) - 1, 0)
        changes = [(started, values[first])]
        for moment, value in zip(since[first + 1 :], values[first + 1 :]):
            if stopped is not None and moment > stopped:
                break
            changes.append((moment, value))
        targets: list[Target] = []
        for moment, now in changes:
            if targets and (targets[-1].channel, targets[-1].category, targets[-1].priority) == (
                now.channel, now.category, now.priority,
            ):  # fmt: skip
                continue  # a reassignment: the same classification
            rule = policy.rule_for(clock, department, now.channel, now.category, now.priority)
            targets.append(
                Target(moment, now.channel, now.category, now.priority, rule.target_minutes,
                       rule.grace_minutes)
            )  # fmt: skip
        return targets


def _kept(targets: list[Target], final: tuple[str, str | None, str]) -> tuple[Target, ...]:
    """The targets a row keeps: none when the final classification's held throughout."""
    only = targets[0]
    if len(targets) == 1 and (only.channel, only.category, only.priority) == final:
        return ()
    return tuple(targets)


@dataclass
class Stretch:
    """A stretch of a pausable clock (a resolution cycle, an ownership stretch) being read."""

    started: datetime
    carried: float = 0.0
    pauses: list[Pause] = field(default_factory=list)
    paused_since: datetime | None = None

    def follow(self, event: Incident.Event, at: datetime) -> None:
        """Take a pause or a resume into account."""
        if isinstance(event, Incident.Paused) and self.paused_since is None:
            self.paused_since = at
        elif isinstance(event, Incident.Resumed) and self.paused_since is not None:
            self.pauses.append((self.paused_since, at))
            self.paused_since = None

    def pauses_until(self, stopped: datetime | None) -> tuple[Pause, ...]:
        """The pauses, one still on ended by the stop (a pause not ended has no end yet)."""
        if self.paused_since is None:
            return tuple(self.pauses)
        return (*self.pauses, (self.paused_since, stopped))


def utc_of(text: str) -> datetime:
    """An event's RFC 3339 instant, in UTC."""
    return as_utc(datetime.fromisoformat(text))
