"""`flask --app wsgi ...` commands. Thin: each parses its arguments, calls
services inside one unit of work, and prints."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import migrate
from .db import unit_of_work
from .errors import DomainError
from .policy import SYSTEM


def _fail(exc: DomainError) -> None:
    raise click.ClickException(exc.message)


db_cli = AppGroup("db", help="数据库迁移 (Alembic)")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision, audit_key=current_app.config.get("AUDIT_KEY"))
    click.echo(f"数据库已迁移到 {revision}")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"数据库已回退到 {revision}")


@db_cli.command("check")
def db_check() -> None:
    """Fail if the models and the migrations differ."""
    migrate.check(current_app.config["DATABASE_URL"])
    click.echo("模型与迁移一致")


plan_cli = AppGroup("plan", help="行动计划")


@plan_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--publish", is_flag=True, help="导入后立即发布(否则为草稿,由督办员在页面上核对后发布)")
@click.option("--first-period", default=None, help="首个报送期次,如 2025Q1;默认为当前期次")
def plan_import(path: Path, publish: bool, first_period: str | None) -> None:
    """Import a plan document: a draft, or with --publish a live plan."""
    from .services.plans import import_plan_file

    if first_period and not publish:
        raise click.ClickException("--first-period 只能与 --publish 一起使用")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"无法读取文件 {path}:{exc.strerror}") from None
    try:
        with unit_of_work():
            result = import_plan_file(data, path.name, actor=SYSTEM, publish=publish, first_period=first_period)
            plan = result.plan
            status = plan.status.label
            first = plan.first_period
            summary = (
                f"{plan.document_number} {plan.title}: "
                f"{len(plan.sections)} 项行动, {sum(len(s.tasks) for s in plan.sections)} 项任务, "
                f"{len(plan.measures)} 条政策措施"
            )
    except DomainError as exc:
        _fail(exc)
    except ValueError as exc:  # the parser's PlanParseError
        raise click.ClickException(str(exc)) from exc
    if result.created:
        click.echo(f"已导入 {summary}({status}" + (f",自 {first} 起报送)" if first else ",请在页面上核对后发布)"))
        if result.unknown_units:
            click.echo("以下单位不在单位名录中,请在核对页面对应到名录或新建: " + "、".join(result.unknown_units))
    else:
        click.echo(f"未改动: {summary} 已导入过,内容相同")


@plan_cli.command("set-first-period")
@click.argument("document_number")
@click.argument("period")
def plan_set_first_period(document_number: str, period: str) -> None:
    """Move the first period units report for (earlier: those periods
    become owed, with their due dates)."""
    from .services.plans import find_plan, set_first_period

    try:
        with unit_of_work():
            plan = set_first_period(SYSTEM, find_plan(document_number), period)
            message = f"{plan.document_number}: 自 {plan.first_period} 起报送,共 {len(plan.periods)} 期"
    except DomainError as exc:
        _fail(exc)
    click.echo(message)


@plan_cli.command("parse")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出解析结果")
def plan_parse(path: Path, as_json: bool) -> None:
    """Parse a plan document (.docx .pdf .xlsx .txt .md) and print what was
    found. Writes nothing."""
    from .importer import PlanParseError, parse_document, plan_to_dict
    from .importer.reader import MAX_BYTES

    try:
        if path.stat().st_size > MAX_BYTES:
            raise click.ClickException(f"文件过大（{path.stat().st_size / 1024 / 1024:.1f} MB），上限为 {MAX_BYTES // 1024 // 1024} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"无法读取文件 {path}: {exc.strerror or exc}") from None
    try:
        parsed = parse_document(data, path.name)
    except PlanParseError as exc:
        raise click.ClickException(str(exc)) from None
    result = plan_to_dict(parsed)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    click.echo(f"文号: {result['document_number'] or '（未找到）'}")
    click.echo(f"标题: {result['title'] or '（未找到）'}")
    click.echo(f"发文机关: {result['issuer'] or '（未找到）'}  成文日期: {result['issued_on'] or '（未找到）'}")
    click.echo(f"任务: {len(result['tasks'])} 项")
    for task in result["tasks"]:
        co = "、".join(task["co_units"])
        click.echo(f"  [{task['label']}] {task['title'][:40]}  牵头: {task['lead'] or '—'}" + (f"  配合: {co}" if co else ""))
        for warning in task["warnings"]:
            click.echo(f"      ! {warning}")
    for warning in result["warnings"]:
        click.echo(f"! {warning}")


@plan_cli.command("show")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def plan_show(as_json: bool) -> None:
    """Print every plan."""
    from sqlalchemy import select

    from .db import session
    from .models import Plan
    from .serialize import plan_dict

    plans = [plan_dict(p) for p in session().scalars(select(Plan).order_by(Plan.id))]
    if as_json:
        click.echo(json.dumps(plans, ensure_ascii=False, indent=2))
        return
    for p in plans:
        click.echo(f"{p['document_number']}  {p['title']}")
        for s in p["sections"]:
            click.echo(f"  ({s['number']}) {s['title']}")
            for t in s["tasks"]:
                lead = next((u["short_name"] for u in t["units"] if u["role"] == "lead"), "—")
                click.echo(f"    {t['number']}. {t['title']}  [牵头: {lead}]")


user_cli = AppGroup("user", help="用户")


@user_cli.command("create")
@click.argument("login")
@click.option("--role", "roles", multiple=True, required=True, help="admin/coordinator/liaison/leader/auditor")
@click.option("--unit", "unit_name", required=True, help="单位全称或简称")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default=None, help="姓名")
@click.option("--email", default=None)
def user_create(login: str, roles: tuple[str, ...], unit_name: str, password: str, name: str | None, email: str | None) -> None:
    """Create a user. The password is temporary: it must be changed at the
    first login."""
    from .services.users import create_user, parse_roles

    try:
        with unit_of_work():
            user = create_user(
                login,
                unit_name=unit_name,
                roles=parse_roles(roles),
                password=password,
                name=name,
                email=email,
                must_change_password=True,
                actor=SYSTEM,
            )
            unit = user.unit.canonical_name
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已创建用户 {login} ({unit}),首次登录须修改密码")


@user_cli.command("grant")
@click.argument("login")
@click.argument("role")
def user_grant(login: str, role: str) -> None:
    """Give LOGIN the ROLE (admin, auditor and working roles stay apart)."""
    from .services.users import get_user_by_login, grant_role, parse_roles

    try:
        with unit_of_work():
            grant_role(get_user_by_login(login), parse_roles([role])[0], actor=SYSTEM)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已为 {login} 授予角色 {role};该用户的会话已全部结束")


@user_cli.command("revoke")
@click.argument("login")
@click.argument("role")
def user_revoke(login: str, role: str) -> None:
    """Take ROLE from LOGIN."""
    from .services.users import get_user_by_login, parse_roles, revoke_role

    try:
        with unit_of_work():
            revoke_role(get_user_by_login(login), parse_roles([role])[0], actor=SYSTEM)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已撤销 {login} 的角色 {role};该用户的会话已全部结束")


@user_cli.command("reset-password")
@click.argument("login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def user_reset_password(login: str, password: str) -> None:
    """Set a temporary password for LOGIN (to be changed at next login)."""
    from .services.users import get_user_by_login, reset_password

    try:
        with unit_of_work():
            reset_password(get_user_by_login(login), password, actor=SYSTEM)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已重置 {login} 的密码,下次登录须修改;该用户的会话已全部结束")


@user_cli.command("unlock")
@click.argument("login")
def user_unlock(login: str) -> None:
    """Lift the lock after too many failed logins."""
    from .services.users import get_user_by_login, unlock_user

    try:
        with unit_of_work():
            unlock_user(get_user_by_login(login), actor=SYSTEM)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已解除 {login} 的锁定")


@user_cli.command("check-roles")
def user_check_roles() -> None:
    """List accounts whose roles break the separation rules (三权分立; a
    unit's liaison who is also a coordinator); exit status 1 if any."""
    from .services.users import role_rule_breaches

    breaches = role_rule_breaches()
    for user, problems in breaches:
        roles = "、".join(r.label for r in sorted(user.roles, key=lambda r: r.value))
        state = "" if user.is_active else "(已停用)"
        click.echo(f"{user.login}{state}  {user.unit.short_name}  角色:{roles}  问题:{';'.join(problems)}")
    if breaches:
        click.echo(f"共 {len(breaches)} 个账号违反角色分离规则;请用 flask user revoke 撤销其中一个角色,"
                   "或另建账号分别担任", err=True)
        raise SystemExit(1)
    click.echo("所有账号均符合角色分离规则")


@user_cli.command("token")
@click.argument("login")
@click.option("--label", default="cli")
def user_token(login: str, label: str) -> None:
    """Print a new API token for LOGIN (shown once; stored hashed)."""
    from .services.users import get_user_by_login, issue_api_token

    try:
        with unit_of_work():
            token = issue_api_token(get_user_by_login(login), label=label)
    except DomainError as exc:
        _fail(exc)
    click.echo(token)


audit_cli = AppGroup("audit", help="审计日志")


@audit_cli.command("verify")
@click.option("--anchor", default=None, metavar="ID:HASH",
              help="flask audit anchor 曾打印的末条记录;校验它仍在且哈希未变(可发现删除最新记录)")
def audit_verify(anchor: str | None) -> None:
    """Check the keyed hash chain of the audit log; exit 1 if a row was
    edited, deleted or re-hashed without the audit key, or the anchor row
    is gone or changed."""
    from .services import audit

    try:
        parsed = audit.parse_anchor(anchor) if anchor else None
    except DomainError as exc:
        _fail(exc)
    report = audit.verify(parsed)
    if not report.ok:
        for problem in report.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"审计日志校验失败:{len(report.problems)} 处问题(共 {report.count} 条记录)")
    click.echo(f"审计日志完整:共 {report.count} 条记录,末条 #{report.head_id} {report.head_hash}")
    if report.legacy_count:
        click.echo(f"其中 {report.legacy_count} 条为启用审计密钥之前的记录(SHA-256 链接),"
                   f"由 #{report.epoch_id} 的密钥记录担保")
    if parsed:
        click.echo(f"锚点 #{parsed[0]} 仍在且未被改动")


@audit_cli.command("anchor")
def audit_anchor() -> None:
    """Print the head of the chain (id, hash, time) for an operator to keep
    outside this system; `audit verify --anchor ID:HASH` checks it later."""
    from .services import audit

    report = audit.verify()
    if report.head_id is None:
        raise click.ClickException("审计日志为空")
    if not report.ok:
        for problem in report.problems:
            click.echo(problem, err=True)
        raise click.ClickException("审计日志校验失败,不能作为锚点;请先查明原因")
    click.echo(f"{report.head_id}:{report.head_hash}")
    click.echo(f"时间 {report.head_at.isoformat()}")
    click.echo("请将上面两行另行保存(如纸质记录或另一台服务器),"
               f"日后用 flask audit verify --anchor ID:HASH 校验", err=True)


@audit_cli.command("prune")
@click.option("--before", "before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="清理此日期(北京时间)之前的记录;须早于保留期限(至少 180 天)")
def audit_prune(before) -> None:
    """Archive to a file, then delete, the audit rows older than --before."""
    from zoneinfo import ZoneInfo

    from .services import audit

    cutoff = before.replace(tzinfo=ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai")))
    try:
        with unit_of_work():
            result = audit.prune(
                cutoff,
                archive_dir=Path(current_app.config["ARCHIVE_DIR"]),
                retention_days=current_app.config.get("AUDIT_RETENTION_DAYS", 180),
            )
    except DomainError as exc:
        _fail(exc)
    if result.deleted:
        click.echo(f"已归档并清理 {result.deleted} 条审计记录(至 #{result.up_to_id}):{result.archive}")
    else:
        click.echo("没有需要清理的记录")


backup_cli = AppGroup("backup", help="备份与恢复")


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "sqlite", "logical"]), default="auto",
              help="auto: SQLite 用 SQLite 备份接口,PostgreSQL 用逻辑导出;logical 可恢复到任一种数据库")
def backup_create(path: Path, fmt: str) -> None:
    """Write a consistent archive of the database and the evidence files to PATH."""
    from .backup import BackupError, create_backup

    try:
        manifest = create_backup(current_app, path, fmt=fmt)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = sum(manifest["tables"].values())
    click.echo(f"已备份到 {path}:{rows} 行数据,{len(manifest['evidence'])} 个佐证文件")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_restore(path: Path) -> None:
    """Restore the archive at PATH into this (empty) instance."""
    from .backup import BackupError, restore_backup

    try:
        manifest = restore_backup(current_app, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = sum(manifest["tables"].values())
    click.echo(f"已从 {path} 恢复:{rows} 行数据,{len(manifest['evidence'])} 个佐证文件")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_verify(path: Path) -> None:
    """Check every file of the archive against its manifest."""
    from .backup import BackupError, verify_archive

    try:
        manifest = verify_archive(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"备份完整:创建于 {manifest['created_at']},{len(manifest['files'])} 个文件与清单相符")


@click.command("seed")
def seed() -> None:
    """Load the unit directory and the plans in seed/, and in development
    the demo accounts. Running it again changes nothing."""
    from .seed import run_seed

    with unit_of_work():
        lines = run_seed(current_app)
    for line in lines:
        click.echo(line)


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(plan_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(seed)

    from .commands.scheduler import register as register_scheduler_cli

    register_scheduler_cli(app)

    from .commands.reports import report_cli

    app.cli.add_command(report_cli)
