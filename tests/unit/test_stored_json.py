"""The orjson transcoder writes the event store's JSON exactly as the library does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from consumers.stored_json import OrjsonTranscoder


def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    library, ours = JSONTranscoder(), OrjsonTranscoder()
    for transcoder in (library, ours):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            transcoder.register(transcoding)
    return library, ours


primitives = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
    | st.datetimes(timezones=st.just(UTC))
)  # fmt: skip
states = st.dictionaries(
    st.text(min_size=1), primitives | st.lists(primitives, max_size=3), max_size=12
)


@given(states)
def test_the_bytes_are_the_librarys_and_each_reads_the_others(state: dict[str, Any]) -> None:
    library, ours = transcoders()

    written = ours.encode(state)

    assert written == library.encode(state)
    assert ours.decode(written) == library.decode(written) == state


def test_registered_types_nested_anywhere_come_back_as_themselves() -> None:
    library, ours = transcoders()
    state = {
        "timestamp": datetime(2025, 3, 3, 9, tzinfo=UTC),
        "nested": {"when": [datetime(2025, 1, 1, tzinfo=UTC)], "amount": Decimal("1.50")},
    }

    written = library.encode(state)

    assert ours.decode(written) == state
    assert ours.encode(state) == written


@pytest.mark.parametrize("transcoder", transcoders(), ids=["library", "orjson"])
def test_a_type_neither_knows_is_refused_alike(transcoder: JSONTranscoder) -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        transcoder.encode({"x": object()})


def test_a_uuid_written_by_the_library_reads_back() -> None:
    library, ours = transcoders()

    assert ours.decode(library.encode({"id": UUID(int=7)})) == {"id": UUID(int=7)}
