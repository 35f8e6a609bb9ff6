"""The event store's JSON, written and read by orjson: the library's format, byte for byte."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    StoredEvent,
    TranscodingNotRegisteredError,
)
from eventsourcing.utils import get_topic

# Datetimes go through the registered transcoding, as the library writes them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder with orjson doing the work.

    The bytes are those the library writes (compact separators, UTF-8, keys in insertion
    order, registered types such as datetimes as ``{"_type_": …, "_data_": …}``), so stores
    written by either read with the other; encoding and decoding run several times faster.
    """

    def encode(self, obj: Any) -> bytes:
        """The library's bytes for ``obj``.

        Raises:
            TranscodingNotRegisteredError: for a type no transcoding is registered for, as
                the library does (orjson would wrap it in its own error).
        """
        try:
            return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)
        except orjson.JSONEncodeError as err:
            if isinstance(err.__cause__, TranscodingNotRegisteredError):
                raise err.__cause__ from None
            raise

    def decode(self, data: bytes) -> Any:
        return self._restored(orjson.loads(data))

    def _restored(self, value: Any) -> Any:
        """Registered types back from their ``_type_`` form, innermost first (as the library's
        object hook does)."""
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, (dict, list)):
                    value[key] = self._restored(item)
            return self._decode_obj(value)
        if isinstance(value, list):
            return [self._restored(item) for item in value]
        return value


class OrjsonMapper(Mapper[Any]):
    """The library's mapper, writing the same stored events with less work per event.

    With the orjson transcoder and neither compressor nor cipher, an event's state goes to
    orjson in one call: its timestamp (the only datetime an event of ours carries; events
    recorded together share one) is transcoded once, not through orjson's per-object
    callback. Any other set-up takes the library's way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct = (
            isinstance(self.transcoder, OrjsonTranscoder) and not self.compressor and not self.cipher
        )
        self._topics: dict[type[Any], tuple[str, int]] = {}
        self._last_instant: tuple[datetime | None, Any] = (None, None)

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        if not self._direct:
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        known = self._topics.get(cls)
        if known is None:
            known = self._topics[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
        topic, class_version = known
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        timestamp = state.get("timestamp")
        if type(timestamp) is datetime:
            instant, encoded = self._last_instant
            if instant is not timestamp:
                encoded = self.transcoder._encode_obj(timestamp)  # type: ignore[attr-defined]
                self._last_instant = (timestamp, encoded)
            state["timestamp"] = encoded
        if class_version > 1:
            state["class_version"] = class_version
        return _stored_event(originator_id, originator_version, topic, self.transcoder.encode(state))


def _stored_event(originator_id: Any, originator_version: int, topic: str, state: bytes) -> StoredEvent:
    """``StoredEvent(…)`` without the frozen dataclass's one ``object.__setattr__`` per field."""
    stored = object.__new__(StoredEvent)
    fields = stored.__dict__
    fields["originator_id"] = originator_id
    fields["originator_version"] = originator_version
    fields["topic"] = topic
    fields["state"] = state
    return stored
