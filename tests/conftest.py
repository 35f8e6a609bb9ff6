"""Fixtures shared by every test: quiet structured logging, and one hypothesis profile."""

from __future__ import annotations

import pytest
import structlog
from hypothesis import HealthCheck, settings

# Speed is measured in bench/, never in tests: on a loaded 2-core CI machine the generation
# of a 64 KiB message or a simulated month can take seconds, which is no failure of ours.
settings.register_profile(
    "ticketstream", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ticketstream")


@pytest.fixture(autouse=True)
def _reset_structlog() -> None:
    structlog.reset_defaults()
