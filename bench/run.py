"""Measure the pages and jobs on the province-scale database (bench/generate.py).

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/run.py [--db bench/data/province.sqlite3] [--runs 40]

    .venv/bin/python bench/run.py --db postgresql+psycopg://postgres@127.0.0.1:5432/supervise_bench

Pages are requested through the WSGI application in this process (Flask's
test client: the whole request, login cookie to rendered HTML, without a
network in between), logged in as the generated accounts; the JSON API with a
bearer token of the same accounts. For each it prints p50 and p95 in
milliseconds and the number of SQL statements one request runs, counted with
an SQLAlchemy `before_cursor_execute` listener; then "sql ms", the time of
replaying that request's SELECT statements with their parameters on a raw
DBAPI connection (sqlite3 or psycopg: no ORM, no Python around them; p50 of
the whole set), and page / sql, the page's p50 over that. The exports build
the quarterly report from the database and render the file.

Pages that this build of the system does not have (a 404) are reported as
missing rather than measured.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from bench.generate import DEFAULT_PATH, PASSWORD  # noqa: E402

# Issue 13's budgets on this 2-core machine.
PAGE_BUDGET_MS = 100
RATIO_BUDGET = 4  # page p50 / the p50 of replaying its SELECTs
FAST_ENOUGH_MS = 20  # a page this fast is fast enough whatever its ratio
DOCX_BUDGET_S = 1.0
XLSX_BUDGET_S = 0.5
SCAN_FIRST_BUDGET_S = 2.0
SCAN_REPEAT_BUDGET_S = 0.5


@dataclass(frozen=True)
class Page:
    name: str
    login: str
    path: Callable[[dict], str]  # from the ids of the data to a URL
    api: bool = False  # the JSON API, with a bearer token of the account


# 我的待办 lives at /work (permission "work.view"); the reminder scan is the
# scheduler's job. Both are measured when this build has them.
PAGES = [
    Page("督查看板 dashboard", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}"),
    Page("计划页 plan page", "bench_coordinator", lambda ids: f"/plans/{ids['plan']}"),
    Page("任务页 task page", "bench_coordinator", lambda ids: f"/tasks/{ids['task']}"),
    Page("我的待办 liaison", "bench_liaison", lambda ids: "/work"),
    Page("我的待办 coordinator", "bench_coordinator", lambda ids: "/work"),
    Page("通报签发页 reports page", "bench_coordinator", lambda ids: f"/dashboard/reports?plan={ids['plan']}"),
    Page("我的待办 liaison overdue page 2", "bench_liaison", lambda ids: "/work?state=overdue&page=2&per_page=5"),
    Page("我的待办 coordinator to decide", "bench_coordinator", lambda ids: "/work?state=decide"),
    Page("我的待办 liaison to review", "bench_liaison", lambda ids: "/work?state=review"),
    Page("我的待办 liaison returned", "bench_liaison", lambda ids: "/work?state=returned"),
    Page("我的待办 liaison due", "bench_liaison", lambda ids: "/work?state=due"),
    Page("我的待办 coordinator to review page 2", "bench_coordinator", lambda ids: "/work?state=review&page=2"),
    Page("督查看板 tasks", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=tasks&page=2"),
    Page("督查看板 targets", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=targets"),
    Page("督查看板 late", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=late"),
    Page("督查看板 units", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=units"),
    Page("督查看板 sections", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=sections"),
    Page("督查看板 punctuality", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=punctuality"),
    Page("报告页 report page", "bench_coordinator", lambda ids: f"/reports/{ids['report']}"),
    Page("API /me/work liaison", "bench_liaison", lambda ids: "/api/v1/me/work", api=True),
    Page("API /tasks/{id}", "bench_coordinator", lambda ids: f"/api/v1/tasks/{ids['task']}", api=True),
    Page("计划审核页 plan review page", "bench_coordinator", lambda ids: f"/plans/{ids['draft']}/review"),
    Page("API /dashboard 督查看板", "bench_leader", lambda ids: f"/api/v1/dashboard?plan={ids['plan']}", api=True),
]


class StatementCounter:
    """Counts the statements sent to the database; while `recording`, keeps
    each (statement, parameters) as the driver received them."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.recording = False
        self.statements: list[tuple[str, object]] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        if self.recording:
            self.statements.append((statement, parameters))


def selects(statements: list[tuple[str, object]]) -> list[tuple[str, object]]:
    return [(sql, params) for sql, params in statements if sql.lstrip()[:6].upper() in ("SELECT", "WITH R", "WITH ")]


def replay(engine, statements: list[tuple[str, object]], runs: int) -> float:
    """p50 milliseconds of running the statements once each, fetching every
    row, on a raw DBAPI connection of the same database (sqlite3 or psycopg)."""
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        samples = []
        for i in range(runs + 2):
            started = time.perf_counter()
            cursor = dbapi.cursor()
            for sql, params in statements:
                cursor.execute(sql, params if params is not None else ())
                cursor.fetchall()
            cursor.close()
            if i >= 2:  # two warm-up rounds, as for the pages
                samples.append((time.perf_counter() - started) * 1000)
            dbapi.rollback()
        return statistics.median(samples)
    finally:
        raw.close()


def make_app(url: str, instance: Path, *, tune_gc: bool = False) -> Flask:
    """The app on the given database; with `tune_gc`, as wsgi.py starts it
    for gunicorn (the testing configuration only turns CSRF off for the
    scripted logins)."""
    from supervise import create_app
    from supervise.runtime import tune_garbage_collector

    app = create_app("testing", DATABASE_URL=url, INSTANCE_DIR=instance, ARCHIVE_DIR=instance / "archive",
                     EVIDENCE_DIR=instance / "evidence")
    if tune_gc:
        tune_garbage_collector()
    return app


def sample_ids(app: Flask) -> dict:
    """A published plan in the middle of the data, its task with the most
    units, that task's latest submitted report, and the draft plan (the
    imported document waiting for review)."""
    from sqlalchemy import func

    from supervise.db import session
    from supervise.models import Plan, PlanStatus, Report, Task, TaskUnit

    with app.app_context():
        sess = session()
        plan_ids = sess.scalars(select(Plan.id).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)).all()
        plan_id = plan_ids[len(plan_ids) // 2]
        task_id = sess.scalar(
            select(Task.id).join(TaskUnit).where(Task.plan_id == plan_id).group_by(Task.id)
            .order_by(func.count().desc(), Task.id).limit(1)
        )
        report_id = sess.scalar(
            select(Report.id).where(Report.task_id == task_id, Report.submitted_at.is_not(None))
            .order_by(Report.submitted_at.desc(), Report.id.desc()).limit(1)
        )
        draft_id = sess.scalar(select(Plan.id).where(Plan.status == PlanStatus.DRAFT).order_by(Plan.id).limit(1))
        return {"plan": plan_id, "task": task_id, "report": report_id, "draft": draft_id}


def logged_in_client(app: Flask, login: str):
    client = app.test_client()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"cannot log in as {login}: {response.status_code}")
    return client


class TokenClient:
    """The test client with a bearer token (issued here, as `flask user token` does)."""

    def __init__(self, app: Flask, login: str) -> None:
        from supervise.db import session, unit_of_work
        from supervise.models import User
        from supervise.services.users import issue_api_token

        with app.app_context():
            with unit_of_work():
                user = session().scalar(select(User).where(User.login == login))
                token = issue_api_token(user, label="bench/run.py")
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str):
        return self.client.get(url, headers=self.headers)


def client_for(app: Flask, page: Page, clients: dict):
    key = (page.login, page.api)
    if key not in clients:
        clients[key] = TokenClient(app, page.login) if page.api else logged_in_client(app, page.login)
    return clients[key]


def page_statements(app: Flask, counter: StatementCounter, page: Page, ids: dict, clients: dict) -> int | None:
    """The SQL statements one request of the page runs (None if the page is
    missing); they are left in counter.statements."""
    client = client_for(app, page, clients)
    client.get(page.path(ids))  # warm caches that are per process, not per request
    counter.count = 0
    counter.statements = []
    counter.recording = True
    try:
        response = client.get(page.path(ids))
    finally:
        counter.recording = False
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RuntimeError(f"{page.name}: HTTP {response.status_code}")
    return counter.count


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


@dataclass
class Timing:
    p50: float  # wall-clock milliseconds
    p95: float
    cpu_p50: float  # CPU milliseconds of this process (the app and SQLite run in it)
    cpu_p95: float


def time_it(fn: Callable[[], object], runs: int, warmup: int = 2) -> Timing:
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Timing(*_percentiles(wall), *_percentiles(cpu))


def export_job(app: Flask, counter: StatementCounter, plan_id: int, fmt: str):
    from supervise.db import session
    from supervise.models import ExportFormat, Plan
    from supervise.reports.export import render
    from supervise.domain.clock import today
    from supervise.domain.periods import resolve_period
    from supervise.reports.supervision import build_supervision

    def run() -> int:
        with app.app_context():
            plan = session().get(Plan, plan_id)
            period = resolve_period(session(), plan, None, today())
            content = render(ExportFormat(fmt), build_supervision(session(), plan, period))
            return len(content)

    return run


def reminder_scans(app: Flask) -> list[tuple[str, Callable[[], object], float, list[float] | None]]:
    """The scheduler's reminder scan (`flask remind`) for today, in full:
    the first of the day evaluates every rule for every item and writes every
    new delivery and in-app notice; the repeat runs it again in the same
    transaction, finding them all recorded. Both roll back, so each run
    repeats the same work and the data set is left as it was."""
    from supervise.db import declare_write_intent, session
    from supervise.domain.clock import today as local_today
    from supervise.reminders.scan import run_scan

    def first():
        with app.app_context():
            declare_write_intent()
            try:
                return len(run_scan(local_today()).lines)
            finally:
                session().rollback()

    timings: list[float] = []

    def repeat():
        with app.app_context():
            declare_write_intent()
            try:
                run_scan(local_today())
                session().flush()
                started = time.perf_counter()
                lines = run_scan(local_today()).lines
                timings.append(time.perf_counter() - started)
                return len(lines)
            finally:
                session().rollback()

    return [("催办扫描 reminder scan, first of the day", first, SCAN_FIRST_BUDGET_S, None),
            ("催办扫描 reminder scan, repeated", repeat, SCAN_REPEAT_BUDGET_S, timings)]


def database_url(value: str) -> str:
    """--db: a path to an SQLite file, or an SQLAlchemy URL."""
    if "://" in value:
        return value.replace("postgresql://", "postgresql+psycopg://", 1) if value.startswith("postgresql://") else value
    path = Path(value)
    if not path.exists():
        raise SystemExit(f"{path} not found: run bench/generate.py first")
    return f"sqlite:///{path.resolve()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_PATH),
                        help="the SQLite file or a database URL (postgresql://…) filled by bench/generate.py")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--export-runs", type=int, default=5)
    parser.add_argument("--only", default="", help="measure only what names contain this text")
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's default garbage collector settings instead of wsgi.py's")
    args = parser.parse_args(argv)
    url = database_url(args.db)
    instance = (Path(args.db).parent if "://" not in args.db else DEFAULT_PATH.parent) / "instance"
    app = make_app(url, instance, tune_gc=not args.default_gc)
    engine = app.extensions["supervise.engine"]
    counter = StatementCounter(engine)
    ids = sample_ids(app)
    clients: dict = {}
    failures = []
    print(f"database {engine.url.render_as_string(hide_password=True)} ({engine.dialect.name} "
          f"{'.'.join(map(str, engine.dialect.server_version_info or ()))})  plan #{ids['plan']}  "
          f"task #{ids['task']}  report #{ids['report']}  runs {args.runs}")
    print(f"{'what':40} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'SQL':>6} {'sql ms':>8} {'page/sql':>8}")

    def report(name: str, timing: Timing, statements: int, budget_ms: float, sql_ms: float | None = None) -> None:
        ratio = timing.p50 / sql_ms if sql_ms else None
        over = timing.p95 > budget_ms or (ratio is not None and ratio > RATIO_BUDGET and timing.p95 > FAST_ENOUGH_MS)
        if over:
            failures.append(name)
        print(f"{name[:40]:40} {timing.p50:8.1f} {timing.p95:8.1f} {timing.cpu_p50:8.1f} {statements:6d} "
              f"{'' if sql_ms is None else f'{sql_ms:8.1f}':>8} {'' if ratio is None else f'{ratio:7.1f}x':>8}"
              f"{'  OVER BUDGET' if over else ''}")

    for page in PAGES:
        if args.only not in page.name:
            continue
        statements = page_statements(app, counter, page, ids, clients)
        if statements is None:
            print(f"{page.name:40} missing in this build")
            continue
        sql_ms = replay(engine, selects(counter.statements), min(args.runs, 20))
        client = client_for(app, page, clients)
        url = page.path(ids)
        report(page.name, time_it(lambda: client.get(url), args.runs), statements, PAGE_BUDGET_MS, sql_ms)
    for fmt, budget_s in (("docx", DOCX_BUDGET_S), ("xlsx", XLSX_BUDGET_S)):
        name = f"季度通报导出 export {fmt}"
        if args.only not in name:
            continue
        job = export_job(app, counter, ids["plan"], fmt)
        counter.count = 0
        job()
        report(name, time_it(job, args.export_runs, warmup=1), counter.count, budget_s * 1000)
    for name, scan, budget_s, inner in reminder_scans(app):
        if args.only not in name:
            continue
        counter.count = 0
        scan()
        timing = time_it(scan, args.export_runs, warmup=1)
        if inner is not None:  # only the repeated scan, not the first one before it
            p50, p95 = _percentiles([t * 1000 for t in inner[-args.export_runs:]])
            timing = Timing(p50, p95, float("nan"), float("nan"))
        report(name, timing, counter.count, budget_s * 1000)
    print(f"budgets: pages and API p95 ≤ {PAGE_BUDGET_MS} ms and page/sql ≤ {RATIO_BUDGET} (or p95 ≤ "
          f"{FAST_ENOUGH_MS} ms); Word ≤ {DOCX_BUDGET_S} s, Excel ≤ {XLSX_BUDGET_S} s; reminder scan "
          f"≤ {SCAN_FIRST_BUDGET_S} s first, ≤ {SCAN_REPEAT_BUDGET_S} s repeated (the scans' SQL counts "
          f"include the first scan's writes)")
    if failures:
        print("over budget: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
