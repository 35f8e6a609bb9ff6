"""`ticketstream serve`: the read models over HTTP (FastAPI), read-only.

Every report endpoint answers the question its CLI command answers, with the CLI's options as
query parameters; with ``format=json`` the body is the very JSON array `--format json`
prints. Errors are RFC 9457 problem documents naming the parameter; no response carries a
traceback or personal data (timelines leave free text and customer fields out).
"""

from __future__ import annotations

import hmac
import io
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from rich.console import Console

from consumers.ingest_recorder import IngestTables
from domain.application import Incidents
from domain.incident import Incident, in_timeline_order
from domain.sla_rules import CLOCKS
from projections.repeat_contacts import DEFAULT_WITHIN_DAYS, MAX_WITHIN_DAYS
from projections.errors import ProjectionError, QueryError
from projections.queries import Period
from projections.read_side import ReadSide
from projections.sla_queries import ClockFilter
from ticketstream import assembly, dashboard, reports, sla_explain, sla_reports
from ticketstream.choices import LangName, PolicyName, RootCauseDimension
from ticketstream.errors import TicketstreamError
from ticketstream.event_store import store_exists
from ticketstream.report_output import to_csv
from ticketstream.safe_text import json_text
from ticketstream.settings import Settings

PROBLEM = "application/problem+json"
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}},
    },
}  # fmt: skip
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}
    for status, what in [
        (400, "A parameter the question cannot take (RFC 9457 problem)"),
        (401, "A valid bearer token is required"),
        (404, "No such incident"),
        (422, "A parameter of the wrong form (RFC 9457 problem naming it)"),
        (500, "The request failed (no detail from the store)"),
    ]
}
_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}}}}
_ROWS: dict[int | str, dict[str, Any]] = {
    200: {"description": "The report's rows: the CLI's JSON, or CSV with format=csv",
          "content": {"application/json": {}, "text/csv": {}}},
}  # fmt: skip
# Fields of stored events an API response never carries: customer data and free text (which
# may quote a customer), besides the bookkeeping of the event store.
_PERSONAL = {"customer_name", "customer_phone", "customer_email", "customer_key", "summary", "comment", "praised"}
_WITHHELD = _PERSONAL | {
    "originator_id", "originator_version", "timestamp", "originator_topic", "digest",
    "arrival_stream", "arrival_position",
}  # fmt: skip


class Format(str, Enum):
    json = "json"
    csv = "csv"


Clock = Enum("Clock", {name: name for name in CLOCKS}, type=str)  # type: ignore[misc]

Month = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]
Department = Annotated[str | None, Query(min_length=1, max_length=64, description="Only this department")]
AsOf = Annotated[str | None, Query(max_length=64, description="now, RFC 3339, or a local date/time")]
Flag = Annotated[bool, Query(description="CSV cells exactly as stored (never open it in a spreadsheet)")]


def create_app(settings: Settings) -> FastAPI:
    """The HTTP API over the configured event store (opened once, read per request)."""
    app = FastAPI(
        title="ticketstream", version="1", responses=_ERRORS,
        description="Customer-service incident reports: channel mix, dynamics, thanks, SLA, root causes.",
    )  # fmt: skip
    state = _State(settings)
    guard = _token_guard(settings.api_token)
    _register_errors(app)

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        state.latency.labels(getattr(route, "path", "unmatched")).observe(time.perf_counter() - started)
        return response

    @app.get("/", tags=["dashboard"], dependencies=[Depends(guard)], response_class=HTMLResponse,
             responses={200: {"content": {"text/html": {}}}})  # fmt: skip
    def dashboard_page(
        month: Month = None,
        department: Annotated[str | None, Query(max_length=64, description="Only this department; empty: all")] = None,
        as_of: AsOf = None, lang: LangName = LangName.en,
    ) -> HTMLResponse:  # fmt: skip
        """The monthly report as a page, with a month picker and a department filter."""
        board = dashboard.gather(state.side, month, department or None, state.moment(as_of))
        page = dashboard.render_page(board, lang.value, picker=True)
        return HTMLResponse(page, headers={"Content-Security-PolicyName": dashboard.CSP})

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], dependencies=[Depends(guard)],
             responses={**_JSON, 503: {"description": "Not ready", "content": {"application/json": {}}}})
    def readyz() -> JSONResponse:
        """The store answers and every read model is within TICKETSTREAM_READY_MAX_LAG."""
        try:
            lag = max((int(r["lag"]) for r in state.side.projection_status(datetime.now(timezone.utc)).rows), default=0)
        except Exception:  # noqa: BLE001 - any failure to read the store means not ready
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        ready = lag <= settings.ready_max_lag
        body = {"status": "ready" if ready else "lagging", "lag": lag, "max_lag": settings.ready_max_lag}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], dependencies=[Depends(guard)],
             responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}})
    def metrics() -> Response:
        """Prometheus metrics: events stored, projection lag, open dead letters, clocks at risk."""
        state.refresh_gauges()
        return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)

    for report in ("channels", "dynamics", "thanks"):
        _monthly(app, state, guard, report)

    for path, listing in (("sla", False), ("sla-clocks", True)):
        _sla(app, state, guard, path, listing)

    @app.get("/api/v1/reports/root-causes", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS)
    def root_causes(
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
        to: Month = None, department: Department = None, as_of: AsOf = None,
        by: RootCauseDimension = RootCauseDimension.root_cause, monthly: bool = False, policy: PolicyName = PolicyName.started,
        format: Format = Format.json, csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        """`report root-causes`: breached resolutions by cause, with a Pareto."""
        question = state.question(from_, to, department, None, as_of, policy)
        rows = state.side.root_causes(question, by.value, monthly).rows
        return _rows(rows, format, csv_raw)

    @app.get("/api/v1/reports/quality", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS)
    def quality(
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
        to: Month = None, department: Department = None, as_of: AsOf = None,
        format: Format = Format.json, csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        """`report quality`: CSAT, reopens, first-contact resolution, escalations per month and department."""
        rows = reports.quality_report(state.side, from_, to, department, state.moment(as_of)).rows
        return _rows(rows, format, csv_raw)

    @app.get("/api/v1/reports/repeat-contacts", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS)
    def repeat_contacts(
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
        to: Month = None, department: Department = None,
        within_days: Annotated[int, Query(ge=1, le=MAX_WITHIN_DAYS)] = DEFAULT_WITHIN_DAYS, format: Format = Format.json, csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        """`report repeat-contacts`: customers (by pseudonymous key) coming back within N days."""
        rows = reports.repeat_contacts(state.side, from_, to, department, within_days, datetime.now(timezone.utc)).rows
        return _rows(rows, format, csv_raw)

    @app.get("/api/v1/reports/at-risk", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS)
    def at_risk(
        as_of: AsOf = None, department: Department = None, clock: Clock | None = None,
        policy: PolicyName = PolicyName.started, format: Format = Format.json, csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        """`report at-risk`: open clocks at risk or breached, the most urgent first."""
        question = state.question(None, None, department, clock, as_of, policy)
        rows = state.side.at_risk(question).rows
        return _rows(rows, format, csv_raw)

    @app.get("/api/v1/incidents/{incident_id}", responses=_JSON, tags=["incidents"], dependencies=[Depends(guard)])
    def incident(incident_id: Annotated[str, _IncidentId]) -> Response:
        """The incident's facts in timeline order, without customer data or free text."""
        return _json(_timeline(state.side.reader.app, incident_id))

    @app.get("/api/v1/incidents/{incident_id}/explain", responses=_JSON, tags=["incidents"], dependencies=[Depends(guard)])
    def explain(incident_id: Annotated[str, _IncidentId], as_of: AsOf = None, policy: PolicyName = PolicyName.started) -> Response:
        """`incident explain`: every SLA clock minute by minute, as text."""
        moment = state.moment(as_of)
        screen = Console(file=io.StringIO(), width=120, color_system=None, force_terminal=False)
        sla_explain.print_report(state.side.explain(incident_id, moment, policy.value), screen)
        return _json({"incident_id": incident_id, "as_of": moment.isoformat(), "text": screen.file.getvalue()})  # type: ignore[attr-defined]

    @app.get("/api/v1/projections", responses=_JSON, tags=["operations"], dependencies=[Depends(guard)])
    def projections() -> Response:
        """Each read model's position and lag (notifications, event time, wall time)."""
        return _json(state.side.projection_status(datetime.now(timezone.utc)).rows)

    @app.get("/api/v1/dead-letters", responses=_JSON, tags=["operations"], dependencies=[Depends(guard)])
    def dead_letters(
        reason: Annotated[str | None, Query(max_length=64)] = None, everything: Annotated[bool, Query(alias="all")] = False,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> Response:  # fmt: skip
        """Dead letters (open ones unless all=true): reason, detail and coordinates, no payload."""
        letters = state.tables().dead_letters(reason=reason, open_only=not everything, limit=limit)
        return _json(reports.dead_letter_rows(letters))

    @app.get("/api/v1/dead-letters/summary", responses=_JSON, tags=["operations"], dependencies=[Depends(guard)])
    def dead_letter_summary() -> Response:
        """Open dead letters counted by reason."""
        return _json(state.tables().open_dead_letter_counts())

    return app


_IncidentId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


def _monthly(app: FastAPI, state: _State, guard: Callable[..., None], report: str) -> None:
    @app.get(f"/api/v1/reports/{report}", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS,
             name=f"report_{report}", summary=f"`report {report}`")  # fmt: skip
    def monthly(
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
        to: Month = None, department: Department = None, format: Format = Format.json,
        csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        rows = reports.report_rows(state.side, report, from_, to, department, datetime.now(timezone.utc))
        return _rows(rows, format, csv_raw)


def _sla(app: FastAPI, state: _State, guard: Callable[..., None], path: str, listing: bool) -> None:
    what = "`report sla --list`: one row per incident clock and cycle" if listing else (
        "`report sla`: per department and clock, the clocks' outcomes as of T")

    @app.get(f"/api/v1/reports/{path}", tags=["reports"], dependencies=[Depends(guard)], responses=_ROWS,
             name=f"report_{path.replace('-', '_')}", summary=what)  # fmt: skip
    def sla(
        from_: Annotated[str | None, Query(alias="from", pattern=MONTH_PATTERN)] = None,
        to: Month = None, department: Department = None, clock: Clock | None = None,
        as_of: AsOf = None, status: Annotated[str | None, Query(max_length=32)] = None,
        policy: PolicyName = PolicyName.started, format: Format = Format.json, csv_raw: Flag = False,
    ) -> Response:  # fmt: skip
        question = state.question(from_, to, department, clock, as_of, policy)
        rows = state.side.sla(question, status, listing=listing).rows
        return _rows(rows, format, csv_raw)


class _State:
    """What every request reads: the store, opened read-only once (again when it was not made
    yet at the start and has been made since), and the SLA rules."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._absent = not store_exists(settings.event_store)
        self._side = assembly.read_side(settings)  # every report, read-only
        self.rules = self._side.rules
        self.registry = CollectorRegistry()
        self.latency = Histogram("ticketstream_http_request_seconds", "Request latency", ["route"], registry=self.registry)
        self.stored = Gauge("ticketstream_events_stored", "Events in the event store (head notification id)", registry=self.registry)
        self.position = Gauge("ticketstream_projection_position", "Last notification folded in", ["projection"], registry=self.registry)
        self.lag = Gauge("ticketstream_projection_lag", "Notifications not yet folded in", ["projection"], registry=self.registry)
        self.letters = Gauge("ticketstream_dead_letters_open", "Open dead letters", ["reason"], registry=self.registry)
        self.risky = Gauge("ticketstream_clocks_open", "Open SLA clocks at risk or running breached",
                           ["clock", "department", "status"], registry=self.registry)  # fmt: skip

    @property
    def side(self) -> ReadSide:
        """The read side of the store (an empty one while the store is not made)."""
        if self._absent and store_exists(self.settings.event_store):
            self._side, self._absent = assembly.read_side(self.settings), False
        return self._side

    def tables(self) -> IngestTables:
        """The ingest loop's tables (dead letters), read-only."""
        return assembly.read_only_tables(self.side)

    def moment(self, as_of: str | None) -> datetime:
        return sla_reports.parse_instant(as_of, self.settings.zone, datetime.now(timezone.utc))

    def question(
        self, first: str | None, last: str | None, department: str | None, clock: Enum | None,
        as_of: str | None, policy: PolicyName,
    ) -> sla_reports.SlaQuestion:  # fmt: skip
        moment = self.moment(as_of)
        period = Period.of(first, last, moment, self.settings.zone)
        which = ClockFilter(period, department, None if clock is None else str(clock.value))
        return sla_reports.SlaQuestion(which, moment, policy.value)

    def refresh_gauges(self) -> None:
        statuses = self.side.projection_status(datetime.now(timezone.utc)).rows
        self.stored.set(max((int(s["head"]) for s in statuses), default=0))
        for s in statuses:
            self.position.labels(str(s["projection"])).set(int(s["position"]))
            self.lag.labels(str(s["projection"])).set(int(s["lag"]))
        self.letters.clear()
        for reason, count in self.tables().open_dead_letter_counts().items():
            self.letters.labels(reason).set(count)
        self.risky.clear()
        question = sla_reports.SlaQuestion(ClockFilter(Period("0000-01", "9999-12"), None, None),
                                           datetime.now(timezone.utc), "started")  # fmt: skip
        rows = self.side.at_risk(question).rows
        for (clock, department, status), count in Counter(
            (str(r["clock"]), str(r["department"]), str(r["status"])) for r in rows
        ).items():
            self.risky.labels(clock, department, status).set(count)


def _token_guard(token: str | None) -> Callable[..., None]:
    def guard(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
            raise HTTPException(401, "a valid Authorization: Bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    return guard


def _register_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = [
            {"parameter": ".".join(str(p) for p in e.get("loc", ())[1:]) or "request", "problem": e.get("msg", "")}
            for e in err.errors()
        ]  # fmt: skip
        names = ", ".join(p["parameter"] for p in problems)
        return _problem(422, "Invalid parameter", f"invalid: {names}", errors=problems)

    @app.exception_handler(HTTPException)
    async def http(request: Request, err: HTTPException) -> JSONResponse:
        return _problem(err.status_code, "Unauthorized" if err.status_code == 401 else "Error", str(err.detail),
                        headers=err.headers)  # fmt: skip

    @app.exception_handler(TicketstreamError)
    @app.exception_handler(QueryError)
    @app.exception_handler(ProjectionError)
    async def refused(request: Request, err: Exception) -> JSONResponse:
        message = " ".join(str(err).split())
        status = 404 if message.startswith("no incident") else 400
        return _problem(status, "Not found" if status == 404 else "Bad request", message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        # Never a traceback or a value from the store in a response; the log has the type.
        return _problem(500, "Internal error", f"the request failed ({type(err).__name__})")


def _problem(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _rows(rows: list[dict[str, Any]], fmt: Format, csv_raw: bool) -> Response:
    if fmt == Format.csv:
        return PlainTextResponse(to_csv(rows, raw=csv_raw), media_type="text/csv; charset=utf-8")
    return _json(rows)


def _json(value: object) -> Response:
    """The CLI's JSON (the same text `--format json` prints)."""
    return Response(json_text(value), media_type="application/json")


def _timeline(app: Incidents, incident_id: str) -> dict[str, object]:
    events = [e for e in app.history(incident_id) if isinstance(e, Incident.Event)]
    if not events:
        raise TicketstreamError(f"no incident '{incident_id}' in the event store")
    facts = [
        {"event_id": e.event_id, "kind": e.KIND, "occurred_at": e.occurred_at, "source": e.source,
         "sequence": e.sequence,
         "details": {k: v for k, v in vars(e).items() if k not in _WITHHELD and k not in
                     {"event_id", "occurred_at", "source", "sequence"} and v is not None}}
        for e in in_timeline_order(events)
    ]  # fmt: skip
    return {"incident_id": incident_id, "facts": facts, "withheld": sorted(_PERSONAL)}
