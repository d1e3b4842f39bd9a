"""The leaders' dashboard (督查看板) and the quarterly supervision report
(季度督查通报): issue it in Word, Excel or CSV, and download what was issued."""
from __future__ import annotations

import html
import io
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import defer

from .. import db
from ..errors import DomainError, NotFound, ValidationError
from ..domain.clock import today
from ..domain.lights import Light
from ..domain.periods import has_ended, resolve_period
from ..models import ExportFormat, Plan, PlanStatus, TaskState
from ..policy import authorize, can
from ..reports.export import parse_format
from ..reports.supervision import (
    chinese_number,
    format_number,
    format_share,
)
from ..services import dashboard as dashboard_service
from ..services import report_archive
from . import acting_user

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _plans() -> list[Plan]:
    # Not the documents' full text: only the selector needs the plans.
    return list(db.session.scalars(
        select(Plan).options(defer(Plan.source_text), defer(Plan.notes))
        .where(Plan.status == PlanStatus.PUBLISHED)  # a draft owes nothing yet
        .order_by(Plan.issued_on.desc(), Plan.id.desc())
    ))


def _chosen_plan(plans: list[Plan], value: str | None) -> Plan:
    if not plans:
        raise NotFound("尚未导入行动计划")
    if value:
        for plan in plans:
            if str(plan.id) == value:
                return plan
        raise NotFound("未找到该计划")
    return plans[0]


def _as_of() -> date:
    # For looking at the dashboard as it stood on a day (?as_of=2025-07-10).
    value = request.args.get("as_of", "").strip()
    if not value:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"日期格式应为 YYYY-MM-DD:{value}") from None


def _plan_id() -> int | None:
    value = request.args.get("plan", "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise NotFound("未找到该计划")
    return int(value)


def chart_data(data, targets) -> dict:
    """The numbers the charts draw (`targets`: the ones whose charts are on
    the page); the page shows the same numbers as tables."""
    return {
        "sections": [
            {"name": f"({chinese_number(s.number)}){s.title}",
             "green": c.lights[Light.GREEN], "yellow": c.lights[Light.YELLOW], "red": c.lights[Light.RED]}
            for s, c in data.by_section
        ],
        "targets": [
            {
                "id": t.target.id,
                "name": t.name,
                "measure": t.target.measure,
                "goal": float(t.target.value),
                "baseline_known": t.baseline_known,
                "periods": [p.period_code for p in t.series],
                "planned": [None if p.planned is None else round(p.planned, 2) for p in t.series],
                "actual": [None if p.actual is None else round(p.actual, 4) for p in t.series],
            }
            for t in targets
        ],
    }


# The big tables of the page (a row per target per period under each chart,
# a cell per unit per period) are joined here: escaping each of some ten
# thousand cells one by one in the template was a fifth of the page's time.
def _rows_html(rows) -> Markup:
    return Markup("".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    ))


def _punctuality_rows(data) -> list[Markup]:
    """Each unit's cells, one per period judged: its on-time rate with the
    counts as the title. A cell is written once per distinct (on time, owed)
    pair: some 1,300 cells hold a few dozen."""
    codes = [p.code for p in data.reported_periods]
    written: dict[tuple[int, int], str] = {}
    rows = []
    for u in data.punctuality:
        cells = []
        for code in codes:
            counts = u.per_period.get(code, (0, 0))
            cell = written.get(counts)
            if cell is None:
                title = "{}/{}".format(*counts)
                cell = written[counts] = f'<td title="{html.escape(title)}">{html.escape(format_share(u.rate(code)))}</td>'
            cells.append(cell)
        rows.append(Markup("".join(cells)))
    return rows


def _allocation_rows(t) -> Markup:
    """The rows of a split target's shares under its row in the targets
    table (some 300 rows of 7 cells: written here, not cell by cell in the
    template). Numbers and shares are digits, signs and %: only the names
    are escaped."""
    measure, time_share = escape(t.target.measure), format_share(t.time_share)
    return Markup("".join(
        f'<tr class="allocation"><td>其中:{escape(a.unit.short_name)}</td>'
        f'<td>分解 {format_number(a.value)}{measure}</td><td>{format_number(a.baseline)}</td>'
        f'<td>{format_number(a.actual)}</td><td>{format_share(a.share)}</td>'
        f'<td>{time_share}</td><td></td></tr>'
        for a in t.allocations
    ))


def _view_url(data):
    """The link to a view (and page) of the dashboard for the same plan,
    period and day; each one built once (the targets table links each of its
    rows to its chart's page)."""
    as_of = request.args.get("as_of") or None
    built: dict[tuple[str, int | None], str] = {}

    def view_url(name: str, page: int | None = None) -> str:
        url = built.get((name, page))
        if url is None:
            url = built[(name, page)] = url_for(
                "dashboard.index", plan=data.plan.id, period=data.period.code,
                view=(name if name != "summary" else None), as_of=as_of, page=page)
        return url

    return view_url


class _Pager:
    """One page of a list, from ?page=."""

    def __init__(self, items: list, size: int = dashboard_service.PAGE_SIZE):
        self.total = len(items)
        self.pages = max(1, -(-self.total // size))
        try:
            number = int(request.args.get("page", "1"))
        except ValueError:
            number = 1
        self.number = min(max(number, 1), self.pages)
        self.start = (self.number - 1) * size
        self.items = items[self.start:self.start + size]


@bp.get("/")
def index():
    """One screen of summary (lights by action, targets against 序时进度,
    what is late); each detail one click away as its own view (?view=)."""
    view_name = dashboard_service.parse_view(request.args.get("view"))
    view = dashboard_service.dashboard_view(acting_user(), _as_of(), plan_id=_plan_id(),
                                            period_code=request.args.get("period"), view=view_name)
    data = view.data
    context = {}
    if view_name == "tasks":
        context["pager"] = _Pager(data.tasks)
    elif view_name == "units":
        context["pager"] = _Pager(data.by_unit)
    elif view_name == "targets":
        pager = _Pager(data.targets, size=8)
        context["pager"] = pager
        context["target_tables"] = [_rows_html(
            (p.period_code, "—" if p.planned is None else format_number(round(p.planned, 2)),
             "—" if p.actual is None else format_number(round(p.actual, 4)))
            for p in t.series) for t in pager.items]
        context["allocation_rows"] = [_allocation_rows(t) for t in data.targets]
    elif view_name == "late":
        context["pager"] = _Pager(view.late_items)
    elif view_name == "punctuality":
        context["punctuality_rows"] = _punctuality_rows(data)
    # Only the targets view draws targets, the ones of its page.
    charts = chart_data(data, context["pager"].items if view_name == "targets" else [])
    return render_template(
        "dashboard/index.html",
        view=view,
        data=data,
        view_name=view_name,
        views=dashboard_service.VIEWS,
        summary_rows=dashboard_service.SUMMARY_ROWS,
        plans=view.plans,
        Light=Light,
        TaskState=TaskState,
        charts=charts,
        fmt_share=format_share,
        fmt_number=format_number,
        can_export=can(current_user, "report.export"),
        view_url=_view_url(data),
        **context,
    )


@bp.route("/reports", methods=["GET", "POST"])
def reports():
    """签发: choose the period and write 下一步工作要求, see the 通报's first
    page and its figures, then confirm. Nothing is issued without the
    confirmation (step=issue)."""
    authorize(current_user, "report.export")
    plans = _plans()
    plan = _chosen_plan(plans, request.values.get("plan"))
    errors: dict[str, str] = {}
    preview = None
    status = 200
    if request.method == "POST":
        step = request.form.get("step", "preview")
        next_steps = request.form.get("next_steps", "")
        try:
            fmt = parse_format(request.form.get("format", ""))
            code = request.form.get("period", "").strip()
            if not code:
                raise ValidationError("请选择报送期次", field_errors={"period": "请选择期次"})
            period = resolve_period(db.session(), plan, code, today())
            if step == "issue":
                if fmt is ExportFormat.DOCX and not next_steps.strip():
                    raise ValidationError("签发 Word 通报前请填写下一步工作要求",
                                          field_errors={"next_steps": "请填写下一步工作要求"})
                row, _ = report_archive.issue_report(acting_user(), plan, period, fmt, as_of=today(),
                                                     next_steps=next_steps)
            else:
                data, blocks, figures = report_archive.preview_report(
                    acting_user(), plan, period, as_of=today(), next_steps=next_steps)
                preview = {"data": data, "first_page": first_page(blocks), "figures": figures,
                           "pages_hint": len(blocks), "format": fmt}
        except DomainError as exc:
            db.session.rollback()
            errors = {"form": exc.message, **exc.field_errors}
            status = 400
        else:
            if step == "issue":
                flash(f"已签发并归档:{row.filename}", "success")
                return redirect(url_for("dashboard.reports", plan=plan.id, issued=row.id))
    issued = report_archive.list_issued(acting_user(), plan_id=plan.id)
    # Only periods that are over can be issued (the service refuses the others too).
    periods = [p for p in sorted(plan.periods, key=lambda p: p.starts_on) if has_ended(p, today())]
    default_period = resolve_period(db.session(), plan, None, today())
    return render_template(
        "dashboard/reports.html",
        plans=plans,
        plan=plan,
        periods=periods,
        default_period=request.form.get("period") or default_period.code,
        default_format=request.form.get("format") or ExportFormat.DOCX.value,
        next_steps=request.form.get("next_steps", ""),
        formats=list(ExportFormat),
        issued=issued,
        just_issued=request.args.get("issued", type=int),
        preview=preview,
        Light=Light,
        fmt_share=format_share,
        errors=errors,
    ), status


def first_page(blocks) -> list:
    """The blocks that fill the first A4 page of the Word file, roughly: 22
    lines of 28 characters at 三号 (the title takes two lines a row of 22)."""
    lines, shown = 0.0, []
    for block in blocks:
        if block.kind == "table":
            cost = 2 + len(block.rows) * 0.8
        elif block.kind == "title":
            cost = -(-len(block.text) // 22) * 1.3
        else:
            cost = -(-(len(block.text) + 2) // 28)
        if lines + cost > 22 and shown:
            break
        shown.append(block)
        lines += cost
    while shown and shown[-1].kind in ("h1", "h2"):
        shown.pop()  # a heading goes over with its text, as Word keeps it
    return shown


@bp.get("/archive")
def archive():
    """The archive of issued 通报 with their SHA-256, for admins and
    auditors to check the stored files against (they do not read them)."""
    rows = report_archive.list_archive(acting_user())
    return render_template("dashboard/archive.html", issued=rows)


@bp.get("/reports/<int:report_id>/download")
def download(report_id: int):
    row, content = report_archive.read_issued(acting_user(), report_id)
    return send_file(
        io.BytesIO(content),
        mimetype=row.format.media_type,
        as_attachment=True,
        download_name=row.filename,
        etag=row.sha256,
        max_age=0,
    )
