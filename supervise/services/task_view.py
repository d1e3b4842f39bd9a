"""The read model of one task, as one user sees it on one day: its reporting
periods with who owes what and each one's light, its milestones, deadline
extensions, closing evidence, target progress, and what this user may do.

Built once here and rendered twice: by the task page (web/tasks.py and
templates/tasks/) and by the JSON API (/api/v1/tasks/{id} and its periods).
The views only format it."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..db import session
from ..domain.lights import Light, light_for
from ..domain.obligations import NOT_OWING_TASK_STATES, Obligation, contribution_due_on, obligations
from ..domain.periods import resolve_period
from ..domain.workdays import WorkdayCalendar
from ..models import (
    AuditEntry,
    Evidence,
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    Report,
    ReportingPeriod,
    ReportKind,
    ReportState,
    Task,
    TaskState,
    Unit,
    User,
)
from ..policy import can, preload_maker_rows, visible_reports
from ..workflow import allowed_actions
from .plans import get_task
from .tasks import target_progress

# What a user may do on the task page / through the API, as the view names it.
TASK_ACTIONS = (
    "file_report", "propose_milestone", "request_close", "request_extension", "decide_extension",
    "decide_close", "suspend", "resume", "assign_units",
)
INACTIVE = (TaskState.CLOSED, TaskState.SUSPENDED)
# The pages name who uploaded each file: loaded with the file, not one by one
# (their roles are not needed to print a name).
WITH_UPLOADER = joinedload(Evidence.uploaded_by).lazyload(User.role_grants)


# The statements every view of a task runs, built once (building a select
# with its loader options costs more than running it); the task's id is a
# parameter.
@functools.cache
def _milestones_select():
    return (select(Milestone).where(Milestone.task_id == bindparam("task_id"))
            .options(selectinload(Milestone.evidence).options(WITH_UPLOADER))
            .order_by(Milestone.due_on, Milestone.id))


@functools.cache
def _extensions_select():
    return (select(ExtensionRequest).where(ExtensionRequest.task_id == bindparam("task_id"))
            .options(joinedload(ExtensionRequest.requested_by).lazyload(User.role_grants))
            .order_by(ExtensionRequest.created_at.desc(), ExtensionRequest.id.desc()))


@functools.cache
def _closing_evidence_select():
    return (select(Evidence)
            .where(Evidence.task_id == bindparam("task_id"), Evidence.report_id.is_(None),
                   Evidence.milestone_id.is_(None))
            .options(WITH_UPLOADER).order_by(Evidence.uploaded_at))


def load_people(entries: list[AuditEntry]) -> list[AuditEntry]:
    """The audit rows, with the users who acted in them loaded in one query
    (always one, even for none), so naming each actor on the page
    (session.get) finds them in the session instead of reading them one by one."""
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    session().scalars(_people_select(), {"ids": sorted(ids)}).all()
    return entries


@functools.cache
def _people_select():
    return select(User).where(User.id.in_(bindparam("ids", expanding=True))).options(lazyload(User.role_grants))


HISTORY_LIMIT = 200  # the most a task's history shows, newest first


@functools.cache
def _history_select():
    return (select(AuditEntry).where(AuditEntry.task_id == bindparam("task_id"))
            .order_by(AuditEntry.id.desc()).limit(bindparam("limit")))


@dataclass(frozen=True)
class ReportRow:
    """A report as the task page shows it in a period: which it is and its
    state (a link and a badge), read as a row, not as an ORM report."""

    id: int
    period_id: int
    unit_id: int
    kind: ReportKind
    state: ReportState


@dataclass(frozen=True)
class PeriodItem:
    """One unit's report (or contribution) for one period, as this user may see it."""

    unit: Unit
    kind: ReportKind
    due_on: date | None  # None: a report filed while the task was open, no longer owed
    light: Light
    is_done: bool
    report: Report | ReportRow | None  # only when the user may open it
    status: str  # the report's state if visible; otherwise only whether the unit has done its part
    is_mine: bool
    is_owed: bool

    @property
    def unit_name(self) -> str:
        return self.unit.short_name


@dataclass(frozen=True)
class PeriodView:
    period: ReportingPeriod
    contribution_due_on: date
    light: Light  # of the lead unit's report: the task's status for the period
    items: tuple[PeriodItem, ...]
    reports: tuple[Report | ReportRow, ...]  # every report of the period this user may see, by id

    @property
    def my_item(self) -> PeriodItem | None:
        return next((i for i in self.items if i.is_mine and i.is_owed), None)

    @property
    def owed(self) -> int:
        """How many reports the period asks for (none once the task is closed or suspended)."""
        return sum(1 for i in self.items if i.is_owed)

    @property
    def outstanding(self) -> int:
        """How many of those are not done yet: a period with none is settled."""
        return sum(1 for i in self.items if i.is_owed and not i.is_done)

    @property
    def lead_report(self) -> Report | None:
        return next((r for r in self.reports if r.kind is ReportKind.LEAD_REPORT), None)

    @property
    def contributions(self) -> list[Report]:
        return [r for r in self.reports if r.kind is ReportKind.CONTRIBUTION]


@dataclass(frozen=True)
class MilestoneView:
    milestone: Milestone
    light: Light
    actions: frozenset[str]  # "confirm", "accept_done" (coordinator), "mark_done" (lead), allowed now


@dataclass(frozen=True)
class TaskView:
    task: Task
    today: date
    periods: tuple[PeriodView, ...]  # in the plan's order
    milestones: tuple[MilestoneView, ...]
    extensions: tuple[ExtensionRequest, ...]  # newest first
    closing_evidence: tuple[Evidence, ...]
    progress: tuple[dict[str, Any], ...]  # services.tasks.target_progress rows
    splittable_target_ids: frozenset[int]  # targets this user may split among the units
    actions: frozenset[str]  # of TASK_ACTIONS
    is_lead: bool  # the user answers for the task (牵头单位)
    may_decide: bool  # the user decides on it (督办员)
    history: tuple[AuditEntry, ...]  # newest first, the last `history` asked for (≤ 200), without what would give away a private report

    @property
    def started_periods(self) -> list[PeriodView]:
        """Periods that have begun, newest first (what the page lists)."""
        return sorted((p for p in self.periods if p.period.starts_on <= self.today),
                      key=lambda p: p.period.starts_on, reverse=True)

    @property
    def workflow_actions(self) -> list[str]:
        return allowed_actions(self.task)


def task_view(user: User, task_id: int, today: date, *, period_code: str | None = None,
              calendar: WorkdayCalendar | None = None, periods: str = "all", history: bool | int = True,
              report_rows: bool = False) -> TaskView:
    """The task `task_id` as `user` sees it on `today` (404 if they may not);
    with `period_code`, that one period only (400 if the plan has none such).

    What a view does not show is not computed: `periods` "started" gives
    only the periods that have begun (the page lists no others), "none" none
    (the API's task, which shows no periods); without `history`, no history,
    with a number, the history's latest entries up to that many (read: the
    entries the user may not see are left out after), else the last 200;
    with `report_rows`, the periods' reports are ReportRows (which report,
    its state: what the page shows), not ORM reports (what the API's
    periods show of them: when submitted, decided, returned)."""
    task = get_task(user, task_id)
    sess = session()
    # Who made what on the task, read once whatever the milestones, reports
    # and requests below (each can() of a decision would otherwise read it on
    # first need, so the statement count would depend on the data).
    preload_maker_rows(user, task)
    calendar = calendar or WorkdayCalendar.load(sess)
    if period_code:
        shown = [resolve_period(sess, task.plan, period_code)]
    elif periods == "none":
        shown = []
    else:
        shown = sorted(task.plan.periods, key=lambda p: p.starts_on)
        if periods == "started":
            shown = [p for p in shown if p.starts_on <= today]
    period_views = tuple(_periods(task, user, today, calendar, shown, report_rows)) if shown else ()

    milestones = []
    for m in sess.scalars(_milestones_select(), {"task_id": task.id}):
        allowed = set(allowed_actions(m))
        mine = set()
        if can(user, "milestone.decide", m):
            mine |= allowed & {"confirm", "accept_done"}
        if can(user, "milestone.propose", m):
            mine |= allowed & {"mark_done"}
        milestones.append(MilestoneView(
            m, light_for(task.plan, m.due_on, today, calendar, done=m.state is MilestoneState.COMPLETED),
            frozenset(mine)))

    extensions = tuple(sess.scalars(_extensions_select(), {"task_id": task.id}))
    closing_evidence = tuple(sess.scalars(_closing_evidence_select(), {"task_id": task.id}))
    progress = tuple(target_progress(task))

    is_lead = can(user, "task.request", task)
    may_decide = can(user, "task.decide", task)
    workflow_actions = set(allowed_actions(task))
    actions = set()
    if can(user, "report.file", task) and task.state not in INACTIVE:
        actions.add("file_report")
    if can(user, "milestone.propose", task) and task.state not in INACTIVE:
        actions.add("propose_milestone")
    if is_lead and "request_close" in workflow_actions:
        actions.add("request_close")
    if (is_lead and task.deadline is not None and today <= task.deadline and task.state not in INACTIVE
            and not any(e.state is ExtensionState.PENDING for e in extensions)):
        actions.add("request_extension")
    if may_decide:
        if any(e.state is ExtensionState.PENDING for e in extensions):
            actions.add("decide_extension")
        if "approve_close" in workflow_actions:
            actions.add("decide_close")
        actions |= workflow_actions & {"suspend", "resume"}
    if can(user, "task.assign_units", task):
        actions.add("assign_units")

    return TaskView(
        task=task, today=today, history=_history(sess, user, task, HISTORY_LIMIT if history is True else history)
        if history else (), periods=period_views, milestones=tuple(milestones), extensions=extensions,
        closing_evidence=closing_evidence, progress=progress,
        splittable_target_ids=frozenset(row["target"].id for row in progress if can(user, "target.split", row["target"])),
        actions=frozenset(actions), is_lead=is_lead, may_decide=may_decide,
    )


def _history(sess, user: User, task: Task, limit: int = HISTORY_LIMIT) -> tuple[AuditEntry, ...]:
    # Rows about a report the user may not see (another unit's draft) are
    # left out: their labels would give the draft away.
    seen = set(sess.scalars(select(Report.id).where(Report.task_id == task.id, visible_reports(user))))
    return tuple(
        h for h in load_people(sess.scalars(_history_select(), {"task_id": task.id,
                                                                "limit": min(limit, HISTORY_LIMIT)}).all())
        if not ((h.object_type == "reports" and h.object_id not in seen)
                or (h.object_type == "evidence" and (h.detail or {}).get("report_id") not in (None, *seen)))
    )


def _periods(task: Task, user: User, today: date, calendar: WorkdayCalendar,
             periods: list[ReportingPeriod], report_rows: bool = False) -> list[PeriodView]:
    sess = session()
    period_ids = [p.id for p in periods]
    # The page shows each report's state, not its values.
    which = (Report.task_id == task.id, Report.period_id.in_(period_ids), visible_reports(user))
    if report_rows:
        visible: dict[int, Report | ReportRow] = {
            row[0]: ReportRow(*row)
            for row in sess.execute(select(Report.id, Report.period_id, Report.unit_id, Report.kind, Report.state)
                                    .where(*which).order_by(Report.id))
        }
    else:
        visible = {r.id: r for r in sess.scalars(
            select(Report).where(*which).options(lazyload(Report.values)).order_by(Report.id))}
    by_period: dict[int, list[Obligation]] = {}
    # A suspended or closed task owes nothing (obligations() would read its
    # reports to list none of them).
    owed = obligations(sess, periods, calendar, task_ids=[task.id]) if task.state not in NOT_OWING_TASK_STATES else []
    for ob in owed:
        by_period.setdefault(ob.period.id, []).append(ob)
    reports_by_period: dict[int, list[Report | ReportRow]] = {}
    for report in visible.values():
        reports_by_period.setdefault(report.period_id, []).append(report)
    # A report's unit is nearly always one of the task's (loaded with it):
    # taken from there, not through each report's relationship.
    units = {tu.unit_id: tu.unit for tu in task.units}
    result = []
    for period in periods:
        obs = by_period.get(period.id, [])
        lead_ob = next((ob for ob in obs if ob.kind is ReportKind.LEAD_REPORT), None)
        items = []
        shown: set[int] = set()
        for ob in obs:
            report = visible.get(ob.report.id) if ob.report is not None else None
            if report is not None:
                status = report.state.label
                shown.add(report.id)
            else:
                # Another unit's draft or unapproved work is not shown; whether
                # the unit has done its part is (punctuality is public).
                status = "已报送" if ob.is_done else "未报送"
            items.append(PeriodItem(
                ob.task_unit.unit, ob.kind, ob.due_on,
                light_for(task.plan, ob.due_on, today, calendar, done=ob.is_done), ob.is_done, report, status,
                is_mine=ob.task_unit.unit_id == user.unit_id, is_owed=True,
            ))
        # Reports filed while the task was open stay on its page after it is
        # suspended or closed (obligations() no longer lists them).
        reports = reports_by_period.get(period.id, [])
        for report in reports:
            if report.id not in shown:
                unit = units.get(report.unit_id) or sess.get(Unit, report.unit_id)
                items.append(PeriodItem(unit, report.kind, None, Light.GREEN, True, report,
                                        report.state.label, is_mine=report.unit_id == user.unit_id, is_owed=False))
        light = (light_for(task.plan, period.due_on, today, calendar, done=lead_ob.is_done)
                 if lead_ob else Light.GREEN)
        result.append(PeriodView(period, contribution_due_on(period, calendar), light, tuple(items), tuple(reports)))
    return result
