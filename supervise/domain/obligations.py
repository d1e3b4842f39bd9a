"""Who owes what, and when: for each task and reporting period, the lead unit
owes a report to the coordinators and each co-responsible unit owes a
contribution to the lead. Reminders, 我的待办, the dashboard and the quarterly
report all ask this one module."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from typing import NamedTuple

from sqlalchemy import and_, literal_column, or_, select
from sqlalchemy.orm import Session, joinedload, lazyload

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


# The rule, stated once for every way of reading it below (ORM objects,
# plain rows, SQL): which tasks owe, what a unit owes and by when, and what
# counts as done.

def owes_reports():
    """SQL condition: the task owes reports (not suspended, not closed)."""
    return Task.state.notin_(list(NOT_OWING_TASK_STATES))


def owed_kind(is_lead: bool) -> ReportKind:
    """The lead unit owes the task's report; a co-responsible unit its contribution."""
    return ReportKind.LEAD_REPORT if is_lead else ReportKind.CONTRIBUTION


class PeriodDues(NamedTuple):
    """A period's two due dates: the lead's report, and the contributions
    `CONTRIBUTION_LEAD_TIME_WORKING_DAYS` working days before it."""

    lead: date
    contribution: date

    @classmethod
    def of(cls, period: ReportingPeriod, calendar: WorkdayCalendar) -> PeriodDues:
        return cls(period.due_on, contribution_due_on(period, calendar))

    def due_on(self, is_lead: bool) -> date:
        return self.lead if is_lead else self.contribution


def done_in_sql(is_lead):
    """SQL condition, `DONE_STATES` on a report row: the unit has done its part."""
    return or_(
        and_(is_lead, Report.state.in_(DONE_STATES[ReportKind.LEAD_REPORT])),
        and_(~is_lead, Report.state.in_(DONE_STATES[ReportKind.CONTRIBUTION])),
    )


class FiledReport(NamedTuple):
    """Which report was filed and its state: all that a list of what is owed
    needs, without building the report and its values (obligations with
    `filed_only=True`)."""

    id: int
    state: ReportState


@dataclass
class Obligation:
    task: Task
    task_unit: TaskUnit
    period: ReportingPeriod
    kind: ReportKind
    due_on: date
    report: Report | FiledReport | None

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
    filed_only: bool = False,
    with_values: bool = True,
) -> list[Obligation]:
    """Every report owed for the given periods (tasks that are suspended or
    closed owe nothing), with the report filed so far, if any. A constant
    number of statements whatever the size of the data.

    `tasks`, with their units loaded, spares the query for them (the
    dashboard has just loaded the whole plan); it implies their ids as
    `task_ids`.

    `filed_only` gives each obligation's report as a FiledReport (id and
    state), read as plain rows: 我的待办 goes through every report of every
    period of the unit's plans to list the few still owed.

    `with_values=False` leaves the reports' values unloaded (read on access),
    for callers that take the values from elsewhere (the supervision)."""
    periods = list(periods)
    if not periods:
        return []
    if tasks is not None:
        tasks = list(tasks)
        task_ids = [t.id for t in tasks]
    period_ids = [p.id for p in periods]
    plan_ids = {p.plan_id for p in periods}
    # Who owes: read only when the caller did not give the tasks (building it cost more than the rest).
    query = None if tasks is not None else (
        select(TaskUnit, Task)
        .join(Task, Task.id == TaskUnit.task_id)
        .where(Task.plan_id.in_(plan_ids), owes_reports())
        .order_by(Task.plan_id, Task.number, TaskUnit.position)
    )
    report_query = (
        select(Report.task_id, Report.period_id, Report.unit_id, Report.id, Report.state) if filed_only
        else select(Report)
    ).where(Report.period_id.in_(period_ids))
    if unit_ids is not None:
        unit_ids = list(unit_ids)
        if query is not None:
            query = query.where(TaskUnit.unit_id.in_(unit_ids))
        report_query = report_query.where(Report.unit_id.in_(unit_ids))
    if task_ids is not None:
        task_ids = list(task_ids)
        if query is not None:
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
    reports: dict[tuple[int, int, int], Report | FiledReport]
    if filed_only:
        reports = {(task_id, period_id, unit_id): FiledReport(report_id, state)
                   for task_id, period_id, unit_id, report_id, state in session.execute(report_query)}
    else:
        # Joined, not Report.values' own selectin: that loads in batches of 500
        # reports, one statement each, so the count grew with the data.
        report_query = report_query.options(joinedload(Report.values) if with_values else lazyload(Report.values))
        reports = {(r.task_id, r.period_id, r.unit_id): r for r in session.scalars(report_query).unique()}
    # Each period meets only the rows of its own plan, read once here: not
    # every row for every period (periods × rows attribute reads).
    owing_by_plan: dict[int, list[tuple[int, int, bool, TaskUnit, Task]]] = {}
    for task_unit, task in rows:
        owing_by_plan.setdefault(task.plan_id, []).append(
            (task.id, task_unit.unit_id, task_unit.role is UnitRole.LEAD, task_unit, task)
        )
    result = []
    for period in periods:
        owing = owing_by_plan.get(period.plan_id)
        if not owing:
            continue
        period_id, dues = period.id, PeriodDues.of(period, calendar)
        for task_id, unit_id, is_lead, task_unit, task in owing:
            result.append(
                Obligation(
                    task=task,
                    task_unit=task_unit,
                    period=period,
                    kind=owed_kind(is_lead),
                    due_on=dues.due_on(is_lead),
                    report=reports.get((task_id, period_id, unit_id)),
                )
            )
    return result


class OwedRow(NamedTuple):
    """One obligation as plain values (what `obligations()` answers as ORM
    objects), for a job that goes through every plan at once, like the
    daily reminder scan, where building thousands of ORM objects would be
    most of its time."""

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
    report_id: int | None = None

    @property
    def is_done(self) -> bool:
        return self.report_state is not None and self.report_state in DONE_STATES[self.kind]


def outstanding_rows(
    session: Session, periods: Iterable[ReportingPeriod], calendar: WorkdayCalendar, *,
    unit_ids: Iterable[int] | None = None,
) -> list[OwedRow]:
    """The reports owed for the given periods and not done yet: what
    `obligations(session, periods, calendar)` answers with `is_done` false,
    in the same order, by the same rule (tasks suspended or closed owe
    nothing; the lead owes the report by the period's date, a
    co-responsible unit its contribution by `contribution_due_on`;
    `DONE_STATES` says what is done), selected as plain columns with the
    done ones left out in SQL: one statement whatever the number of plans.
    `unit_ids` keeps only what those units owe (我的待办: the user's unit)."""
    periods = list(periods)
    if not periods:
        return []
    done = done_in_sql(TaskUnit.role == UnitRole.LEAD)
    period_id = ReportingPeriod.id
    if unit_ids is not None:
        # A unit's few task rows lead the join: each meets its plan's
        # periods, kept if among those asked for. SQLite would rather probe
        # the plan's index once per period id asked for (rows × periods);
        # `+ 0` keeps it from using the id there.
        period_id = ReportingPeriod.id + literal_column("0")
    query = (
        select(Task.plan_id, Task.id, Task.number, Task.title, TaskUnit.unit_id, Unit.short_name, TaskUnit.role,
               ReportingPeriod.id, Report.state, Report.returned_at, Report.updated_at, Report.id)
        .select_from(TaskUnit)
        .join(Task, Task.id == TaskUnit.task_id)
        .join(Unit, Unit.id == TaskUnit.unit_id)
        .join(ReportingPeriod, and_(ReportingPeriod.plan_id == Task.plan_id,
                                    period_id.in_([p.id for p in periods])))
        .outerjoin(Report, and_(Report.task_id == Task.id, Report.period_id == ReportingPeriod.id,
                                Report.unit_id == TaskUnit.unit_id))
        .where(owes_reports(), or_(Report.id.is_(None), ~done))
        .order_by(Task.plan_id, Task.number, TaskUnit.position)
    )
    if unit_ids is not None:
        query = query.where(TaskUnit.unit_id.in_(list(unit_ids)))
    rows = session.execute(query).all()
    by_period: dict[int, list] = {}
    for row in rows:
        by_period.setdefault(row[7], []).append(row)
    result = []
    for period in periods:
        owed = by_period.get(period.id)
        if not owed:
            continue
        dues = PeriodDues.of(period, calendar)
        for plan_id, task_id, number, title, unit_id, short_name, role, _period_id, state, returned_at, updated_at, \
                report_id in owed:
            lead = role is UnitRole.LEAD
            result.append(OwedRow(
                plan_id, task_id, number, title, unit_id, short_name, period,
                owed_kind(lead), dues.due_on(lead),
                state, returned_at, updated_at, report_id,
            ))
    return result


def lead_units(session: Session, task_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Each task's lead unit (id, short name): the first lead in position
    order, as `Task.lead` takes it, for many tasks in one statement."""
    task_ids = set(task_ids)
    if not task_ids:
        return {}
    leads: dict[int, tuple[int, str]] = {}
    for task_id, unit_id, short_name in session.execute(
        select(TaskUnit.task_id, TaskUnit.unit_id, Unit.short_name)
        .join(Unit, Unit.id == TaskUnit.unit_id)
        .where(TaskUnit.task_id.in_(task_ids), TaskUnit.role == UnitRole.LEAD)
        .order_by(TaskUnit.task_id, TaskUnit.position)
    ):
        leads.setdefault(task_id, (unit_id, short_name))
    return leads


def next_obligations(
    session: Session, unit_ids: Iterable[int], today: date, calendar: WorkdayCalendar
) -> list[Obligation]:
    """What the units owe next: the open obligations (not done, not yet
    past due) with the earliest due date from `today` on, in task order;
    empty when nothing more is owed. A draft plan has no periods and owes
    nothing. One statement for the periods, two for each due date looked at
    (the next one, unless everything due then is already done)."""
    unit_ids = list(unit_ids)
    plan_ids = select(Task.plan_id).join(TaskUnit, TaskUnit.task_id == Task.id).where(TaskUnit.unit_id.in_(unit_ids))
    # A contribution is due before its period's date: periods due from today on cover every open one.
    periods = session.scalars(
        select(ReportingPeriod).where(ReportingPeriod.plan_id.in_(plan_ids), ReportingPeriod.due_on >= today)
        .order_by(ReportingPeriod.due_on, ReportingPeriod.id)
    ).all()
    for _due_on, same_date in groupby(periods, key=lambda p: p.due_on):
        open_ = [ob for ob in obligations(session, same_date, calendar, unit_ids=unit_ids, filed_only=True)
                 if not ob.is_done and ob.due_on >= today]
        if open_:
            first = min(ob.due_on for ob in open_)
            return sorted((ob for ob in open_ if ob.due_on == first),
                          key=lambda ob: (ob.task.plan_id, ob.task.number, ob.task_unit.position))
    return []
