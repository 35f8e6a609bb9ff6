"""`projections rebuild` as ops run it: the diff, --dry-run, the swap, --incident in place."""

from __future__ import annotations

from pathlib import Path

from consumers.ingest import Ingest
from tests.unit.test_ingest import messages_of, open_app, wire
from tests.unit.test_sla_fingerprint import OTHER_POLICIES, _run, runner_of


def _store(tmp_path: Path) -> Path:
    """Two incidents resolved after 30 h (met under the defaults), and a config that breaches them."""
    app = open_app(tmp_path / "e.db")
    Ingest(app).process(messages_of([
        wire("received", "INC-1"), wire("resolved", "INC-1", hours=30),
        wire("received", "INC-2"), wire("resolved", "INC-2", hours=30),
    ]))  # fmt: skip
    runner_of(app).catch_up()
    app.close()
    other = tmp_path / "other.toml"
    other.write_text(OTHER_POLICIES, encoding="utf-8")
    return other


def test_a_dry_run_prints_the_diff_and_the_status_stays_stale_until_the_rebuild(tmp_path: Path) -> None:
    other = _store(tmp_path)

    dry = _run(tmp_path, "projections", "rebuild", "sla_clocks", "--dry-run", config=other)
    stale = _run(tmp_path, "projections", "status", config=other)
    swapped = _run(tmp_path, "projections", "rebuild", "sla_clocks", config=other)
    fresh = _run(tmp_path, "projections", "status", config=other)

    assert dry.returncode == 0, dry.stderr
    assert "sla_clocks: 0 rows added, 0 removed, 2 changed" in dry.stdout
    assert "2 clocks: met → breached 2" in dry.stdout
    assert "dry run: the live read models are unchanged" in dry.stdout
    assert "computed under other rules" in stale.stdout
    assert swapped.returncode == 0 and "swapped in" in swapped.stdout
    assert "2 clocks: met → breached 2" in swapped.stdout
    assert "computed under other rules" not in fresh.stdout
    again = _run(tmp_path, "projections", "rebuild", "sla_clocks", config=other)
    assert "sla_clocks: 0 rows added, 0 removed, 0 changed" in again.stdout


def test_incident_recomputes_those_incidents_in_place_and_rebuilds_aggregates_whole(tmp_path: Path) -> None:
    other = _store(tmp_path)

    one = _run(tmp_path, "projections", "rebuild", "sla_clocks", "--incident", "INC-1", config=other)
    dry = _run(tmp_path, "projections", "rebuild", "sla_clocks", "--dry-run", config=other)
    mixed = _run(tmp_path, "projections", "rebuild", "sla_clocks", "channel_mix", "--incident", "INC-2")

    assert one.returncode == 0, one.stderr
    assert "recomputed 1 incidents in sla_clocks" in one.stdout
    assert "1 clocks: met → breached 1" in dry.stdout  # only INC-2 is left to recompute
    assert mixed.returncode == 0, mixed.stderr
    assert "channel_mix: counts over all incidents, rebuilt whole" in mixed.stdout


def test_an_unknown_incident_or_read_model_is_one_clear_line(tmp_path: Path) -> None:
    _store(tmp_path)

    unknown = _run(tmp_path, "projections", "rebuild", "sla_clocks", "--incident", "INC-404")
    nameless = _run(tmp_path, "projections", "rebuild", "sla", "--dry-run")

    assert unknown.returncode != 0 and "no incident 'INC-404'" in unknown.stderr
    assert nameless.returncode != 0 and "no projection named 'sla'" in nameless.stderr
    assert "Traceback" not in unknown.stderr + nameless.stderr
