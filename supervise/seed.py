"""Seeding: the unit directory, the plans shipped in seed/plans, and the
demo accounts (development and testing only; production never has them)."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from .db import session
from .models import User
from .policy import SYSTEM
from .services.calendar import sync_from_package
from .services.plans import import_plan_document
from .services.units import load_units
from .services.users import create_user, parse_roles


def run_seed(app: Flask) -> list[str]:
    seed_dir = Path(app.config["SEED_DIR"])
    lines = []
    created = load_units(seed_dir / "units.csv")
    if (seed_dir / "counties.csv").exists():
        created += load_units(seed_dir / "counties.csv")
    lines.append(f"单位名录: 新增 {created} 个单位")
    # The calendar first, so that the plans' report due dates follow it.
    change = sync_from_package()
    lines.append(f"工作日历: {change.years[0]}–{change.years[-1]} 年, 变更 {change.days} 天")
    for path in sorted((seed_dir / "plans").glob("*.md")):
        # Published at once, reporting from the current period: nobody owes
        # reports for the quarters before the system was installed.
        result = import_plan_document(path.read_text(encoding="utf-8"), filename=path.name, publish=True)
        state = f"已导入并发布,自 {result.plan.first_period} 起报送" if result.created else "已存在,未改动"
        lines.append(f"计划 {result.plan.document_number}: {state}")
    if app.config.get("CREATE_DEMO_ACCOUNTS"):
        lines.extend(create_demo_accounts(seed_dir / "demo_accounts.json"))
    return lines


def create_demo_accounts(path: Path) -> list[str]:
    lines = []
    for account in json.loads(path.read_text(encoding="utf-8")):
        if session().scalar(select(User).where(User.login == account["login"])):
            continue
        create_user(
            account["login"],
            name=account["name"],
            unit_name=account["unit"],
            roles=parse_roles(account["roles"]),
            password=account["password"],
            email=account.get("email"),
            actor=SYSTEM,  # seeding runs on the server's command line
        )
        lines.append(f"演示账号 {account['login']} ({account['name']})")
    return lines
