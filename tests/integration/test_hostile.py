"""Hostile traffic through the real broker: a seeded mix of attacks inside a simulated month."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

from testkit.hostile_messages import hostile_messages, interleave, publish_raw
from tests.integration.conftest import Cli

SEED = 20250301
ATTACKS = 300


def _publish(cli: Cli, messages: list[tuple[str, bytes, bytes, str | None]]) -> Counter[tuple[str, int, int, str]]:
    """Send every message as raw bytes, in order; the dead letters the attacks must become."""
    return publish_raw(cli.bootstrap, lambda concern: str(getattr(cli.topics, concern)), messages)


def _applied(consumed: str) -> int:
    match = re.search(r"(\d+) events applied", consumed)
    assert match, consumed
    return int(match.group(1))


def test_a_month_laced_with_300_attacks_dead_letters_each_with_its_reason_and_applies_the_rest(
    cli: Cli, tmp_path: Path
) -> None:
    month = tmp_path / "month.jsonl"
    cli("simulate", "--months", "1", "--seed", "11", "--start", "2025-03", "-o", str(month))
    events = [json.loads(line) for line in month.read_text().splitlines()]
    attacks = hostile_messages(ATTACKS, SEED, events)
    # The resolution travels on another topic: an escalation after it is sent after a drain.
    after_drain = [a for a in attacks if a[3] == "escalated_after_resolution"]
    mixed = interleave(events, [a for a in attacks if a not in after_drain], SEED)

    expected = _publish(cli, mixed)
    first = cli("consume", "--once")
    expected += _publish(cli, [(c, k, v, r) for c, k, v, r in after_drain])
    second = cli("consume", "--once")
    cli("project", "--once")
    letters = json.loads(cli("dlq", "list", "--format", "json").stdout)
    dynamics = json.loads(cli("report", "dynamics", "--format", "json", "--to", "2025-12").stdout)

    assert Counter((d["topic"], d["partition"], d["offset"], d["reason"]) for d in letters) == expected
    assert sum(expected.values()) == ATTACKS
    assert len({reason for *_, reason in expected}) >= 15
    assert _applied(first.stdout) + _applied(second.stdout) == len(events)
    with sqlite3.connect(tmp_path / "events.db") as db:
        states = [json.loads(s) for (s,) in db.execute("SELECT state FROM stored_events")]
    assert Counter(s["event_id"] for s in states) == Counter(str(e["event_id"]) for e in events)
    received = sum(1 for e in events if e["type"] == "incident.received")
    assert sum(r["incidents"] for r in dynamics) == received


def test_retrying_the_dead_letters_of_conflicts_keeps_them_open_as_conflicts(cli: Cli, tmp_path: Path) -> None:
    month = tmp_path / "month.jsonl"
    cli("simulate", "--months", "1", "--seed", "12", "--start", "2025-03", "-o", str(month))
    events = [json.loads(line) for line in month.read_text().splitlines()]
    conflicts = [a for a in hostile_messages(120, SEED, events) if a[3] == "event_id_conflict"]
    _publish(cli, interleave(events, conflicts, SEED))
    cli("consume", "--once")

    cli("dlq", "retry", "--all")

    letters = json.loads(cli("dlq", "list", "--format", "json").stdout)
    assert conflicts
    assert [letter["reason"] for letter in letters] == ["event_id_conflict"] * len(conflicts)
