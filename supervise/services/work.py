"""我的待办: what each person has to do next."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from ..db import session
from ..domain.lights import Light, light_for
from ..models import (
    ExtensionRequest,
    ExtensionState,
    Milestone,
    MilestoneState,
    Plan,
    Report,
    ReportingPeriod,
    ReportKind,
    ReportState,
    Task,
    TaskState,
    TaskUnit,
    UnitRole,
    User,
)
from ..domain.obligations import Obligation, obligations
from ..policy import authorize, can, published_plan_ids
from ..domain.workdays import WorkdayCalendar, working_days_overdue


@dataclass
class OwedItem:
    obligation: Obligation
    light: Light
    overdue_days: int


@dataclass
class MyWork:
    owed: list[OwedItem] = field(default_factory=list)  # reports and contributions due or overdue
    returned: list[Report] = field(default_factory=list)  # sent back, to revise
    contributions_to_review: list[Report] = field(default_factory=list)  # for the lead unit
    milestones_due: list[tuple[Milestone, Light]] = field(default_factory=list)
    review_queue: list[Report] = field(default_factory=list)  # coordinators, oldest first
    closing_requests: list[Task] = field(default_factory=list)
    extension_requests: list[ExtensionRequest] = field(default_factory=list)
    milestones_to_decide: list[Milestone] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (len(self.owed) + len(self.returned) + len(self.contributions_to_review) + len(self.milestones_due)
                + len(self.review_queue) + len(self.closing_requests) + len(self.extension_requests)
                + len(self.milestones_to_decide))


def my_work(user: User, today: date, calendar: WorkdayCalendar | None = None) -> MyWork:
    authorize(user, "work.view")
    sess = session()
    calendar = calendar or WorkdayCalendar.load(sess)
    work = MyWork()
    if can(user, "report.file"):  # a unit's work: what it owes, returned, to accept
        _liaison_work(user, today, calendar, work)
    if can(user, "report.review"):  # the coordinators' queues
        _coordinator_work(work)
    return work


def _liaison_work(user: User, today: date, calendar: WorkdayCalendar, work: MyWork) -> None:
    sess = session()
    plan_ids = select(Task.plan_id).join(TaskUnit, TaskUnit.task_id == Task.id).where(
        TaskUnit.unit_id == user.unit_id, Task.plan_id.in_(published_plan_ids())
    )
    # The unit's plans, loaded once: every task.plan below is then found in
    # the session instead of one query per plan.
    plans = list(sess.scalars(select(Plan).where(Plan.id.in_(plan_ids))))  # noqa: F841 (kept alive: the session holds objects weakly)
    periods = list(
        sess.scalars(
            select(ReportingPeriod).where(ReportingPeriod.plan_id.in_(plan_ids), ReportingPeriod.starts_on <= today)
        )
    )
    for ob in obligations(sess, periods, calendar, unit_ids=[user.unit_id]):
        if ob.is_done or (ob.report is not None and ob.report.state is ReportState.RETURNED):
            continue
        light = light_for(ob.task.plan, ob.due_on, today, calendar, done=False)
        if light is Light.GREEN and ob.period.ends_on > today:
            continue  # the period is still running and nothing is due soon
        work.owed.append(OwedItem(ob, light, working_days_overdue(ob.due_on, today, calendar)))
    work.owed.sort(key=lambda item: (item.obligation.due_on, item.obligation.task.number))
    # The lists show no values: do not load them (a constant number of
    # statements, whatever is in the lists).
    base = select(Report).options(
        joinedload(Report.task), joinedload(Report.period), joinedload(Report.unit), lazyload(Report.values)
    )
    work.returned = list(
        sess.scalars(base.where(Report.unit_id == user.unit_id, Report.state == ReportState.RETURNED).order_by(Report.returned_at))
    )
    lead_task_ids = select(TaskUnit.task_id).where(TaskUnit.unit_id == user.unit_id, TaskUnit.role == UnitRole.LEAD)
    work.contributions_to_review = list(
        sess.scalars(
            base.where(Report.task_id.in_(lead_task_ids), Report.kind == ReportKind.CONTRIBUTION,
                       Report.state == ReportState.SUBMITTED).order_by(Report.submitted_at)
        )
    )
    milestones = sess.scalars(
        select(Milestone).options(joinedload(Milestone.task))
        .where(Milestone.task_id.in_(lead_task_ids), Milestone.state == MilestoneState.CONFIRMED)
        .order_by(Milestone.due_on)
    )
    for milestone in milestones:
        light = light_for(milestone.task.plan, milestone.due_on, today, calendar, done=False)
        if light is not Light.GREEN:
            work.milestones_due.append((milestone, light))


def _coordinator_work(work: MyWork) -> None:
    sess = session()
    work.review_queue = list(
        sess.scalars(
            select(Report)
            .options(joinedload(Report.task), joinedload(Report.period), joinedload(Report.unit))
            .where(Report.kind == ReportKind.LEAD_REPORT, Report.state == ReportState.SUBMITTED)
            .order_by(Report.submitted_at, Report.id)
        )
    )
    work.closing_requests = list(
        sess.scalars(select(Task).options(selectinload(Task.units)).where(Task.state == TaskState.CLOSING_REQUESTED).order_by(Task.updated_at))
    )
    work.extension_requests = list(
        sess.scalars(
            select(ExtensionRequest).where(ExtensionRequest.state == ExtensionState.PENDING).order_by(ExtensionRequest.created_at)
        )
    )
    work.milestones_to_decide = list(
        sess.scalars(
            select(Milestone).options(joinedload(Milestone.task))
            .where(Milestone.state.in_([MilestoneState.PROPOSED, MilestoneState.DONE_CLAIMED]))
            .order_by(Milestone.created_at)
        )
    )
