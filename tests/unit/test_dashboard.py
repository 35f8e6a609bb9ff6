"""The monthly report page: its figures are the reports' figures, every text is escaped, the
page carries no script, and both languages label it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from markupsafe import escape

from consumers.ingest import Ingest
from projections.read_side import ReadSide
from ticketstream import assembly, dashboard, reports
from ticketstream.settings import load_settings
from tests.hostile import hostile_strings
from tests.unit.test_ingest import messages_of, open_app, wire

HOSTILE = "<script>document.title='pwned'</script>"
LATER = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def side(tmp_path: Path) -> Iterator[ReadSide]:
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    app = open_app(tmp_path / "e.db")
    Ingest(app).process(messages_of([
        wire("received", "INC-1"), wire("resolved", "INC-1", hours=300, root_cause=HOSTILE),
        wire("received", "INC-2", hours=2, channel="<img src=x onerror=alert(1)>"),
        wire("thanked", "INC-2", hours=5),
    ]))  # fmt: skip
    assembly.projection_runner(settings, app).catch_up()
    yield assembly.read_side(settings)
    app.close()


def test_the_page_shows_the_reports_figures_for_the_month(side: ReadSide) -> None:
    board = dashboard.gather(side, None, None, LATER)

    assert board.month == "2025-03"
    assert board.dynamics == reports.report_rows(side, "dynamics", None, "2025-03", None, LATER)
    assert board.summary["incidents"] == 2 and board.summary["thanks"] == 1
    assert board.headline == (1, 1, 1.0)  # INC-1 took 300 hours: its resolution breached
    assert {r["clock"] for r in board.sla} >= {"handover", "resolution"}


def test_every_text_from_the_store_is_escaped_and_the_page_has_no_script(side: ReadSide) -> None:
    page = dashboard.render_page(dashboard.gather(side, "2025-03", None, LATER), "en", picker=True)

    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    for section in ("summary", "dynamics", "channels", "channel-trend", "long-service", "thanks", "sla", "quality"):
        assert f'<section id="{section}">' in page


def test_russian_labels(side: ReadSide) -> None:
    page = dashboard.render_page(dashboard.gather(side, "2025-03", None, LATER), "ru", picker=False)

    assert "Причины длительного обслуживания" in page and "1 из 1 обращений (100.0 %)" in page
    assert '<form' not in page  # a written file has no picker: it opens offline


@given(hostile_strings())
@settings(max_examples=60, deadline=None)
def test_hostile_text_anywhere_on_the_page_is_escaped(value: str) -> None:
    board = dashboard.Dashboard(
        month="2025-03", department=value, as_of="2025-06-01T00:00+00:00", policy=value,
        months=["2025-03"], departments=[value],
        dynamics=[{"month": "2025-03", "incidents": 3}],
        channels=[{"month": "2025-03", "channel": value, "contacts": 3, "share": 1.0}],
        channel_trend=[{"month": "2025-03", "channel": value, "contacts": 3, "share": 1.0}],
        summary={"incidents": 3, "contacts": 3, "thanks": 0, "thanks_share": 0.0},
        root_causes=[{"root_cause": value, "breached": 1, "share": 1.0, "cumulative_share": 1.0, "resolved": 1}],
        headline=(1, 1, 1.0), thanks=[{"month": "2025-03", "thanks": 0, "share": 0.0}],
        sla=[{"department": value, "clock": "handover", "started": 1, "met": 1, "breached": 0, "running": 0, "compliance": 1.0}],
        at_risk=[{"incident_id": "INC-1", "clock": "handover", "department": value, "minutes_left": 1.0, "due": value}],
        quality=[{"department": value, "incidents": 1, "resolved": 1, "rated_good": 1, "rated_neutral": 0,
                  "rated_bad": 0, "response_rate": 1.0, "reopen_rate": 0.0, "quick_reopen_rate": 0.0,
                  "first_contact_resolution": 1.0, "escalation_rate": 0.0}],
    )  # fmt: skip

    page = dashboard.render_page(board, "en", picker=True)

    parsed = _Parsed(page)
    assert value in parsed.texts  # shown as one text node, exactly: never markup
    assert parsed.tags <= _PAGE_TAGS and not parsed.handlers  # no element or handler of its own
    assert str(escape(value)) in page


_PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "b",
              "form", "label", "select", "option", "input", "button", "section", "svg", "polyline",
              "text", "rect", "table", "tr", "th", "td"}  # fmt: skip


class _Parsed(HTMLParser):
    """The page as a browser's parser sees it: its elements, event handlers and text nodes."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: list[str] = []
        self.texts: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
