"""The leaders' dashboard (督查看板) and the quarterly supervision report
(季度督查通报): issue it in Word, Excel or CSV, and download what was issued."""
from __future__ import annotations

import html
import io
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
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
    build_supervision,
    chinese_number,
    format_number,
    format_share,
)
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


def chart_data(data) -> dict:
    """The numbers the charts draw; the page shows the same numbers as tables."""
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
                "periods": [p.period_code for p in t.series],
                "planned": [round(p.planned, 2) for p in t.series],
                "actual": [None if p.actual is None else round(p.actual, 4) for p in t.series],
            }
            for t in data.targets
        ],
    }


# The two big tables of the page (a row per target per period under each
# chart, a cell per unit per period) are joined here: escaping each of some
# ten thousand cells one by one in the template was a fifth of the page's time.
def _rows_html(rows) -> Markup:
    return Markup("".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    ))


def _cells_html(cells) -> Markup:
    return Markup("".join(
        f'<td title="{html.escape(title)}">{html.escape(text)}</td>' for text, title in cells
    ))


@bp.get("/")
def index():
    authorize(current_user, "dashboard.view")
    plans = _plans()
    plan = _chosen_plan(plans, request.args.get("plan"))
    as_of = _as_of()
    period = resolve_period(db.session(), plan, request.args.get("period"), as_of)
    data = build_supervision(db.session(), plan, period, as_of=as_of)
    return render_template(
        "dashboard/index.html",
        data=data,
        plans=plans,
        Light=Light,
        TaskState=TaskState,
        charts=chart_data(data),
        target_tables=[_rows_html(
            (p.period_code, format_number(round(p.planned, 2)),
             "—" if p.actual is None else format_number(round(p.actual, 4)))
            for p in t.series) for t in data.targets],
        punctuality_rows=[_cells_html(
            (format_share(u.rate(p.code)), "{}/{}".format(*u.per_period.get(p.code, (0, 0))))
            for p in data.reported_periods) for u in data.punctuality],
        fmt_share=format_share,
        fmt_number=format_number,
        can_export=can(current_user, "report.export"),
    )


@bp.route("/reports", methods=["GET", "POST"])
def reports():
    authorize(current_user, "report.export")
    plans = _plans()
    plan = _chosen_plan(plans, request.values.get("plan"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            fmt = parse_format(request.form.get("format", ""))
            code = request.form.get("period", "").strip()
            if not code:
                raise ValidationError("请选择报送期次", field_errors={"period": "请选择期次"})
            period = resolve_period(db.session(), plan, code, today())
            row, _ = report_archive.issue_report(acting_user(), plan, period, fmt)
        except DomainError as exc:
            db.session.rollback()
            errors = {"form": exc.message, **exc.field_errors}
        else:
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
        formats=list(ExportFormat),
        issued=issued,
        just_issued=request.args.get("issued", type=int),
        errors=errors,
    ), (400 if errors else 200)


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
