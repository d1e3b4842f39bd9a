"""`flask --app wsgi report ...`: issue the quarterly supervision report from
the command line. Thin: parse, call the service in one unit of work, print."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..db import session, unit_of_work
from ..errors import DomainError, ValidationError
from ..models import IssuedReport, Plan, PlanStatus, ReportingPeriod
from ..policy import SYSTEM

report_cli = AppGroup("report", help="季度督查通报与台账")


def _plan(ref: str | None, period_code: str) -> Plan:
    """The plan named by id or document number; without one, the only plan
    that has the period."""
    sess = session()
    if ref:
        plan = sess.get(Plan, int(ref)) if ref.isdigit() else sess.scalar(select(Plan).where(Plan.document_number == ref))
        if plan is None or plan.status is not PlanStatus.PUBLISHED:
            raise ValidationError(f"未找到已发布的计划 {ref}(可用计划编号或文号)")
        return plan
    plans = list(sess.scalars(
        select(Plan).join(ReportingPeriod, ReportingPeriod.plan_id == Plan.id)
        .where(ReportingPeriod.code == period_code.strip().upper()).order_by(Plan.id)
    ))
    if len(plans) == 1:
        return plans[0]
    if not plans:
        raise ValidationError(f"没有计划包含报送期次 {period_code}")
    names = "; ".join(f"{p.id}: {p.document_number}" for p in plans)
    raise ValidationError(f"有 {len(plans)} 个计划包含期次 {period_code},请用 --plan 指定:{names}")


@report_cli.command("export")
@click.option("--period", "period_code", required=True, help="报送期次,如 2025Q2")
@click.option("--format", "fmt", type=click.Choice(["docx", "xlsx", "csv"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--plan", "plan_ref", default=None, help="计划编号或文号;只有一个计划时可省略")
@click.option("--as", "login", default=None, help="以该用户名义签发(须有导出权限)")
@click.option("--as-of", "as_of", default=None, help="数据截止日期 YYYY-MM-DD(默认今天):通报按该日结束时的数据生成,"
              "之后报送的版本和作出的决定不计入,逾期和红黄绿灯按该日判断")
@click.option("--next-steps", "next_steps_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="下一步工作要求:UTF-8 文本文件,每段一行(Word 通报的第六部分)")
def report_export(period_code: str, fmt: str, output: Path, plan_ref: str | None, login: str | None,
                  as_of: str | None, next_steps_file: Path | None) -> None:
    """Issue the report for PERIOD, archive it and write it to OUTPUT."""
    from ..reports.export import parse_format
    from ..domain.clock import today
    from ..domain.periods import resolve_period
    from ..services.report_archive import issue_report
    from ..services.users import get_user_by_login

    try:
        day = date.fromisoformat(as_of) if as_of else today()
    except ValueError:
        raise click.ClickException(f"日期格式应为 YYYY-MM-DD:{as_of}") from None
    try:
        with unit_of_work():
            actor = get_user_by_login(login) if login else SYSTEM
            plan = _plan(plan_ref, period_code)
            period = resolve_period(session(), plan, period_code, day)
            next_steps = next_steps_file.read_text(encoding="utf-8") if next_steps_file else ""
            row, content = issue_report(actor, plan, period, parse_format(fmt), as_of=day, next_steps=next_steps)
            summary = f"已签发并归档 #{row.id} {row.filename} ({row.size} 字节, sha256 {row.sha256})"
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    click.echo(summary)
    click.echo(f"已写入 {output}")


@report_cli.command("list")
def report_list() -> None:
    """List the issued reports in the archive."""
    rows = session().scalars(select(IssuedReport).order_by(IssuedReport.id))
    for row in rows:
        click.echo(f"#{row.id}  {row.issued_at:%Y-%m-%d %H:%M}Z  {row.issued_by_login or 'cli'}  "
                   f"{row.filename}  {row.sha256}")


@report_cli.command("fetch")
@click.argument("report_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def report_fetch(report_id: int, output: Path) -> None:
    """Write an archived report, byte for byte as issued, to OUTPUT."""
    from ..services.report_archive import read_issued

    try:
        with unit_of_work():
            row, content = read_issued(SYSTEM, report_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    output.write_bytes(content)
    click.echo(f"已写入 {output} ({row.filename}, sha256 {row.sha256})")
