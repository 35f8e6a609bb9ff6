"""Report benchmark: every report for one window, on stores of 100,000 and 1,000,000 events.

Run by hand (`.venv/bin/python bench/reports.py`). Both stores are the first N events of one
simulation (seed, incidents per month fixed; the bigger one has ten times the history), built
through the ingest application and projected, cached under var/bench/ (bench/report_stores.py).
Each report asks the same question of both — the months 2025-03..2025-05 as of 2025-06-15 —
through the read side opened read-only, as the CLI does; it is timed as the median of 5 runs.
Both stores hold the same events up to then, so the answers must be equal (checked). Per
report: the two latencies and `growth 1M/100k = X.XX`; the last line is the worst growth.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report_stores import store_settings  # noqa: E402
from projections.queries import Period  # noqa: E402
from projections.read_side import MONTHLY_REPORTS, ReadSide  # noqa: E402
from projections.report import Report  # noqa: E402
from projections.sla_queries import ClockFilter  # noqa: E402
from projections.sla_report import SlaQuestion  # noqa: E402
from ticketstream import assembly  # noqa: E402
from ticketstream.log_setup import configure_logging  # noqa: E402

WINDOW = Period("2025-03", "2025-05")
AS_OF = datetime.fromisoformat("2025-06-15T12:00:00+03:00")
RUNS = 5


def questions(side: ReadSide) -> dict[str, Callable[[], Report]]:
    """Every report of the read side, asked about the window as of the moment."""
    window = SlaQuestion(ClockFilter(WINDOW), AS_OF)
    asked: dict[str, Callable[[], Report]] = {
        f"report {name}": (lambda name=name: side.monthly(name, WINDOW, None)) for name in MONTHLY_REPORTS
    }
    first = _first_incident(side)
    asked |= {
        "report sla": lambda: side.sla(window),
        "report sla --list": lambda: side.sla(window, listing=True),
        "report sla --policy current": lambda: side.sla(SlaQuestion(ClockFilter(WINDOW), AS_OF, "current")),
        "report root-causes": lambda: side.root_causes(window),
        "report at-risk": lambda: side.at_risk(window),
        "report quality": lambda: side.quality(WINDOW, None, AS_OF),
        "incident explain": lambda: side.explain(first, AS_OF),
        "projections status": lambda: side.projection_status(AS_OF),
    }
    return asked


def _first_incident(side: ReadSide) -> str:
    with side.reader.reading() as c:
        c.execute("SELECT MIN(incident_id) FROM sla_clocks WHERE month = ?", (WINDOW.first,))
        (found,) = c.fetchone() or ("",)
    return str(found)


def timed(ask: Callable[[], Report]) -> tuple[float, Report]:
    """The median of RUNS runs, in seconds, and the answer."""
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        answer = ask()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000, help="events of the first store")
    parser.add_argument("--large", type=int, default=1_000_000, help="events of the second store")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--incidents-per-month", type=int, default=2000)
    args = parser.parse_args()
    configure_logging("WARNING", "json")
    sides = {}
    for events in (args.small, args.large):
        settings = store_settings(events, args.seed, args.incidents_per_month)
        sides[events] = assembly.read_side(settings)  # read-only, as the CLI opens it
    results: dict[int, dict[str, tuple[float, Report]]] = {}
    for events, side in sides.items():
        results[events] = {name: timed(ask) for name, ask in questions(side).items()}
    worst = 0.0
    small, large = results[args.small], results[args.large]
    for name in small:
        (fast, answer), (slow, other) = small[name], large[name]
        if name != "projections status" and (answer.rows, answer.title) != (other.rows, other.title):
            raise SystemExit(f"{name}: the two stores answer differently")
        growth = slow / fast
        worst = max(worst, growth)
        print(f"{name:30} {fast * 1000:8.1f} ms  {slow * 1000:8.1f} ms  ({len(answer.rows):,} rows)"
              f"  growth 1M/100k = {growth:.2f}")  # fmt: skip
    print(f"worst growth = {worst:.2f}")


if __name__ == "__main__":
    main()
