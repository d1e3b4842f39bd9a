"""Test fixtures: a fresh, migrated database per test (a real SQLite file,
or a real PostgreSQL database when SUPERVISE_TEST_DB=postgresql), the app,
clients, and factories for the things tests need."""
from __future__ import annotations

import contextvars
import os
import shutil
import uuid
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from supervise import create_app, migrate
from supervise.db import session as db_session
from supervise.db import unit_of_work

from . import guards
from .live import live_server  # noqa: F401  (a real server on loopback, for every test that asks)

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DOC = ROOT / "seed" / "plans" / "zhejiang-cbec-action-plan-2024.md"
PASSWORD = "Test@Pass2026"
BACKEND = os.environ.get("SUPERVISE_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("SUPERVISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(monkeypatch):
    """Fail a test that would send e-mail or a webhook anywhere but to a
    loopback server of its own (see tests/guards.py)."""
    guards.start(monkeypatch)
    yield
    if tried := guards.attempts():
        pytest.fail("tried to send outside the test's own loopback servers: " + "; ".join(tried), pytrace=False)


def _pg_admin():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _seed(url: str, stage: str) -> None:
    """Bring a migrated database to a seeding stage: "units" (the unit
    directory) or "plan" (the directory and the 27号 plan)."""
    from supervise.services.plans import import_plan_document
    from supervise.services.units import load_units

    app = create_app("testing", DATABASE_URL=url)
    with app.app_context():
        with unit_of_work():
            load_units(ROOT / "seed" / "units.csv")
            load_units(ROOT / "seed" / "counties.csv")
            if stage == "plan":
                # Published from its first quarter: the tests rely on reports
                # owed since 2024 (seed.py publishes from the current one).
                import_plan_document(SOURCE_DOC.read_text(encoding="utf-8"), publish=True, first_period="2024Q1")
    app.extensions["supervise.engine"].dispose()


STAGES = ("bare", "units", "plan")


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """Migrate (and seed) once per session, one template per stage; each
    test starts from a copy of the one it needs."""
    if BACKEND == "postgresql":
        admin = _pg_admin()
        names = {stage: f"sv_tmpl_{stage}_{uuid.uuid4().hex[:8]}" for stage in STAGES}
        base = PG_ADMIN_URL.rsplit("/", 1)[0] + "/"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{names["bare"]}"'))
        migrate.upgrade(base + names["bare"])
        for previous, stage in zip(STAGES, STAGES[1:]):
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{names[stage]}" TEMPLATE "{names[previous]}"'))
            _seed(base + names[stage], stage)
        yield names
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        folder = tmp_path_factory.mktemp("templates")
        paths = {stage: folder / f"{stage}.sqlite3" for stage in STAGES}
        migrate.upgrade(f"sqlite:///{paths['bare']}")
        for previous, stage in zip(STAGES, STAGES[1:]):
            shutil.copy(paths[previous], paths[stage])
            _seed(f"sqlite:///{paths[stage]}", stage)
        yield paths


@pytest.fixture
def db_url(request, templates, tmp_path):
    """A fresh database for this test, already holding what its fixtures ask for."""
    stage = "plan" if "plan" in request.fixturenames else "units" if "units" in request.fixturenames else "bare"
    if BACKEND == "postgresql":
        name = f"sv_test_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{templates[stage]}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "test.sqlite3"
        shutil.copy(templates[stage], path)
        yield f"sqlite:///{path}"


class IsolatedClient(FlaskClient):
    """Each request runs as in production: in an application context of its
    own, even while the test holds one to call services (otherwise Flask
    reuses the test's context, and `g`, the login with it, leaks between
    requests and clients)."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            # End the test's read snapshot so it sees what the request committed.
            # Objects loaded by a committed unit of work are not expired by a
            # rollback (nothing is open, and expire_on_commit is off): expire
            # them too, or the test reads what it wrote, not what is stored.
            db_session.rollback()
            db_session.expire_all()
        return response


@pytest.fixture
def app(db_url, tmp_path):
    app = create_app(
        "testing",
        DATABASE_URL=db_url,
        EVIDENCE_DIR=tmp_path / "evidence",
        ARCHIVE_DIR=tmp_path / "archive",
        INSTANCE_DIR=tmp_path,
    )
    app.test_client_class = IsolatedClient
    yield app
    app.extensions["supervise.engine"].dispose()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def units(ctx):
    """The unit directory from seed/ (provincial units, cities, counties),
    loaded into the database by `db_url` from a seeded template."""


@pytest.fixture
def plan(units):
    """The 27号 plan, imported from its document (in the template)."""
    from sqlalchemy import select

    from supervise.models import Plan

    return db_session().scalar(select(Plan).where(Plan.document_number == "浙政办发〔2024〕27号"))


@pytest.fixture
def make_user(units):
    """make_user("coordinator", unit="省商务厅", login=...) -> User"""
    from supervise.models import Role
    from supervise.policy import SYSTEM
    from supervise.services.users import create_user

    counter = {"n": 0}

    def factory(*roles: str, unit: str = "省商务厅", login: str | None = None, password: str = PASSWORD, **kw):
        counter["n"] += 1
        login = login or f"{'_'.join(roles) or 'user'}{counter['n']}"
        with unit_of_work():
            return create_user(login, unit_name=unit, roles=[Role(r) for r in roles], password=password,
                               **{"actor": SYSTEM, **kw})

    return factory


@pytest.fixture
def people(make_user):
    """The one set of test users (tests/people.py), each made on first use:
    people.coordinator, people.lead (省经信厅), people.co (杭州市) ..."""
    from .people import People

    return People(make_user)


@pytest.fixture
def make_task(units):
    """make_task(number=1, lead="省经信厅", co=("杭州市人民政府",), **overrides) -> Task

    A task of a small 2025 plan (quarterly reports due 5 working days after
    each quarter; one plan per test, made on first use, or `plan=`), with
    its units; any other Task field may be overridden (deadline, state, title ...)."""
    from datetime import date

    from supervise.models import Plan, ReportingFrequency, Section, Task, TaskUnit, UnitRole
    from supervise.services.plans import rebuild_periods
    from supervise.services.units import find_unit

    made: dict[str, Plan] = {}

    def factory(*, number: int | None = None, lead: str = "省经信厅", co=("杭州市人民政府",), plan=None,
                **overrides) -> Task:
        with unit_of_work() as sess:
            if plan is None:
                if "plan" not in made:
                    made["plan"] = Plan(
                        document_number="测试〔2025〕1号", title="测试计划", issuing_office="测试",
                        period_start=date(2025, 1, 1), period_end=date(2025, 12, 31),
                        reporting_frequency=ReportingFrequency.QUARTERLY, report_due_working_days=5,
                    )
                    sess.add(made["plan"])
                    sess.add(Section(plan=made["plan"], number=1, title="测试行动"))
                    sess.flush()
                    rebuild_periods(made["plan"])
                plan = made["plan"]
            plan = sess.merge(plan)
            section = plan.sections[0]
            number = number or 1 + max((t.number for t in plan.tasks), default=0)
            fields = {"title": f"测试任务{number}", "text": "正文", **overrides}
            with sess.no_autoflush:
                task = Task(plan=plan, section=section, number=number, **fields)
                task.units.append(TaskUnit(unit=find_unit(lead), role=UnitRole.LEAD, position=1, is_confirmed=True))
                for position, name in enumerate(co, start=2):
                    task.units.append(TaskUnit(unit=find_unit(name), role=UnitRole.CO, position=position))
                sess.add(task)
            sess.flush()
            return task

    return factory


def login(client, user_or_login, password: str = PASSWORD):
    name = user_or_login if isinstance(user_or_login, str) else user_or_login.login
    response = client.post("/login", data={"login": name, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def login_as(app, make_user):
    """login_as("liaison", unit="省经信厅") -> (client, user), logged in."""

    def factory(*roles: str, unit: str = "省商务厅", **kw):
        user = make_user(*roles, unit=unit, **kw)
        c = app.test_client()
        login(c, user)
        return c, user

    return factory
