"""The line `consume` prints: counts of what happened, never a difference that goes negative."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from consumers.consume import ConsumeTotals
from consumers.ingest import BatchResult
from ticketstream.reports import consume_summary

counts = st.integers(min_value=0, max_value=10**7)


def test_a_run_that_releases_more_than_it_parks_says_so_without_a_negative_count() -> None:
    # A grouped backfill: earlier runs parked 141 early events, this one released them all.
    totals = ConsumeTotals()
    totals.add(BatchResult(messages=200, applied=200, unparked=141))

    line = consume_summary(totals, waiting=0)

    assert "0 parked, 141 released from parking, 0 still parked" in line
    assert not re.search(r"-\d", line)


@given(
    parked=counts, unparked=counts, waiting=counts, applied=counts, dead_lettered=counts,
    batches=st.integers(0, 50),
)  # fmt: skip
def test_no_count_in_the_summary_is_ever_negative(
    parked: int, unparked: int, waiting: int, applied: int, dead_lettered: int, batches: int
) -> None:
    totals = ConsumeTotals()
    for _ in range(batches):
        totals.add(BatchResult(parked=parked, unparked=unparked, applied=applied,
                               dead_lettered=dead_lettered))  # fmt: skip

    line = consume_summary(totals, waiting)

    assert not re.search(r"-\d", line)
    assert f"{waiting} still parked" in line
    assert f"{parked * batches} parked, {unparked * batches} released from parking" in line
