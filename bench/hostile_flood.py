"""By-hand benchmark: does a flood of bad messages slow the valid ones beyond recording them?

Runs the ingest step (no broker) on a temporary SQLite store twice: N valid events alone,
the N hostile messages alone (what recording them costs), then the same N valid events with
the N hostile messages interleaved. Prints the costs per message and the difference between
the flood and the sum of its parts (what hostile traffic costs valid traffic beyond its own
recording). Run: `.venv/bin/python bench/hostile_flood.py --events 20000`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.hostile_messages import hostile_messages, interleave  # noqa: E402
from consumers.ingest import Ingest  # noqa: E402
from consumers.records import Coordinates, Message  # noqa: E402
from contracts.routing import TopicMap  # noqa: E402
from domain.application import Incidents  # noqa: E402
from producers.simulator import SimulationSpec, simulate  # noqa: E402
from ticketstream.event_store import event_store_env  # noqa: E402
from ticketstream.log_setup import configure_logging  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure_logging("ERROR", "json")
    spec = SimulationSpec(months=12, seed=args.seed, incidents_per_month=math.ceil(args.events / 40))
    valid = simulate(spec)[: args.events]
    hostile = hostile_messages(len(valid), args.seed, valid)
    alone = interleave(valid, [], args.seed)
    bad_only = interleave([], hostile, args.seed)
    flooded = interleave(valid, hostile, args.seed)
    print(f"{len(valid):,} valid events; {len(hostile):,} hostile messages; batches of {args.batch}")
    for _ in range(args.rounds):
        t_alone, r_alone = _ingest(alone, args.batch)
        t_bad, _ = _ingest(bad_only, args.batch)
        t_flood, r_flood = _ingest(flooded, args.batch)
        extra = t_flood - t_alone
        print(
            f"valid alone: {t_alone:6.2f} s = {t_alone / len(valid) * 1e6:6.1f} µs/valid event"
            f" ({r_alone['applied']:,} applied)\n"
            f"with flood:  {t_flood:6.2f} s = {t_flood / len(valid) * 1e6:6.1f} µs/valid event"
            f" ({r_flood['applied']:,} applied, {r_flood['dead_lettered']:,} dead-lettered);"
            f" extra {extra / len(hostile) * 1e6:6.1f} µs per hostile message\n"
            f"hostile alone (the cost of recording them): {t_bad / len(hostile) * 1e6:6.1f} µs each;"
            f" flood - (valid alone + hostile alone) = {t_flood - t_alone - t_bad:+.2f} s\n"
        )


def _ingest(mix: list[tuple[str, bytes, bytes, str | None]], batch: int) -> tuple[float, dict[str, int]]:
    topics = TopicMap()
    offsets: dict[str, int] = {}
    messages = []
    for concern, key, value, _ in mix:
        topic = getattr(topics, concern)
        offsets[topic] = offsets.get(topic, -1) + 1
        messages.append(Message(Coordinates(topic, 0, offsets[topic]), key, value))
    totals = {"applied": 0, "dead_lettered": 0}
    with tempfile.TemporaryDirectory() as tmp:
        app = Incidents(env=event_store_env(str(Path(tmp) / "flood.db")))
        step = Ingest(app)
        started = time.perf_counter()
        for start in range(0, len(messages), batch):
            result = step.process(messages[start : start + batch])
            totals["applied"] += result.applied
            totals["dead_lettered"] += result.dead_lettered
        elapsed = time.perf_counter() - started
        app.close()
    return elapsed, totals


if __name__ == "__main__":
    main()
