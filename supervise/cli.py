"""`flask --app wsgi ...` commands. Thin: each parses its arguments, calls
services inside one unit of work, and prints."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import migrate
from .db import unit_of_work
from .errors import DomainError


def _fail(exc: DomainError) -> None:
    raise click.ClickException(exc.message)


db_cli = AppGroup("db", help="数据库迁移 (Alembic)")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
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
def plan_import(path: Path) -> None:
    """Import a plan document (Markdown or plain text)."""
    from .services.plans import import_plan_document

    text = path.read_text(encoding="utf-8")
    try:
        with unit_of_work():
            result = import_plan_document(text)
            plan = result.plan
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
        click.echo(f"已导入 {summary}")
        if result.new_units:
            click.echo("以下单位不在单位名录中,已按原文新建,请核对: " + "、".join(result.new_units))
    else:
        click.echo(f"未改动: {summary} 已导入过,内容相同")


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
    """Create a user."""
    from .services.users import create_user, parse_roles

    try:
        with unit_of_work():
            user = create_user(
                login, unit_name=unit_name, roles=parse_roles(roles), password=password, name=name, email=email
            )
            unit = user.unit.canonical_name
    except DomainError as exc:
        _fail(exc)
    click.echo(f"已创建用户 {login} ({unit})")


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
    app.cli.add_command(seed)

    from .reports.cli import report_cli

    app.cli.add_command(report_cli)
