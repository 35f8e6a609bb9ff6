"""The dashboard in a real browser: headless Chromium (Debian's package) driven by
Playwright, against `serve` over a store filled through the real broker."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from producers.simulator import SimulationSpec, simulate, write_jsonl
from tests.integration.conftest import Cli
from tests.integration.serve_process import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
HOSTILE_CAUSE = "<script>document.title='pwned'</script>"
HOSTILE_CHANNEL = "<img src=x onerror=alert(1)>"
SCREENSHOT = Path("var/dashboard.png")


@pytest.fixture(autouse=True)
def _chromium() -> None:
    assert shutil.which(CHROMIUM), "install Debian's chromium (make test does: apt-get install chromium)"


def _hostile_incident(events: list[dict[str, object]]) -> list[dict[str, object]]:
    received = next(e for e in events if e["type"] == "incident.received" and str(e["occurred_at"]) > "2025-04-02")
    at = datetime.fromisoformat(str(received["occurred_at"]))
    opened = {**received, "event_id": str(uuid.uuid4()), "incident_id": "INC-HOSTILE-1", "channel": HOSTILE_CHANNEL}
    resolved = {
        "event_id": str(uuid.uuid4()), "type": "incident.resolved", "schema_version": 1,
        "incident_id": "INC-HOSTILE-1", "occurred_at": (at + timedelta(days=20)).isoformat(),
        "source": "service-centre", "resolution": "repair", "root_cause": HOSTILE_CAUSE,
    }  # fmt: skip
    return [opened, resolved]


def _api(base: str, path: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{base}{path}", timeout=30) as answer:
        return json.load(answer)  # type: ignore[no-any-return]


def test_the_dashboard_in_chromium_shows_the_apis_numbers_and_hostile_text_literally(cli: Cli, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    events = simulate(SimulationSpec(months=2, seed=71, start=date(2025, 3, 1), incidents_per_month=60))
    path = tmp_path / "spring.jsonl"
    with path.open("w") as stream:
        write_jsonl([*events, *_hostile_incident(events)], stream)
    cli("publish", str(path))
    assert "0 dead-lettered" in cli("consume", "--once").stdout
    cli("project", "--once")
    problems: list[str] = []
    with serving(cli, stderr=subprocess.DEVNULL) as (base, _):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.goto(f"{base}/")

            for section in ("summary", "dynamics", "channels", "channel-trend", "long-service", "thanks", "sla", "quality"):
                assert page.locator(f"section#{section}").count() == 1, section
            assert page.inner_text("#chosen-month") == "2025-04"
            april = _api(base, "/api/v1/reports/dynamics?from=2025-04&to=2025-04")
            assert int(page.inner_text("[data-figure=incidents]")) == april[0]["incidents"]
            text = page.inner_text("body")
            assert HOSTILE_CAUSE in text and HOSTILE_CHANNEL in text  # shown, not run
            assert page.title().startswith("Customer service report")  # the script never ran
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.select_option("#month", "2025-03")
            page.click("#show")
            page.wait_for_load_state()
            march = _api(base, "/api/v1/reports/dynamics?from=2025-03&to=2025-03")
            assert page.inner_text("#chosen-month") == "2025-03"
            assert int(page.inner_text("[data-figure=incidents]")) == march[0]["incidents"]

            department = page.locator("#department option").nth(1).get_attribute("value")
            assert department
            page.select_option("#department", department)
            page.click("#show")
            page.wait_for_load_state()
            mine = _api(base, f"/api/v1/reports/dynamics?from=2025-03&to=2025-03&department={department}")
            assert page.inner_text("#chosen-department") == department
            assert int(page.inner_text("[data-figure=incidents]")) == mine[0]["incidents"] < march[0]["incidents"]
            browser.close()
    assert problems == []
    assert SCREENSHOT.stat().st_size > 10_000
