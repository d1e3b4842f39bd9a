"""Issuing the quarterly supervision report: build it from approved data,
store the file in the archive under its SHA-256, and record who issued it
and when, so that it downloads later byte for byte the same."""
from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..db import session
from ..domain.clock import today as local_today
from ..domain.periods import has_ended, not_ended_message
from ..errors import NotFound, ValidationError
from ..models import ExportFormat, IssuedReport, Plan, ReportingPeriod, User
from ..policy import Operator, authorize
from ..reports.export import filename, render
from ..reports.bulletin import NEXT_STEPS_MAX, Block, Figures, blocks, figures
from ..reports.supervision import Supervision, build_supervision
from . import audit


def archive_dir() -> Path:
    return Path(current_app.config["ARCHIVE_DIR"])


def _stored_path(sha256: str, fmt: ExportFormat) -> Path:
    return archive_dir() / sha256[:2] / f"{sha256}.{fmt.value}"


def _store(content: bytes, sha256: str, fmt: ExportFormat) -> None:
    path = _stored_path(sha256, fmt)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside it and rename, so that a half-written file is never seen.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def issue_report(
    actor: User | Operator,
    plan: Plan,
    period: ReportingPeriod,
    fmt: ExportFormat,
    *,
    as_of: date | None = None,
    next_steps: str = "",
) -> tuple[IssuedReport, bytes]:
    """Build, archive and record one report. `actor` policy.SYSTEM is the
    command line run by the operator of the server. `next_steps` (下一步工作要求)
    is the Word 通报's last section, kept with the issued row."""
    authorize(actor, "report.export")
    data = _report_data(plan, period, as_of)
    next_steps = clean_next_steps(next_steps)
    content = render(fmt, data, next_steps=next_steps)
    digest = hashlib.sha256(content).hexdigest()
    # The file goes first: a row never points at a file that is missing,
    # and a file left by a rolled-back transaction is harmless.
    _store(content, digest, fmt)
    row = IssuedReport(
        plan_id=plan.id,
        period_id=period.id,
        format=fmt,
        filename=filename(fmt, data),
        sha256=digest,
        size=len(content),
        issued_by_id=actor.id if actor else None,
        issued_by_login=actor.login if actor else "",
        next_steps=next_steps,
    )
    session().add(row)
    session().flush()
    audit.record(
        actor, "report.issue", obj=row,
        detail={"plan": plan.document_number, "period": period.code, "format": fmt.value,
                "sha256": digest, "size": len(content)},
        actor_login=None if actor else "cli",
    )
    return row, content


def _report_data(plan: Plan, period: ReportingPeriod, as_of: date | None) -> Supervision:
    """What a 通报 of `period` says on `as_of` (default today): refused for a
    day after today or a period not yet over."""
    if period.plan_id != plan.id:
        raise ValidationError("报送期次不属于该计划", field_errors={"period": "期次与计划不符"})
    today = local_today()
    as_of = as_of or today
    if as_of > today:
        raise ValidationError(f"数据截止日期 {as_of.isoformat()} 晚于今天({today.isoformat()}),不能签发",
                              field_errors={"as_of": "不能晚于今天"})
    # A 通报 is about a period that is over, on the day its data is taken.
    if not has_ended(period, as_of):
        raise ValidationError(not_ended_message(period, as_of), field_errors={"period": "该期次尚未结束"})
    # An earlier day shows the data as it stood then, not as it is now.
    return build_supervision(session(), plan, period, as_of=as_of, historic=as_of < today)


def clean_next_steps(text: str | None) -> str:
    """下一步工作要求 as typed, without blank lines; refused when too long."""
    lines = [line.strip() for line in (text or "").replace("\r\n", "\n").split("\n")]
    cleaned = "\n".join(line for line in lines if line)
    if len(cleaned) > NEXT_STEPS_MAX:
        raise ValidationError(f"下一步工作要求不能超过 {NEXT_STEPS_MAX} 字(现 {len(cleaned)} 字)",
                              field_errors={"next_steps": f"不超过 {NEXT_STEPS_MAX} 字"})
    return cleaned


def preview_report(actor: User, plan: Plan, period: ReportingPeriod, *, as_of: date | None = None,
                   next_steps: str = "") -> tuple[Supervision, list[Block], Figures]:
    """What issuing would put in the 通报, without issuing it: the same data,
    the same blocks the Word file is written from, and its figures."""
    authorize(actor, "report.export")
    data = _report_data(plan, period, as_of)
    return data, blocks(data, clean_next_steps(next_steps)), figures(data)


def list_issued(actor: User, *, plan_id: int | None = None, limit: int = 200) -> list[IssuedReport]:
    authorize(actor, "report.export")
    query = select(IssuedReport).options(selectinload(IssuedReport.period), selectinload(IssuedReport.plan),
                                         selectinload(IssuedReport.issued_by).joinedload(User.unit))
    if plan_id is not None:
        query = query.where(IssuedReport.plan_id == plan_id)
    return list(session().scalars(query.order_by(IssuedReport.id.desc()).limit(limit)))


def list_archive(actor: User, *, limit: int = 500) -> list[IssuedReport]:
    """Every issued file with its SHA-256 (report.archive: admins, auditors)."""
    authorize(actor, "report.archive")
    query = (select(IssuedReport)
             .options(selectinload(IssuedReport.period), selectinload(IssuedReport.plan).load_only(Plan.id, Plan.document_number),
                      selectinload(IssuedReport.issued_by).joinedload(User.unit))
             .order_by(IssuedReport.id.desc()).limit(limit))
    return list(session().scalars(query))


def read_issued(actor: User | Operator, report_id: int) -> tuple[IssuedReport, bytes]:
    """The archived file, checked against its SHA-256; the download is audited."""
    authorize(actor, "report.export")
    row = session().get(IssuedReport, report_id)
    if row is None:
        raise NotFound("未找到该通报")
    path = _stored_path(row.sha256, row.format)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("归档文件缺失,请联系系统管理员") from None
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise ValidationError("归档文件校验失败(SHA-256 不符),文件可能被改动,请联系系统管理员")
    audit.record(actor, "report.download", obj=row, detail={"sha256": row.sha256},
                 actor_login=None if actor else "cli")
    return row, content
