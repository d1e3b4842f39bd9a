"""Two servers as one (issue 13 point 6): two gunicorn instances on loopback,
each with an instance folder of its own, sharing one PostgreSQL database,
one evidence folder and one archive folder (as a NAS mount would) and one
SECRET_KEY / SUPERVISE_AUDIT_KEY:

- evidence uploaded through one downloads byte for byte through the other;
- a session cookie from a login on one, and an API token, work on both;
- two scheduler processes, one per server, run the daily scan at the same
  moment: the database claim lets exactly one do the work, and the row of
  `scheduler_jobs` says which; then two `flask scheduler run` started at
  once with the scan overdue run it once between them.

PostgreSQL only: two servers never share an SQLite file."""
from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.load import create_database, drop_database, free_port
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "postgresql",
                       reason="two app servers share a PostgreSQL database; SQLite is one server's embedded file"),
]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Two@Servers2026"


@dataclass
class Liaison:
    login: str
    token: str
    tasks: list[int]


def seed(url: str) -> Liaison:
    """Migrate, load the units and the 27号 plan (reporting from 2024Q1), and
    make one liaison of a co-responsible unit with an API token."""
    from supervise import create_app, migrate
    from supervise.db import session, unit_of_work
    from supervise.models import Role, UnitRole
    from supervise.policy import SYSTEM
    from supervise.services.plans import import_plan_document
    from supervise.services.units import load_units
    from supervise.services.users import create_user, issue_api_token

    migrate.upgrade(url)
    app = create_app("testing", DATABASE_URL=url)
    try:
        with app.app_context():
            with unit_of_work():
                load_units(ROOT / "seed" / "units.csv")
                load_units(ROOT / "seed" / "counties.csv")
                source = (ROOT / "seed" / "plans" / "zhejiang-cbec-action-plan-2024.md").read_text(encoding="utf-8")
                plan = import_plan_document(source, actor=SYSTEM, publish=True, first_period="2024Q1").plan
                co = next(tu for task in plan.tasks for tu in task.units if tu.role is UnitRole.CO)
                unit_name = co.unit.canonical_name
                tasks = [t.id for t in plan.tasks for tu in t.units if tu.role is UnitRole.CO and tu.unit_id == co.unit_id]
            with unit_of_work():
                user = create_user("two_servers_co", unit_name=unit_name, roles=[Role.LIAISON], password=PASSWORD,
                                   actor=SYSTEM)
                token = issue_api_token(user, label="two servers")
            session.remove()
    finally:
        app.extensions["supervise.engine"].dispose()
    return Liaison("two_servers_co", token, tasks)


def _env(url: str, instance: Path, shared: Path, keys: dict[str, str], node: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SUPERVISE_CONFIG="development", DATABASE_URL=url, SUPERVISE_INSTANCE=str(instance),
               SUPERVISE_EVIDENCE_DIR=str(shared / "evidence"), SUPERVISE_ARCHIVE_DIR=str(shared / "archive"),
               SUPERVISE_NODE_NAME=node, FLASK_DEBUG="0", **keys)
    # Development configuration (it takes SECRET_KEY from the environment, as
    # production does): nothing may leave the machine, whatever this shell has.
    env.update(SMTP_HOST="", SUPERVISE_WEBHOOK_URL="", SUPERVISE_WEBHOOK_SECRET="")
    return env


def _start(env: dict[str, str], instance: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", "--graceful-timeout", "5",
         "--error-logfile", str(instance / "gunicorn.log"), "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (instance / "gunicorn.log").read_text(errors="replace")[-3000:]
        try:
            status, _, _ = _call(port, "GET", "/login")
            if status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("gunicorn did not answer within 60 s")


def _call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def _json(port: int, method: str, path: str, token: str, payload=None):
    headers = {"Authorization": f"Bearer {token}"}
    body = None
    if payload is not None:
        body, headers["Content-Type"] = json.dumps(payload).encode(), "application/json"
    status, raw, _ = _call(port, method, "/api/v1" + path, body, headers)
    return status, (json.loads(raw) if raw else None)


def _login(port: int, login: str) -> str:
    """Log in through the form (with its CSRF token); the session cookie."""
    status, page, response = _call(port, "GET", "/login")
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    csrf = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert status == 200 and csrf, page[:500]
    form = f"csrf_token={csrf.group(1).decode()}&login={login}&password={PASSWORD}&next=".encode()
    status, _, response = _call(port, "POST", "/login", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    assert status == 302, status
    session_cookie = [c.split(";", 1)[0] for c in response.msg.get_all("Set-Cookie") or [] if c.startswith("session=")]
    assert session_cookie
    return session_cookie[-1]


RACE = """
import logging, sys, time
from supervise import create_app
from supervise.scheduler.registry import run_job
app = create_app()
app.logger.setLevel(logging.INFO)  # as `flask scheduler run` does
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
print("RAN" if run_job(app, "reminders.scan") else "SKIPPED", flush=True)
"""


def test_two_servers_share_evidence_sessions_tokens_and_one_scheduler_does_each_run(tmp_path):
    shared, a_dir, b_dir = tmp_path / "nas", tmp_path / "server-a", tmp_path / "server-b"
    for folder in (shared / "evidence", shared / "archive", a_dir, b_dir):
        folder.mkdir(parents=True)
    url = create_database("postgresql", tmp_path)
    procs: list[subprocess.Popen] = []
    try:
        liaison = seed(url)
        keys = {"SECRET_KEY": secrets.token_hex(32), "SUPERVISE_AUDIT_KEY": secrets.token_hex(32)}
        env_a = _env(url, a_dir, shared, keys, "server-a")
        env_b = _env(url, b_dir, shared, keys, "server-b")
        server_a, port_a = _start(env_a, a_dir)
        procs.append(server_a)
        server_b, port_b = _start(env_b, b_dir)
        procs.append(server_b)

        # The token works on both; a report filed and evidence uploaded through A ...
        status, report = _json(port_a, "POST", "/reports", liaison.token,
                               {"task_id": liaison.tasks[0], "period": "2025Q2", "text": "两台服务器共用一个数据库"})
        assert status == 201, report
        content = b"%PDF-1.4\n" + os.urandom(300_000) + b"\n%%EOF\n"
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="佐证材料.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        status, raw, _ = _call(port_a, "POST", f"/api/v1/reports/{report['id']}/evidence", body, {
            "Authorization": f"Bearer {liaison.token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 201, raw[:500]
        evidence_id = json.loads(raw)["id"]
        # ... is stored once, in the shared folder, not in A's instance folder ...
        assert not [p for p in a_dir.rglob("*") if p.is_file() and p.name != "gunicorn.log"]
        assert any(p.is_file() for p in (shared / "evidence").rglob("*"))
        # ... and downloads byte for byte through B, by token.
        status, raw, _ = _call(port_b, "GET", f"/api/v1/evidence/{evidence_id}",
                               headers={"Authorization": f"Bearer {liaison.token}"})
        assert status == 200 and raw == content
        status, seen = _json(port_b, "GET", f"/reports/{report['id']}", liaison.token)
        assert status == 200 and seen["text"] == "两台服务器共用一个数据库"

        # A session from a login on A works on B (and on A), with no sticky sessions.
        cookie = _login(port_a, liaison.login)
        for port in (port_b, port_a):
            status, raw, _ = _call(port, "GET", f"/evidence/{evidence_id}", headers={"Cookie": cookie})
            assert status == 200 and raw == content, (port, status)
        # Without it, B sends to the login page: the cookie is what let us in.
        status, _, response = _call(port_b, "GET", f"/evidence/{evidence_id}")
        assert status == 302 and "/login" in response.getheader("Location", "")

        # The daily scan is due; both servers' scheduler processes fire it at the same moment.
        start = time.time() + 6.0  # time for both interpreters to start
        racers = {}
        for node, env in (("server-a", env_a), ("server-b", env_b)):
            racers[node] = subprocess.Popen([sys.executable, "-c", RACE, str(start)], cwd=ROOT, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(racers[node])
        outcome = {}
        for node, proc in racers.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-3000:]
            outcome[node] = (out.strip(), err, proc.pid)
        assert sorted(o[0] for o in outcome.values()) == ["RAN", "SKIPPED"], outcome
        [winner] = [node for node, o in outcome.items() if o[0] == "RAN"]
        [loser] = [node for node, o in outcome.items() if o[0] == "SKIPPED"]
        # Each said so in its log.
        assert f"本次已由其他调度进程执行,{loser}#{outcome[loser][2]} 跳过" in outcome[loser][1], outcome[loser][1][-2000:]
        assert f"由 {winner}#{outcome[winner][2]} 执行" in outcome[winner][1], outcome[winner][1][-2000:]

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT runs, last_status, last_result FROM scheduler_jobs "
                                        "WHERE id = 'reminders.scan'")).one()
                deliveries = conn.execute(text("SELECT count(*), count(DISTINCT (recipient_id, item_key, rule, step, "
                                               "channel)) FROM deliveries")).one()
        finally:
            engine.dispose()
        # Done once, by the winner, and the row says which server and process.
        assert row.runs == 1 and row.last_status == "ok", row
        assert row.last_result.startswith(f"[{winner}#{outcome[winner][2]}]"), (row.last_result, winner)
        assert f"[{loser}#" not in row.last_result
        assert deliveries[0] == deliveries[1]  # nothing recorded twice
        # The work was the scan's: today's in-app reminders, recorded by the winner.
        if "非工作日" not in row.last_result:
            assert deliveries[0] > 0 and f"站内 {deliveries[0]} 条" in row.last_result, (row.last_result, deliveries)
        else:
            assert deliveries[0] == 0

        # The real thing: `flask scheduler run` on both servers, started at
        # once while the scan is overdue (it fell due while they were down).
        # Both hand it to APScheduler at start; it is run once.
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE scheduler_jobs SET next_run_at = now() - interval '1 hour' "
                              "WHERE id = 'reminders.scan'"))
        schedulers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                      for env in (env_a, env_b)]
        procs.extend(schedulers)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    runs, status = conn.execute(text("SELECT runs, last_status FROM scheduler_jobs "
                                                     "WHERE id = 'reminders.scan'")).one()
                if runs >= 2 and status == "ok":
                    break
                time.sleep(0.2)
            time.sleep(3.0)  # time for a second run, if one were (wrongly) coming
            with engine.connect() as conn:
                row = conn.execute(text("SELECT runs, last_status, last_result, next_run_at > now() AS ahead "
                                        "FROM scheduler_jobs WHERE id = 'reminders.scan'")).one()
        finally:
            engine.dispose()
        logs = []
        for proc in schedulers:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err[-2000:]
            logs.append(err)
        assert row.runs == 2 and row.last_status == "ok" and row.ahead, row
        ran = [i for i, err in enumerate(logs) if "调度任务 reminders.scan 由 " in err]
        assert len(ran) == 1, logs
        assert row.last_result.startswith(f"[{('server-a', 'server-b')[ran[0]]}#{schedulers[ran[0]].pid}]"), row
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        drop_database(url)
