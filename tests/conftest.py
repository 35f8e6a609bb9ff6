"""Fixtures shared by every test: quiet structured logging."""

from __future__ import annotations

import pytest
import structlog


@pytest.fixture(autouse=True)
def _reset_structlog() -> None:
    structlog.reset_defaults()
