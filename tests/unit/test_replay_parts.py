"""The replay's parts that need no broker: its range, offsets and moments as the CLI reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from consumers.errors import ConsumerError
from consumers.replay import ReplayRange, parse_offsets
from ticketstream.errors import TicketstreamError
from ticketstream.event_store import same_location
from ticketstream.replay_command import parse_moment

MOSCOW = ZoneInfo("Europe/Moscow")


def test_offsets_are_read_per_topic_and_partition() -> None:
    assert parse_offsets("incidents.received:0=120, incidents.resolved.v1:3=0") == {
        "incidents.received:0": 120, "incidents.resolved.v1:3": 0,
    }  # fmt: skip


@pytest.mark.parametrize("text", ["incidents.received=3", "t:x=1", "t:0=-1", "t:0", ":0=1", ""])
def test_offsets_not_of_the_form_are_refused_naming_the_item(text: str) -> None:
    with pytest.raises(ConsumerError, match="is not TOPIC:PARTITION=OFFSET"):
        parse_offsets(text)


def test_a_bare_date_starts_at_the_beginning_of_that_day_in_the_reporting_zone() -> None:
    assert parse_moment("2025-03-01", MOSCOW, "--from-timestamp") == datetime(2025, 3, 1, tzinfo=MOSCOW)
    assert parse_moment("2025-03-01T10:00+00:00", MOSCOW, "--to-timestamp") == datetime(2025, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(TicketstreamError, match="--to-timestamp: 'soon' is not a moment"):
        parse_moment("soon", MOSCOW, "--to-timestamp")


def test_only_a_range_without_bounds_is_the_whole_log() -> None:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    assert ReplayRange().whole_log and ReplayRange(from_offsets={"t:0": 0}).whole_log
    assert not ReplayRange(from_offsets={"t:0": 5}).whole_log
    assert not ReplayRange(from_timestamp=at).whole_log
    assert not ReplayRange(to_timestamp=at + timedelta(days=1)).whole_log
    assert ReplayRange(from_timestamp=at).describe() == "from 2025-03-01T00:00:00+00:00 to the end"


def test_a_store_is_the_same_whatever_the_spelling_of_its_location(tmp_path: object) -> None:
    assert same_location("var/a.db", "sqlite:///var/a.db")
    assert not same_location("var/a.db", "var/b.db")
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert same_location(f"{url}?schema=s1", "postgresql://postgres@127.0.0.1/test?schema=s1")
    assert not same_location(f"{url}?schema=s1", f"{url}?schema=s2")
    assert not same_location(url, "var/a.db")
