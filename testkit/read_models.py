"""Every read model of a store, table by table and report by report, with every dimension:
what the crash, disorder and scale-out proofs (and bench/reliability.py) compare with a clean run.

``read_models`` projects the store with `ticketstream project --once` (a process of its own,
as in production), then reads, in this process and read-only: every row of every read-model
table, and the reports over them — channels, dynamics and thanks overall and for each
department, the SLA summary and clock list, root causes (by cause and by category, overall
and per month), quality and repeat contacts (both per month and department).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from projections.queries import Period
from projections.repeat_contacts import DEFAULT_WITHIN_DAYS
from projections.runner import ProjectionRunner
from projections.sla_queries import ClockFilter
from projections.sla_report import SlaQuestion
from ticketstream import assembly
from ticketstream.settings import Settings, load_settings

MONTHLY = ("channels", "dynamics", "thanks")
FIRST, LAST = "2020-01", "2026-12"
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)  # after every simulated event


def read_models(env: Mapping[str, str], cwd: Path) -> dict[str, object]:
    """Project the store of ``env`` (the CLI's environment), then every read model's rows and
    every report, each in one order whatever order the rows were written in."""
    subprocess.run(
        [sys.executable, "-m", "ticketstream", "project", "--once"],
        env=dict(env), cwd=cwd, check=True, capture_output=True, timeout=900,
    )
    with _environment(env):
        settings = load_settings()
    app = assembly.open_incidents(settings)
    try:
        runner = assembly.projection_runner(settings, app)
        models: dict[str, object] = {f"table:{t}": rows for t, rows in table_rows(runner).items()}
        models.update(_reports(settings, runner))
    finally:
        app.close()
    return models


def table_rows(runner: ProjectionRunner) -> dict[str, list[tuple[object, ...]]]:
    """Each read-model table's rows, sorted."""
    rows = {}
    with runner.transaction(commit=False) as c:
        for model in runner.read_models.values():
            for table in model.tables:
                c.execute(f"SELECT * FROM {table}")
                rows[table] = sorted((tuple(r) for r in c.fetchall()), key=repr)
    return rows


def _reports(settings: Settings, runner: ProjectionRunner) -> dict[str, object]:
    zone = settings.zone
    side = assembly.read_side(settings)
    period = Period.of(FIRST, LAST, AS_OF, zone)
    with runner.transaction(commit=False) as c:
        c.execute("SELECT DISTINCT department FROM dynamics UNION SELECT DISTINCT department FROM channel_mix")
        departments = sorted(str(d) for (d,) in c.fetchall())
    found: dict[str, object] = {"departments": departments}
    for name in MONTHLY:
        for department in (None, *departments):
            found[f"{name}:{department or 'all'}"] = side.monthly(name, period, department).rows
    question = SlaQuestion(ClockFilter(period, None, None), AS_OF, "started")
    found["sla:summary"] = side.sla(question).rows
    clocks = side.sla(question, listing=True).rows
    found["sla:clocks"] = sorted(clocks, key=lambda r: (str(r["incident_id"]), str(r["clock"]), str(r["cycle"])))
    for by in ("root_cause", "category"):
        for monthly in (False, True):
            found[f"root_causes:{by}:{'monthly' if monthly else 'all'}"] = side.root_causes(question, by, monthly).rows
    found["quality"] = side.quality(period, None, AS_OF).rows
    found["repeat_contacts"] = side.repeat_contacts(period, None, DEFAULT_WITHIN_DAYS).rows
    return found


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` as ``env`` for a moment (the settings are read from it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
