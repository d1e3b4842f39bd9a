"""Every scheduled job, declared once with a stable id, and the APScheduler
3 process that runs them.

Jobs are added with `replace_existing`, coalesced, one instance at a time,
and with a misfire grace of days: a run that fell due while the process was
down happens once when it comes back. APScheduler's own job store would
lose that run (replacing a stored job recomputes its next run time from
now), so the time each job was next due is kept in `scheduler_jobs` and
handed back to APScheduler at start-up; APScheduler then runs it once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import select

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


def run_job(app: Flask, job_id: str) -> None:
    """What APScheduler calls: run the job, record how it went."""
    spec = JOBS_BY_ID[job_id]
    with app.app_context():
        started = utcnow()
        try:
            summary, status = spec.func(), "ok"
        except Exception as exc:  # recorded and shown on the admin page
            app.logger.exception("job %s failed", job_id)
            summary, status = f"{type(exc).__name__}: {exc}", "error"
        with unit_of_work():
            row = session().get(SchedulerJob, job_id) or _new_row(spec, app)
            row.last_run_at, row.last_finished_at = started, utcnow()
            row.last_status, row.last_result = status, summary[:2000]
            row.runs = (row.runs or 0) + 1
            row.next_run_at = spec.trigger(app.config, _timezone(app)).get_next_fire_time(None, datetime.now(_timezone(app)))


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
    with app.app_context(), unit_of_work():
        stored = {row.id: row for row in session().scalars(select(SchedulerJob))}
        for spec in JOBS:
            trigger = spec.trigger(app.config, tz)
            row = stored.get(spec.id) or _new_row(spec, app)
            row.description, row.trigger = spec.description, str(trigger)
            extra = {}
            if row.next_run_at is not None and row.next_run_at < now:
                # It fell due while no scheduler ran: hand that time back, and
                # APScheduler runs it once now (coalesced, within the grace).
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
