"""我的待办: what each person has to do next."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import defer, selectinload

from ..db import session
from ..errors import ValidationError
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
    Unit,
    UnitRole,
    User,
)
from ..domain.obligations import OwedRow, outstanding_rows
from ..domain.periods import PeriodRow
from ..policy import authorize, can, published_plan_ids
from ..domain.workdays import WorkdayCalendar, working_days_overdue
from .next_due import NextDue, next_due


@dataclass
class OwedItem:
    obligation: OwedRow  # a report or contribution the unit owes, not done
    light: Light
    overdue_days: int


@dataclass
class MyWork:
    owed: list[OwedItem] = field(default_factory=list)  # reports and contributions due or overdue
    returned: list[ReportLine] = field(default_factory=list)  # sent back, to revise
    contributions_to_review: list[ReportLine] = field(default_factory=list)  # for the lead unit
    milestones_due: list[tuple[MilestoneDue, Light]] = field(default_factory=list)
    review_queue: list[ReportLine] = field(default_factory=list)  # coordinators, oldest first
    closing_requests: list[Task] = field(default_factory=list)
    extension_requests: list[ExtensionRequest] = field(default_factory=list)
    milestones_to_decide: list[MilestoneLine] = field(default_factory=list)
    leads_to_confirm: list[Task] = field(default_factory=list)  # coordinators: proposed leads
    calendar: WorkdayCalendar | None = None

    @property
    def total(self) -> int:
        return (len(self.owed) + len(self.returned) + len(self.contributions_to_review) + len(self.milestones_due)
                + len(self.review_queue) + len(self.closing_requests) + len(self.extension_requests)
                + len(self.milestones_to_decide) + len(self.leads_to_confirm))


def my_work(user: User, today: date, calendar: WorkdayCalendar | None = None) -> MyWork:
    """Everything `user` has to do. The reports and milestones of the long
    lists (review queue, contributions to review, returned, milestones to
    decide) are ReportLine/MilestoneLine rows, not ORM objects: 我的待办 sorts,
    counts and pages them, then loads only the page's (_built)."""
    authorize(user, "work.view")
    sess = session()
    calendar = calendar or WorkdayCalendar.load(sess)
    work = MyWork(calendar=calendar)
    if can(user, "report.file"):  # a unit's work: what it owes, returned, to accept
        _liaison_work(user, today, calendar, work)
    if can(user, "report.review"):  # the coordinators' queues
        _coordinator_work(work)
    return work


class TaskRef(NamedTuple):
    """A task as a line of 我的待办 shows it, read with the line rather than
    loaded as a Task."""

    id: int
    number: int
    title: str
    plan_id: int


class UnitRef(NamedTuple):
    """A unit as a line of 我的待办 shows it (name, and its place in the
    filter's choices), read with the lines rather than loaded as a Unit."""

    id: int
    canonical_name: str
    short_name: str
    sort_order: int


class ReportLine(NamedTuple):
    """A report of a list of 我的待办, as much as sorting, filtering and
    counting it needs (the rest is read for the page's lines only, _built):
    each column is converted for hundreds of lines per request."""

    id: int
    task_number: int
    plan_id: int
    period_id: int
    unit_id: int
    since: datetime | None  # submitted at (to review) or returned at (returned): the list's own order


class MilestoneDue(NamedTuple):
    """A confirmed milestone of a task the unit leads, with what its line shows."""

    id: int
    task_id: int
    task_number: int
    task_title: str
    plan_id: int
    title: str
    due_on: date
    state: MilestoneState


class MilestoneLine(NamedTuple):
    """A milestone to decide, as much as sorting, filtering and counting it
    needs (its state, date and titles are read for the page's lines only)."""

    id: int
    task_number: int
    plan_id: int
    created_at: datetime


def _reports(where, since) -> list[ReportLine]:
    """The reports of one list of 我的待办, oldest first by `since` (the
    moment the list shows; then by id, a stable order on every database), as
    rows: one statement, whatever is in the list."""
    query = select(Report.id, Task.number, Task.plan_id, Report.period_id, Report.unit_id, since
                   ).join(Task, Task.id == Report.task_id)
    return list(map(ReportLine._make, session().execute(query.where(*where).order_by(since, Report.id))))


def _liaison_work(user: User, today: date, calendar: WorkdayCalendar, work: MyWork) -> None:
    sess = session()
    plan_ids = select(Task.plan_id).join(TaskUnit, TaskUnit.task_id == Task.id).where(
        TaskUnit.unit_id == user.unit_id, Task.plan_id.in_(published_plan_ids())
    )
    # The unit's plans, loaded once: every task.plan below is then found in
    # the session instead of one query per plan. Not their source text (tens
    # of KB each, read for nothing here).
    plans = {p.id: p for p in sess.scalars(select(Plan).options(defer(Plan.source_text)).where(Plan.id.in_(plan_ids)))}
    periods = [PeriodRow(*row) for row in sess.execute(
        select(*PeriodRow.columns()).where(ReportingPeriod.plan_id.in_(plan_ids), ReportingPeriod.starts_on <= today)
    )]
    # What the unit owes and has not done, as rows (the done ones are left
    # out in SQL); the returned ones are listed as returned, below.
    for ob in outstanding_rows(sess, periods, calendar, unit_ids=[user.unit_id]):
        if ob.report_state is ReportState.RETURNED:
            continue
        light = light_for(plans[ob.plan_id], ob.due_on, today, calendar, done=False)
        if light is Light.GREEN and ob.period.ends_on > today:
            continue  # the period is still running and nothing is due soon
        work.owed.append(OwedItem(ob, light, working_days_overdue(ob.due_on, today, calendar)))
    work.owed.sort(key=lambda item: (item.obligation.due_on, item.obligation.task_number))
    work.returned = _reports((Report.unit_id == user.unit_id, Report.state == ReportState.RETURNED),
                             Report.returned_at)
    lead_task_ids = select(TaskUnit.task_id).where(TaskUnit.unit_id == user.unit_id, TaskUnit.role == UnitRole.LEAD)
    work.contributions_to_review = _reports(
        (Report.task_id.in_(lead_task_ids), Report.kind == ReportKind.CONTRIBUTION,
         Report.state == ReportState.SUBMITTED), Report.submitted_at)
    milestones = sess.execute(
        select(Milestone.id, Milestone.task_id, Task.number, Task.title, Task.plan_id, Milestone.title,
               Milestone.due_on, Milestone.state).join(Task, Task.id == Milestone.task_id)
        .where(Milestone.task_id.in_(lead_task_ids), Milestone.state == MilestoneState.CONFIRMED)
        .order_by(Milestone.due_on, Milestone.id)
    )
    for milestone in map(MilestoneDue._make, milestones):
        plan = plans.get(milestone.plan_id) or sess.get(Plan, milestone.plan_id)  # a lead task of another plan
        light = light_for(plan, milestone.due_on, today, calendar, done=False)
        if light is not Light.GREEN:
            work.milestones_due.append((milestone, light))


def _coordinator_work(work: MyWork) -> None:
    sess = session()
    work.review_queue = _reports((Report.kind == ReportKind.LEAD_REPORT, Report.state == ReportState.SUBMITTED),
                                 Report.submitted_at)
    work.closing_requests = list(
        sess.scalars(select(Task).options(selectinload(Task.units)).where(Task.state == TaskState.CLOSING_REQUESTED).order_by(Task.updated_at))
    )
    work.extension_requests = list(
        sess.scalars(
            select(ExtensionRequest).options(selectinload(ExtensionRequest.task).selectinload(Task.units))
            .where(ExtensionRequest.state == ExtensionState.PENDING).order_by(ExtensionRequest.created_at)
        )
    )
    to_decide = (Milestone.state.in_([MilestoneState.PROPOSED, MilestoneState.DONE_CLAIMED]),)
    # Milestones proposed together share created_at: among them, those
    # claimed done first, then by id (the order the list always showed on
    # SQLite, now said).
    oldest_first = (Milestone.created_at, Milestone.state, Milestone.id)
    work.milestones_to_decide = list(map(MilestoneLine._make, sess.execute(
        select(Milestone.id, Task.number, Task.plan_id, Milestone.created_at).join(Task, Task.id == Milestone.task_id)
        .where(*to_decide).order_by(*oldest_first)
    )))
    work.leads_to_confirm = leads_to_confirm()


# --- the read model of 我的待办, shared by the page and GET /api/v1/me/work --------------------


class WorkGroup(enum.Enum):
    """What a user can act on, in the order the page leads with it."""

    REVIEW = "review"  # reports and contributions waiting for this user's review
    DECIDE = "decide"  # requests and proposals waiting for a decision (coordinators)
    RETURNED = "returned"  # sent back to this user's unit, to revise
    DUE = "due"  # due this period or within the notice window
    OVERDUE = "overdue"  # past due

    @property
    def label(self) -> str:
        return {"review": "待审核", "decide": "待决定", "returned": "被退回待修改", "due": "本期应办",
                "overdue": "已逾期"}[self.value]

    # Members are singletons: hashed by identity, in C, rather than by
    # Enum's hash(self._name_) -- the list counts and sorts hundreds of
    # lines by group per request.
    __hash__ = object.__hash__


GROUP_ORDER = {g: i for i, g in enumerate(WorkGroup)}
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class WorkItem:
    """One line of 我的待办, everything the page and the API show of it."""

    group: WorkGroup
    kind: str  # a stable code, e.g. "lead_report_review"
    kind_label: str
    task: Task | TaskRef
    plan_id: int
    plan_label: str
    period_code: str | None
    period_label: str | None
    period_starts_on: date | None
    unit: Unit | UnitRef | None
    due_on: date | None
    light: Light | None
    overdue_days: int
    since: datetime | None  # submitted, returned or asked for at
    note: str  # return reason, requested deadline, milestone, proposed lead …
    state_label: str
    report_id: int | None = None
    milestone_id: int | None = None
    extension_id: int | None = None
    lead_unit_id: int | None = None  # for a lead to confirm: the proposed unit

    @property
    def task_number(self) -> int:
        return self.task.number

    @property
    def anchor(self) -> str:
        return {"closing_request": "lifecycle", "extension_request": "lifecycle", "lead_confirm": "units",
                "milestone_confirm": "milestones", "milestone_accept": "milestones",
                "milestone_due": "milestones", "report_due": "periods"}.get(self.kind, "")


@dataclass(frozen=True)
class WorkFilters:
    plan_id: int | None = None
    period: str | None = None
    group: WorkGroup | None = None
    unit_id: int | None = None
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, args) -> "WorkFilters":
        """From query arguments (a dict-like of strings): a clear message for
        anything that is not a filter value, never a traceback."""

        def integer(name: str, low: int, high: int) -> int | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                value = int(raw)
            except ValueError:
                raise ValidationError(f"参数 {name} 必须是整数", field_errors={name: "必须是整数"}) from None
            if not low <= value <= high:
                raise ValidationError(f"参数 {name} 应在 {low} 至 {high} 之间", field_errors={name: "超出范围"})
            return value

        raw_state = (args.get("state") or "").strip()
        group = None
        if raw_state:
            try:
                group = WorkGroup(raw_state)
            except ValueError:
                raise ValidationError(
                    f"参数 state 应为 {'、'.join(g.value for g in WorkGroup)} 之一", field_errors={"state": "无此状态"}
                ) from None
        period = (args.get("period") or "").strip().upper() or None
        if period is not None and len(period) > 16:
            raise ValidationError("参数 period 不是报送期次", field_errors={"period": "无此期次"})
        return cls(
            plan_id=integer("plan", 1, 2**31 - 1),
            period=period,
            group=group,
            unit_id=integer("unit", 1, 2**31 - 1),
            page=integer("page", 1, 100000) or 1,
            per_page=integer("per_page", 1, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE,
        )

    def args(self, **changes) -> dict[str, str | int]:
        """The query arguments of these filters (with `changes`), for links."""
        values = {"plan": self.plan_id, "period": self.period, "state": self.group.value if self.group else None,
                  "unit": self.unit_id, "page": self.page if self.page != 1 else None,
                  "per_page": self.per_page if self.per_page != DEFAULT_PAGE_SIZE else None}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class WorkView:
    today: date
    filters: WorkFilters
    items: list[WorkItem]  # the page asked for
    counts: dict[WorkGroup, int]  # per group, with the plan/period/unit filters applied
    total: int  # everything the user has to do, no filter
    matching: int  # with every filter applied
    plans: list[tuple[int, str]]  # filter choices, from the user's whole list
    periods: list[tuple[str, str]]  # newest first
    units: list[Unit | UnitRef]
    next_due: NextDue | None = None  # when there is nothing to do: the next report the unit owes

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // self.filters.per_page))

    @property
    def page(self) -> int:
        return min(self.filters.page, self.pages)


def leads_to_confirm() -> list[Task]:
    """Tasks whose lead unit the system proposed and nobody has confirmed:
    the home page and 我的待办 list exactly these."""
    return list(
        session().scalars(
            select(Task)
            .join(TaskUnit, TaskUnit.task_id == Task.id)
            .options(selectinload(Task.units))
            .where(TaskUnit.role == UnitRole.LEAD, TaskUnit.is_confirmed.is_(False),
                   Task.plan_id.in_(published_plan_ids()))  # a draft plan's leads are settled on its review page
            .order_by(Task.plan_id, Task.number)
        )
    )


def work_view(user: User, today: date, filters: WorkFilters | None = None,
              calendar: WorkdayCalendar | None = None) -> WorkView:
    """我的待办 as one list: what the user can act on now first (to review,
    to decide, returned), then what is due this period, then what is overdue;
    the newest period first within each group, except the review queue,
    which is first come first served. Filtered and paged here, so the page
    and the API show the same rows and counts.

    The long lists are sorted, filtered and counted as rows; only the
    reports and milestones of the page asked for are then loaded."""
    filters = filters or WorkFilters()
    work = my_work(user, today, calendar)  # authorizes "work.view"
    plan_labels = dict(session().execute(select(Plan.id, Plan.document_number)).tuples().all())
    items = _items(work, user, today, plan_labels)
    items.sort(key=_sort_key)
    plans = sorted({(i.plan_id, i.plan_label) for i in items}, key=lambda p: p[1])
    periods = sorted({(i.period_code, i.period_label, i.period_starts_on) for i in items if i.period_code},
                     key=lambda p: p[2], reverse=True)
    units = sorted({i.unit.id: i.unit for i in items if i.unit is not None}.values(),
                   key=lambda u: (u.sort_order, u.id))

    def keep(item: WorkItem | _ItemToBuild) -> bool:
        return ((filters.plan_id is None or item.plan_id == filters.plan_id)
                and (filters.period is None or item.period_code == filters.period)
                and (filters.unit_id is None or (item.unit is not None and item.unit.id == filters.unit_id)))

    narrowed = [i for i in items if keep(i)]
    counts = {g: 0 for g in WorkGroup}
    for item in narrowed:
        counts[item.group] += 1
    matching = [i for i in narrowed if filters.group is None or i.group is filters.group]
    view = WorkView(today=today, filters=filters, items=[], counts=counts, total=len(items),
                    matching=len(matching), plans=plans, periods=[(c, label) for c, label, _ in periods],
                    units=units)
    start = (view.page - 1) * filters.per_page
    view.items = _built(matching[start:start + filters.per_page], plan_labels)
    if not view.total:
        view.next_due = next_due(user, today, work.calendar)
    return view


_NEVER = datetime.max.replace(tzinfo=timezone.utc)
_LONG_AGO = datetime.min.replace(tzinfo=timezone.utc)


def _sort_key(item: WorkItem | _ItemToBuild):
    newest_period_first = -(item.period_starts_on.toordinal()) if item.period_starts_on else 0
    if item.group is WorkGroup.REVIEW:
        # First come, first served: the one waiting longest on top.
        return (GROUP_ORDER[item.group], item.since or _NEVER, item.task_number)
    if item.group is WorkGroup.DECIDE:
        return (GROUP_ORDER[item.group], item.kind == "lead_confirm", item.plan_id, item.since is None,
                item.since or _LONG_AGO, item.task_number)
    due = item.due_on.toordinal() if item.due_on else 0
    return (GROUP_ORDER[item.group], newest_period_first, due, item.plan_id, item.task_number, item.kind)


class _ItemToBuild(NamedTuple):
    """A line of a long list (a ReportLine, MilestoneLine or what the unit
    owes), not built yet: what the sorting, filtering, counting and filter
    choices read of a WorkItem. The page's own lines become WorkItems in
    _built. A tuple: hundreds are made for a page of 20."""

    group: WorkGroup
    kind: str
    line: ReportLine | MilestoneLine | OwedItem
    plan_id: int
    plan_label: str
    period_code: str | None
    period_label: str | None
    period_starts_on: date | None
    unit: Unit | UnitRef | None
    due_on: date | None
    since: datetime | None
    task_number: int


def _work_item(plan_labels: dict[int, str], group: WorkGroup, kind: str, label: str, task: Task | TaskRef, *,
               period: ReportingPeriod | None = None, unit: Unit | None = None, due_on: date | None = None,
               light: Light | None = None, overdue_days: int = 0, since: datetime | None = None, note: str = "",
               state_label: str = "", **ids) -> WorkItem:
    return WorkItem(
        group=group, kind=kind, kind_label=label, task=task, plan_id=task.plan_id,
        plan_label=plan_labels.get(task.plan_id, ""), period_code=period.code if period else None,
        period_label=period.label if period else None, period_starts_on=period.starts_on if period else None,
        unit=unit, due_on=due_on, light=light, overdue_days=overdue_days, since=since, note=note,
        state_label=state_label, **ids,
    )


# The long lists' kinds of line, each with its group; _built makes the item
# of a line of each kind from its loaded report or milestone.
_REPORT_LINE_KINDS = {"lead_report_review": WorkGroup.REVIEW, "contribution_review": WorkGroup.REVIEW,
                      "returned_report": WorkGroup.RETURNED}


_REPORT_LINE_LABELS = {"lead_report_review": "审核牵头单位报告", "contribution_review": "审阅配合单位报送"}


def _report_item(item: _ItemToBuild, task_id: int, task_title: str, return_reason: str | None,
                 state: ReportState, kind: ReportKind) -> WorkItem:
    line = item.line
    returned = item.kind == "returned_report"
    return WorkItem(
        group=item.group, kind=item.kind,
        kind_label=f"{kind.label}被退回" if returned else _REPORT_LINE_LABELS[item.kind],
        task=TaskRef(task_id, line.task_number, task_title, line.plan_id), plan_id=line.plan_id,
        plan_label=item.plan_label, period_code=item.period_code, period_label=item.period_label,
        period_starts_on=item.period_starts_on, unit=item.unit, due_on=None, light=None, overdue_days=0,
        since=item.since, note=(return_reason or "") if returned else "", state_label=state.label,
        report_id=line.id,
    )


def _milestone_to_decide_item(item: _ItemToBuild, task_id: int, task_title: str, title: str,
                              state: MilestoneState, due_on: date) -> WorkItem:
    line = item.line
    proposed = state is MilestoneState.PROPOSED
    return WorkItem(
        group=item.group, kind="milestone_confirm" if proposed else "milestone_accept",
        kind_label="节点待确认" if proposed else "节点待验收",
        task=TaskRef(task_id, line.task_number, task_title, line.plan_id), plan_id=line.plan_id,
        plan_label=item.plan_label, period_code=None, period_label=None, period_starts_on=None, unit=None,
        due_on=due_on, light=None, overdue_days=0, since=line.created_at, note=title,
        state_label=state.label, milestone_id=line.id,
    )


def _owed_item(item: _ItemToBuild, plan_labels: dict[int, str]) -> WorkItem:
    owed = item.line
    ob = owed.obligation
    return WorkItem(
        group=item.group, kind=item.kind, kind_label=f"报送{ob.kind.label}",
        task=TaskRef(ob.task_id, ob.task_number, ob.task_title, ob.plan_id), plan_id=ob.plan_id,
        plan_label=item.plan_label, period_code=item.period_code, period_label=item.period_label,
        period_starts_on=item.period_starts_on, unit=item.unit, due_on=ob.due_on, light=owed.light,
        overdue_days=owed.overdue_days, since=None, note="",
        state_label=("草稿未报送" if ob.report_id is not None else "未填报"), report_id=ob.report_id,
    )


def _built(page: list[WorkItem | _ItemToBuild], plan_labels: dict[int, str]) -> list[WorkItem]:
    """The page's items. What their report and milestone lines lack (the
    task, the return reason, the state, the milestone's title and date) is
    read in one statement each (always both: a constant number of
    statements)."""
    sess = session()
    report_ids = [i.line.id for i in page if isinstance(i, _ItemToBuild) and isinstance(i.line, ReportLine)]
    milestone_ids = [i.line.id for i in page if isinstance(i, _ItemToBuild) and isinstance(i.line, MilestoneLine)]
    reports = {row[0]: row[1:] for row in sess.execute(
        select(Report.id, Report.task_id, Task.title, Report.return_reason, Report.state, Report.kind)
        .join(Task, Task.id == Report.task_id).where(Report.id.in_(report_ids))
    )}
    milestones = {row[0]: row[1:] for row in sess.execute(
        select(Milestone.id, Milestone.task_id, Task.title, Milestone.title, Milestone.state, Milestone.due_on)
        .join(Task, Task.id == Milestone.task_id).where(Milestone.id.in_(milestone_ids))
    )}
    built = []
    for item in page:
        if isinstance(item, WorkItem):
            built.append(item)
        elif isinstance(item.line, OwedItem):
            built.append(_owed_item(item, plan_labels))
        elif isinstance(item.line, ReportLine):
            built.append(_report_item(item, *reports[item.line.id]))
        else:
            built.append(_milestone_to_decide_item(item, *milestones[item.line.id]))
    return built


def _items(work: MyWork, user: User, today: date, plan_labels: dict[int, str]) -> list[WorkItem | _ItemToBuild]:
    """Every line of 我的待办 of `work` : the long lists
    as lines to build, the others as items."""
    sess = session()
    items: list[WorkItem | _ItemToBuild] = []

    def add(group: WorkGroup, kind: str, label: str, task: Task | TaskRef, **fields) -> None:
        items.append(_work_item(plan_labels, group, kind, label, task, **fields))

    report_lines = [*(("lead_report_review", r) for r in work.review_queue),
                    *(("contribution_review", r) for r in work.contributions_to_review)]
    returned_lines = [("returned_report", r) for r in work.returned]
    lines_of_reports = [r for _, r in report_lines + returned_lines]
    # Each period's code, label and start read once, not once per line.
    periods = {period_id: (code, ReportingPeriod.label_of(code), starts_on)
               for period_id, code, starts_on in sess.execute(
                   select(ReportingPeriod.id, ReportingPeriod.code, ReportingPeriod.starts_on)
                   .where(ReportingPeriod.id.in_(sorted({r.period_id for r in lines_of_reports}))))}
    units = {row.id: UnitRef(*row) for row in sess.execute(
        select(Unit.id, Unit.canonical_name, Unit.short_name, Unit.sort_order)
        .where(Unit.id.in_(sorted({r.unit_id for r in lines_of_reports}))))}

    def add_report_line(kind: str, r: ReportLine) -> None:
        period_code, period_label, period_starts_on = periods[r.period_id]
        items.append(_ItemToBuild(
            group=_REPORT_LINE_KINDS[kind], kind=kind, line=r, plan_id=r.plan_id,
            plan_label=plan_labels.get(r.plan_id, ""), period_code=period_code, period_label=period_label,
            period_starts_on=period_starts_on, unit=units[r.unit_id],
            due_on=None, since=r.since,
            task_number=r.task_number,
        ))

    for kind, r in report_lines:
        add_report_line(kind, r)
    for t in work.closing_requests:
        lead = t.lead.unit if t.lead else None
        add(WorkGroup.DECIDE, "closing_request", "申请办结", t, unit=lead, since=t.updated_at,
            state_label=t.state.label)
    for x in work.extension_requests:
        add(WorkGroup.DECIDE, "extension_request", "申请延期", x.task, unit=x.task.lead.unit if x.task.lead else None,
            since=x.created_at, note=f"申请延期至 {x.new_deadline.isoformat()}", state_label="待决定",
            extension_id=x.id)
    for m in work.milestones_to_decide:
        items.append(_ItemToBuild(
            group=WorkGroup.DECIDE, kind="milestone_to_decide",  # to confirm or accept: settled in _built, by state
            line=m, plan_id=m.plan_id, plan_label=plan_labels.get(m.plan_id, ""), period_code=None,
            period_label=None, period_starts_on=None, unit=None,
            due_on=None, since=m.created_at, task_number=m.task_number,
        ))
    for t in work.leads_to_confirm:
        lead = t.lead
        add(WorkGroup.DECIDE, "lead_confirm", "确认牵头单位", t, unit=lead.unit if lead else None,
            note=f"建议 {lead.unit.short_name} 牵头" if lead else "", state_label="待确认",
            lead_unit_id=lead.unit_id if lead else None)
    for kind, r in returned_lines:
        add_report_line(kind, r)
    # Each period's code, label and start read once, not once per line.
    owed_periods = {ob.period.id: (ob.period.code, ob.period.label, ob.period.starts_on)
                    for ob in (owed.obligation for owed in work.owed)}
    for owed in work.owed:
        ob = owed.obligation
        period_code, period_label, period_starts_on = owed_periods[ob.period.id]
        items.append(_ItemToBuild(
            group=WorkGroup.OVERDUE if owed.light is Light.RED else WorkGroup.DUE, kind="report_due", line=owed,
            plan_id=ob.plan_id, plan_label=plan_labels.get(ob.plan_id, ""), period_code=period_code,
            period_label=period_label, period_starts_on=period_starts_on,
            unit=user.unit,  # what the user's unit owes
            due_on=ob.due_on, since=None, task_number=ob.task_number,
        ))
    for m, light in work.milestones_due:
        add(WorkGroup.OVERDUE if light is Light.RED else WorkGroup.DUE, "milestone_due", "完成节点",
            TaskRef(m.task_id, m.task_number, m.task_title, m.plan_id),
            unit=user.unit, due_on=m.due_on, light=light,  # the user's unit leads these tasks
            overdue_days=working_days_overdue(m.due_on, today, work.calendar) if work.calendar else 0,
            note=m.title, state_label=m.state.label, milestone_id=m.id)
    return items
