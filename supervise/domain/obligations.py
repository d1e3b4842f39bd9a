"""Who owes what, and when: for each task and reporting period, the lead unit
owes a report to the coordinators and each co-responsible unit owes a
contribution to the lead. Reminders, 我的待办, the dashboard and the quarterly
report all ask this one module."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..models import Report, ReportingPeriod, ReportKind, ReportState, Task, TaskState, TaskUnit, Unit, UnitRole
from .workdays import WorkdayCalendar

# A contribution is due this many working days before the lead's report, so
# that the lead has time to consolidate it.
CONTRIBUTION_LEAD_TIME_WORKING_DAYS = 2

# Tasks in these states owe no reports (punctuality counts use the same rule).
NOT_OWING_TASK_STATES = frozenset({TaskState.SUSPENDED, TaskState.CLOSED})

# States in which the unit has done its part for the period.
DONE_STATES = {
    ReportKind.LEAD_REPORT: {ReportState.SUBMITTED, ReportState.APPROVED},
    ReportKind.CONTRIBUTION: {ReportState.SUBMITTED, ReportState.ACCEPTED},
}


def contribution_due_on(period: ReportingPeriod, calendar: WorkdayCalendar) -> date:
    return calendar.add_working_days(period.due_on, -CONTRIBUTION_LEAD_TIME_WORKING_DAYS)


@dataclass
class Obligation:
    task: Task
    task_unit: TaskUnit
    period: ReportingPeriod
    kind: ReportKind
    due_on: date
    report: Report | None

    @property
    def is_done(self) -> bool:
        return self.report is not None and self.report.state in DONE_STATES[self.kind]

    @property
    def is_approved(self) -> bool:
        return self.report is not None and self.report.state is ReportState.APPROVED


def obligations(
    session: Session,
    periods: Iterable[ReportingPeriod],
    calendar: WorkdayCalendar,
    *,
    unit_ids: Iterable[int] | None = None,
    task_ids: Iterable[int] | None = None,
    tasks: Iterable[Task] | None = None,
) -> list[Obligation]:
    """Every report owed for the given periods (tasks that are suspended or
    closed owe nothing), with the report filed so far, if any. A constant
    number of statements whatever the size of the data.

    `tasks`, with their units loaded, spares the query for them (the
    dashboard has just loaded the whole plan); it implies their ids as
    `task_ids`."""
    periods = list(periods)
    if not periods:
        return []
    if tasks is not None:
        tasks = list(tasks)
        task_ids = [t.id for t in tasks]
    period_ids = [p.id for p in periods]
    plan_ids = {p.plan_id for p in periods}
    query = (
        select(TaskUnit, Task)
        .join(Task, Task.id == TaskUnit.task_id)
        .where(Task.plan_id.in_(plan_ids), Task.state.notin_(list(NOT_OWING_TASK_STATES)))
        .order_by(Task.plan_id, Task.number, TaskUnit.position)
    )
    report_query = select(Report).where(Report.period_id.in_(period_ids))
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        query = query.where(TaskUnit.unit_id.in_(unit_ids))
        report_query = report_query.where(Report.unit_id.in_(unit_ids))
    if task_ids is not None:
        task_ids = list(task_ids)
        query = query.where(Task.id.in_(task_ids))
        report_query = report_query.where(Report.task_id.in_(task_ids))
    if tasks is not None:
        wanted_units = set(unit_ids) if unit_ids is not None else None
        rows = [
            (tu, task)
            for task in sorted(tasks, key=lambda t: (t.plan_id, t.number))
            if task.plan_id in plan_ids and task.state not in NOT_OWING_TASK_STATES
            for tu in sorted(task.units, key=lambda tu: tu.position)
            if wanted_units is None or tu.unit_id in wanted_units
        ]
    else:
        rows = session.execute(query).all()
    # Joined, not Report.values' own selectin: that loads in batches of 500
    # reports, one statement each, so the count grew with the data.
    report_query = report_query.options(joinedload(Report.values))
    reports = {(r.task_id, r.period_id, r.unit_id): r for r in session.scalars(report_query).unique()}
    result = []
    for period in periods:
        contribution_due = contribution_due_on(period, calendar)
        for task_unit, task in rows:
            if task.plan_id != period.plan_id:
                continue
            is_lead = task_unit.role is UnitRole.LEAD
            result.append(
                Obligation(
                    task=task,
                    task_unit=task_unit,
                    period=period,
                    kind=ReportKind.LEAD_REPORT if is_lead else ReportKind.CONTRIBUTION,
                    due_on=period.due_on if is_lead else contribution_due,
                    report=reports.get((task.id, period.id, task_unit.unit_id)),
                )
            )
    return result


class OwedRow(NamedTuple):
    """One obligation as plain values (what `obligations()` answers as ORM
    objects), for a job that goes through every plan at once, like the
    daily reminder scan, where building tens of thousands of ORM objects
    would be most of its time."""

    plan_id: int
    task_id: int
    task_number: str
    task_title: str
    unit_id: int
    unit_short_name: str
    period: ReportingPeriod
    kind: ReportKind
    due_on: date
    report_state: ReportState | None
    report_returned_at: datetime | None
    report_updated_at: datetime | None

    @property
    def is_done(self) -> bool:
        return self.report_state is not None and self.report_state in DONE_STATES[self.kind]


def owed_rows(session: Session, periods: Iterable[ReportingPeriod], calendar: WorkdayCalendar) -> list[OwedRow]:
    """Every report owed for the given periods, the same obligations in the
    same order as `obligations(session, periods, calendar)` (same rule: tasks
    suspended or closed owe nothing, the lead owes the report by the period's
    date, a co-responsible unit its contribution by `contribution_due_on`),
    selected as columns: two statements whatever the number of plans."""
    periods = list(periods)
    if not periods:
        return []
    plan_ids = {p.plan_id for p in periods}
    rows = session.execute(
        select(Task.plan_id, Task.id, Task.number, Task.title, TaskUnit.unit_id, Unit.short_name, TaskUnit.role)
        .join(Task, Task.id == TaskUnit.task_id)
        .join(Unit, Unit.id == TaskUnit.unit_id)
        .where(Task.plan_id.in_(plan_ids), Task.state.notin_(list(NOT_OWING_TASK_STATES)))
        .order_by(Task.plan_id, Task.number, TaskUnit.position)
    ).all()
    by_plan: dict[int, list] = {}
    for row in rows:
        by_plan.setdefault(row[0], []).append(row)
    reports = {
        (task_id, period_id, unit_id): (state, returned_at, updated_at)
        for task_id, period_id, unit_id, state, returned_at, updated_at in session.execute(
            select(Report.task_id, Report.period_id, Report.unit_id, Report.state, Report.returned_at,
                   Report.updated_at).where(Report.period_id.in_([p.id for p in periods]))
        )
    }
    no_report = (None, None, None)
    result = []
    for period in periods:
        contribution_due = contribution_due_on(period, calendar)
        for plan_id, task_id, number, title, unit_id, short_name, role in by_plan.get(period.plan_id, ()):
            is_lead = role is UnitRole.LEAD
            result.append(OwedRow(
                plan_id, task_id, number, title, unit_id, short_name, period,
                ReportKind.LEAD_REPORT if is_lead else ReportKind.CONTRIBUTION,
                period.due_on if is_lead else contribution_due,
                *reports.get((task_id, period.id, unit_id), no_report),
            ))
    return result
