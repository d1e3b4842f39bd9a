"""Every scheduled job, declared once with a stable id, and the APScheduler
3 process that runs them.

Jobs are added with `replace_existing`, coalesced, one instance at a time,
and with a misfire grace of days: a run that fell due while the process was
down happens once when it comes back. APScheduler's own job store would
lose that run (replacing a stored job recomputes its next run time from
now), so the time each job was next due is kept in `scheduler_jobs` and
handed back to APScheduler at start-up; APScheduler then runs it once.

Several scheduler processes may run (one per app server): each run of a job
is claimed in the database before it starts (`claim_run`), by a conditional
UPDATE of the job's row that only one process can win, on PostgreSQL as on
SQLite. The others skip that run and log that they did. The claim is a
lease (SCHEDULER_LEASE_SECONDS): a process that died holding it leaves the
run to be taken again once the lease is over."""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..db import session, unit_of_work, utcnow
from ..models import SchedulerJob
from . import jobs


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], str]
    trigger: Callable[[dict, tzinfo], BaseTrigger]
    description: str


def _scan_trigger(config: dict, tz: tzinfo) -> BaseTrigger:
    # Every day; the scan itself does nothing on days off, and the calendar
    # (not the trigger) knows which Saturdays are working days (调休).
    hour, minute = (int(x) for x in str(config.get("REMINDER_SCAN_AT", "08:30")).split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=tz)


def _retry_trigger(config: dict, tz: tzinfo) -> BaseTrigger:
    return IntervalTrigger(seconds=int(config.get("DELIVERY_RETRY_INTERVAL_SECONDS", 60)), timezone=tz)


def _calendar_trigger(config: dict, tz: tzinfo) -> BaseTrigger:
    return CronTrigger(day=1, hour=3, minute=0, timezone=tz)


JOBS: list[JobSpec] = [
    JobSpec("reminders.scan", jobs.scan_reminders, _scan_trigger, "扫描到期、逾期和退回事项,发送催办与提级督办"),
    JobSpec("deliveries.retry", jobs.retry_deliveries, _retry_trigger, "重试发送失败的邮件和群机器人消息"),
    JobSpec("calendar.sync", jobs.sync_calendar, _calendar_trigger, "从 chinese-calendar 同步法定节假日和调休"),
]
JOBS_BY_ID = {spec.id: spec for spec in JOBS}


def _timezone(app: Flask) -> ZoneInfo:
    return ZoneInfo(app.config.get("TIMEZONE", "Asia/Shanghai"))


def runner_name() -> str:
    """Who runs a job: the server (SUPERVISE_NODE_NAME, else the host name)
    and the process id, shown on the admin page and in the log."""
    return f"{os.environ.get('SUPERVISE_NODE_NAME') or socket.gethostname()}#{os.getpid()}"


def claim_run(app: Flask, job_id: str) -> bool:
    """Claim the run of `job_id` that is due now for this process, in one
    committed conditional UPDATE: it matches only while the job's next due
    time has come, and sets that time to the end of a lease. Of several
    processes firing at once exactly one matches (PostgreSQL re-checks the
    condition after the winner commits; SQLite takes writers one at a
    time); the others see the lease and skip."""
    now = utcnow()
    lease = timedelta(seconds=int(app.config.get("SCHEDULER_LEASE_SECONDS", 600)))
    with unit_of_work():
        claimed = session().execute(
            update(SchedulerJob)
            .where(SchedulerJob.id == job_id, or_(SchedulerJob.next_run_at.is_(None), SchedulerJob.next_run_at <= now))
            .values(next_run_at=now + lease, last_status="running", last_run_at=now,
                    last_result=f"{runner_name()} 正在执行")
            .execution_options(synchronize_session=False)
        ).rowcount
    return claimed == 1


def run_job(app: Flask, job_id: str) -> bool:
    """What APScheduler calls: claim the run, do it, record how it went.
    False when another process had claimed it."""
    spec = JOBS_BY_ID[job_id]
    with app.app_context():
        _ensure_rows(app)
        if not claim_run(app, job_id):
            app.logger.info("调度任务 %s 本次已由其他调度进程执行,%s 跳过", job_id, runner_name())
            return False
        app.logger.info("调度任务 %s 由 %s 执行", job_id, runner_name())
        started = utcnow()
        try:
            summary, status = spec.func(), "ok"
        except Exception as exc:  # recorded and shown on the admin page
            app.logger.exception("job %s failed", job_id)
            summary, status = f"{type(exc).__name__}: {exc}", "error"
        with unit_of_work():
            row = session().get(SchedulerJob, job_id)
            row.last_run_at, row.last_finished_at = started, utcnow()
            row.last_status, row.last_result = status, f"[{runner_name()}] {summary}"[:2000]
            row.runs = (row.runs or 0) + 1
            row.next_run_at = spec.trigger(app.config, _timezone(app)).get_next_fire_time(None, datetime.now(_timezone(app)))
    return True


def _ensure_rows(app: Flask) -> dict[str, SchedulerJob]:
    """Every job's row, added if missing. Two processes starting at once may
    both add one: the loser of that race reads the winner's."""
    for attempt in range(3):
        try:
            with unit_of_work():
                stored = {row.id: row for row in session().scalars(select(SchedulerJob))}
                for spec in JOBS:
                    if spec.id not in stored:
                        stored[spec.id] = _new_row(spec, app)
            return stored
        except IntegrityError:
            session().rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _new_row(spec: JobSpec, app: Flask) -> SchedulerJob:
    row = SchedulerJob(id=spec.id, description=spec.description, trigger=str(spec.trigger(app.config, _timezone(app))),
                       last_status="", last_result="", runs=0)
    session().add(row)
    return row


def build_scheduler(app: Flask) -> BackgroundScheduler:
    tz = _timezone(app)
    grace = int(app.config.get("SCHEDULER_MISFIRE_GRACE_SECONDS", 30 * 24 * 3600))
    scheduler = BackgroundScheduler(
        timezone=tz, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace}
    )
    now = datetime.now(tz)
    with app.app_context():
        _ensure_rows(app)
    with app.app_context(), unit_of_work():
        stored = {row.id: row for row in session().scalars(select(SchedulerJob))}
        for spec in JOBS:
            trigger = spec.trigger(app.config, tz)
            row = stored[spec.id]
            row.description, row.trigger = spec.description, str(trigger)
            extra = {}
            if row.next_run_at is not None and (row.next_run_at < now or row.last_status == "running"):
                # It fell due while no scheduler ran: hand that time back, and
                # APScheduler runs it once now (coalesced, within the grace).
                # Or another process holds its lease: try when the lease ends
                # (the claim then finds the run done, or its runner dead).
                extra["next_run_time"] = row.next_run_at
            else:
                row.next_run_at = trigger.get_next_fire_time(None, now)
            scheduler.add_job(
                run_job, trigger, args=[app, spec.id], id=spec.id, name=spec.description,
                replace_existing=True, **extra,
            )

    def _missed(event) -> None:
        with app.app_context(), unit_of_work():
            row = session().get(SchedulerJob, event.job_id)
            if row is not None:
                row.last_status = "missed"
                row.last_result = f"错过 {event.scheduled_run_time:%Y-%m-%d %H:%M},超出补跑宽限期"
                row.next_run_at = JOBS_BY_ID[event.job_id].trigger(app.config, tz).get_next_fire_time(
                    None, datetime.now(tz)
                )

    scheduler.add_listener(_missed, EVENT_JOB_MISSED)
    return scheduler


def run_forever(app: Flask, stop: threading.Event) -> None:
    """The scheduler process: start, wait for `stop`, let running jobs finish."""
    scheduler = build_scheduler(app)
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
