"""The order of an incident's facts: one function of the facts, whatever order they arrived in.

Facts are ordered by event time (the instant). Among facts of one instant:

1. two facts of one source that both carry a ``sequence`` follow it (the source's own
   change counter knows the order its facts happened in);
2. the incident's facts are put in an order in which they are valid together, when one
   exists that keeps rule 1;
3. among such orders, one where two facts that arrived through one ordered stream (one Kafka
   partition, so one topic) follow their positions there is preferred (the source published
   them in that order); then the preferred order of kinds (``domain.fact.KINDS``), then
   event ids.

So arrival decides only between orders that are all valid: a source without a counter that
publishes "resumed, paused" in one minute gets the one valid order whatever the partition
order, while two reassignments in one minute keep the order they were published in.
When no order makes the facts valid together, the preferred order (rule 1 kept, and rule 3's
arrival order where it does not contradict it) is returned, and the lifecycle check names the
first fact it rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby, pairwise

from domain.errors import DomainError
from domain.fact import RANK
from domain.lifecycle import BEGINNING, Entry, State, step

# How many partial orders of one instant's facts the search may try before it settles for the
# preferred order (facts of one instant are few; this only bounds hostile input).
SEARCH_BUDGET = 20_000


def arrange(entries: Iterable[Entry]) -> list[Entry]:
    """The entries in timeline order (see the module's rules)."""
    ordered = sorted(entries, key=_preferred)
    if all(a.occurred_at != b.occurred_at for a, b in pairwise(ordered)):
        return ordered  # no two facts share an instant: nothing else to decide
    instants = [list(group) for _, group in groupby(ordered, key=lambda e: e.occurred_at)]
    return _valid_order(instants) or [e for group in instants for e in _first_order(group)]


def _preferred(entry: Entry) -> tuple[object, ...]:
    return (entry.occurred_at, RANK[entry.kind], entry.event_id)


def _valid_order(instants: Sequence[list[Entry]]) -> list[Entry] | None:
    """The first valid order, instant by instant, backtracking over the choices made."""
    failed: set[tuple[int, State]] = set()
    frames: list[tuple[Iterator[tuple[list[Entry], State]], State]] = [
        (_orders(instants[0], BEGINNING), BEGINNING)
    ]
    chosen: list[list[Entry]] = []
    while frames:
        orders, state = frames[-1]
        index = len(frames) - 1
        found = next(orders, None)
        if found is None:
            failed.add((index, state))
            frames.pop()
            if chosen:
                chosen.pop()
            continue
        order, after = found
        if index + 1 == len(instants):
            return [e for group in [*chosen, order] for e in group]
        if (index + 1, after) in failed:
            continue
        chosen.append(order)
        frames.append((_orders(instants[index + 1], after), after))
    return None


def _orders(group: list[Entry], state: State) -> Iterator[tuple[list[Entry], State]]:
    """The valid orders of one instant's facts from ``state``, preferred first, one per outcome."""
    if len(group) == 1:
        after = _after(state, group[0])
        if after is not None:
            yield group, after
        return
    seen: set[State] = set()
    for by_arrival in (True, False):  # arrival order preferred, validity first
        before = _constraints(group, by_arrival)
        if not _has_order(group, before):
            continue  # the stream contradicts the sequence
        dead: set[tuple[frozenset[int], State]] = set()
        budget = [SEARCH_BUDGET]
        for order, after in _extensions(group, before, state, [], frozenset(), dead, budget):
            if after not in seen:
                seen.add(after)
                yield order, after


def _extensions(
    group: list[Entry],
    before: dict[int, set[int]],
    state: State,
    prefix: list[Entry],
    placed: frozenset[int],
    dead: set[tuple[frozenset[int], State]],
    budget: list[int],
) -> Iterator[tuple[list[Entry], State]]:
    """Every valid completion of ``prefix`` that keeps ``before``, in the preferred order."""
    if len(placed) == len(group):
        yield list(prefix), state
        return
    if (placed, state) in dead or budget[0] <= 0:
        return
    budget[0] -= 1
    produced = False
    for index, entry in enumerate(group):  # the group is in the preferred order
        if index in placed or not before[index] <= placed:
            continue
        after = _after(state, entry)
        if after is None:
            continue
        prefix.append(entry)
        for completion in _extensions(
            group, before, after, prefix, placed | {index}, dead, budget
        ):
            produced = True
            yield completion
        prefix.pop()
    if not produced:
        dead.add((placed, state))


def _constraints(group: list[Entry], by_arrival: bool = True) -> dict[int, set[int]]:
    """For each fact of one instant, the facts that must come before it (rules 1 and 2)."""
    before: dict[int, set[int]] = {index: set() for index in range(len(group))}
    for i, a in enumerate(group):
        for j, b in enumerate(group):
            if i != j and _comes_before(a, b, by_arrival):
                before[j].add(i)
    return before


def _comes_before(a: Entry, b: Entry, by_arrival: bool) -> bool:
    if a.source == b.source and a.sequence is not None and b.sequence is not None:
        if a.sequence != b.sequence:
            return a.sequence < b.sequence
    if not by_arrival or a.stream is None or a.stream != b.stream:
        return False
    return a.position is not None and b.position is not None and a.position < b.position


def _has_order(group: list[Entry], before: dict[int, set[int]]) -> bool:
    placed: set[int] = set()
    while len(placed) < len(group):
        ready = [i for i in range(len(group)) if i not in placed and before[i] <= placed]
        if not ready:
            return False
        placed.update(ready)
    return True


def _first_order(group: list[Entry]) -> list[Entry]:
    """The preferred order of one instant's facts that keeps rules 1 and 2, valid or not."""
    before = _constraints(group)
    if not _has_order(group, before):
        before = _constraints(group, by_arrival=False)
    order: list[int] = []
    while len(order) < len(group):
        order.append(next(i for i in range(len(group)) if i not in order and before[i] <= set(order)))
    return [group[i] for i in order]


def _after(state: State, entry: Entry) -> State | None:
    try:
        return step(state, entry)
    except DomainError:
        return None
