"""`flask scheduler ...`, `flask remind ...` and `flask calendar ...`. Thin:
parse, call the service inside one unit of work, print."""
from __future__ import annotations

import signal
import threading
from datetime import date, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..db import session, unit_of_work
from ..errors import DomainError
from ..policy import SYSTEM

scheduler_cli = AppGroup("scheduler", help="调度进程(可每台服务器一个,每次任务由数据库锁定只执行一次)")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler until SIGTERM or Ctrl+C. One per app server may run:
    each run of a job is claimed in the database, so exactly one process does
    it and the others log that they skipped it."""
    import logging

    from ..scheduler.registry import JOBS, run_forever

    app = current_app._get_current_object()
    app.logger.setLevel(logging.INFO)  # who ran, who skipped: on stderr (journald)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo("调度进程已启动: " + "、".join(spec.id for spec in JOBS), err=True)
    run_forever(app, stop)
    click.echo("调度进程已退出", err=True)


@scheduler_cli.command("list")
def scheduler_list() -> None:
    """Print every job with its last and next run."""
    from ..models import SchedulerJob
    from ..scheduler.registry import JOBS

    rows = {row.id: row for row in session().scalars(select(SchedulerJob))}
    for spec in JOBS:
        row = rows.get(spec.id)
        last = f"{row.last_run_at:%Y-%m-%d %H:%M} {row.last_status}" if row and row.last_run_at else "从未运行"
        nxt = f"{row.next_run_at:%Y-%m-%d %H:%M}" if row and row.next_run_at else "—"
        click.echo(f"{spec.id:18} 上次: {last:24} 下次(UTC): {nxt}  {spec.description}")


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("日期应写作 YYYY-MM-DD,例如 2025-10-09") from None


@click.group("remind", invoke_without_command=True, help="催办:按规则扫描一次并发送")
@click.option("--as-of", "as_of", default=None, help="按哪一天扫描 (YYYY-MM-DD),默认今天")
@click.option("--dry-run", is_flag=True, help="只列出将发送的提醒,不记录、不发送")
@click.pass_context
def remind(ctx: click.Context, as_of: str | None, dry_run: bool) -> None:
    """Run the reminder scan once for a day and print what it sent."""
    if ctx.invoked_subcommand is not None:
        return
    from ..models import Delivery
    from ..domain import clock
    from ..reminders.scan import run_scan

    day = _parse_day(as_of) or clock.today()
    if dry_run:
        result = run_scan(day, dry_run=True)
        session().rollback()
    else:
        with unit_of_work():
            result = run_scan(day)
    if not result.is_workday:
        click.echo(f"{day} 不是工作日,不发送催办")
        return
    verb = "将发送" if dry_run else "已发送"
    for line in result.new_lines:
        click.echo(
            f"{verb} {line.rule}#{line.step} [{line.channel.label}] → {line.recipient.name}"
            f"({line.recipient.login},{line.recipient.unit.short_name}): {line.subject}"
        )
    skipped = len(result.lines) - len(result.new_lines)
    if not dry_run and result.outbox:
        # Sent after the commit; report how that went.
        session().rollback()
        failed = session().scalars(select(Delivery).where(Delivery.id.in_(result.outbox))).all()
        for delivery in failed:
            if delivery.state.value != "sent":
                click.echo(f"发送未成功 #{delivery.id} [{delivery.channel.label}] {delivery.state.label}: {delivery.last_error or ''}")
    click.echo(f"{day}: {'将发送' if dry_run else '新发送'} {len(result.new_lines)} 条,已发送过 {skipped} 条(不重复发送)")


@remind.command("rules")
@click.argument("document_number")
@click.argument("settings", nargs=-1)
def remind_rules(document_number: str, settings: tuple[str, ...]) -> None:
    """Show a plan's reminder rules, or set some: notice_working_days=5 ..."""
    from ..models import Plan
    from ..domain.reminder_rules import RULE_LABELS, rules_dict, rules_for
    from ..reminders.service import set_plan_rules

    try:
        with unit_of_work():
            plan = session().scalar(select(Plan).where(Plan.document_number == document_number))
            if plan is None:
                raise click.ClickException(f"未找到文号为 {document_number} 的计划")
            if settings:
                values = dict(plan.reminder_rules or {})
                for item in settings:
                    key, sep, value = item.partition("=")
                    if not sep:
                        raise click.BadParameter(f"“{item}”应写作 名称=数值")
                    values[key.strip()] = value
                set_plan_rules(SYSTEM, plan, values)
            rules = rules_dict(rules_for(plan))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for key, value in rules.items():
        click.echo(f"{key} = {value}  ({RULE_LABELS.get(key, '')})")


calendar_cli = AppGroup("calendar", help="工作日历(法定节假日与调休)")


@calendar_cli.command("sync")
@click.option("--year", "years", type=int, multiple=True, help="只同步这些年份")
def calendar_sync(years: tuple[int, ...]) -> None:
    """Fill the calendar from the chinese-calendar package."""
    from ..services.calendar import package_years, sync_from_package

    known = package_years()
    unknown = [y for y in years if y not in known]
    if unknown:
        raise click.ClickException(
            f"chinese-calendar 还没有 {'、'.join(map(str, unknown))} 年的数据;"
            "请用 flask calendar import FILE.csv 导入国务院公布的安排"
        )
    with unit_of_work():
        change = sync_from_package(list(years) or None)
    click.echo(f"已同步 {change.years[0]}–{change.years[-1]} 年,变更 {change.days} 天,重算 {change.plans_rebuilt} 个计划的报送截止日")


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_import(path: Path) -> None:
    """Import a year's holidays and make-up working days from a CSV file
    (date,休|班,name); the file replaces what is held for its years."""
    from ..services.calendar import import_days, parse_calendar_csv

    try:
        with unit_of_work():
            change = import_days(SYSTEM, parse_calendar_csv(path.read_text(encoding="utf-8")), source_name=path.name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    years = "、".join(map(str, change.years))
    click.echo(f"已导入 {years} 年共 {change.days} 天,重算 {change.plans_rebuilt} 个计划的报送截止日")


@calendar_cli.command("show")
@click.argument("year", type=int)
def calendar_show(year: int) -> None:
    """Print a year's holidays and make-up working days."""
    from ..services.calendar import days_of_year

    for row in days_of_year(year):
        kind = "班" if row.is_workday else "休"
        click.echo(f"{row.day.isoformat()} {kind} {row.name} ({row.source})")


def register(app: Flask) -> None:
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(remind)
    app.cli.add_command(calendar_cli)
