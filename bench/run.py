"""Measure the pages and jobs on the province-scale database (bench/generate.py).

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/run.py [--db bench/data/province.sqlite3] [--runs 40]

Pages are requested through the WSGI application in this process (Flask's
test client: the whole request, login cookie to rendered HTML, without a
network in between), logged in as the generated accounts. For each it prints
p50 and p95 in milliseconds and the number of SQL statements one request
runs, counted with an SQLAlchemy `before_cursor_execute` listener. The
exports build the quarterly report from the database and render the file.

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

PAGE_BUDGET_MS = 300
EXPORT_BUDGET_S = 10
SCAN_BUDGET_S = 10


@dataclass(frozen=True)
class Page:
    name: str
    login: str
    path: Callable[[dict], str]  # from the ids of the data to a URL


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
    Page("督查看板 tasks", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=tasks&page=2"),
    Page("督查看板 targets", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=targets"),
    Page("督查看板 late", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=late"),
    Page("督查看板 units", "bench_leader", lambda ids: f"/dashboard/?plan={ids['plan']}&view=units"),
]


class StatementCounter:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *args, **kwargs) -> None:
        self.count += 1


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
    """A plan in the middle of the data, and its task with the most units."""
    from sqlalchemy import func

    from supervise.db import session
    from supervise.models import Plan, Task, TaskUnit

    with app.app_context():
        sess = session()
        plan_ids = sess.scalars(select(Plan.id).order_by(Plan.id)).all()
        plan_id = plan_ids[len(plan_ids) // 2]
        task_id = sess.scalar(
            select(Task.id).join(TaskUnit).where(Task.plan_id == plan_id).group_by(Task.id)
            .order_by(func.count().desc(), Task.id).limit(1)
        )
        return {"plan": plan_id, "task": task_id}


def logged_in_client(app: Flask, login: str):
    client = app.test_client()
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"cannot log in as {login}: {response.status_code}")
    return client


def page_statements(app: Flask, counter: StatementCounter, page: Page, ids: dict, clients: dict) -> int | None:
    """The SQL statements one request of the page runs (None if the page is missing)."""
    if page.login not in clients:
        clients[page.login] = logged_in_client(app, page.login)
    client = clients[page.login]
    client.get(page.path(ids))  # warm caches that are per process, not per request
    counter.count = 0
    response = client.get(page.path(ids))
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


def reminder_scan(app: Flask) -> tuple[str, Callable[[], object]]:
    """The scheduler's reminder scan (`flask remind`) for today, in full: it
    evaluates every rule for every item and writes every new delivery and
    in-app notice, then rolls back, so that each run does the whole first
    scan of the day again and the data set is left as it was."""
    from supervise.domain.clock import local_today
    from supervise.db import declare_write_intent, session
    from supervise.reminders.scan import run_scan

    def run():
        with app.app_context():
            declare_write_intent()
            try:
                return len(run_scan(local_today()).lines)
            finally:
                session().rollback()

    return "催办扫描 reminder scan (first scan of the day, all rules, rolled back)", run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--export-runs", type=int, default=5)
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's default garbage collector settings instead of wsgi.py's")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"{args.db} not found: run bench/generate.py first", file=sys.stderr)
        return 2
    app = make_app(f"sqlite:///{args.db.resolve()}", args.db.parent / "instance", tune_gc=not args.default_gc)
    counter = StatementCounter(app.extensions["supervise.engine"])
    ids = sample_ids(app)
    clients: dict = {}
    failures = []
    print(f"database {args.db}  plan #{ids['plan']}  task #{ids['task']}  runs {args.runs}")
    print(f"{'what':44} {'p50 ms':>9} {'p95 ms':>9} {'cpu p50':>9} {'cpu p95':>9} {'SQL':>5}")

    def report(name: str, timing: Timing, statements: int, budget_ms: float) -> None:
        flag = "" if timing.p95 <= budget_ms else "  OVER BUDGET"
        if flag:
            failures.append(name)
        print(f"{name[:44]:44} {timing.p50:9.1f} {timing.p95:9.1f} {timing.cpu_p50:9.1f} {timing.cpu_p95:9.1f} "
              f"{statements:5d}{flag}")

    for page in PAGES:
        statements = page_statements(app, counter, page, ids, clients)
        if statements is None:
            print(f"{page.name:44} missing in this build")
            continue
        client = clients[page.login]
        url = page.path(ids)
        report(page.name, time_it(lambda: client.get(url), args.runs), statements, PAGE_BUDGET_MS)
    for fmt in ("docx", "xlsx"):
        job = export_job(app, counter, ids["plan"], fmt)
        counter.count = 0
        job()
        statements = counter.count
        report(f"季度通报导出 export {fmt}", time_it(job, args.export_runs, warmup=1), statements,
               EXPORT_BUDGET_S * 1000)
    name, scan = reminder_scan(app)
    counter.count = 0
    scan()
    statements = counter.count
    report(name, time_it(scan, args.export_runs, warmup=1), statements, SCAN_BUDGET_S * 1000)
    print(f"  ({name})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
