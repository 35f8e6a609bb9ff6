"""Published vs restated months: an edition freezes a month's figures; late events change the
restated numbers only, and the diff names them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from consumers.ingest import Ingest
from projections.errors import QueryError
from projections.queries import Period
from ticketstream import assembly, editions
from ticketstream.errors import TicketstreamError
from ticketstream.settings import load_settings
from tests.unit.test_ingest import Feed, open_app, wire

UTC_ZONE = ZoneInfo("UTC")
APRIL_5 = datetime(2025, 4, 5, 12, tzinfo=UTC)


def _march(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = load_settings(event_store=str(tmp_path / "e.db"))
    app = open_app(tmp_path / "e.db")
    feed = Feed()
    Ingest(app).process([feed(e) for e in [
        wire("received", "INC-1"), wire("resolved", "INC-1", hours=2),
        wire("received", "INC-2", hours=3, channel="phone"),
    ]])  # fmt: skip
    runner = assembly.projection_runner(settings, app)
    runner.catch_up()
    return settings, app, feed, runner


def _rows(settings, report, which, department=None):  # type: ignore[no-untyped-def]
    side = assembly.read_side(settings)  # read-only, as `report --edition` reads
    return side.edition(report, Period("2025-03", "2025-03"), department, which, datetime.now(UTC))[0]


def _close(settings, runner, month):  # type: ignore[no-untyped-def]
    return editions.close_month(runner, assembly.read_side_over(runner.app, settings), month, APRIL_5)


def test_a_closed_month_keeps_its_published_figures_while_late_events_restate_it(tmp_path: Path) -> None:
    settings, app, feed, runner = _march(tmp_path)
    stored = _close(settings, runner, "2025-03")
    assert stored == 5 * 2  # five reports, for all departments and for retail_store
    published = _rows(settings, "dynamics", "published")
    assert published == [{"month": "2025-03", "incidents": 2}]

    Ingest(app).process([feed(wire("received", "INC-3", hours=5)), feed(wire("received", "INC-4", hours=6))])
    runner.catch_up()

    assert _rows(settings, "dynamics", "published") == published
    assert _rows(settings, "dynamics", "restated") == [{"month": "2025-03", "incidents": 4}]
    diff = _rows(settings, "dynamics", "diff")
    today = date.today().isoformat()
    assert [(d["measure"], d["published"], d["restated"]) for d in diff] == [("incidents", 2, 4)]
    assert diff[0]["why"] == f"+2 received events that arrived {today}"
    channels = _rows(settings, "channels", "diff", department="retail_store")
    assert {(d["channel"], d["measure"], d["published"], d["restated"]) for d in channels} >= {
        ("email", "contacts", 1, 3),
    }
    app.close()


def test_an_edition_is_never_replaced_and_only_a_past_month_is_closed(tmp_path: Path) -> None:
    settings, app, _, runner = _march(tmp_path)
    with pytest.raises(TicketstreamError, match="is not over yet"):
        _close(settings, runner, "2025-04")
    _close(settings, runner, "2025-03")
    with pytest.raises(TicketstreamError, match="was published 2025-04-05T12:00:00"):
        _close(settings, runner, "2025-03")
    assert assembly.read_side(settings).published_months() == {"2025-03": APRIL_5.isoformat()}
    app.close()


def test_the_month_that_just_ended_is_closed_after_its_days_of_grace(tmp_path: Path) -> None:
    _, app, _, runner = _march(tmp_path)

    assert editions.month_to_close(runner, datetime(2025, 4, 3, tzinfo=UTC), UTC_ZONE, 5) is None  # February: no figures
    assert editions.month_to_close(runner, datetime(2025, 4, 6, tzinfo=UTC), UTC_ZONE, 5) == "2025-03"
    assert editions.month_to_close(runner, datetime(2025, 6, 6, tzinfo=UTC), UTC_ZONE, 5) is None  # May: none
    app.close()


def test_editions_of_a_whole_period_report_are_of_one_month(tmp_path: Path) -> None:
    settings, app, _, runner = _march(tmp_path)
    _close(settings, runner, "2025-03")

    with pytest.raises(QueryError, match="of one month"):
        assembly.read_side(settings).edition("sla", Period("2025-02", "2025-03"), None, "published", APRIL_5)
    sla = _rows(settings, "sla", "published")
    assert sla and {r["clock"] for r in sla} >= {"resolution"}
    assert _rows(settings, "sla", "diff") == []  # nothing arrived since
    app.close()


def test_the_cli_closes_a_month_and_shows_each_edition(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    _, app, feed, runner = _march(tmp_path)
    app.close()
    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "e.db"), "TICKETSTREAM_STATE_DIR": "var"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ticketstream", *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    closed = run("month", "close", "2025-03")
    assert closed.returncode == 0 and closed.stdout.startswith("closed 2025-03: 10 report editions published")
    again = run("month", "close", "2025-03")
    assert again.returncode == 2 and "an edition is never replaced" in again.stderr
    app = open_app(tmp_path / "e.db")
    Ingest(app).process([feed(wire("received", "INC-9", hours=9))])
    app.close()
    assert run("project", "--once").returncode == 0

    published = json.loads(run("report", "dynamics", "--from", "2025-03", "--to", "2025-03",
                               "--edition", "published", "--format", "json").stdout)  # fmt: skip
    restated = json.loads(run("report", "dynamics", "--from", "2025-03", "--to", "2025-03", "--format", "json").stdout)
    diff = run("report", "dynamics", "--from", "2025-02", "--to", "2025-03", "--edition", "diff", "--format", "json")

    assert published == [{"month": "2025-03", "incidents": 2}] and restated == [{"month": "2025-03", "incidents": 3}]
    assert [(d["published"], d["restated"]) for d in json.loads(diff.stdout)] == [(2, 3)]
    assert "not published: 2025-02" in diff.stderr
    listed = json.loads(run("month", "list", "--format", "json").stdout)
    assert [m["month"] for m in listed] == ["2025-03"]
    mistake = run("report", "sla", "--from", "2025-03", "--to", "2025-03", "--edition", "published", "--list")
    assert mistake.returncode == 2 and "--edition shows the month's summary" in mistake.stderr
