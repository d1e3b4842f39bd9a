"""Load: people at work on the app under gunicorn, with pauses between their
clicks, on a province's data; then a check of what the database holds.

    .venv/bin/python bench/load.py --backend postgresql --users 500 --ramp 60 --seconds 90
    .venv/bin/python bench/load.py --backend postgresql --find-max
    .venv/bin/python bench/load.py --backend sqlite --scale small --users 10 --seconds 8 --think 0.1 0.3

The data. For each run a database of its own: an SQLite file in a temporary
folder, or a PostgreSQL database `sv_load_…` on SUPERVISE_TEST_PG (default
127.0.0.1:5432, user postgres), dropped afterwards. It is filled by
bench/generate.py (`--scale province`, the default: 20 plans, 600 tasks, 159
units, 1,000 accounts, 63,000 reports; `small` or `larger` for short runs), or
on PostgreSQL copied from a database bench/generate.py already filled
(`--from-db postgresql://…/NAME`, `CREATE DATABASE … TEMPLATE NAME`: seconds
instead of a minute). The simulated people log in as the generated accounts.

The server: `gunicorn -k gthread -w 4 --threads 2` (see --workers, --threads,
--worker-class) on a free port of 127.0.0.1, in the production configuration
(random keys of its own, CSRF on, scrypt password hashes as generated).

The people (one thread each; a thread that waits costs no CPU). Between two
requests a person pauses 1–5 s (`--think`, uniform, seeded per person).
Four in five use the browser (HTML pages behind the login cookie: GET /login,
POST /login with its CSRF token), one in five the JSON API with a bearer
token (a mobile client). Of the people, 80 % are liaisons, 12 % coordinators,
8 % leaders, and each does what that role mostly does:

- liaisons read 我的待办 (also filtered: 已逾期), their unit's task pages and
  reports, their notices; now and then they file the unit's report for the
  current quarter (co-unit: a contribution), upload a file and submit it, one
  click after the other, pauses between; the lead unit's liaisons accept (or
  return) the contributions submitted to them and file and submit the task's
  report including them; a returned report is revised and submitted again;
- coordinators read 我的待办 (待审核), reports, task pages, the 通报 page and the
  dashboard, and approve (or return) the reports submitted;
- leaders open the dashboard of a plan (first screen), then its views (tasks,
  targets, late, units), a task page, 我的待办.

Writing goes through the JSON API for everyone (the HTML form handlers call
the same services); reading through the person's channel.

A run ramps the people up (`--ramp` seconds), then measures a window
(`--seconds`): requests per second, p50/p95/p99 of every request and per
kind, 5xx and connection errors, the CPU each part used in the window
(gunicorn's workers, the PostgreSQL backends of this database, the load
generator itself, the whole machine) and what the backends were waiting on
(pg_stat_activity sampled twice a second). It holds when no request failed
(5xx, no answer) and p95 ≤ 300 ms (`--p95-ms`). `--find-max` steps the
number of people up (doubling from `--start`, then halving the gap between
the last number held and the first not held), each step ramped and measured
in a window of its own, and prints the largest number held.

Afterwards, for every mode: every 2xx submit is stored as the version number
its answer showed (none lost), no report holds more new versions than it had
successful submits and no (report, number) is stored twice (none
duplicated); gunicorn logged no traceback. Exit status 1 if a check fails
(with --find-max: if a check fails; a step that does not hold is a finding).
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("SUPERVISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
P95_BUDGET_MS = 300.0
# Shares of the people online: liaisons, coordinators, leaders; and of them, who uses the API.
ROLE_SHARES = (("liaison", 0.80), ("coordinator", 0.12), ("leader", 0.08))
API_SHARE = 0.2
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the database -------------------------------------------------------------


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_database(backend: str, folder: Path, template: str | None = None) -> str:
    """An empty database of the run's own (or a copy of `template`, a
    PostgreSQL database that bench/generate.py filled)."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'load.sqlite3'}"
    from sqlalchemy import create_engine, text

    name = f"sv_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if template:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return _pg_url(name)


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Account:
    login: str
    role: str  # liaison, coordinator, leader
    user_id: int
    unit_id: int


@dataclass
class Person:
    """One simulated person: an account, a channel, what it may look at."""

    n: int
    account: Account
    api: bool
    token: str = ""
    lead_tasks: list[int] = field(default_factory=list)  # tasks its unit leads
    co_tasks: list[int] = field(default_factory=list)  # tasks its unit contributes to
    reports: list[int] = field(default_factory=list)  # reports to read (its unit's, or any for others)

    @property
    def role(self) -> str:
        return self.account.role


@dataclass
class World:
    """What the people know of the data: the ids they click on."""

    people: list[Person]
    period: str  # the current quarter: the one reports are filed for
    plans: list[int]
    tasks: list[int]
    version_baseline: int  # report_versions.id before the run: only newer ones are checked


def current_quarter(day: datetime.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def prepare(url: str, scale: str | None, max_people: int, seed_value: int) -> World:
    """Fill the database (unless it is a copy), then choose the accounts of
    up to `max_people` people and issue the API users' tokens."""
    from sqlalchemy import func, select

    from bench.generate import SCALES, generate
    from supervise import create_app
    from supervise.db import session, unit_of_work
    from supervise.models import (Plan, PlanStatus, Report, ReportVersion, Role, Task, TaskState, TaskUnit, UnitRole,
                                   User, UserRole)
    from supervise.services.users import issue_api_token

    if scale is not None:
        generate(url, SCALES[scale], seed=seed_value)
    rng = random.Random(seed_value)
    app = create_app("testing", DATABASE_URL=url)
    with app.app_context():
        sess = session()
        open_states = (TaskState.IN_PROGRESS, TaskState.NOT_STARTED)
        # Tasks of published plans only: a draft plan is seen by coordinators alone and owes nothing.
        published = Task.plan_id.in_(select(Plan.id).where(Plan.status == PlanStatus.PUBLISHED))
        lead_tasks: dict[int, list[int]] = defaultdict(list)
        co_tasks: dict[int, list[int]] = defaultdict(list)
        for task_id, unit_id, role in sess.execute(
            select(TaskUnit.task_id, TaskUnit.unit_id, TaskUnit.role).join(Task)
            .where(Task.state.in_(open_states), published).order_by(TaskUnit.id)
        ):
            (lead_tasks if role is UnitRole.LEAD else co_tasks)[unit_id].append(task_id)
        accounts: dict[str, list[Account]] = defaultdict(list)
        names = {Role.LIAISON: "liaison", Role.COORDINATOR: "coordinator", Role.LEADER: "leader"}
        for login, role, user_id, unit_id in sess.execute(
            select(User.login, UserRole.role, User.id, User.unit_id).join(UserRole, UserRole.user_id == User.id)
            .where(User.is_active.is_(True), UserRole.role.in_(list(names))).order_by(User.id)
        ):
            if role is Role.LIAISON and not (lead_tasks.get(unit_id) or co_tasks.get(unit_id)):
                continue  # a liaison of a unit with no open task has nothing to do here
            accounts[names[role]].append(Account(login, names[role], user_id, unit_id))
        for group in accounts.values():
            rng.shuffle(group)
        # Recent reports of each unit (what a liaison opens), and of all (coordinators).
        recent: dict[int, list[int]] = defaultdict(list)
        all_recent: list[int] = []
        for report_id, unit_id in sess.execute(
            select(Report.id, Report.unit_id).where(Report.submitted_at.is_not(None))
            .order_by(Report.submitted_at.desc()).limit(20_000)
        ):
            if len(recent[unit_id]) < 24:
                recent[unit_id].append(report_id)
            if len(all_recent) < 2_000:
                all_recent.append(report_id)
        plans = list(sess.scalars(select(Plan.id).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)))
        tasks = list(sess.scalars(select(Task.id).where(Task.state.in_(open_states), published).order_by(Task.id)))
        baseline = sess.scalar(select(func.coalesce(func.max(ReportVersion.id), 0)))

        people: list[Person] = []
        used: Counter = Counter()
        for n in range(max_people):
            # The role by its share, spread evenly over the numbers (person n, n+1 … keep the mix).
            x = (n * 0.6180339887) % 1.0
            role = "liaison" if x < ROLE_SHARES[0][1] else "coordinator" if x < 1 - ROLE_SHARES[2][1] else "leader"
            pool = accounts[role] or accounts["liaison"]
            account = pool[used[role] % len(pool)]
            used[role] += 1
            person = Person(n, account, api=((n * 0.7548776662) % 1.0) < API_SHARE)
            if account.role == "liaison":
                person.lead_tasks = list(lead_tasks.get(account.unit_id, []))
                person.co_tasks = list(co_tasks.get(account.unit_id, []))
                person.reports = list(recent.get(account.unit_id, [])) or all_recent[:24]
            else:
                person.reports = rng.sample(all_recent, min(24, len(all_recent)))
            people.append(person)
        with unit_of_work():
            # Everyone writes through the API, so everyone has a token; the API
            # users also read through it.
            users = {u.id: u for u in sess.scalars(select(User).where(
                User.id.in_({p.account.user_id for p in people})))}
            tokens: dict[int, str] = {}
            for p in people:
                if p.account.user_id not in tokens:
                    tokens[p.account.user_id] = issue_api_token(users[p.account.user_id], label="bench/load.py")
                p.token = tokens[p.account.user_id]
        session.remove()
    app.extensions["supervise.engine"].dispose()
    return World(people, current_quarter(datetime.date.today()), plans, tasks, baseline)


# --- the server ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerOptions:
    workers: int = 4
    threads: int = 2
    worker_class: str = "gthread"

    def describe(self) -> str:
        threads = f" --threads {self.threads}" if self.worker_class == "gthread" else ""
        return f"gunicorn -k {self.worker_class} -w {self.workers}{threads}"


def start_gunicorn(url: str, folder: Path, options: ServerOptions) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SMTP_", "SUPERVISE_", "FLASK_")) and k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(SUPERVISE_CONFIG="production", DATABASE_URL=url, SECRET_KEY=secrets.token_hex(32),
               SUPERVISE_AUDIT_KEY=secrets.token_hex(32), SUPERVISE_INSTANCE=str(folder),
               SUPERVISE_EVIDENCE_DIR=str(folder / "evidence"), SUPERVISE_ARCHIVE_DIR=str(folder / "archive"))
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn), "-k", options.worker_class, "-w", str(options.workers), "-b", f"127.0.0.1:{port}",
               "--timeout", "120", "--graceful-timeout", "10", "--backlog", "2048",
               "--error-logfile", str(folder / "gunicorn.log"), "wsgi:app"]
    if options.worker_class == "gthread":
        command[1:1] = ["--threads", str(options.threads)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited: " + (folder / "gunicorn.log").read_text(errors="replace")[-3000:])
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- what was answered --------------------------------------------------------


@dataclass
class Record:
    kind: str
    status: int  # 0: no answer (connection error)
    seconds: float
    ended: float  # time.monotonic() at the answer


@dataclass
class Shared:
    """What the simulated people know of each other's work, and what was
    answered, for the checks afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[Record] = field(default_factory=list)
    contributions: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # by task id
    to_review: list[int] = field(default_factory=list)  # lead reports waiting for a coordinator
    returned: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # by unit id
    filed: set[tuple[int, int]] = field(default_factory=set)  # (task, unit) filed this quarter, or refused
    submitted: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # report -> version numbers
    # Submits that got no answer (timed out): the server may or may not have stored them.
    unanswered: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    refusals: Counter = field(default_factory=Counter)  # (kind, status, message) of the 4xx answers


CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE_ATTR = re.compile(r'value="([^"]*)"')


class Client:
    """A person's HTTP client: a new loopback connection per request (as
    behind nginx; a keep-alive connection idle through a pause would be
    closed by gunicorn), the session cookie or the bearer token, every
    request timed and recorded."""

    def __init__(self, port: int, person: Person, shared: Shared):
        self.port, self.person, self.shared = port, person, shared
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, path: str, data: bytes | None, headers: dict) -> tuple[int, bytes, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return response.status, raw, response
        finally:
            conn.close()

    def request(self, kind: str, method: str, path: str, *, json_body=None, form: dict | None = None,
                multipart: tuple[str, bytes] | None = None, api: bool | None = None):
        api = self.person.api if api is None else api
        headers: dict[str, str] = {}
        if api:
            headers["Authorization"] = f"Bearer {self.person.token}"
            path = "/api/v1" + path
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if multipart is not None:
            boundary = uuid.uuid4().hex
            name, content = multipart
            data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                    f"Content-Type: application/pdf\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            status, raw, response = self._send(method, path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            with self.shared.lock:
                self.shared.records.append(Record(kind, 0, time.perf_counter() - started, time.monotonic()))
                self.shared.errors.append(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            return 0, None
        elapsed = time.perf_counter() - started
        with self.shared.lock:
            self.shared.records.append(Record(kind, status, elapsed, time.monotonic()))
            if status >= 500:
                self.shared.errors.append(f"{kind} {method} {path}: {status} {raw[:300].decode('utf-8', 'replace')}")
            elif status >= 400:
                self.shared.refusals[(kind, status, raw[:160].decode("utf-8", "replace"))] += 1
        if response.getheader("Content-Type", "").startswith("application/json") and raw:
            return status, json.loads(raw)
        return status, raw

    def get(self, kind: str, path: str, *, api: bool | None = None):
        return self.request(kind, "GET", path, api=api)

    def login(self) -> bool:
        """The browser's login: the form (its CSRF token), then the POST."""
        from bench.generate import PASSWORD

        status, page = self.request("login form", "GET", "/login", api=False)
        if status != 200:
            return False
        match = CSRF_INPUT.search(page.decode("utf-8", "replace"))
        token = VALUE_ATTR.search(match.group(0)).group(1) if match else ""
        status, _ = self.request("login", "POST", "/login", api=False,
                                 form={"login": self.person.account.login, "password": PASSWORD, "csrf_token": token})
        return status == 302

    def submit(self, report_id: int) -> dict | None:
        status, body = self.request("submit", "POST", f"/reports/{report_id}/submit", json_body={}, api=True)
        if 200 <= status < 300:
            with self.shared.lock:
                self.shared.submitted[report_id].append(max(v["number"] for v in body["versions"]))
            return body
        if status == 0:
            with self.shared.lock:
                self.shared.unanswered[report_id] += 1
        return None


# --- what people do -----------------------------------------------------------
# Each action is a generator: one request per step, and the person pauses
# between steps as between any two clicks.

Action = Iterator[None]


class Behaviour:
    def __init__(self, person: Person, client: Client, world: World, shared: Shared, rng: random.Random):
        self.p, self.c, self.world, self.shared, self.rng = person, client, world, shared, rng
        self.api = person.api

    # reading
    def my_work(self, query: str = "") -> Action:
        self.c.get("api /me/work" if self.api else "我的待办", ("/me/work" if self.api else "/work") + query)
        yield

    def task_page(self, task_id: int | None = None) -> Action:
        tasks = self.p.lead_tasks + self.p.co_tasks or self.world.tasks
        task_id = task_id or self.rng.choice(tasks)
        self.c.get("api /tasks/{id}" if self.api else "任务页", f"/tasks/{task_id}")
        yield

    def report_page(self) -> Action:
        if not self.p.reports:
            yield from self.my_work()
            return
        self.c.get("api /reports/{id}" if self.api else "报告页", f"/reports/{self.rng.choice(self.p.reports)}")
        yield

    def notices(self) -> Action:
        if self.api:
            self.c.get("api /me", "/me")
        else:
            self.c.get("通知", "/notifications")
        yield

    def dashboard(self) -> Action:
        plan = self.rng.choice(self.world.plans)
        if self.api:
            self.c.get("api /dashboard", f"/dashboard?plan={plan}")
            yield
            return
        self.c.get("督查看板", f"/dashboard/?plan={plan}")
        yield
        # Then, often, one of its views a click away.
        if self.rng.random() < 0.6:
            view = self.rng.choice(["tasks&page=2", "targets", "late", "units"])
            self.c.get("督查看板 view", f"/dashboard/?plan={plan}&view={view}")
            yield

    def reports_page(self) -> Action:
        if self.api:
            yield from self.dashboard()
            return
        self.c.get("通报签发页", f"/dashboard/reports?plan={self.rng.choice(self.world.plans)}")
        yield

    # writing (JSON API)
    def file_contribution(self) -> Action:
        """Co-unit: file this quarter's contribution, upload a file, submit."""
        with self.shared.lock:
            returned = self.shared.returned[self.p.account.unit_id][:1]
            if returned:
                self.shared.returned[self.p.account.unit_id].pop(0)
        if returned:
            yield from self.revise(returned[0])
            return
        with self.shared.lock:
            free = [t for t in self.p.co_tasks if (t, self.p.account.unit_id) not in self.shared.filed]
            task_id = self.rng.choice(free) if free else None
            if task_id is not None:
                self.shared.filed.add((task_id, self.p.account.unit_id))
        if task_id is None:
            yield from self.my_work()
            return
        status, report = self.c.request("file", "POST", "/reports", api=True, json_body={
            "task_id": task_id, "period": self.world.period, "text": f"{self.world.period} 配合单位进展情况"})
        yield
        if status != 201:
            return  # filed already (409), or the task refuses reports
        self.c.request("upload", "POST", f"/reports/{report['id']}/evidence", api=True,
                       multipart=(f"佐证-{report['id']}.pdf", PDF + str(report["id"]).encode()))
        yield
        if self.c.submit(report["id"]):
            with self.shared.lock:
                self.shared.contributions[task_id].append(report["id"])
        yield

    def revise(self, report_id: int) -> Action:
        status, report = self.c.request("report (api)", "GET", f"/reports/{report_id}", api=True)
        yield
        if status != 200 or report["state"] != "returned":
            return
        self.c.request("edit", "PATCH", f"/reports/{report_id}", api=True,
                       json_body={"text": report["text"] + "(已补充)", "version": report["version"]})
        yield
        if self.c.submit(report_id):
            with self.shared.lock:
                if report["kind"] == "lead_report":
                    self.shared.to_review.append(report_id)
                else:
                    self.shared.contributions[report["task"]["id"]].append(report_id)
        yield

    def lead_work(self) -> Action:
        """Lead unit: decide on a contribution; file and submit the task's report."""
        with self.shared.lock:
            returned = self.shared.returned[self.p.account.unit_id][:1]
            if returned:
                self.shared.returned[self.p.account.unit_id].pop(0)
            todo = next(((t, self.shared.contributions[t].pop(0)) for t in self.p.lead_tasks
                         if self.shared.contributions.get(t)), None)
        if returned:
            yield from self.revise(returned[0])
            return
        if todo is None:
            yield from self.file_lead_report([])
            return
        task_id, cid = todo
        status, contribution = self.c.request("report (api)", "GET", f"/reports/{cid}", api=True)
        yield
        if status != 200 or contribution["state"] != "submitted":
            return
        if self.rng.random() < 0.15:
            status, _ = self.c.request("return", "POST", f"/reports/{cid}/return", api=True,
                                       json_body={"reason": "请补充分地区数据"})
            if status == 200:
                with self.shared.lock:
                    self.shared.returned[contribution["unit"]["id"]].append(cid)
            yield
            return
        status, _ = self.c.request("accept", "POST", f"/reports/{cid}/accept", api=True, json_body={})
        yield
        if status == 200:
            yield from self.file_lead_report([cid], task_id)

    def file_lead_report(self, include: list[int], task_id: int | None = None) -> Action:
        with self.shared.lock:
            if task_id is None:
                free = [t for t in self.p.lead_tasks if (t, self.p.account.unit_id) not in self.shared.filed]
                task_id = self.rng.choice(free) if free else None
            elif (task_id, self.p.account.unit_id) in self.shared.filed:
                task_id = None
            if task_id is not None:
                self.shared.filed.add((task_id, self.p.account.unit_id))
        if task_id is None:
            yield from self.my_work()
            return
        status, report = self.c.request("file", "POST", "/reports", api=True, json_body={
            "task_id": task_id, "period": self.world.period, "text": f"牵头单位汇总:{self.world.period}",
            "include": include})
        yield
        if status == 201 and self.c.submit(report["id"]):
            with self.shared.lock:
                self.shared.to_review.append(report["id"])
            yield

    def review(self) -> Action:
        """Coordinator: read a submitted report, approve it (a quarter returned)."""
        with self.shared.lock:
            rid = self.shared.to_review.pop(0) if self.shared.to_review else None
        if rid is None:
            yield from self.my_work("?state=review")
            return
        status, report = self.c.request("report (api)", "GET", f"/reports/{rid}", api=True)
        yield
        if status != 200 or report["state"] != "submitted":
            return
        if self.rng.random() < 0.25:
            status, _ = self.c.request("return", "POST", f"/reports/{rid}/return", api=True,
                                       json_body={"reason": "数值与台账不符", "version": report["version"]})
            if status == 200:
                with self.shared.lock:
                    self.shared.returned[report["unit"]["id"]].append(rid)
        else:
            self.c.request("approve", "POST", f"/reports/{rid}/approve", api=True,
                           json_body={"version": report["version"]})
        yield

    def next_action(self) -> Action:
        r = self.rng.random
        role = self.p.role
        if role == "liaison":
            choices = [(30, self.my_work), (8, lambda: self.my_work("?state=overdue")), (22, self.task_page),
                       (15, self.report_page), (5, self.notices)]
            if self.p.co_tasks:
                choices.append((12, self.file_contribution))
            if self.p.lead_tasks:
                choices.append((12, self.lead_work))
        elif role == "coordinator":
            choices = [(25, self.my_work), (25, self.review), (15, self.report_page), (15, self.task_page),
                       (10, self.dashboard), (5, self.reports_page), (5, self.notices)]
        else:
            # A leader has no 我的待办: the dashboard, then what it points to.
            choices = [(50, self.dashboard), (20, self.task_page), (15, self.report_page), (10, self.reports_page),
                       (5, self.notices)]
        x = r() * sum(w for w, _ in choices)
        for weight, action in choices:
            x -= weight
            if x < 0:
                return action()
        return choices[-1][1]()


class Population:
    """The people's threads; the number of active people can be raised
    (ramped) and lowered while they run."""

    def __init__(self, port: int, world: World, shared: Shared, think: tuple[float, float], seed_value: int):
        self.port, self.world, self.shared, self.think, self.seed = port, world, shared, think, seed_value
        self.stop_all = threading.Event()
        self.threads: list[tuple[threading.Thread, threading.Event]] = []

    @property
    def active(self) -> int:
        return sum(1 for _, stop in self.threads if not stop.is_set())

    def _live(self, person: Person, stop: threading.Event) -> None:
        rng = random.Random(self.seed * 100_003 + person.n)
        client = Client(self.port, person, self.shared)
        try:
            if not person.api and not client.login():
                with self.shared.lock:
                    self.shared.errors.append(f"{person.account.login}: cannot log in")
                return
            action: Action | None = None
            while not (stop.is_set() or self.stop_all.is_set()):
                # A pause before each click (the first also spreads the people out).
                if self.stop_all.wait(rng.uniform(*self.think)) or stop.is_set():
                    break
                if action is None:
                    action = Behaviour(person, client, self.world, self.shared, rng).next_action()
                try:
                    next(action)
                except StopIteration:
                    action = None
                    continue
        except Exception as exc:  # a bug of the simulation itself is a failed check, not a hang
            with self.shared.lock:
                self.shared.errors.append(f"{person.account.login}: {type(exc).__name__}: {exc}")

    def set_people(self, target: int, ramp_seconds: float) -> None:
        """Start people until `target` are active, evenly over `ramp_seconds`,
        or stop the last ones started."""
        target = min(target, len(self.world.people))
        active = [(t, s) for t, s in self.threads if not s.is_set()]
        if target < len(active):
            for _, stop in active[target:]:
                stop.set()
            return
        new = target - len(active)
        for i in range(new):
            # People stopped in a lower step are not restarted: their accounts are reused by new ones.
            person = self.world.people[len(self.threads) % len(self.world.people)]
            stop = threading.Event()
            thread = threading.Thread(target=self._live, args=(person, stop), daemon=True)
            self.threads.append((thread, stop))
            thread.start()
            if ramp_seconds and i < new - 1:
                time.sleep(ramp_seconds / new)

    def finish(self, timeout: float = 180) -> bool:
        self.stop_all.set()
        deadline = time.monotonic() + timeout
        for thread, _ in self.threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        return not any(t.is_alive() for t, _ in self.threads)


# --- what the machine did -----------------------------------------------------


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class Monitor:
    """CPU seconds of gunicorn's workers, this database's PostgreSQL
    backends, the load generator and the machine over a window, and
    pg_stat_activity sampled twice a second (how many backends were active,
    and on what they waited)."""

    def __init__(self, url: str, gunicorn_pid: int):
        self.url, self.master = url, gunicorn_pid
        self.pg = url.startswith("postgresql")
        self._stop = threading.Event()
        self._samples: list[list[tuple[str, str | None]]] = []
        self._conn = None
        if self.pg:
            import psycopg

            self._conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def _backends(self) -> list[tuple[int, str, str | None]]:
        """(pid, state, what an active backend waits on: "Lock:transactionid <statement>" …)."""
        rows = self._conn.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        return [(pid, state or "", f"{kind}:{event}" + (f" [{query}]" if kind == "Lock" else "") if kind else None)
                for pid, state, kind, event, query in rows]

    def snapshot(self) -> dict:
        workers = _children(self.master)
        backends = [pid for pid, _, _ in self._backends()] if self.pg else []
        busy, total = _machine_busy()
        return {"t": time.monotonic(), "workers": {p: _proc_cpu(p) for p in workers},
                "backends": {p: _proc_cpu(p) for p in backends}, "self": time.process_time(),
                "busy": busy, "total": total, "load": os.getloadavg()}

    def start_sampling(self) -> None:
        self._samples = []
        self._stop.clear()
        if not self.pg:
            return

        def sample() -> None:
            while not self._stop.wait(0.5):
                try:
                    self._samples.append([(state, wait) for _, state, wait in self._backends()])
                except Exception:  # the database went away at the end: stop sampling
                    return

        threading.Thread(target=sample, daemon=True).start()

    def stop_sampling(self) -> dict:
        self._stop.set()
        samples = self._samples
        if not samples:
            return {}
        active = [sum(1 for state, _ in s if state == "active") for s in samples]
        waits: Counter = Counter()
        for s in samples:
            for state, wait in s:
                if state == "active" and wait:
                    waits[wait] += 1
        return {"samples": len(samples), "active_mean": statistics.mean(active), "active_max": max(active),
                "waits": dict(waits), "connections": max(len(s) for s in samples)}

    def close(self) -> None:
        self._stop.set()
        if self._conn is not None:
            self._conn.close()


def cpu_between(a: dict, b: dict) -> dict:
    seconds = b["t"] - a["t"]

    def used(key: str) -> float:
        return sum(cpu - a[key].get(pid, 0.0) for pid, cpu in b[key].items())

    machine_cores = os.cpu_count() or 1
    return {
        "workers": used("workers") / seconds, "postgres": used("backends") / seconds,
        "generator": (b["self"] - a["self"]) / seconds,
        "machine": (b["busy"] - a["busy"]) / (b["total"] - a["total"]),  # a fraction of all cores
        "cores": machine_cores, "load": b["load"],
    }


# --- a window's figures -------------------------------------------------------


def _pad(text: str, width: int) -> str:
    """Left-aligned in `width` columns of a terminal (a Chinese character takes two)."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(1, width - columns)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class Window:
    users: int
    seconds: float
    records: list[Record]
    cpu: dict
    pg: dict
    p95_budget_ms: float = P95_BUDGET_MS
    think_mean: float = 3.0  # seconds, the mean pause between a person's requests

    @property
    def ms(self) -> list[float]:
        return [r.seconds * 1000 for r in self.records]

    @property
    def failures(self) -> int:
        return sum(1 for r in self.records if r.status == 0 or r.status >= 500)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)

    @property
    def holds(self) -> bool:
        return bool(self.records) and self.failures == 0 and self.p95 <= self.p95_budget_ms

    def summary(self) -> str:
        ms = self.ms
        return (f"{self.users:5d} people  {len(ms) / self.seconds:6.1f} req/s  p50 {percentile(ms, 50):7.1f}  "
                f"p95 {percentile(ms, 95):7.1f}  p99 {percentile(ms, 99):7.1f} ms  failed {self.failures}  "
                f"{'HOLDS' if self.holds else 'does not hold'}")

    def machine(self) -> str:
        c = self.cpu
        line = (f"cpu (cores of {c['cores']}): gunicorn workers {c['workers']:.2f}, postgres backends "
                f"{c['postgres']:.2f}, load generator {c['generator']:.2f}, whole machine busy "
                f"{c['machine'] * c['cores']:.2f}; load average {c['load'][0]:.1f} {c['load'][1]:.1f} {c['load'][2]:.1f}")
        rate = len(self.records) / self.seconds
        if rate:
            # Load-independent as far as CPU time is: what one request costs, and
            # how many people the cores would carry if they did nothing else.
            per_request = (c["workers"] + c["postgres"]) / rate
            line += (f"\ncpu per request: gunicorn {c['workers'] / rate * 1000:.0f} ms + postgres "
                     f"{c['postgres'] / rate * 1000:.0f} ms; {c['cores']} cores would be full at "
                     f"{c['cores'] / per_request:.0f} req/s ≈ {c['cores'] / per_request * self.think_mean:.0f} people "
                     f"pausing {self.think_mean:g} s on average (a ceiling: p95 ≤ 300 ms needs idle headroom)")
        if self.pg:
            waits = "; ".join(f"{k} ×{v}" for k, v in sorted(self.pg["waits"].items(), key=lambda kv: -kv[1])[:6]) or "none"
            line += (f"\npg_stat_activity ({self.pg['samples']} samples): connections {self.pg['connections']}, "
                     f"active mean {self.pg['active_mean']:.2f} max {self.pg['active_max']}, "
                     f"active backends seen waiting: {waits}")
        return line

    def table(self) -> str:
        by_kind: dict[str, list[Record]] = defaultdict(list)
        for r in self.records:
            by_kind[r.kind].append(r)
        lines = [f"{'request':<18}{'count':>7}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'2xx/3xx':>8}{'4xx':>6}{'5xx':>5}"]
        for kind, records in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
            ms = [r.seconds * 1000 for r in records]
            lines.append(
                f"{_pad(kind, 18)}{len(records):>7}{len(records) / self.seconds:>8.1f}{percentile(ms, 50):>9.1f}"
                f"{percentile(ms, 95):>9.1f}{sum(200 <= r.status < 400 for r in records):>8}"
                f"{sum(400 <= r.status < 500 for r in records):>6}{sum(r.status >= 500 or r.status == 0 for r in records):>5}")
        return "\n".join(lines)


def measure(population: Population, shared: Shared, monitor: Monitor, seconds: float,
            budget_ms: float) -> Window:
    """The figures of the next `seconds`, with the people as they are."""
    before = monitor.snapshot()
    monitor.start_sampling()
    started = time.monotonic()
    time.sleep(seconds)
    ended = time.monotonic()
    pg = monitor.stop_sampling()
    after = monitor.snapshot()
    with shared.lock:
        records = [r for r in shared.records if started <= r.ended < ended]
    return Window(population.active, ended - started, records, cpu_between(before, after), pg, budget_ms,
                  sum(population.think) / 2)


# --- the checks -----------------------------------------------------------------


def check(url: str, shared: Shared, baseline: int) -> tuple[list[str], int]:
    """Every successful submit stored, none twice; only versions newer than
    `baseline` (the run's own) are looked at."""
    from sqlalchemy import create_engine, func, select

    from supervise.models import ReportVersion

    problems = list(shared.errors)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(ReportVersion.report_id, ReportVersion.number)
                            .where(ReportVersion.id > baseline)).all()
        duplicates = conn.execute(
            select(ReportVersion.report_id, ReportVersion.number, func.count())
            .group_by(ReportVersion.report_id, ReportVersion.number).having(func.count() > 1)
        ).all()
    engine.dispose()
    stored: dict[int, set[int]] = defaultdict(set)
    for report_id, number in rows:
        stored[report_id].add(number)
    if duplicates:
        problems.append(f"duplicated versions (report, number, count): {duplicates[:10]}")
    for report_id, numbers in shared.submitted.items():
        missing = set(numbers) - stored[report_id]
        if missing:
            problems.append(f"report {report_id}: submitted versions {sorted(missing)} are not stored (lost)")
        # A submit that timed out may have been stored: at most one version for each.
        if len(stored[report_id]) > len(numbers) + shared.unanswered[report_id]:
            problems.append(f"report {report_id}: {len(stored[report_id])} versions stored for {len(numbers)} submits")
        if len(set(numbers)) != len(numbers):
            problems.append(f"report {report_id}: two submits answered with the same version {numbers}")
    extra = {r for r in set(stored) - set(shared.submitted)
             if len(stored[r]) > shared.unanswered[r]}
    if extra:
        problems.append(f"versions of reports nobody submitted successfully: {sorted(extra)[:10]}")
    return problems, len(rows)


@dataclass
class Outcome:
    backend: str
    server: str
    windows: list[Window]
    kinds: dict[str, dict[str, int]]  # over the whole run: count and 2xx per kind
    submits: int
    versions_in_db: int
    problems: list[str]
    refusals: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def server_errors(self) -> int:
        return sum(v["5xx"] for v in self.kinds.values())

    @property
    def largest_held(self) -> Window | None:
        held = [w for w in self.windows if w.holds]
        return max(held, key=lambda w: w.users) if held else None


def kinds_of(records: list[Record]) -> dict[str, dict[str, int]]:
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "2xx": 0, "4xx": 0, "5xx": 0})
    for r in records:
        k = kinds[r.kind]
        k["count"] += 1
        k["2xx" if 200 <= r.status < 400 else "4xx" if 400 <= r.status < 500 else "5xx"] += 1
    return dict(kinds)


def report(outcome: Outcome) -> str:
    lines = [f"== {outcome.backend}, {outcome.server} =="]
    for w in outcome.windows:
        lines += [w.summary(), w.table(), w.machine(), ""]
    if len(outcome.windows) > 1:
        lines.append("steps:")
        lines += ["  " + w.summary() for w in sorted(outcome.windows, key=lambda w: w.users)]
        best = outcome.largest_held
        lines.append(f"largest number of people held (no failed request, p95 ≤ {P95_BUDGET_MS:g} ms): "
                     + (f"{best.users}" if best else "none of the steps"))
    if outcome.refusals:
        lines.append("4xx answers (refusals of a busy day: filed already, changed since read …), most frequent:")
        lines += [f"  {n:5d} × {kind} {status} {message}" for (kind, status, message), n in outcome.refusals.most_common(6)]
    lines.append(f"successful submits {outcome.submits}, new versions in the database {outcome.versions_in_db}")
    lines.append("checks: " + ("OK (no 5xx, no submission lost or duplicated)" if outcome.ok else "FAILED"))
    lines += [f"  - {p}" for p in outcome.problems[:30]]
    return "\n".join(lines)


# --- running it -------------------------------------------------------------------


def find_max(population: Population, shared: Shared, monitor: Monitor, *, start: int, limit: int,
             ramp: float, seconds: float, budget_ms: float, resolution: int, time_limit: float,
             log) -> list[Window]:
    """Double the people from `start` while they are held, then halve the
    gap between the largest number held and the smallest not held, until it
    is at most `resolution` or the time is up."""
    windows: list[Window] = []
    held, failed = 0, None
    users = start
    started = time.monotonic()
    while True:
        population.set_people(users, ramp)
        time.sleep(min(5.0, ramp))  # the last ones started make their first clicks
        window = measure(population, shared, monitor, seconds, budget_ms)
        windows.append(window)
        log(window.summary() + "\n" + window.machine())
        if window.holds:
            held = users
        else:
            failed = users if failed is None else min(failed, users)
        if failed is None:
            if users >= limit:
                break
            users = min(limit, users * 2)
        else:
            if failed - held <= resolution:
                break
            users = (held + failed) // 2 if held else max(1, failed // 2)
            if users in (held, failed):
                break
        if time.monotonic() - started + ramp + seconds + 5 > time_limit:
            log("time limit reached")
            break
    return windows


def run_load(backend: str, *, users: int = 50, seconds: float = 60, ramp: float = 30,
             think: tuple[float, float] = (1.0, 5.0), scale: str = "province", from_db: str | None = None,
             server: ServerOptions = ServerOptions(), find: dict | None = None, budget_ms: float = P95_BUDGET_MS,
             seed_value: int = 2026, keep: bool = False, log=print) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix=f"supervise-load-{backend}-"))
    template = from_db.rsplit("/", 1)[1] if from_db else None
    url = create_database(backend, folder, template)
    proc = None
    monitor = None
    try:
        max_people = find["limit"] if find else users
        world = prepare(url, None if template else scale, max_people, seed_value)
        proc, port = start_gunicorn(url, folder, server)
        monitor = Monitor(url, proc.pid)
        shared = Shared()
        population = Population(port, world, shared, think, seed_value)
        log(f"{backend}: {server.describe()}, pauses {think[0]:g}–{think[1]:g} s, "
            f"data {'copy of ' + template if template else scale}")
        if find:
            windows = find_max(population, shared, monitor, ramp=ramp, seconds=seconds, budget_ms=budget_ms,
                               log=log, **{k: v for k, v in find.items()})
        else:
            population.set_people(users, ramp)
            time.sleep(min(5.0, ramp))
            windows = [measure(population, shared, monitor, seconds, budget_ms)]
        finished = population.finish()
        monitor.close()
        stop_gunicorn(proc)
        proc = None
        problems, versions = check(url, shared, world.version_baseline)
        if not finished:
            problems.append("some simulated people did not finish within 180 s after the end")
        log_text = (folder / "gunicorn.log").read_text(errors="replace")
        if "Traceback" in log_text:
            problems.append("gunicorn logged a traceback:\n" + log_text[log_text.index("Traceback"):][:2000])
        kinds = kinds_of(shared.records)
        failed = sum(v["5xx"] for v in kinds.values())
        if failed:
            problems.insert(0, f"{failed} answers were 5xx or no answer")
        if not shared.submitted:
            problems.append("no submission succeeded: the load did nothing")
        return Outcome(backend, server.describe(), windows, kinds,
                       sum(len(v) for v in shared.submitted.values()), versions, problems, shared.refusals)
    finally:
        if monitor is not None:
            monitor.close()
        if proc is not None:
            stop_gunicorn(proc)
        if not keep:
            drop_database(url)
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--users", type=int, default=100, help="people (without --find-max)")
    parser.add_argument("--seconds", type=float, default=60, help="the measured window (each step's with --find-max)")
    parser.add_argument("--ramp", type=float, default=30, help="seconds over which the people start")
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"),
                        help="pause between a person's requests, seconds (uniform)")
    parser.add_argument("--scale", choices=["small", "larger", "province"], default="province",
                        help="the data bench/generate.py builds for the run")
    parser.add_argument("--from-db", default=None,
                        help="PostgreSQL only: copy this database filled by bench/generate.py --db instead")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--p95-ms", type=float, default=P95_BUDGET_MS)
    parser.add_argument("--find-max", action="store_true", help="step the people up to the largest number held")
    parser.add_argument("--start", type=int, default=25, help="--find-max: people of the first step")
    parser.add_argument("--limit", type=int, default=1000, help="--find-max: never more people than this")
    parser.add_argument("--resolution", type=int, default=10, help="--find-max: stop when the gap is this small")
    parser.add_argument("--time-limit", type=float, default=170, help="--find-max: seconds for all the steps")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder afterwards")
    args = parser.parse_args(argv)
    if args.from_db and args.backend != "postgresql":
        parser.error("--from-db is for --backend postgresql")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    server = ServerOptions(args.workers, args.threads, args.worker_class)
    find = ({"start": args.start, "limit": args.limit, "resolution": args.resolution, "time_limit": args.time_limit}
            if args.find_max else None)
    ok = True
    for backend in backends:
        outcome = run_load(backend, users=args.users, seconds=args.seconds, ramp=args.ramp, think=tuple(args.think),
                           scale=args.scale, from_db=args.from_db, server=server, find=find,
                           budget_ms=args.p95_ms, seed_value=args.seed, keep=args.keep,
                           log=lambda line: print(line, flush=True))
        print(report(outcome), flush=True)
        ok = ok and outcome.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
