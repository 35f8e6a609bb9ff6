"""The SLA read model knows the rules it was computed under, and says when they are not today's."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from consumers.ingest import Ingest
from domain.application import Incidents
from domain.sla_fingerprint import rules_fingerprint
from domain.sla_rules import AtRiskRule, PolicyRule, PolicyVersion, SlaRules, default_rules
from projections.channel_mix import ChannelMix
from projections.errors import ProjectionError
from projections.incident_summaries import IncidentSummaries
from projections import shadow as shadow_module
from projections.recompute import recompute_incidents
from projections.runner import ProjectionRunner
from projections.shadow import rebuild
from projections.sla_clocks import STALE_RULES, SlaClocks, recorded_fingerprint
from projections.read_side import ReadSide
from projections.store_reader import DatastoreReader
from tests.integration.conftest import POSTGRES_URL
from tests.unit.test_ingest import messages_of, open_app, wire
from ticketstream.event_store import drop_schema, ensure_schema, event_store_env

RULES = default_rules()
UTC_ZONE = ZoneInfo("UTC")
OTHER_POLICIES = """
[[policies]]
version = 1
effective_from = "2000-01-01T00:00:00Z"
rules = [
  { clock = "handover", target_minutes = 180 },
  { clock = "escalation_response", target_minutes = 1440 },
  { clock = "completion_report", target_minutes = 180 },
  { clock = "resolution", target_minutes = 600 },
]
"""


def stricter() -> SlaRules:
    """The default rules with a resolution target of ten working hours."""
    policy = RULES.policies[0]
    tighter = PolicyVersion(
        policy.version, policy.effective_from, (*policy.rules, PolicyRule("resolution", 600))
    )
    return replace(RULES, policies=[tighter])


def runner_of(app: Incidents, rules: SlaRules = RULES, zone: ZoneInfo = UTC_ZONE) -> ProjectionRunner:
    return ProjectionRunner(app, [SlaClocks(rules, app.histories, zone)])


def filled(path: Path) -> Incidents:
    """An SQLite store with one resolved incident, its SLA read model filled under RULES."""
    app = open_app(path)
    Ingest(app).process(messages_of([wire("received"), wire("resolved", hours=30)]))
    runner_of(app).catch_up()
    return app


def stale_rules(runner: ProjectionRunner) -> str | None:
    """What the read side says of the SLA read model under the runner's rules and zone."""
    sla = runner.read_models[SlaClocks.name]
    assert isinstance(sla, SlaClocks)
    side = ReadSide(DatastoreReader(runner.app), sla.zone, sla.rules, sla_fingerprint=sla.fingerprint)
    return side.stale_rules()


def fingerprint_in(runner: ProjectionRunner) -> str | None:
    with runner.transaction(commit=False) as c:
        return recorded_fingerprint(c)


# --- the fingerprint ------------------------------------------------------------------------


def test_the_same_rules_written_differently_have_the_same_fingerprint() -> None:
    policy = RULES.policies[0]
    moved = replace(RULES, policies=[
        PolicyVersion(policy.version, policy.effective_from.astimezone(timezone(timedelta(hours=3))), policy.rules)
    ])  # fmt: skip

    assert rules_fingerprint(moved) == rules_fingerprint(default_rules())


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(stricter(), id="a policy"),
        pytest.param(replace(RULES, department_calendars={"call_centre": "retail_store"}), id="a department's calendar"),
        pytest.param(replace(RULES, customer_service_calendar="office"), id="Customer Service's calendar"),
        pytest.param(replace(RULES, store_calendars={"store-014": "office"}), id="a store's calendar"),
    ],
)  # fmt: skip
def test_a_change_that_can_change_a_stored_clock_changes_the_fingerprint(changed: SlaRules) -> None:
    assert rules_fingerprint(changed) != rules_fingerprint(RULES)


def test_the_default_rules_keep_their_fingerprint_across_versions() -> None:
    # The fingerprint is stored with every SLA read model: a release that describes the same
    # rules otherwise (another key, order or separator, more digits) would call every read
    # model filled under the default rules stale and ask for a rebuild. Change this value
    # only together with the default rules.
    assert rules_fingerprint(default_rules()) == "24291971e90ff1f4"


def test_the_at_risk_rule_is_applied_at_query_time_so_it_leaves_the_fingerprint() -> None:
    assert rules_fingerprint(replace(RULES, at_risk=AtRiskRule(0.5, 60))) == rules_fingerprint(RULES)


# --- the read model -------------------------------------------------------------------------


def test_a_read_model_filled_under_todays_rules_is_not_stale(tmp_path: Path) -> None:
    runner = runner_of(filled(tmp_path / "e.db"))

    assert fingerprint_in(runner) == runner.read_models["sla_clocks"].fingerprint  # type: ignore[attr-defined]
    assert stale_rules(runner) is None


def test_other_rules_today_say_the_read_model_was_computed_under_other_rules(tmp_path: Path) -> None:
    app = filled(tmp_path / "e.db")

    assert stale_rules(runner_of(app, stricter())) == STALE_RULES
    assert stale_rules(runner_of(app, zone=ZoneInfo("Europe/Moscow"))) == STALE_RULES  # months move


def test_catching_up_under_other_rules_keeps_the_first_fingerprint(tmp_path: Path) -> None:
    app = filled(tmp_path / "e.db")
    Ingest(app).process(messages_of([wire("received", "INC-2", hours=40)], partition=1))

    runner = runner_of(app, stricter())
    runner.catch_up()

    assert stale_rules(runner) == STALE_RULES  # rows of two rule sets now: rebuild


def test_a_rebuild_records_the_rules_it_was_rebuilt_under(tmp_path: Path) -> None:
    runner = runner_of(filled(tmp_path / "e.db"), stricter())

    runner.rebuild("sla_clocks")

    assert stale_rules(runner) is None
    assert stale_rules(runner_of(runner.app)) == STALE_RULES


@pytest.mark.parametrize(
    ("rules", "calendar"),
    [
        pytest.param(stricter(), None, id="a stricter policy"),
        pytest.param(replace(RULES, department_calendars={"retail_store": "office"}), "office", id="another calendar"),
    ],
)  # fmt: skip
def test_a_rebuild_under_other_rules_recomputes_the_rows_as_those_rules_say(
    tmp_path: Path, rules: SlaRules, calendar: str | None
) -> None:
    runner = runner_of(filled(tmp_path / "e.db"), rules)
    before = _clock_rows(runner)

    runner.rebuild("sla_clocks")

    after = _clock_rows(runner)
    if calendar is None:  # the resolution target is now ten working hours: 30 h breach it
        assert before["resolution"][0] != 600 and after["resolution"][0] == 600
    else:  # the handover clock of a retail_store incident now runs on the office calendar
        assert before["handover"][1] != calendar and after["handover"][1] == calendar
    assert {k: v for k, v in after.items() if k not in ("resolution", "handover")} == {
        k: v for k, v in before.items() if k not in ("resolution", "handover")
    }


def _clock_rows(runner: ProjectionRunner) -> dict[str, tuple[object, ...]]:
    with runner.transaction(commit=False) as c:
        c.execute("SELECT clock, target_minutes, calendar FROM sla_clocks WHERE cycle = 1")
        return {clock: (target, calendar) for clock, target, calendar in c.fetchall()}


def test_an_empty_store_has_no_fingerprint_and_nothing_to_say(tmp_path: Path) -> None:
    runner = runner_of(open_app(tmp_path / "e.db"))

    runner.catch_up()

    assert (fingerprint_in(runner), stale_rules(runner)) == (None, None)


def test_a_read_model_of_an_earlier_version_is_upgraded_and_asks_for_a_rebuild(tmp_path: Path) -> None:
    app = open_app(tmp_path / "e.db")
    Ingest(app).process(messages_of([wire("received")]))
    old = runner_of(app)
    with old.transaction(commit=True) as c:  # as an earlier version left it
        c.execute("DROP TABLE sla_clocks_rules")
        c.execute("ALTER TABLE sla_clocks DROP COLUMN targets")
        c.execute("INSERT INTO sla_clocks (incident_id, clock, cycle, month, department, channel,"
                  " priority, party, calendar, started_at, target_minutes, grace_minutes,"
                  " policy_version, carried_minutes, pauses) VALUES ('INC-0', 'handover', 1,"
                  " '2025-03', 'other', 'email', 'normal', 'x', 'office',"
                  " '2025-03-03T09:00:00+00:00', 180, 0, 1, 0, '[]')")  # fmt: skip

    upgraded = runner_of(app)
    upgraded.catch_up()

    assert stale_rules(upgraded) == STALE_RULES
    upgraded.rebuild("sla_clocks")
    assert stale_rules(upgraded) is None


# --- what the commands say ------------------------------------------------------------------


def _run(tmp_path: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "e.db")}
    env.pop("TICKETSTREAM_CONFIG_FILE", None)
    if config is not None:
        env["TICKETSTREAM_CONFIG_FILE"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "ticketstream", *args], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_reports_status_and_config_check_say_when_the_rules_changed_until_a_rebuild(
    tmp_path: Path,
) -> None:
    filled(tmp_path / "e.db").close()
    other = tmp_path / "other.toml"
    other.write_text(OTHER_POLICIES, encoding="utf-8")
    as_of = ("--as-of", datetime(2026, 1, 1, tzinfo=UTC).isoformat())

    fresh = _run(tmp_path, "report", "sla", *as_of)
    report = _run(tmp_path, "report", "sla", *as_of, config=other)
    status = _run(tmp_path, "projections", "status", config=other)
    check = _run(tmp_path, "config", "check", str(other))
    rebuilt = _run(tmp_path, "projections", "rebuild", "sla_clocks", config=other)
    after = _run(tmp_path, "report", "at-risk", *as_of, config=other)
    check_after = _run(tmp_path, "config", "check", str(other))

    assert (fresh.returncode, fresh.stderr) == (0, "")
    assert report.returncode == 0
    assert report.stderr.strip() == f"ticketstream: warning: the SLA read model was {STALE_RULES}"
    assert "computed under other rules" in status.stdout
    assert f"SLA read model: {STALE_RULES}" in " ".join(check.stdout.split())
    assert rebuilt.returncode == 0
    assert (after.returncode, after.stderr) == (0, "")
    assert "SLA read model: computed under these rules" in check_after.stdout


def test_config_check_does_not_create_an_event_store(tmp_path: Path) -> None:
    result = _run(tmp_path, "config", "check")

    assert result.returncode == 0
    assert "SLA read model: none yet" in result.stdout
    assert not (tmp_path / "e.db").exists()


# --- `projections rebuild --incident`: some incidents' rows computed again in place ----------


def _two_incidents(location: Path | str) -> Incidents:
    """Two incidents resolved after 30 h (met under the defaults), projected under RULES."""
    app = Incidents(env=event_store_env(str(location)))
    Ingest(app).process(messages_of([
        wire("received", "INC-1"), wire("resolved", "INC-1", hours=30),
        wire("received", "INC-2"), wire("resolved", "INC-2", hours=30),
    ]))  # fmt: skip
    ProjectionRunner(app, [SlaClocks(RULES, app.histories, UTC_ZONE), IncidentSummaries(app.histories, UTC_ZONE)]).catch_up()
    return app


def _rows(runner: ProjectionRunner, sql: str) -> list[tuple[object, ...]]:
    with runner.transaction(commit=False) as c:
        c.execute(sql)
        return [tuple(r) for r in c.fetchall()]


def test_recomputing_one_incident_applies_the_new_rules_to_its_rows_only_and_keeps_the_positions(
    tmp_path: Path,
) -> None:
    app = _two_incidents(tmp_path / "e.db")
    runner = ProjectionRunner(app, [SlaClocks(stricter(), app.histories, UTC_ZONE), IncidentSummaries(app.histories, UTC_ZONE)])
    positions = runner.positions()
    targets = "SELECT incident_id, target_minutes FROM sla_clocks WHERE clock = 'resolution' ORDER BY incident_id"
    before = _rows(runner, targets)

    read = recompute_incidents(runner, list(runner.read_models.values()), ["INC-1", "INC-1"])

    assert read == 2  # INC-1's two events, read once however often it is named
    after = _rows(runner, targets)
    assert after[0] == ("INC-1", 600) and before[0] != after[0]
    assert after[1] == before[1] != ("INC-2", 600)
    assert runner.positions() == positions


def test_recomputing_brings_back_rows_of_every_per_incident_model_as_projecting_made_them(tmp_path: Path) -> None:
    app = _two_incidents(tmp_path / "e.db")
    runner = ProjectionRunner(app, [SlaClocks(RULES, app.histories, UTC_ZONE), IncidentSummaries(app.histories, UTC_ZONE)])
    everything = ("SELECT * FROM incident_summaries ORDER BY incident_id", "SELECT * FROM sla_clocks ORDER BY 1, 2, 3")
    projected = [_rows(runner, sql) for sql in everything]
    with runner.transaction(commit=True) as c:
        c.execute("DELETE FROM incident_summaries WHERE incident_id = 'INC-2'")
        c.execute("UPDATE sla_clocks SET final_status = 'wrong', elapsed_minutes = -1")

    assert recompute_incidents(runner, list(runner.read_models.values()), ["INC-2", "INC-1"]) == 4

    assert [_rows(runner, sql) for sql in everything] == projected


def test_recomputing_an_unknown_incident_or_an_aggregate_model_says_which_and_changes_nothing(tmp_path: Path) -> None:
    app = _two_incidents(tmp_path / "e.db")
    runner = ProjectionRunner(app, [SlaClocks(stricter(), app.histories, UTC_ZONE), ChannelMix(UTC_ZONE, app.histories)])
    clocks = _rows(runner, "SELECT * FROM sla_clocks ORDER BY 1, 2, 3")
    sla, channels = runner.read_models["sla_clocks"], runner.read_models["channel_mix"]

    with pytest.raises(ProjectionError, match="^no incident 'INC-404' in the event store$"):
        recompute_incidents(runner, [sla], ["INC-1", "INC-404"])
    with pytest.raises(ProjectionError, match="^'channel_mix' is not kept per incident: rebuild it whole$"):
        recompute_incidents(runner, [sla, channels], ["INC-1"])

    assert _rows(runner, "SELECT * FROM sla_clocks ORDER BY 1, 2, 3") == clocks


# --- `projections rebuild`: shadow tables, their diff with the live ones, the swap ----------


def _shadows() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ticketstream-shadow-*")}


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes stores by name: SQLite files, or schemas of the local PostgreSQL (dropped after)."""
    made: list[str] = []

    def store(name: str) -> str:
        if request.param == "sqlite":
            return str(tmp_path / f"{name}.db")
        location = f"{POSTGRES_URL}?schema=unit_{name}_{uuid4().hex[:12]}"
        ensure_schema(location)
        made.append(location)
        return location

    yield store
    for location in made:
        drop_schema(location)


def test_a_dry_run_rebuild_under_stricter_rules_says_what_would_change_and_changes_nothing(
    stores: Callable[[str], str],
) -> None:
    app = _two_incidents(stores("e"))
    runner = ProjectionRunner(app, [SlaClocks(stricter(), app.histories, UTC_ZONE), IncidentSummaries(app.histories, UTC_ZONE)])
    clocks, positions, shadows = _rows(runner, "SELECT * FROM sla_clocks ORDER BY 1, 2, 3"), runner.positions(), _shadows()

    rebuilt = rebuild(runner, ["sla_clocks"], dry_run=True)

    assert (rebuilt.notifications, rebuilt.swapped) == (4, False)
    assert [d.lines() for d in rebuilt.diffs] == [
        ["sla_clocks: 0 rows added, 0 removed, 2 changed", "  2 clocks: met → breached 2"],
        ["sla_clocks_rules: 0 rows added, 0 removed, 1 changed"],  # the rules' fingerprint
    ]
    assert _rows(runner, "SELECT * FROM sla_clocks ORDER BY 1, 2, 3") == clocks
    assert runner.positions() == positions and _shadows() == shadows  # the shadow is gone


def test_a_rebuild_swaps_in_what_a_fresh_projection_makes_its_count_and_position_with_it(
    stores: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _two_incidents(stores("e"))
    runner = ProjectionRunner(app, [SlaClocks(stricter(), app.histories, UTC_ZONE), IncidentSummaries(app.histories, UTC_ZONE)])
    fresh = _two_incidents(stores("fresh"))
    fresh_runner = ProjectionRunner(fresh, [SlaClocks(stricter(), fresh.histories, UTC_ZONE)])
    fresh_runner.rebuild("sla_clocks")
    monkeypatch.setattr(shadow_module, "_COPY_CHUNK", 1)  # rows copied back one chunk at a time

    with capture_logs() as logs:
        first = rebuild(runner, ["sla_clocks"])
    second = rebuild(runner, ["sla_clocks"])

    said = [(e["event"], e["projections"], e.get("positions", e.get("dry_run"))) for e in logs if "projections" in e]
    assert said == [
        ("projection_rebuild_started", ["sla_clocks"], False), ("projection_rebuild_swapped", ["sla_clocks"], {"sla_clocks": 4}),
    ]  # fmt: skip

    everything = "SELECT * FROM sla_clocks ORDER BY 1, 2, 3"
    assert first.swapped and _rows(runner, everything) == _rows(fresh_runner, everything)
    assert [d.lines() for d in second.diffs] == [
        ["sla_clocks: 0 rows added, 0 removed, 0 changed"], ["sla_clocks_rules: 0 rows added, 0 removed, 0 changed"],
    ]  # fmt: skip
    assert _rows(runner, "SELECT projection, rebuilds FROM projection_rebuilds") == [("sla_clocks", 2)]
    assert runner.positions()["sla_clocks"] == 4


def test_rows_without_a_primary_key_are_compared_as_a_multiset_and_running_clocks_say_so() -> None:
    keyless = shadow_module._compared("t", [], ["a"], [(1,), (1,), (2,)], [(1,), (3,), (3,)])
    keyed = shadow_module._compared(
        "sla_clocks", [0], ["id", "final_status"],
        [(1, None), (2, "met"), (3, "met"), (4, "met")], [(1, "met"), (2, "breached"), (3, "breached"), (5, None)],
    )  # fmt: skip

    assert (keyless.added, keyless.removed, keyless.changed) == (2, 2, 0)
    assert (keyed.added, keyed.removed, keyed.changed) == (1, 1, 3)
    assert keyed.lines() == [
        "sla_clocks: 1 rows added, 1 removed, 3 changed", "  3 clocks: met → breached 2, running → met 1",
    ]  # fmt: skip
