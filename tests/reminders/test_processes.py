"""Real OS processes: two `flask remind` runs at the same moment against one
database send nothing twice; `flask scheduler run` is the one process that
runs the jobs; the web app never starts them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.models import Channel, Delivery, DeliveryState, Notification, ReportState, SchedulerJob

from ..guards import free_port
from .test_rules import file_report

ROOT = Path(__file__).resolve().parents[2]


def _env(app, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        SUPERVISE_CONFIG="testing",
        DATABASE_URL=app.config["DATABASE_URL"],
        SUPERVISE_INSTANCE=str(app.config["INSTANCE_DIR"]),
        FLASK_DEBUG="0",
        **{k: str(v) for k, v in extra.items()},
    )
    return env


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def test_two_processes_at_once_send_nothing_twice(app, small_plan, people, make_person, smtp_server):
    file_report(small_plan, 2, people.coordinator, "2025Q3", ReportState.APPROVED)
    # More people, so that the two scans overlap for longer.
    for n in range(12):
        make_person("liaison", "杭州市人民政府", f"hz_more{n}", f"hz{n}@example.gov.cn")
        make_person("liaison", "省经信厅", f"jxt_more{n}", f"jxt{n}@example.gov.cn")
    env = _env(app, SUPERVISE_TEST_SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port)
    barrier = threading.Barrier(2)
    outputs: list[subprocess.CompletedProcess] = []

    def run():
        barrier.wait()
        outputs.append(
            subprocess.run(_flask("remind", "--as-of", "2025-10-21"), cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.returncode == 0 for p in outputs), [p.stderr[-2000:] for p in outputs]
    session().rollback()
    rows = session().execute(
        select(Delivery.recipient_id, Delivery.item_key, Delivery.rule, Delivery.step, Delivery.channel)
    ).all()
    assert rows and len(rows) == len(set(rows))
    emails = session().scalar(select(func.count()).select_from(Delivery).where(Delivery.channel == Channel.EMAIL))
    in_app = session().scalar(select(func.count()).select_from(Delivery).where(Delivery.channel == Channel.IN_APP))
    assert session().scalar(select(func.count()).select_from(Notification)) == in_app
    # Every e-mail arrived once: as many messages as e-mail deliveries, none repeated.
    messages = smtp_server.wait_for(emails)
    time.sleep(0.5)
    assert len(smtp_server.messages) == emails
    keys = [(m["To"], m["Subject"]) for m in messages]
    assert len(keys) == len(set(keys))
    assert set(session().scalars(select(Delivery.state).where(Delivery.channel == Channel.EMAIL))) == {DeliveryState.SENT}
    # Between them the two processes reported every reminder as new once.
    new_counts = [int(p.stdout.rsplit("新发送 ", 1)[1].split(" 条")[0]) for p in outputs]
    assert sum(new_counts) == len(rows)


def test_the_scheduler_process_runs_its_jobs_and_stops_on_sigterm(app, small_plan):
    env = _env(app, SUPERVISE_DELIVERY_RETRY_INTERVAL_SECONDS=1)
    proc = subprocess.Popen(_flask("scheduler", "run"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        retry = None
        while time.monotonic() < deadline:
            session().rollback()
            retry = session().get(SchedulerJob, "deliveries.retry")
            if retry is not None and retry.runs >= 1:
                break
            time.sleep(0.2)
        assert retry is not None and retry.runs >= 1 and retry.last_status == "ok", proc.poll()
        jobs = {row.id: row for row in session().scalars(select(SchedulerJob))}
        assert set(jobs) == {"reminders.scan", "deliveries.retry", "calendar.sync"}
        assert all(row.next_run_at > datetime.now(timezone.utc) for row in jobs.values())
        assert jobs["reminders.scan"].runs == 0  # not due: 08:30 each day
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert "调度进程已退出" in err


def test_a_job_missed_while_the_scheduler_was_down_runs_once_when_it_is_back(app, small_plan, ctx):
    from supervise.scheduler.registry import build_scheduler

    # The scan was due three days ago, and nothing ran since.
    with unit_of_work() as sess:
        sess.add(SchedulerJob(id="reminders.scan", next_run_at=datetime.now(timezone.utc) - timedelta(days=3),
                              last_status="", last_result="", runs=0, description="", trigger=""))
    scheduler = build_scheduler(app)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            session().rollback()
            if session().get(SchedulerJob, "reminders.scan").runs:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # time for a second run, if one were (wrongly) coming
    finally:
        scheduler.shutdown(wait=True)
    session().rollback()
    row = session().get(SchedulerJob, "reminders.scan")
    assert row.runs == 1 and row.last_status == "ok", row.last_result  # once, not three times
    assert row.next_run_at > datetime.now(timezone.utc)


def test_each_run_is_claimed_in_the_database_by_one_process(app, ctx):
    """Several scheduler processes (one per server): the claim of a run
    matches once; the others skip it until the run is done or its lease
    ends (tests/deploy/test_two_servers.py races two real processes)."""
    from supervise.scheduler.registry import _ensure_rows, claim_run, run_job

    _ensure_rows(app)
    assert claim_run(app, "calendar.sync") is True
    assert claim_run(app, "calendar.sync") is False  # held by the first
    assert run_job(app, "calendar.sync") is False  # skipped: nothing run, nothing counted
    session().rollback()
    row = session().get(SchedulerJob, "calendar.sync")
    assert row.last_status == "running" and row.runs == 0
    assert row.next_run_at > datetime.now(timezone.utc) + timedelta(minutes=5)  # the lease
    # The runner died and its lease ran out: the run can be claimed again.
    with unit_of_work():
        session().get(SchedulerJob, "calendar.sync").next_run_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert claim_run(app, "calendar.sync") is True


def test_the_registry_has_stable_unique_ids_and_replaces_jobs(app, ctx):
    from supervise.scheduler.registry import JOBS, build_scheduler

    ids = [spec.id for spec in JOBS]
    assert ids == ["reminders.scan", "deliveries.retry", "calendar.sync"] and len(set(ids)) == len(ids)
    scheduler = build_scheduler(app)
    again = build_scheduler(app)  # a restart declares the same jobs again
    assert [job.id for job in scheduler.get_jobs()] == [job.id for job in again.get_jobs()]
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job("reminders.scan")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 24 * 3600
    finally:
        scheduler.shutdown()


def test_web_processes_start_no_jobs(app, login_as):
    client, _ = login_as("coordinator")
    assert client.get("/admin/scheduler").status_code == 200
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name or "scheduler" in t.name.lower()]
    session().rollback()
    assert session().scalar(select(func.count()).select_from(SchedulerJob)) == 0


def test_make_run_starts_the_scheduler_beside_the_web_server(app):
    # supervise.devserver starts `flask scheduler run` when the command exists.
    assert "scheduler" in app.cli.commands and "run" in app.cli.commands["scheduler"].commands
    source = (ROOT / "supervise" / "devserver.py").read_text(encoding="utf-8")
    assert '_has_command("scheduler")' in source and '["scheduler", "run"]' in source


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_sigterm_to_make_run_stops_the_web_server_and_the_scheduler(app, small_plan):
    """`make run` (supervise.devserver) stopped with SIGTERM, as kill and
    systemd stop it: the web server and the scheduler process end with it."""
    import urllib.request

    port = free_port()  # our own loopback server (tests/guards.py)
    proc = subprocess.Popen([sys.executable, "-m", "supervise.devserver", "--port", str(port)], cwd=ROOT,
                            env=_env(app), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the web server did not come up"
                time.sleep(0.3)
        children = _children(proc.pid)
        assert len(children) == 2, children  # the scheduler and the web server
        commands = [Path(f"/proc/{c}/cmdline").read_bytes().replace(b"\0", b" ").decode() for c in children]
        assert any("scheduler run" in c for c in commands) and any(" run --host" in c for c in commands), commands
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for child in children:
            deadline = time.monotonic() + 15
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(child), f"process {child} still running after SIGTERM"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
            raise AssertionError("the web server still answers")
        except OSError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_to_the_make_that_runs_it_stops_everything(app, small_plan):
    """`make run` is a make (a shell) running supervise.devserver; make does
    not pass SIGTERM on. The dev server notices its parent is gone and stops
    the web server and the scheduler."""
    import shlex
    import urllib.request

    port = free_port()  # our own loopback server (tests/guards.py)
    # A shell that waits for the dev server, as make does (no exec).
    command = f"{shlex.quote(sys.executable)} -m supervise.devserver --port {port}; true"
    shell = subprocess.Popen(["/bin/sh", "-c", command], cwd=ROOT, env=_env(app), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).close()
                break
            except OSError:
                assert shell.poll() is None and time.monotonic() < deadline, "the web server did not come up"
                time.sleep(0.3)
        [devserver] = _children(shell.pid)
        children = _children(devserver)
        assert len(children) == 2, children
        shell.send_signal(signal.SIGTERM)  # to the shell only, as to make
        shell.wait(timeout=10)
        for pid in [devserver, *children]:
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(pid), f"process {pid} still running after its make was stopped"
    finally:
        if shell.poll() is None:
            shell.kill()
        try:
            os.killpg(shell.pid, signal.SIGKILL)  # only the group this test started
        except ProcessLookupError:
            pass
