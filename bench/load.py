"""Load: the app under gunicorn with several workers, simulated users on the
JSON API, then a check of what the database holds.

    .venv/bin/python bench/load.py [--backend sqlite|postgresql|both] [--seconds 60] [--users 50] [--workers 4]

For each backend it prepares a fresh database of its own (an SQLite file in a
temporary folder, or a PostgreSQL database it creates on SUPERVISE_TEST_PG /
127.0.0.1:5432 and drops afterwards), migrates it, imports the 27号 plan,
creates the users with an API token each (through the services, as
`flask user token` does), and starts gunicorn on a free port of 127.0.0.1.

The simulated users (one thread each, a bounded loop until the time is up):
- liaisons of co-units file a contribution for a task and period, upload a
  small evidence file and submit it; a returned one is revised and submitted
  again;
- liaisons of the lead units accept (or sometimes return) the contributions
  submitted to them, file the task's report including them and submit it;
- coordinators approve or return the submitted reports.
Everyone also reads: 我的待办 (GET /me/work) and the report they act on.

Afterwards: no answer was a 5xx (nor a connection error); every 2xx submit
is in the database as that report's version (none lost) and no report holds
more versions than it had successful submits (none duplicated; the unique
(report_id, number) holds). It prints requests per second and p50/p95 per
kind of request. Exit status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("SUPERVISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SOURCE_DOC = ROOT / "seed" / "plans" / "zhejiang-cbec-action-plan-2024.md"
PASSWORD = "Load@Test2026"
# Only periods that have started: a report for a later one is refused (issue 9).
PERIODS = [f"{y}Q{q}" for y in (2024, 2025, 2026, 2027) for q in (1, 2, 3, 4)
           if datetime.date(y, 3 * q - 2, 1) <= datetime.date.today()]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- preparing a database ------------------------------------------------------


@dataclass
class Person:
    login: str
    role: str  # "co", "lead", "coordinator"
    unit: str
    token: str = ""
    user_id: int = 0
    tasks: list[int] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'load.sqlite3'}"
    from sqlalchemy import create_engine, text

    name = f"sv_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, users: int) -> list[Person]:
    """Migrate, load the units and the 27号 plan, and create `users` people
    with a token each: about a tenth coordinators, a quarter lead liaisons,
    the rest co-unit liaisons, on the tasks that have co-units."""
    from supervise import create_app, migrate
    from supervise.db import session, unit_of_work
    from supervise.models import Role, UnitRole
    from supervise.services.plans import import_plan_document
    from supervise.services.units import load_units
    from supervise.policy import SYSTEM
    from supervise.services.users import create_user, issue_api_token

    migrate.upgrade(url)
    app = create_app("testing", DATABASE_URL=url)
    people: list[Person] = []
    with app.app_context():
        with unit_of_work():
            load_units(ROOT / "seed" / "units.csv")
            load_units(ROOT / "seed" / "counties.csv")
            plan = import_plan_document(SOURCE_DOC.read_text(encoding="utf-8"), actor=SYSTEM, publish=True, first_period="2024Q1").plan
            tasks = [t for t in plan.tasks if any(tu.role is UnitRole.CO for tu in t.units)]
            lead_units: dict[str, list[int]] = defaultdict(list)
            co_units: dict[str, list[int]] = defaultdict(list)
            for task in tasks:
                for tu in task.units:
                    (lead_units if tu.role is UnitRole.LEAD else co_units)[tu.unit.canonical_name].append(task.id)
        n_coord = max(1, users // 10)
        n_lead = max(1, users // 4)
        n_co = max(1, users - n_coord - n_lead)
        # Co-unit liaisons: the units with most tasks first, round robin.
        co_names = sorted(co_units, key=lambda u: (-len(co_units[u]), u))[:n_co]
        lead_names = sorted(lead_units, key=lambda u: (-len(lead_units[u]), u))
        people += [Person(f"load_coord{i}", "coordinator", "省商务厅") for i in range(n_coord)]
        people += [Person(f"load_lead{i}", "lead", lead_names[i % len(lead_names)],
                          tasks=lead_units[lead_names[i % len(lead_names)]]) for i in range(n_lead)]
        people += [Person(f"load_co{i}", "co", co_names[i % len(co_names)],
                          tasks=co_units[co_names[i % len(co_names)]]) for i in range(n_co)]
        with unit_of_work():
            role = {"coordinator": Role.COORDINATOR, "lead": Role.LIAISON, "co": Role.LIAISON}
            for p in people:
                user = create_user(p.login, unit_name=p.unit, roles=[role[p.role]], password=PASSWORD, actor=SYSTEM)
                p.token = issue_api_token(user, label="load")
                p.user_id = user.id
        session.remove()
    app.extensions["supervise.engine"].dispose()
    return people


# --- the server ---------------------------------------------------------------


def start_gunicorn(url: str, folder: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ)
    env.update(SUPERVISE_CONFIG="testing", DATABASE_URL=url, SUPERVISE_INSTANCE=str(folder),
               SUPERVISE_EVIDENCE_DIR=str(folder / "evidence"), SUPERVISE_ARCHIVE_DIR=str(folder / "archive"),
               FLASK_DEBUG="0")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "10",
         "--error-logfile", str(folder / "gunicorn.log"), "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
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


# --- the simulated users ------------------------------------------------------


@dataclass
class Record:
    kind: str
    status: int  # 0: no answer (connection error)
    seconds: float


@dataclass
class Shared:
    """What the simulated people know of each other's work, and what was
    answered, for the checks afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[Record] = field(default_factory=list)
    # Contributions submitted, waiting for the lead unit (by task id).
    contributions: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    accepted: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    to_review: list[int] = field(default_factory=list)  # lead reports waiting for a coordinator
    returned: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # by author's user id
    # Successful submits: report id -> the version numbers the answers showed.
    submitted: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)


class Client:
    """One keep-alive HTTP connection with a bearer token; every request is
    timed and recorded."""

    def __init__(self, port: int, token: str, shared: Shared):
        self.port, self.token, self.shared = port, token, shared
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, kind: str, method: str, path: str, body=None, *, multipart: tuple[str, bytes] | None = None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if multipart is not None:
            boundary = uuid.uuid4().hex
            name, content = multipart
            data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                    f"Content-Type: application/pdf\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, "/api/v1" + path, body=data, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            with self.shared.lock:
                self.shared.records.append(Record(kind, 0, time.perf_counter() - started))
                self.shared.errors.append(f"{kind} {method} {path}: {type(exc).__name__}: {exc}")
            return 0, None
        elapsed = time.perf_counter() - started
        payload = json.loads(raw) if raw and response.getheader("Content-Type", "").startswith("application/json") else None
        with self.shared.lock:
            self.shared.records.append(Record(kind, status, elapsed))
            if status >= 500:
                self.shared.errors.append(f"{kind} {method} {path}: {status} {raw[:300].decode('utf-8', 'replace')}")
        return status, payload

    def submit(self, report_id: int) -> dict | None:
        status, body = self.call("submit", "POST", f"/reports/{report_id}/submit", {})
        if 200 <= status < 300:
            with self.shared.lock:
                self.shared.submitted[report_id].append(max(v["number"] for v in body["versions"]))
            return body
        return None


def co_liaison(person: Person, client: Client, shared: Shared, deadline: float, rng: random.Random) -> None:
    slots = [(task, period) for period in PERIODS for task in person.tasks]
    rng.shuffle(slots)
    while time.monotonic() < deadline:
        with shared.lock:
            returned = shared.returned[person.user_id][:1]
            if returned:
                shared.returned[person.user_id].pop(0)
        if returned:
            rid = returned[0]
            status, report = client.call("read report", "GET", f"/reports/{rid}")
            if status == 200 and report["state"] == "returned":
                client.call("edit", "PATCH", f"/reports/{rid}", {"text": report["text"] + "(已补充)"})
                if client.submit(rid):
                    with shared.lock:
                        shared.contributions[report["task"]["id"]].append(rid)
            continue
        if not slots:
            client.call("my work", "GET", "/me/work")
            time.sleep(0.2)
            continue
        task_id, period = slots.pop()
        status, report = client.call("file", "POST", "/reports",
                                     {"task_id": task_id, "period": period, "text": f"{person.unit}:{period} 进展情况"})
        if status != 201:
            continue  # another liaison of the unit filed it (409): theirs
        client.call("upload", "POST", f"/reports/{report['id']}/evidence",
                    multipart=(f"佐证-{report['id']}.pdf", PDF + str(report["id"]).encode()))
        if client.submit(report["id"]):
            with shared.lock:
                shared.contributions[task_id].append(report["id"])
        if rng.random() < 0.3:
            client.call("my work", "GET", "/me/work")


def lead_liaison(person: Person, client: Client, shared: Shared, deadline: float, rng: random.Random) -> None:
    filed: set[tuple[int, str]] = set()
    while time.monotonic() < deadline:
        with shared.lock:
            returned = shared.returned[person.user_id][:1]
            if returned:
                shared.returned[person.user_id].pop(0)
            todo = next(((t, ids.pop(0)) for t, ids in shared.contributions.items()
                         if t in person.tasks and ids), None)
        if returned:
            rid = returned[0]
            status, report = client.call("read report", "GET", f"/reports/{rid}")
            if status == 200 and report["state"] == "returned":
                client.call("edit", "PATCH", f"/reports/{rid}", {"text": report["text"] + "(已修改)"})
                if client.submit(rid):
                    with shared.lock:
                        shared.to_review.append(rid)
            continue
        if todo is None:
            client.call("my work", "GET", "/me/work")
            time.sleep(0.1)
            continue
        task_id, cid = todo
        status, contribution = client.call("read report", "GET", f"/reports/{cid}")
        if status != 200 or contribution["state"] != "submitted":
            continue
        if rng.random() < 0.15:
            status, _ = client.call("return", "POST", f"/reports/{cid}/return", {"reason": "请补充分地区数据"})
            if status == 200:
                with shared.lock:
                    shared.returned[contribution["created_by"]["id"]].append(cid)
            continue
        status, _ = client.call("accept", "POST", f"/reports/{cid}/accept", {})
        if status != 200:
            continue
        key = (task_id, contribution["period"])
        if key in filed:
            continue
        filed.add(key)
        status, report = client.call("file", "POST", "/reports", {
            "task_id": task_id, "period": contribution["period"], "text": f"牵头单位汇总:{contribution['period']}",
            "include": [cid]})
        if status == 201 and client.submit(report["id"]):
            with shared.lock:
                shared.to_review.append(report["id"])


def coordinator(person: Person, client: Client, shared: Shared, deadline: float, rng: random.Random) -> None:
    while time.monotonic() < deadline:
        with shared.lock:
            rid = shared.to_review.pop(0) if shared.to_review else None
        if rid is None:
            client.call("my work", "GET", "/me/work")
            time.sleep(0.2)
            continue
        status, report = client.call("read report", "GET", f"/reports/{rid}")
        if status != 200 or report["state"] != "submitted":
            continue
        if rng.random() < 0.25:
            status, _ = client.call("return", "POST", f"/reports/{rid}/return",
                                    {"reason": "数值与台账不符", "version": report["version"]})
            if status == 200:
                with shared.lock:
                    shared.returned[report["created_by"]["id"]].append(rid)
        else:
            client.call("approve", "POST", f"/reports/{rid}/approve", {"version": report["version"]})


ROLES = {"co": co_liaison, "lead": lead_liaison, "coordinator": coordinator}


def simulate(port: int, people: list[Person], seconds: float, seed_value: int = 2026) -> tuple[Shared, float]:
    shared = Shared()
    deadline = time.monotonic() + seconds

    def run(person: Person, n: int) -> None:
        client = Client(port, person.token, shared)
        try:
            ROLES[person.role](person, client, shared, deadline, random.Random(seed_value + n))
        except Exception as exc:  # a bug of the simulation itself is a failed check, not a hang
            with shared.lock:
                shared.errors.append(f"{person.login}: {type(exc).__name__}: {exc}")
        finally:
            client.conn.close()

    threads = [threading.Thread(target=run, args=(p, n), daemon=True) for n, p in enumerate(people)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 180)
    elapsed = time.monotonic() - started
    if any(t.is_alive() for t in threads):
        shared.errors.append("some simulated users did not finish within 180 s after the end")
    return shared, elapsed


# --- the checks -----------------------------------------------------------------


@dataclass
class Outcome:
    backend: str
    users: int
    seconds: float
    elapsed: float
    requests: int
    per_kind: dict[str, dict[str, float]]
    server_errors: int
    submits: int
    versions_in_db: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(url: str, shared: Shared) -> tuple[list[str], int]:
    from sqlalchemy import create_engine, func, select

    from supervise.models import ReportVersion

    problems = list(shared.errors)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(ReportVersion.report_id, ReportVersion.number)).all()
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
        if len(stored[report_id]) > len(numbers):
            problems.append(f"report {report_id}: {len(stored[report_id])} versions stored for {len(numbers)} submits")
        if len(set(numbers)) != len(numbers):
            problems.append(f"report {report_id}: two submits answered with the same version {numbers}")
    extra = set(stored) - set(shared.submitted)
    if extra:
        problems.append(f"versions of reports nobody submitted successfully: {sorted(extra)[:10]}")
    return problems, len(rows)


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarise(backend: str, users: int, seconds: float, elapsed: float, shared: Shared, problems: list[str],
              versions: int) -> Outcome:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for r in shared.records:
        by_kind[r.kind].append(r)
    per_kind = {}
    for kind, records in sorted(by_kind.items()):
        ms = [r.seconds * 1000 for r in records]
        per_kind[kind] = {
            "count": len(records), "per_s": len(records) / elapsed, "p50": percentile(ms, 50), "p95": percentile(ms, 95),
            "2xx": sum(200 <= r.status < 300 for r in records), "4xx": sum(400 <= r.status < 500 for r in records),
            "5xx": sum(r.status >= 500 or r.status == 0 for r in records),
        }
    server_errors = sum(v["5xx"] for v in per_kind.values())
    if server_errors:
        problems = [f"{server_errors} answers were 5xx or no answer"] + problems
    if not shared.submitted:
        problems.append("no submission succeeded: the load did nothing")
    return Outcome(backend, users, seconds, elapsed, len(shared.records), per_kind, server_errors,
                   sum(len(v) for v in shared.submitted.values()), versions, problems)


def report(outcome: Outcome) -> str:
    lines = [
        f"== {outcome.backend}: {outcome.users} users, {outcome.seconds:g} s "
        f"({outcome.requests} requests, {outcome.requests / outcome.elapsed:.1f}/s) ==",
        f"{'request':<14}{'count':>7}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'2xx':>7}{'4xx':>6}{'5xx':>5}",
    ]
    for kind, v in outcome.per_kind.items():
        lines.append(f"{kind:<14}{v['count']:>7}{v['per_s']:>8.1f}{v['p50']:>9.1f}{v['p95']:>9.1f}"
                     f"{v['2xx']:>7}{v['4xx']:>6}{v['5xx']:>5}")
    lines.append(f"successful submits {outcome.submits}, versions in the database {outcome.versions_in_db}")
    lines.append("checks: " + ("OK (no 5xx, no submission lost or duplicated)" if outcome.ok else "FAILED"))
    lines += [f"  - {p}" for p in outcome.problems[:30]]
    return "\n".join(lines)


def run_load(backend: str, *, users: int = 50, seconds: float = 60, workers: int = 4,
             keep: bool = False) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix=f"supervise-load-{backend}-"))
    url = create_database(backend, folder)
    proc = None
    try:
        people = seed(url, users)
        proc, port = start_gunicorn(url, folder, workers)
        shared, elapsed = simulate(port, people, seconds)
        stop_gunicorn(proc)
        proc = None
        problems, versions = check(url, shared)
        log = (folder / "gunicorn.log").read_text(errors="replace")
        if "Traceback" in log:
            problems.append("gunicorn logged a traceback:\n" + log[log.index("Traceback"):][:2000])
        return summarise(backend, users, seconds, elapsed, shared, problems, versions)
    finally:
        if proc is not None:
            stop_gunicorn(proc)
        if not keep:
            drop_database(url)
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder afterwards")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ok = True
    for backend in backends:
        outcome = run_load(backend, users=args.users, seconds=args.seconds, workers=args.workers, keep=args.keep)
        print(report(outcome), flush=True)
        ok = ok and outcome.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
