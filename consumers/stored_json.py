"""The event store's JSON, written and read by orjson: the library's format, byte for byte."""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

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
