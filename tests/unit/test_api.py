"""`serve`'s HTTP API over a filled store: the CLI's numbers, token on and off, problem
documents for bad parameters, no personal data, and schemathesis over the OpenAPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from functools import cache
from pathlib import Path

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings

from consumers.ingest import Ingest
from producers.simulator import SimulationSpec, simulate
from ticketstream import assembly
from ticketstream.api import create_app
from ticketstream.settings import load_settings
from tests.unit.strategies import CUSTOMER_NAME, CUSTOMER_PHONE
from tests.unit.test_ingest import messages_of, open_app

TOKEN = "s3cret-token-of-16+"
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"


@cache
def filled_store(directory: str) -> str:
    """A month of simulated traffic with a customer's data in one summary, projected."""
    path = str(Path(directory) / "api.db")
    events = simulate(SimulationSpec(months=1, seed=51, start=date(2025, 3, 1), incidents_per_month=120))
    first = next(e for e in events if e["type"] == "incident.received")
    first["summary"] = f"{CUSTOMER_NAME} called from {CUSTOMER_PHONE}"
    first["channel"] = FORMULA  # contract-valid, and live code in a spreadsheet
    app = open_app(Path(path))
    Ingest(app).process(messages_of(events))
    assembly.projection_runner(load_settings(event_store=path), app).catch_up()
    app.close()
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return filled_store(str(tmp_path_factory.mktemp("api")))


@pytest.fixture(scope="module")
def client(store: str) -> TestClient:
    return TestClient(create_app(load_settings(event_store=store)), raise_server_exceptions=False)


def _cli_json(store: str, *args: str) -> object:
    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": store}
    result = subprocess.run([sys.executable, "-m", "ticketstream", *args, "--format", "json"],
                            env=env, capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("path", "cli"),
    [
        ("/api/v1/reports/channels?from=2025-03&to=2025-03", ("report", "channels", "--from", "2025-03", "--to", "2025-03")),
        ("/api/v1/reports/dynamics?from=2025-03&to=2025-04", ("report", "dynamics", "--from", "2025-03", "--to", "2025-04")),
        ("/api/v1/reports/thanks?from=2025-03&to=2025-03&department=call_centre",
         ("report", "thanks", "--from", "2025-03", "--to", "2025-03", "--department", "call_centre")),
        ("/api/v1/reports/sla?from=2025-03&to=2025-03&as_of=2025-06-01", ("report", "sla", "--from", "2025-03", "--to", "2025-03", "--as-of", "2025-06-01")),
        ("/api/v1/reports/sla-clocks?from=2025-03&to=2025-03&as_of=2025-06-01&clock=handover",
         ("report", "sla", "--list", "--from", "2025-03", "--to", "2025-03", "--as-of", "2025-06-01", "--clock", "handover")),
        ("/api/v1/reports/root-causes?from=2025-03&to=2025-03&as_of=2025-06-01", ("report", "root-causes", "--from", "2025-03", "--to", "2025-03", "--as-of", "2025-06-01")),
        ("/api/v1/reports/at-risk?as_of=2025-03-10T12:00:00%2B00:00", ("report", "at-risk", "--as-of", "2025-03-10T12:00:00+00:00")),
    ],
)  # fmt: skip
def test_each_report_answers_with_the_very_json_the_cli_prints(
    client: TestClient, store: str, path: str, cli: tuple[str, ...]
) -> None:
    response = client.get(path)

    assert response.status_code == 200, response.text
    assert response.json() == _cli_json(store, *cli)
    assert response.json(), "the question has an answer"


def test_csv_is_neutralised_unless_raw(client: TestClient) -> None:
    path = "/api/v1/reports/channels?from=2025-03&to=2025-03&format=csv"
    neutral, raw = client.get(path), client.get(f"{path}&csv_raw=true")

    assert neutral.status_code == raw.status_code == 200
    assert neutral.headers["content-type"].startswith("text/csv")
    assert neutral.text.splitlines()[0] == "month,channel,contacts,share"
    assert "'=HYPERLINK(" in neutral.text and "\n2025-03,=HYPERLINK(" not in neutral.text
    assert "\n2025-03,=HYPERLINK(" in raw.text or "\n2025-03,\"=HYPERLINK(" in raw.text
    assert len(neutral.text.splitlines()) == len(client.get(path.replace("csv", "json")).json()) + 1


def test_an_incident_timeline_carries_no_personal_data(client: TestClient) -> None:
    dynamics = client.get("/api/v1/reports/dynamics?from=2025-03&to=2025-03").json()
    assert dynamics
    letters = client.get("/api/v1/dead-letters").json()
    assert letters == []
    incident_id = _first_incident(client)

    body = client.get(f"/api/v1/incidents/{incident_id}")

    assert body.status_code == 200
    assert CUSTOMER_NAME not in body.text and CUSTOMER_PHONE not in body.text
    facts = body.json()["facts"]
    assert facts[0]["kind"] == "received" and "summary" in body.json()["withheld"]
    explained = client.get(f"/api/v1/incidents/{incident_id}/explain?as_of=2025-06-01")
    assert explained.status_code == 200 and "handover" in explained.json()["text"]


def _first_incident(client: TestClient) -> str:
    rows = client.get("/api/v1/reports/sla-clocks?from=2025-03&to=2025-03&as_of=2025-06-01&clock=handover").json()
    return str(sorted(r["incident_id"] for r in rows)[0])


@pytest.mark.parametrize(
    ("path", "status", "names"),
    [
        ("/api/v1/reports/channels?from=2025-13", 422, "from"),
        ("/api/v1/reports/channels?from=2025-06&to=2025-01", 400, "ends (2025-01) before it begins"),
        ("/api/v1/reports/channels?from=March", 422, "from"),
        ("/api/v1/reports/sla?clock=lunch", 422, "clock"),
        ("/api/v1/reports/sla?as_of=soon", 400, "'soon' is not a moment"),
        ("/api/v1/reports/sla?status=late", 400, "unknown status 'late'"),
        ("/api/v1/incidents/INC-404", 404, "no incident 'INC-404'"),
        ("/api/v1/incidents/bad%20id", 422, "incident_id"),
        ("/api/v1/dead-letters?limit=0", 422, "limit"),
    ],
)
def test_a_bad_parameter_is_a_problem_document_naming_it(client: TestClient, path: str, status: int, names: str) -> None:
    response = client.get(path)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and names in json.dumps(problem)
    assert "Traceback" not in response.text


def test_with_a_token_every_endpoint_but_healthz_asks_for_it(store: str) -> None:
    guarded = TestClient(create_app(load_settings(event_store=store, api_token=TOKEN)))

    assert guarded.get("/healthz").status_code == 200
    refused = guarded.get("/api/v1/reports/dynamics")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong-token-xxxxxxx"}).status_code == 401
    assert guarded.get("/api/v1/reports/dynamics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_health_readiness_and_metrics(client: TestClient, store: str) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["lag"] == 0
    strict = TestClient(create_app(load_settings(event_store=store, ready_max_lag=0)))
    app = open_app(Path(store))
    head = app.recorder.max_notification_id()
    app.close()

    strict.get("/healthz")  # one request observed before the scrape
    metrics = strict.get("/metrics").text

    assert f"ticketstream_events_stored {float(head)}" in metrics
    assert 'ticketstream_projection_lag{projection="sla_clocks"} 0.0' in metrics
    assert 'ticketstream_http_request_seconds_count{route="/healthz"} 1.0' in metrics


def test_serve_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    env = {**os.environ, "TICKETSTREAM_EVENT_STORE": str(tmp_path / "e.db")}
    env.pop("TICKETSTREAM_API_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "ticketstream", "serve", "--host", "0.0.0.0"],
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "ticketstream: error: without TICKETSTREAM_API_TOKEN serve listens on loopback only, not on 0.0.0.0"


def test_the_api_never_fails_and_keeps_to_its_openapi(store: str) -> None:
    # schemathesis's pytest plugin does not run under pytest 9: its Python API, one
    # hypothesis run per operation, with every check it has (server errors, status codes,
    # content types, response schemas).
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(load_settings(event_store=store)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            # Every check but one: a schema-valid question can still be refused with a 400
            # naming why (a period that ends before it begins, an unknown status).
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
