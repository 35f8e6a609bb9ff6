"""The monthly customer-service report as one self-contained page: `report html` writes it,
`serve` shows it at `/` with a month picker and a department filter.

Sections follow the department's slides: incident dynamics over all years, the month's
channel mix and its trend, the month in numbers, reasons for long service with a Pareto, the
share of thanks by month, SLA compliance per department and clock with the clocks at risk.
Charts are inline SVG computed here from numbers; every text from the store goes through
Jinja2 with autoescaping on, and the page has no script at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jinja2 import Environment, select_autoescape

from projections.month import month_of, shift_month
from projections.queries import Period, Row
from projections.read_side import ReadSide
from projections.report import Report
from projections.sla_queries import ClockFilter
from projections.sla_report import SlaQuestion
from ticketstream import reports

Lang = Literal["en", "ru"]
# No script, no remote anything: styles inline, images only as data.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
AT_RISK_SHOWN = 20

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customer service report", "month": "Month", "department": "Department",
        "all": "all departments", "show": "Show", "as_of": "as of", "policy": "SLA policy",
        "dynamics": "Incident dynamics", "incidents": "incidents", "channels": "Channel mix",
        "channel_trend": "Channel mix, last 12 months", "contacts": "contacts", "share": "share",
        "summary": "The month in numbers", "thanks": "thanks", "long_service": "Reasons for long service",
        "headline": "{n} of {m} incidents ({p})", "cause": "root cause", "breached": "breached",
        "cumulative": "cumulative", "resolved": "resolved", "thanks_share": "Share of thanks",
        "sla": "SLA compliance", "clock": "clock", "started": "started", "met": "met",
        "compliance": "compliance", "running": "running", "at_risk": "Clocks at risk or overdue",
        "due": "due", "left": "minutes left", "none": "none", "no_data": "no data for this month",
        "quality": "Service quality (counter-metrics)", "csat": "CSAT good / neutral / bad",
        "response": "rated", "reopens": "reopened", "quick": "reopened quickly", "fcr": "first-contact resolution",
        "escalations": "escalated",
    },
    "ru": {
        "title": "Отчёт службы клиентского сервиса", "month": "Месяц", "department": "Отдел",
        "all": "все отделы", "show": "Показать", "as_of": "на момент", "policy": "Политика SLA",
        "dynamics": "Динамика обращений", "incidents": "обращений", "channels": "Каналы обращений",
        "channel_trend": "Каналы за 12 месяцев", "contacts": "контактов", "share": "доля",
        "summary": "Месяц в цифрах", "thanks": "благодарностей", "long_service": "Причины длительного обслуживания",
        "headline": "{n} из {m} обращений ({p})", "cause": "причина", "breached": "с нарушением",
        "cumulative": "накопительно", "resolved": "решено", "thanks_share": "Доля благодарностей",
        "sla": "Соблюдение SLA", "clock": "таймер", "started": "запущено", "met": "в срок",
        "compliance": "соблюдение", "running": "в работе", "at_risk": "Под угрозой и просроченные",
        "due": "срок", "left": "осталось минут", "none": "нет", "no_data": "нет данных за этот месяц",
        "quality": "Качество обслуживания (контрметрики)", "csat": "CSAT хорошо / нейтрально / плохо",
        "response": "оценено", "reopens": "переоткрыто", "quick": "быстро переоткрыто", "fcr": "решено с первого контакта",
        "escalations": "эскалировано",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Dashboard:
    """Everything the page shows, as numbers and rows (rendering only lays them out)."""

    month: str
    department: str | None
    as_of: str
    policy: str
    months: list[str]
    departments: list[str]
    dynamics: list[Row]
    channels: list[Row]
    channel_trend: list[Row]
    summary: dict[str, int | float]
    root_causes: list[Row]
    headline: tuple[int, int, float]
    thanks: list[Row]
    sla: list[Row]
    at_risk: list[Row]
    quality: list[Row]


def gather(side: ReadSide, month: str | None, department: str | None, as_of: datetime) -> Dashboard:
    """The page's figures for ``month`` (default: the latest month with incidents up to T)."""
    zone = side.zone
    everything = reports.report_rows(side, "dynamics", None, month_of(as_of, zone), None, as_of)
    months = [str(r["month"]) for r in everything if r["incidents"]]
    chosen: str = month or (months[-1] if months else month_of(as_of, zone))
    departments = side.departments(chosen)

    def rows(name: str, first: str | None, last: str) -> list[Row]:
        return reports.report_rows(side, name, first, last, department, as_of)

    dynamics = rows("dynamics", None, chosen)
    channels = rows("channels", chosen, chosen)
    thanks = rows("thanks", None, chosen)
    question = SlaQuestion(ClockFilter(Period(chosen, chosen), department, None), as_of, "started")
    sla, title = _answer(side.sla(question))
    causes, _ = _answer(side.root_causes(question))
    at_risk, _ = _answer(side.at_risk(question))
    month_thanks = next((r for r in thanks if r["month"] == chosen), {"contacts": 0, "thanks": 0, "share": 0.0})
    incidents = int(next((r["incidents"] for r in dynamics if r["month"] == chosen), 0))
    resolved = sum(int(r["resolved"]) for r in causes)
    breached = sum(int(r["breached"]) for r in causes)
    return Dashboard(
        month=chosen, department=department, as_of=as_of.isoformat(timespec="minutes"),
        policy=title.split(" — ", 1)[-1].split(", under ", 1)[-1], months=months or [chosen], departments=departments,
        dynamics=dynamics, channels=channels, channel_trend=rows("channels", shift_month(chosen, -11), chosen),
        summary={"incidents": incidents, "contacts": int(month_thanks["contacts"]),
                 "thanks": int(month_thanks["thanks"]), "thanks_share": float(month_thanks["share"])},
        root_causes=causes, headline=(breached, resolved, breached / resolved if resolved else 0.0),
        thanks=thanks, sla=[r for r in sla if r["department"] != "(all)" or department is None],
        at_risk=at_risk[:AT_RISK_SHOWN],
        quality=reports.quality_report(side, chosen, chosen, department, as_of).rows,
    )  # fmt: skip


def _answer(answer: Report) -> tuple[list[Row], str]:
    return answer.rows, answer.title


def render_page(board: Dashboard, lang: Lang, *, picker: bool) -> str:
    """The page as HTML text; ``picker``: with the month and department form (served)."""
    return _TEMPLATE.render(
        b=board, t=LABELS[lang], lang=lang, picker=picker, csp=CSP,
        dynamics_line=_line([(r["month"], float(r["incidents"])) for r in board.dynamics]),
        thanks_line=_line([(r["month"], float(r["share"])) for r in board.thanks]),
        channel_bars=_bars([(str(r["channel"]), float(r["contacts"])) for r in board.channels]),
        trend=_trend(board.channel_trend),
        pct=lambda v: "-" if v is None else f"{float(v) * 100:.1f} %",
    )


@dataclass(frozen=True)
class _Line:
    points: str
    width: int
    height: int
    first: str
    last: str
    top: float


def _line(series: list[tuple[str, float]], width: int = 640, height: int = 160) -> _Line | None:
    if not series:
        return None
    top = max(v for _, v in series) or 1.0
    step = width / max(len(series) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - v / top * (height - 10):.1f}" for i, (_, v) in enumerate(series))
    return _Line(points, width, height, series[0][0], series[-1][0], top)


def _bars(series: list[tuple[str, float]], width: int = 420) -> list[dict[str, Any]]:
    top = max((v for _, v in series), default=0.0) or 1.0
    return [{"label": label, "value": value, "width": round(value / top * width, 1), "y": i * 26}
            for i, (label, value) in enumerate(sorted(series, key=lambda s: -s[1]))]  # fmt: skip


def _trend(rows: list[Row]) -> dict[str, Any]:
    months = sorted({str(r["month"]) for r in rows})
    channels = sorted({str(r["channel"]) for r in rows})
    shares = {(str(r["month"]), str(r["channel"])): float(r["share"]) for r in rows}
    return {"months": months, "channels": channels, "shares": shares}


_TEMPLATE = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>{{ t.title }} — {{ b.month }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
section{margin:1.5rem 0;padding:1rem;border:1px solid #ddd;border-radius:6px}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#777}
svg text{font-size:11px;fill:#444}
</style></head><body>
<h1>{{ t.title }} — <span id="chosen-month">{{ b.month }}</span>{% if b.department %} — <span id="chosen-department">{{ b.department }}</span>{% endif %}</h1>
<p class="muted" id="as-of">{{ t.as_of }} {{ b.as_of }}; {{ t.policy }}: {{ b.policy }}</p>
{% if picker %}
<form method="get" action="/" id="picker">
<label>{{ t.month }} <select name="month" id="month">{% for m in b.months|reverse %}<option value="{{ m }}"{% if m == b.month %} selected{% endif %}>{{ m }}</option>{% endfor %}</select></label>
<label>{{ t.department }} <select name="department" id="department"><option value="">{{ t.all }}</option>{% for d in b.departments %}<option value="{{ d }}"{% if d == b.department %} selected{% endif %}>{{ d }}</option>{% endfor %}</select></label>
<input type="hidden" name="lang" value="{{ lang }}"><button type="submit" id="show">{{ t.show }}</button>
</form>
{% endif %}
<section id="summary"><h2>{{ t.summary }}</h2>
<p><b data-figure="incidents">{{ b.summary.incidents }}</b> {{ t.incidents }} ·
<b data-figure="contacts">{{ b.summary.contacts }}</b> {{ t.contacts }} ·
<b data-figure="thanks">{{ b.summary.thanks }}</b> {{ t.thanks }} ({{ pct(b.summary.thanks_share) }})</p></section>
<section id="dynamics"><h2>{{ t.dynamics }}</h2>
{% if dynamics_line %}<svg width="{{ dynamics_line.width }}" height="{{ dynamics_line.height + 20 }}" role="img" aria-label="{{ t.dynamics }}">
<polyline fill="none" stroke="#2a6ebb" stroke-width="2" points="{{ dynamics_line.points }}"/>
<text x="0" y="{{ dynamics_line.height + 15 }}">{{ dynamics_line.first }}</text><text x="{{ dynamics_line.width - 50 }}" y="{{ dynamics_line.height + 15 }}">{{ dynamics_line.last }}</text>
<text x="0" y="10">max {{ dynamics_line.top|int }}</text></svg>{% else %}<p>{{ t.no_data }}</p>{% endif %}
<table><tr><th>{{ t.month }}</th><th>{{ t.incidents }}</th></tr>{% for r in b.dynamics[-12:] %}<tr><td>{{ r.month }}</td><td class="n" data-month="{{ r.month }}">{{ r.incidents }}</td></tr>{% endfor %}</table></section>
<section id="channels"><h2>{{ t.channels }}</h2>
{% if channel_bars %}<svg width="640" height="{{ channel_bars|length * 26 + 4 }}" role="img" aria-label="{{ t.channels }}">{% for bar in channel_bars %}
<rect x="180" y="{{ bar.y }}" width="{{ bar.width }}" height="20" fill="#2a6ebb"/><text x="0" y="{{ bar.y + 14 }}">{{ bar.label }}</text><text x="{{ 185 + bar.width }}" y="{{ bar.y + 14 }}">{{ bar.value|int }}</text>{% endfor %}</svg>{% else %}<p>{{ t.no_data }}</p>{% endif %}
<table><tr><th>channel</th><th>{{ t.contacts }}</th><th>{{ t.share }}</th></tr>{% for r in b.channels %}<tr><td>{{ r.channel }}</td><td class="n" data-channel="{{ r.channel }}">{{ r.contacts }}</td><td class="n">{{ pct(r.share) }}</td></tr>{% endfor %}</table></section>
<section id="channel-trend"><h2>{{ t.channel_trend }}</h2>
<table><tr><th>channel</th>{% for m in trend.months %}<th>{{ m }}</th>{% endfor %}</tr>{% for ch in trend.channels %}<tr><td>{{ ch }}</td>{% for m in trend.months %}<td class="n">{{ pct(trend.shares.get((m, ch), 0)) }}</td>{% endfor %}</tr>{% endfor %}</table></section>
<section id="long-service"><h2>{{ t.long_service }}</h2>
<p id="headline"><b>{{ t.headline.format(n=b.headline[0], m=b.headline[1], p=pct(b.headline[2])) }}</b></p>
<table><tr><th>{{ t.cause }}</th><th>{{ t.breached }}</th><th>{{ t.share }}</th><th>{{ t.cumulative }}</th><th>{{ t.resolved }}</th></tr>{% for r in b.root_causes %}<tr><td>{{ r.root_cause }}</td><td class="n">{{ r.breached }}</td><td class="n">{{ pct(r.share) }}</td><td class="n">{{ pct(r.cumulative_share) }}</td><td class="n">{{ r.resolved }}</td></tr>{% endfor %}</table></section>
<section id="thanks"><h2>{{ t.thanks_share }}</h2>
{% if thanks_line %}<svg width="{{ thanks_line.width }}" height="{{ thanks_line.height + 20 }}" role="img" aria-label="{{ t.thanks_share }}">
<polyline fill="none" stroke="#3a9d5d" stroke-width="2" points="{{ thanks_line.points }}"/>
<text x="0" y="{{ thanks_line.height + 15 }}">{{ thanks_line.first }}</text><text x="{{ thanks_line.width - 50 }}" y="{{ thanks_line.height + 15 }}">{{ thanks_line.last }}</text></svg>{% else %}<p>{{ t.no_data }}</p>{% endif %}
<table><tr><th>{{ t.month }}</th><th>{{ t.thanks }}</th><th>{{ t.share }}</th></tr>{% for r in b.thanks[-12:] %}<tr><td>{{ r.month }}</td><td class="n">{{ r.thanks }}</td><td class="n">{{ pct(r.share) }}</td></tr>{% endfor %}</table></section>
<section id="sla"><h2>{{ t.sla }}</h2>
<table><tr><th>{{ t.department }}</th><th>{{ t.clock }}</th><th>{{ t.started }}</th><th>{{ t.met }}</th><th>{{ t.breached }}</th><th>{{ t.running }}</th><th>{{ t.compliance }}</th></tr>{% for r in b.sla %}<tr><td>{{ r.department }}</td><td>{{ r.clock }}</td><td class="n">{{ r.started }}</td><td class="n">{{ r.met }}</td><td class="n">{{ r.breached }}</td><td class="n">{{ r.running }}</td><td class="n">{{ pct(r.compliance) }}</td></tr>{% endfor %}</table>
<h3>{{ t.at_risk }}</h3>{% if b.at_risk %}<table><tr><th>incident</th><th>{{ t.clock }}</th><th>{{ t.department }}</th><th>{{ t.left }}</th><th>{{ t.due }}</th></tr>{% for r in b.at_risk %}<tr><td>{{ r.incident_id }}</td><td>{{ r.clock }}</td><td>{{ r.department }}</td><td class="n">{{ r.minutes_left }}</td><td>{{ r.due }}</td></tr>{% endfor %}</table>{% else %}<p>{{ t.none }}</p>{% endif %}
</section>
<section id="quality"><h2>{{ t.quality }}</h2>
{% if b.quality %}<table><tr><th>{{ t.department }}</th><th>{{ t.incidents }}</th><th>{{ t.resolved }}</th><th>{{ t.csat }}</th><th>{{ t.response }}</th><th>{{ t.reopens }}</th><th>{{ t.quick }}</th><th>{{ t.fcr }}</th><th>{{ t.escalations }}</th></tr>{% for r in b.quality %}<tr><td>{{ r.department }}</td><td class="n">{{ r.incidents }}</td><td class="n">{{ r.resolved }}</td><td class="n">{{ r.rated_good }} / {{ r.rated_neutral }} / {{ r.rated_bad }}</td><td class="n">{{ pct(r.response_rate) }}</td><td class="n">{{ pct(r.reopen_rate) }}</td><td class="n">{{ pct(r.quick_reopen_rate) }}</td><td class="n">{{ pct(r.first_contact_resolution) }}</td><td class="n">{{ pct(r.escalation_rate) }}</td></tr>{% endfor %}</table>{% else %}<p>{{ t.no_data }}</p>{% endif %}
</section>
</body></html>
"""
)
