"""Errors raised by the wire contract."""

from __future__ import annotations


class ContractError(Exception):
    """A message does not satisfy the wire contract.

    ``reason`` is a short machine-readable code (``not_json``, ``oversized``,
    ``unknown_type``, ``schema_violation`` …); ``detail`` says precisely what is wrong
    without ever quoting the payload (it may carry personal data).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
