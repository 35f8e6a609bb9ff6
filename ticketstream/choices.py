"""The closed sets of options the CLI and the HTTP API both take."""

from __future__ import annotations

from enum import Enum


class PolicyName(str, Enum):
    """Which SLA policy version a clock is measured against."""

    started = "started"
    current = "current"


class RootCauseDimension(str, Enum):
    """What reasons for long service are grouped by."""

    root_cause = "root_cause"
    category = "category"


class LangName(str, Enum):
    """The language of the report page's labels."""

    en = "en"
    ru = "ru"
