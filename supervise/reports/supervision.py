"""What the dashboard and the quarterly supervision report (季度督查通报) say
about one plan at the end of one reporting period: read-only aggregate
queries, built from approved data only.

- Values and summaries come from lead reports in state APPROVED; a
  co-unit's contribution counts only through an approved lead report that
  includes it (ReportInclusion).
- Lights use `lights.light_for` (the plan's own notice window), who owes what `obligations`, working days
  `workdays.WorkdayCalendar`.
- Punctuality: a report is on time if it was first submitted (Asia/Shanghai)
  on or before its period's due date.
- 序时进度: the share of a target's time window that has passed at the end of
  the chosen period (or today, whichever is earlier).

A fixed number of SQL statements whatever the size of the data (the
benchmark's statement-count test holds this).

What only some readers show is computed when first read, once: the
punctuality table (its own query), the counts by unit, the ledger's last
submission dates (their own query), and the approved and included values
(two queries) with the targets built from them. The 通报 exports read all
of it; a dashboard view only what it shows.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, bindparam, case, cast, exists, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased, defer

from ..errors import NotFound
from ..domain.clock import today
from ..domain.lights import Light, light_for, worst
from ..models import (
    Milestone,
    MilestoneState,
    Plan,
    PlanStatus,
    Report,
    ReportInclusion,
    ReportingPeriod,
    ReportKind,
    ReportState,
    ReportValue,
    Section,
    Target,
    TargetAllocation,
    TargetKind,
    Task,
    TaskState,
    TaskUnit,
    Unit,
    UnitRole,
)
from ..models.types import UTCDateTime
from ..domain.history import History, ReportThen, history_at, open_milestones_at
from ..domain.obligations import NOT_OWING_TASK_STATES, FiledReport, Obligation, obligations, owes_reports
from ..domain.workdays import WorkdayCalendar, working_days_overdue

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINESE_NUMERALS = "一二三四五六七八九十"


def chinese_number(n: int) -> str:
    """1 -> 一, 12 -> 十二, 25 -> 二十五 (headings (一)…, 一、…)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CHINESE_NUMERALS[tens - 1]
    return head + "十" + (CHINESE_NUMERALS[ones - 1] if ones else "")


def end_of_day_utc(day: date) -> datetime:
    """The first instant after `day` ends in Asia/Shanghai, in UTC."""
    return datetime.combine(day + timedelta(days=1), time.min, SHANGHAI).astimezone(timezone.utc)


def is_on_time(first_submitted_at: datetime | None, due_on: date) -> bool:
    return first_submitted_at is not None and first_submitted_at < end_of_day_utc(due_on)


# --- the shapes the pages and exporters read ------------------------------


@dataclass
class LedgerRow:
    """One task × unit line of the 台账."""

    section: Section
    task: Task
    task_unit: TaskUnit
    light: Light
    report_state: ReportState | None  # of the unit's report for the period
    due_on: date | None  # what the unit owes for the period, when
    # (task id, unit id) -> last submission by the unit on the task, up to the
    # period: one query for all the rows, run when the first one is read.
    last_reported: Callable[[], dict] = field(repr=False)
    reported_values: _ReportedValues = field(repr=False)

    @property
    def unit(self) -> Unit:
        return self.task_unit.unit

    @property
    def values(self) -> dict[int, Decimal]:
        """Target id -> approved value (or included contribution value)."""
        return self.reported_values.of(self.task.id, self.task_unit)

    @property
    def last_reported_on(self) -> date | None:
        return self.last_reported().get((self.task.id, self.task_unit.unit_id))

    @property
    def report_state_label(self) -> str:
        if self.report_state is None:
            return "无需报送" if self.due_on is None else "未报送"
        return self.report_state.label


@dataclass
class TaskRow:
    section: Section
    task: Task
    light: Light
    lead_report: FiledReport | ReportThen | None  # the lead's report for the period: id and state
    ledger: list[LedgerRow]
    # report id -> text of the period's approved lead reports: one query for
    # all the rows, run when the first summary is read (the 通报 reads them).
    summaries: Callable[[], dict[int, str]] = field(repr=False)

    @property
    def approved_summary(self) -> str | None:
        report = self.lead_report
        if report is None or report.state is not ReportState.APPROVED:
            return None
        return self.summaries().get(report.id)

    @property
    def lead_name(self) -> str:
        return self.task.lead.unit.short_name if self.task.lead else "—"

    @property
    def co_names(self) -> list[str]:
        return [tu.unit.short_name for tu in self.task.co_units]


@dataclass
class SeriesPoint:
    period_code: str
    ends_on: date
    planned: float | None  # None: no 序时 line (the baseline is unknown)
    actual: float | None


@dataclass
class AllocationRow:
    unit: Unit
    value: Decimal
    baseline: Decimal
    actual: Decimal | None

    @property
    def share(self) -> float | None:
        return _share(self.actual, self.baseline, self.value)


@dataclass
class TargetProgress:
    target: Target
    window_start: date
    window_end: date
    baseline: Decimal
    latest: Decimal | None
    latest_period: str | None
    time_share: float  # 序时进度, 0..1
    # Built when first read: only the targets view draws a line (for its page
    # of targets) and lists the units' shares; the other views, the API and
    # the 通报's figures read the latest value only.
    _series: Callable[[], list[SeriesPoint]] = field(repr=False)
    _allocations: Callable[[], list[AllocationRow]] = field(repr=False)
    # False for a level to reach by a year ("国际航空货邮吞吐量突破50万吨") whose
    # starting level the document does not give: no 序时 line from a made-up 0.
    baseline_known: bool = True

    @cached_property
    def series(self) -> list[SeriesPoint]:
        return self._series()

    @cached_property
    def allocations(self) -> list[AllocationRow]:
        return self._allocations()

    @property
    def share(self) -> float | None:
        return _share(self.latest, self.baseline, self.target.value)

    @property
    def is_behind(self) -> bool:
        if self.time_share <= 0 or not self.baseline_known:
            return False
        share = self.share
        return share is None or share < self.time_share

    @property
    def name(self) -> str:
        t = self.target
        prefix = f"{t.task.number}. " if t.task_id and t.task is not None else "总体目标:"
        return f"{prefix}{t.subject or t.text}"

    @property
    def goal_text(self) -> str:
        return goal_text(self.target)


@dataclass
class OverdueItem:
    kind: str  # 牵头单位报告 / 配合单位报送 / 工作节点
    task: Task
    unit: Unit | None
    title: str
    due_on: date
    working_days: int


class ReturnedReport(NamedTuple):
    """What the lists of returned reports show of one."""

    id: int
    kind: ReportKind
    returned_at: datetime | None
    return_reason: str | None


@dataclass
class ReturnedItem:
    report: ReturnedReport | ReportThen
    task: TaskRecord
    unit: UnitRecord


@dataclass
class UnitPunctuality:
    unit: Unit
    per_period: dict[str, tuple[int, int]]  # period code -> (on time, owed)

    def rate(self, code: str) -> float | None:
        on_time, owed = self.per_period.get(code, (0, 0))
        return on_time / owed if owed else None

    @cached_property
    def total(self) -> tuple[int, int]:
        return (sum(v[0] for v in self.per_period.values()), sum(v[1] for v in self.per_period.values()))

    @property
    def overall_rate(self) -> float | None:
        on_time, owed = self.total
        return on_time / owed if owed else None


_NO_STATES = dict.fromkeys(TaskState, 0)
_NO_LIGHTS = dict.fromkeys(Light, 0)


@dataclass
class Counts:
    # Copies of the zero counts (one per unit or action: iterating the enums each time cost more).
    states: dict[TaskState, int] = field(default_factory=_NO_STATES.copy)
    lights: dict[Light, int] = field(default_factory=_NO_LIGHTS.copy)

    @property
    def total(self) -> int:
        return sum(self.states.values())


@dataclass
class Supervision:
    plan: Plan
    period: ReportingPeriod
    as_of: date  # the day the lights and overdue lists are judged on
    progress_date: date  # min(period end, as_of): 序时进度 is measured here
    plan_time_share: float
    periods: list[ReportingPeriod]  # the plan's periods up to the chosen one
    tasks: list[TaskRow]
    overdue: list[OverdueItem]
    returned_count: int  # reports of the period returned for changes (`returned` lists them)
    by_section: list[tuple[Section, Counts]]
    report_counts: dict[str, int]  # lead reports of the period by outcome
    _returned: Callable[[], list[ReturnedItem]] = field(repr=False)
    _punctuality: Callable[[], list[UnitPunctuality]] = field(repr=False)
    _targets: Callable[[], list[TargetProgress]] = field(repr=False)

    @property
    def targets(self) -> list[TargetProgress]:
        """The plan's targets, then each task's (from the approved and included values, read when first asked)."""
        return self._targets()

    @property
    def returned(self) -> list[ReturnedItem]:
        """The period's reports returned for changes (their reasons read when first asked)."""
        return self._returned()

    @property
    def punctuality(self) -> list[UnitPunctuality]:
        """Ranked: best on-time rate first (its own query, run when first read)."""
        return self._punctuality()

    @cached_property
    def by_unit(self) -> list[tuple[Unit, Counts]]:
        return _counts_by_unit(self.tasks)

    @property
    def ledger(self) -> list[LedgerRow]:
        return [row for t in self.tasks for row in t.ledger]

    @property
    def behind_targets(self) -> list[TargetProgress]:
        return [t for t in self.targets if t.is_behind]

    @property
    def red_tasks(self) -> list[TaskRow]:
        return [t for t in self.tasks if t.light is Light.RED]

    @property
    def totals(self) -> Counts:
        counts = Counts()
        for row in self.tasks:
            counts.states[row.task.state] += 1
            counts.lights[row.light] += 1
        return counts

    @property
    def reported_periods(self) -> list[ReportingPeriod]:
        """Periods whose reports were due by `as_of`: the ones punctuality is judged on."""
        return [p for p in self.periods if p.due_on < self.as_of]


# --- building it ------------------------------------------------------------


# --- the plan as plain records ---------------------------------------------
#
# The dashboard, its API and the 通报 read the plan's structure (sections,
# tasks, their units, targets and allocations) but change none of it, so it
# is read with core selects into the records below rather than built as ORM
# objects: the ORM's identity map, loader strategies and attribute
# instrumentation were a third of the dashboard's time for some 900 rows.
# They carry the attributes of the models the readers use, under the same
# names; the few derived ones (`lead`, `co_units`, `kind_label`) are the
# models' own properties, not copies of their rules.


@dataclass(eq=False, slots=True)
class UnitRecord:
    id: int
    canonical_name: str
    short_name: str
    sort_order: int

    def __repr__(self) -> str:
        return f"<Unit {self.short_name}>"


@dataclass(eq=False, slots=True)
class TaskUnitRecord:
    id: int
    task_id: int
    unit_id: int
    role: UnitRole
    position: int
    unit: UnitRecord


@dataclass(eq=False, slots=True)
class AllocationRecord:
    id: int
    target_id: int
    unit_id: int
    value: Decimal
    baseline_value: Decimal | None
    unit: UnitRecord


@dataclass(eq=False, slots=True)
class TaskRecord:
    id: int
    plan_id: int
    section_id: int
    number: int
    title: str
    deadline: date | None
    state: TaskState
    units: list[TaskUnitRecord] = field(default_factory=list)
    targets: list[TargetRecord] = field(default_factory=list)

    lead = Task.lead
    co_units = Task.co_units


@dataclass(eq=False, slots=True)
class TargetRecord:
    id: int
    plan_id: int
    task_id: int | None
    position: int
    text: str
    subject: str
    value: Decimal
    measure: str
    comparator: str
    kind: TargetKind
    due_year: int | None
    baseline_year: int | None
    baseline_value: Decimal | None
    threshold: str | None
    task: TaskRecord | None = None
    allocations: list[AllocationRecord] = field(default_factory=list)

    kind_label = Target.kind_label


@dataclass(eq=False, slots=True)
class SectionRecord:
    id: int
    plan_id: int
    number: int
    title: str
    tasks: list[TaskRecord] = field(default_factory=list)


@dataclass
class PlanRecords:
    plan: Plan  # the ORM row (with its periods): one of it
    sections: list[SectionRecord]
    targets: list[TargetRecord]  # the plan's own (no task), by position
    units: dict[int, UnitRecord]  # by id, shared by the records that name a unit

    @property
    def tasks(self) -> list[TaskRecord]:
        return [t for s in self.sections for t in s.tasks]


def _rows(session: Session, statement, params: dict | None = None) -> list:
    """Run a select of columns on the session's connection, all rows fetched
    at once: plain rows, without the ORM's result machinery (which cost
    three times the fetch for the included values' 2,000 rows), and not one
    fetchone() per row. `load_plan` flushes what the session holds first,
    as a session query would.

    The statements that take only values are built once, below, with bound
    parameters: building a select (and its aliases) anew cost more than
    running it."""
    return session.connection().execute(statement, params).all()


def _ids(name: str):
    return bindparam(name, expanding=True)


_UNIT_COLUMNS = (Unit.id, Unit.canonical_name, Unit.short_name, Unit.sort_order)
_TARGET_COLUMNS = (Target.id, Target.plan_id, Target.task_id, Target.position, Target.text, Target.subject,
                   Target.value, Target.measure, Target.comparator, Target.kind, Target.due_year,
                   Target.baseline_year, Target.baseline_value, Target.threshold)

_SECTIONS_AND_TASKS = (
    select(Section.id, Section.number, Section.title, Task.id, Task.section_id, Task.number, Task.title,
           Task.deadline, Task.state)
    .outerjoin(Task, Task.section_id == Section.id)
    .where(Section.plan_id == bindparam("plan_id"))
    .order_by(Section.number, Task.number)
)
_TASK_UNITS = (
    select(TaskUnit.id, TaskUnit.task_id, TaskUnit.unit_id, TaskUnit.role, TaskUnit.position, *_UNIT_COLUMNS)
    .join(Unit, Unit.id == TaskUnit.unit_id)
    .where(TaskUnit.task_id.in_(_ids("task_ids")))
    .order_by(TaskUnit.task_id, TaskUnit.position)
)
_TARGETS = (
    select(*_TARGET_COLUMNS)
    .where(or_(and_(Target.plan_id == bindparam("plan_id"), Target.task_id.is_(None)),
               Target.task_id.in_(_ids("task_ids"))))
    .order_by(Target.position, Target.id)
)
_ALLOCATIONS = (
    select(TargetAllocation.id, TargetAllocation.target_id, TargetAllocation.unit_id,
           TargetAllocation.value, TargetAllocation.baseline_value, *_UNIT_COLUMNS)
    .join(Unit, Unit.id == TargetAllocation.unit_id)
    .where(TargetAllocation.target_id.in_(_ids("target_ids")))
    .order_by(TargetAllocation.id)
)


def load_plan(session: Session, plan_id: int) -> PlanRecords:
    """The plan (ORM, with its periods) and its sections, tasks with their
    units, and targets as records; not the targets' allocations
    (`load_allocations`). Four statements and the periods'."""
    if session.autoflush:
        session.flush()  # the selects below go to the connection, past the session's autoflush
    plan = session.get(Plan, plan_id, options=[defer(Plan.source_text), defer(Plan.notes)])
    if plan is None or plan.status is not PlanStatus.PUBLISHED:  # drafts have no 通报
        raise NotFound("未找到该计划")
    plan.periods  # noqa: B018 - loaded here, before the records' selects
    sections: dict[int, SectionRecord] = {}
    tasks: dict[int, TaskRecord] = {}
    for (section_id, number, title, task_id, section_of_task, task_number, task_title, deadline,
         state) in _rows(session, _SECTIONS_AND_TASKS, {"plan_id": plan_id}):
        section = sections.get(section_id)
        if section is None:
            section = sections[section_id] = SectionRecord(section_id, plan_id, number, title)
        if task_id is not None:
            task = tasks[task_id] = TaskRecord(task_id, plan_id, section_of_task, task_number, task_title,
                                               deadline, state)
            section.tasks.append(task)
    units: dict[int, UnitRecord] = {}
    for tu_id, task_id, unit_id, role, position, *unit in _rows(session, _TASK_UNITS, {"task_ids": list(tasks)}):
        record = units.get(unit_id)
        if record is None:
            record = units[unit_id] = UnitRecord(*unit)
        tasks[task_id].units.append(TaskUnitRecord(tu_id, task_id, unit_id, role, position, record))
    plan_targets: list[TargetRecord] = []
    for row in _rows(session, _TARGETS, {"plan_id": plan_id, "task_ids": list(tasks)}):
        target = TargetRecord(*row)
        if target.task_id is None:
            plan_targets.append(target)
        else:
            task = target.task = tasks[target.task_id]
            task.targets.append(target)
    return PlanRecords(plan, list(sections.values()), plan_targets, units)


def load_allocations(session: Session, targets: list[TargetRecord], units: dict[int, UnitRecord]) -> None:
    """Fill in the targets' allocations (with their units) in one statement:
    only the target figures read them, and loading them with the plan was a
    third of the time of the dashboard views that show no targets."""
    by_target: dict[int, TargetRecord] = {t.id: t for t in targets}
    for target in targets:
        target.allocations = []
    if targets:
        for alloc_id, target_id, unit_id, value, baseline_value, *unit in _rows(
                session, _ALLOCATIONS, {"target_ids": list(by_target)}):
            record = units.get(unit_id)
            if record is None:
                record = units[unit_id] = UnitRecord(*unit)
            by_target[target_id].allocations.append(
                AllocationRecord(alloc_id, target_id, unit_id, value, baseline_value, record))


def build_supervision(
    session: Session,
    plan: Plan,
    period: ReportingPeriod,
    *,
    as_of: date | None = None,
    calendar: WorkdayCalendar | None = None,
    historic: bool = False,
) -> Supervision:
    """`historic`: the data as it stood at the end of `as_of` (versions
    submitted and decisions taken later left out), not as it is now."""
    as_of = as_of or today()
    calendar = calendar or WorkdayCalendar.load(session)
    records = load_plan(session, plan.id)
    plan = records.plan
    periods = [p for p in plan.periods if p.starts_on <= period.starts_on]
    period_ids = [p.id for p in periods]
    progress_date = min(period.ends_on, as_of)
    sections = records.sections
    tasks = records.tasks
    task_ids = [t.id for t in tasks]
    history = history_at(session, as_of, period_ids=period_ids, tasks=tasks) if historic else None
    if history is not None:
        then = {t.id: TaskThen(t, history.task_state(t)) for t in tasks}
        tasks = [then[t.id] for t in tasks]
    section_tasks = {s.id: [t for t in tasks if t.section_id == s.id] for s in sections}

    # Who owes what for the chosen period, and what they filed.
    # The values come from their own queries below (approved and included ones only).
    # Of each report its id and state; the texts and reasons are read below when asked.
    owed = obligations(session, [period], calendar, tasks=tasks, filed_only=True)
    if history is not None:
        for ob in owed:
            ob.report = history.report(ob.report)
    owed_by_key: dict[tuple[int, int], Obligation] = {(o.task.id, o.task_unit.unit_id): o for o in owed}

    if history is None:
        approved_values = cache(lambda: _approved_values(session, period_ids))
        values = cache(lambda: (approved_values(), _included_contribution_values(session, period_ids)))
        # The targets' totals need only the shares no lead figure stands for;
        # the units' own shares (the targets view, the 通报) read them all.
        values_for_totals = cache(lambda: (approved_values(), _included_contribution_values(
            session, period_ids, where_lead_gave_none=True)))
        last_reported = cache(lambda: _last_reported(session, period_ids, task_ids))
        milestones = _open_milestones(session, task_ids)
    else:
        approved_then, included_then, last_reported_then = _values_then(history)
        values = cache(lambda: (approved_then, included_then))
        last_reported = cache(lambda: last_reported_then)
        milestones = open_milestones_at(session, task_ids, as_of)
    reported_values = _ReportedValues(values, period.id)

    # The one light rule and the working days overdue, asked once per
    # distinct due date (a few dozen) rather than once per item (hundreds).
    lights_by_due: dict[tuple[date | None, bool], Light] = {}
    days_by_due: dict[date, int] = {}

    def light_of(due_on: date | None, done: bool) -> Light:
        light = lights_by_due.get((due_on, done))
        if light is None:
            light = lights_by_due[(due_on, done)] = light_for(plan, due_on, as_of, calendar, done=done)
        return light

    def days_overdue(due_on: date) -> int:
        days = days_by_due.get(due_on)
        if days is None:
            days = days_by_due[due_on] = working_days_overdue(due_on, as_of, calendar)
        return days

    milestone_lights: dict[int, list[Light]] = defaultdict(list)
    overdue: list[OverdueItem] = []
    task_by_id = {t.id: t for t in tasks}
    for m in milestones:
        milestone_lights[m.task_id].append(light_of(m.due_on, False))
        if m.due_on < as_of:
            task = task_by_id[m.task_id]
            overdue.append(OverdueItem("工作节点", task, task.lead.unit if task.lead else None, m.title, m.due_on,
                                       days_overdue(m.due_on)))

    if history is None:
        summaries = cache(lambda: _approved_summaries(session, [
            o.report.id for o in owed if o.report is not None and o.kind is ReportKind.LEAD_REPORT
            and o.report.state is ReportState.APPROVED]))
    else:
        summaries = cache(lambda: {o.report.id: o.report.text for o in owed if o.report is not None})

    task_rows: list[TaskRow] = []
    for section in sections:
        for task in section_tasks[section.id]:
            ledger = []
            for tu in task.units:
                ob = owed_by_key.get((task.id, tu.unit_id))
                report = ob.report if ob else None
                if ob is None:
                    unit_light = Light.GREEN
                else:
                    done = ob.is_done
                    unit_light = light_of(ob.due_on, done)
                    if not done and ob.due_on < as_of:
                        overdue.append(OverdueItem(ob.kind.label, task, tu.unit, f"{period.label}进展情况",
                                                   ob.due_on, days_overdue(ob.due_on)))
                ledger.append(LedgerRow(
                    section=section, task=task, task_unit=tu, light=unit_light,
                    report_state=report.state if report else None,
                    due_on=ob.due_on if ob else None,
                    last_reported=last_reported,
                    reported_values=reported_values,
                ))
            lead_ob = owed_by_key.get((task.id, task.lead.unit_id)) if task.lead else None
            lead_report = lead_ob.report if lead_ob else None
            lights = [row.light for row in ledger if row.task_unit.role is UnitRole.LEAD]
            lights += milestone_lights.get(task.id, [])
            if task.state is not TaskState.CLOSED:
                lights.append(light_of(task.deadline, False))
            light = Light.GREEN if task.state is TaskState.CLOSED else worst(lights)
            task_rows.append(TaskRow(section, task, light, lead_report, ledger, summaries))

    returned_owed = [o for o in owed if o.report is not None and o.report.state is ReportState.RETURNED]

    def returned() -> list[ReturnedItem]:
        if history is None:
            notes = _returned_reports(session, [o.report.id for o in returned_owed])
            return [ReturnedItem(notes[o.report.id], o.task, o.task_unit.unit) for o in returned_owed]
        return [ReturnedItem(o.report, o.task, o.task_unit.unit) for o in returned_owed]
    overdue.sort(key=lambda item: (item.due_on, item.task.number))

    def targets() -> list[TargetProgress]:
        all_targets = records.targets + [t for task in tasks for t in task.targets]
        # The allocations (and all the units' shares) are read when the units'
        # rows are shown; a total needs only the shares summed into it.
        allocations_loaded = cache(lambda: load_allocations(session, all_targets, records.units))
        if history is None:
            approved, shares_for_totals = values_for_totals()
        else:
            allocations_loaded()
            approved, included_then = values()
            shares_for_totals = _allocated_shares(included_then, all_targets)

        # The periods' dates as plain tuples; the periods of a window found
        # once per distinct window (the targets share a few).
        spans = [PeriodSpan(p.id, p.code, p.starts_on, p.ends_on) for p in plan.periods]
        found: dict[tuple[date, date], tuple[list[PeriodSpan], list[int]]] = {}

        def periods_in(start: date, end: date) -> tuple[list[PeriodSpan], list[int]]:
            in_window = found.get((start, end))
            if in_window is None:
                spans_in = [p for p in spans if p.ends_on >= start and p.starts_on <= end]
                in_window = found[(start, end)] = (spans_in, [p.id for p in spans_in])
            return in_window
        windows: dict[int, list[int]] = {}  # target id -> its window's periods (ids)

        def latest_shares() -> dict[tuple[int, int], Decimal]:
            allocations_loaded()
            split = [t for t in all_targets if t.task_id is not None and t.allocations]
            # Of each window, the periods up to the chosen one (a contribution
            # is of its including report's period): fewer pairs to send.
            chosen = set(period_ids)
            split_windows = {t.id: [i for i in windows[t.id] if i in chosen] for t in split}
            if history is None:
                return _latest_shares(session, period_ids, split_windows)
            return _latest_shares_in(values()[1], split, split_windows)
        latest_shares = cache(latest_shares)
        return [
            _target_progress(t, plan, periods_in, progress_date, approved, shares_for_totals, windows, latest_shares)
            for t in all_targets
        ]

    report_counts = {"owed": 0, "approved": 0, "submitted": 0, "returned": 0, "draft": 0, "missing": 0}
    for o in owed:
        if o.kind is not ReportKind.LEAD_REPORT:
            continue
        report_counts["owed"] += 1
        state = o.report.state if o.report else None
        key = {ReportState.APPROVED: "approved", ReportState.SUBMITTED: "submitted",
               ReportState.RETURNED: "returned", ReportState.DRAFT: "draft"}.get(state, "missing")
        report_counts[key] += 1

    return Supervision(
        plan=plan,
        period=period,
        as_of=as_of,
        progress_date=progress_date,
        plan_time_share=_time_share(plan.period_start, plan.period_end, progress_date),
        periods=periods,
        tasks=task_rows,
        overdue=overdue,
        returned_count=len(returned_owed),
        by_section=_counts_by_section(task_rows),
        report_counts=report_counts,
        _returned=cache(returned),
        _punctuality=cache(lambda: _punctuality(session, plan, tasks, [p for p in periods if p.due_on < as_of],
                                               history)),
        _targets=cache(targets),
    )


# --- the queries ------------------------------------------------------------


@dataclass
class _ApprovedValues:
    # (task id, period id) -> {target id: value}, and per target its values by period
    by_task_period: dict[tuple[int, int], dict[int, Decimal]]
    by_target: dict[int, dict[int, Decimal]]

    def values_for(self, task_id: int, period_id: int) -> dict[int, Decimal]:
        return self.by_task_period.get((task_id, period_id), {})


_APPROVED_VALUES = (
    select(Report.task_id, Report.period_id, ReportValue.target_id, ReportValue.value)
    .join(ReportValue, ReportValue.report_id == Report.id)
    .where(
        Report.period_id.in_(_ids("period_ids")),
        Report.kind == ReportKind.LEAD_REPORT,
        Report.state == ReportState.APPROVED,
    )
)


def _approved_values(session: Session, period_ids: list[int]) -> _ApprovedValues:
    """Values given in approved lead reports of the periods."""
    rows = _rows(session, _APPROVED_VALUES, {"period_ids": period_ids})
    by_task_period: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    by_target: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for task_id, period_id, target_id, value in rows:
        by_task_period[(task_id, period_id)][target_id] = value
        by_target[target_id][period_id] = value
    return _ApprovedValues(by_task_period, by_target)


class _ReportedValues:
    """The ledger rows' values for the period: a lead's from its approved
    report, a co-unit's from its contribution that report included."""

    def __init__(self, values: Callable[[], tuple], period_id: int) -> None:
        self._values, self._period_id = values, period_id

    def of(self, task_id: int, task_unit: TaskUnit) -> dict[int, Decimal]:
        approved, included = self._values()
        if task_unit.role is UnitRole.LEAD:
            return approved.values_for(task_id, self._period_id)
        return included.get((task_id, self._period_id), {}).get(task_unit.unit_id, {})


def _included_values_statement(*, where_lead_gave_none: bool = False):
    lead = aliased(Report)
    contribution = aliased(Report)
    statement = (
        select(contribution.task_id, contribution.period_id, contribution.unit_id,
               ReportValue.target_id, ReportValue.value)
        .select_from(ReportInclusion)
        .join(lead, lead.id == ReportInclusion.report_id)
        .join(contribution, contribution.id == ReportInclusion.contribution_id)
        .join(ReportValue, ReportValue.report_id == contribution.id)
        .where(lead.period_id.in_(_ids("period_ids")), lead.state == ReportState.APPROVED,
               lead.kind == ReportKind.LEAD_REPORT)
    )
    if where_lead_gave_none:
        lead_value = aliased(ReportValue)
        statement = statement.join(  # a unit's share of a split target (目标分解)
            TargetAllocation, (TargetAllocation.target_id == ReportValue.target_id)
            & (TargetAllocation.unit_id == contribution.unit_id),
        # NOT IN rather than NOT EXISTS (the same here: target_id is never
        # NULL): PostgreSQL misestimates the approved lead reports and ran
        # the anti-join by target, 78 rows per value (27 ms on the bench
        # data); NOT IN reads each lead report's few values (6 ms).
        ).where(ReportValue.target_id.not_in(
            select(lead_value.target_id).where(lead_value.report_id == lead.id).scalar_subquery()))
    return statement


_INCLUDED_VALUES = _included_values_statement()
# Only the units' shares of split targets for which the including lead report
# gave no figure of its own: all a target's total is summed from (a lead's
# own figure comes first). Usually none, where the full set is some 2,000 rows.
_INCLUDED_VALUES_WITHOUT_LEAD_VALUE = _included_values_statement(where_lead_gave_none=True)


# A (target, period) pair as one integer, so that "pair in the windows" is a
# plain IN list: PostgreSQL turns a row-value IN of some 300 pairs into 300
# ORs (36 ms to plan, 26 to run on the bench data), a list of integers into
# one hashed lookup. Ids are below 2**31 (INTEGER columns).
_PAIR_BASE = 2**31


def _window_key(target_id, period_id):
    return cast(target_id, BigInteger) * _PAIR_BASE + period_id


def _latest_shares_statement():
    """Each unit's latest share of each split target within the target's
    window: of the values its contributions gave that approved lead reports
    of the periods included, the one of the latest period among the
    (target, period) pairs in `windows`. Some 300 rows where all the
    included values are some 2,300."""
    lead = aliased(Report)
    contribution = aliased(Report)
    ranked = (
        select(ReportValue.target_id, contribution.unit_id, ReportValue.value,
               func.row_number().over(partition_by=(ReportValue.target_id, contribution.unit_id),
                                      order_by=ReportingPeriod.starts_on.desc()).label("latest"))
        .select_from(ReportInclusion)
        .join(lead, lead.id == ReportInclusion.report_id)
        .join(contribution, contribution.id == ReportInclusion.contribution_id)
        .join(ReportValue, ReportValue.report_id == contribution.id)
        .join(TargetAllocation, (TargetAllocation.target_id == ReportValue.target_id)
              & (TargetAllocation.unit_id == contribution.unit_id))
        .join(Target, (Target.id == ReportValue.target_id) & (Target.task_id == contribution.task_id))
        .join(ReportingPeriod, ReportingPeriod.id == contribution.period_id)
        .where(lead.period_id.in_(_ids("period_ids")), lead.state == ReportState.APPROVED,
               lead.kind == ReportKind.LEAD_REPORT,
               _window_key(ReportValue.target_id, contribution.period_id).in_(_ids("windows")))
        .subquery()
    )
    return select(ranked.c.target_id, ranked.c.unit_id, ranked.c.value).where(ranked.c.latest == 1)


_LATEST_SHARES = _latest_shares_statement()


def _latest_shares(session: Session, period_ids: list[int],
                   windows: dict[int, list[int]]) -> dict[tuple[int, int], Decimal]:
    """(target, unit) -> the unit's latest share in the target's window
    (`windows`: target id -> the ids of the periods in its window), computed
    by the database rather than picked here from all the included values."""
    pairs = [target_id * _PAIR_BASE + period_id for target_id, ids in windows.items() for period_id in ids]
    if not pairs:
        return {}
    return {(target_id, unit_id): value for target_id, unit_id, value in _rows(
        session, _LATEST_SHARES, {"period_ids": period_ids, "windows": pairs})}


def _latest_shares_in(included: dict[tuple[int, int], dict[int, dict[int, Decimal]]],
                      targets: list[TargetRecord], windows: dict[int, list[int]]) -> dict[tuple[int, int], Decimal]:
    """What `_latest_shares` selects, picked from included values (the data
    as it stood then)."""
    result: dict[tuple[int, int], Decimal] = {}
    for target in targets:
        in_window = [included.get((target.task_id, period_id), {}) for period_id in windows.get(target.id, ())]
        for a in target.allocations:
            for by_unit in reversed(in_window):  # the latest period with a value
                value = by_unit.get(a.unit_id, {}).get(target.id)
                if value is not None:
                    result[(target.id, a.unit_id)] = value
                    break
    return result


def _included_contribution_values(session: Session, period_ids: list[int], *, where_lead_gave_none: bool = False,
                                  ) -> dict[tuple[int, int], dict[int, dict[int, Decimal]]]:
    """(task, period) -> unit -> {target: value} of contributions that an
    approved lead report includes: the only way a co-unit's figure counts.
    `where_lead_gave_none`: only the units' shares of split targets the lead
    report gave no value for (what a target's total is summed from)."""
    statement = _INCLUDED_VALUES_WITHOUT_LEAD_VALUE if where_lead_gave_none else _INCLUDED_VALUES
    rows = _rows(session, statement, {"period_ids": period_ids})
    result: dict[tuple[int, int], dict[int, dict[int, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for task_id, period_id, unit_id, target_id, value in rows:
        result[(task_id, period_id)][unit_id][target_id] = value
    return result


_SUMMARIES = select(Report.id, Report.text).where(Report.id.in_(_ids("report_ids")))
_RETURNED = (select(Report.id, Report.kind, Report.returned_at, Report.return_reason)
             .where(Report.id.in_(_ids("report_ids"))))


def _allocated_shares(included: dict[tuple[int, int], dict[int, dict[int, Decimal]]],
                      targets: list[TargetRecord]) -> dict[tuple[int, int], dict[int, dict[int, Decimal]]]:
    """Of the included values, the units' shares of split targets (the
    allocations loaded): what `where_lead_gave_none` selects, the lead's
    own figures aside (they come first anyway)."""
    allocated = {(t.id, a.unit_id) for t in targets for a in t.allocations}
    result: dict[tuple[int, int], dict[int, dict[int, Decimal]]] = {}
    for key, by_unit in included.items():
        for unit_id, values in by_unit.items():
            for target_id, value in values.items():
                if (target_id, unit_id) in allocated:
                    result.setdefault(key, {}).setdefault(unit_id, {})[target_id] = value
    return result


def _approved_summaries(session: Session, report_ids: list[int]) -> dict[int, str]:
    """The texts of the approved lead reports (the 通报's progress paragraphs)."""
    return dict(_rows(session, _SUMMARIES, {"report_ids": report_ids}))


def _returned_reports(session: Session, report_ids: list[int]) -> dict[int, ReturnedReport]:
    return {row[0]: ReturnedReport(*row) for row in _rows(session, _RETURNED, {"report_ids": report_ids})}


def _last_reported(session: Session, period_ids: list[int], task_ids: list[int]) -> dict[tuple[int, int], date]:
    rows = _rows(session,
        select(Report.task_id, Report.unit_id, func.max(Report.submitted_at))
        .where(Report.period_id.in_(period_ids), Report.task_id.in_(task_ids), Report.submitted_at.is_not(None))
        .group_by(Report.task_id, Report.unit_id)
    )
    result = {}
    for task_id, unit_id, at in rows:
        if at is None:
            continue
        if isinstance(at, str):  # SQLite returns max() of a column as text
            at = datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        result[(task_id, unit_id)] = at.astimezone(SHANGHAI).date()
    return result


_OPEN_MILESTONES = (
    select(Milestone.task_id, Milestone.due_on, Milestone.title)
    .where(Milestone.task_id.in_(_ids("task_ids")), Milestone.state != MilestoneState.COMPLETED)
    .order_by(Milestone.due_on, Milestone.id)
)


def _open_milestones(session: Session, task_ids: list[int]):
    """The open milestones' task, due date and title (rows named as the model's attributes)."""
    return _rows(session, _OPEN_MILESTONES, {"task_ids": task_ids})


_ON_TIME: dict[int, object] = {}


def _on_time_statement(periods: int):
    """The count of reports first submitted by their period's deadline, per
    unit and period, for that many periods (their ids and deadlines as
    parameters): built once per number of periods, not per request."""
    statement = _ON_TIME.get(periods)
    if statement is None:
        deadline = case(
            {bindparam(f"period_{i}"): bindparam(f"deadline_{i}", type_=UTCDateTime()) for i in range(periods)},
            value=Report.period_id,
        ) if periods else literal(None, UTCDateTime())
        statement = _ON_TIME[periods] = (
            select(Report.unit_id, Report.period_id, func.count())
            .join(Task, Task.id == Report.task_id)
            .join(TaskUnit, (TaskUnit.task_id == Report.task_id) & (TaskUnit.unit_id == Report.unit_id))
            .where(Task.plan_id == bindparam("plan_id"), owes_reports(),
                   Report.period_id.in_(_ids("period_ids")), Report.first_submitted_at < deadline)
            .group_by(Report.unit_id, Report.period_id)
        )
    return statement


def _punctuality(session: Session, plan: Plan, tasks: list[Task], periods: list[ReportingPeriod],
                 history: History | None = None) -> list[UnitPunctuality]:
    """Each unit's on-time count per period: every report it owed (as lead or
    co-unit, on tasks that still owe reports) against the ones first
    submitted by the period's due date."""
    owing = [(task, tu) for task in tasks if task.state not in NOT_OWING_TASK_STATES for tu in task.units]
    if history is not None:
        return _rank(owing, periods, _on_time_then(history, owing, periods))
    # On time: first submitted before the end of the due day, Asia/Shanghai.
    params: dict = {"plan_id": plan.id, "period_ids": [p.id for p in periods]}
    for i, p in enumerate(periods):
        params[f"period_{i}"], params[f"deadline_{i}"] = p.id, end_of_day_utc(p.due_on)
    rows = _rows(session, _on_time_statement(len(periods)), params)
    on_time = {(unit_id, period_id): n for unit_id, period_id, n in rows}
    return _rank(owing, periods, on_time)


def _rank(owing: list[tuple[Task, TaskUnit]], periods: list[ReportingPeriod],
          on_time: dict[tuple[int, int], int]) -> list[UnitPunctuality]:
    owed: dict[int, int] = defaultdict(int)
    units: dict[int, Unit] = {}
    for task, tu in owing:
        owed[tu.unit_id] += 1
        units[tu.unit_id] = tu.unit
    codes = [(p.id, p.code) for p in periods]
    per_unit = {
        unit_id: UnitPunctuality(units[unit_id], {code: (on_time.get((unit_id, period_id), 0), n)
                                                  for period_id, code in codes})
        for unit_id, n in owed.items()
    }
    ranked = sorted(
        per_unit.values(),
        key=lambda u: (-(u.overall_rate or 0), -u.total[1], u.unit.sort_order, u.unit.id),
    )
    return ranked


# --- the data as it stood on the as-of day (report export --as-of) -------------------------


class TaskThen:
    """A task as it stood then: its state then, everything else as it is."""

    def __init__(self, task: Task, state: TaskState) -> None:
        self._task = task
        self.state = state

    def __getattr__(self, name: str):
        return getattr(self._task, name)


def _values_then(history: History):
    """Approved values, included contributions' values and last submission
    dates, from the reports as they stood then."""
    by_task_period: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    by_target: dict[int, dict[int, Decimal]] = defaultdict(dict)
    included: dict[tuple[int, int], dict[int, dict[int, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    last: dict[tuple[int, int], date] = {}
    for r in history.reports.values():
        if r.submitted_at is not None:
            day = r.submitted_at.astimezone(SHANGHAI).date()
            key = (r.task_id, r.unit_id)
            last[key] = max(last.get(key, day), day)
        if r.kind is not ReportKind.LEAD_REPORT or r.state is not ReportState.APPROVED:
            continue
        for target_id, value in r.values.items():
            by_task_period[(r.task_id, r.period_id)][target_id] = value
            by_target[target_id][r.period_id] = value
        for cid in r.included:
            contribution = history.reports.get(cid)
            if contribution is not None:
                for target_id, value in contribution.values.items():
                    included[(r.task_id, r.period_id)][contribution.unit_id][target_id] = value
    return _ApprovedValues(by_task_period, by_target), included, last


def _on_time_then(history: History, owing: list[tuple[Task, TaskUnit]],
                  periods: list[ReportingPeriod]) -> dict[tuple[int, int], int]:
    responsible = {(task.id, tu.unit_id) for task, tu in owing}
    deadlines = {p.id: end_of_day_utc(p.due_on) for p in periods}
    on_time: dict[tuple[int, int], int] = defaultdict(int)
    for r in history.reports.values():
        deadline = deadlines.get(r.period_id)
        if (deadline is not None and (r.task_id, r.unit_id) in responsible
                and r.first_submitted_at is not None and r.first_submitted_at < deadline):
            on_time[(r.unit_id, r.period_id)] += 1
    return on_time


def _counts_by_section(rows: list[TaskRow]) -> list[tuple[Section, Counts]]:
    result: dict[int, tuple[Section, Counts]] = {}
    for row in rows:
        _, counts = result.setdefault(row.section.id, (row.section, Counts()))
        counts.states[row.task.state] += 1
        counts.lights[row.light] += 1
    return list(result.values())


def _counts_by_unit(rows: list[TaskRow]) -> list[tuple[Unit, Counts]]:
    """Per unit: the tasks it answers for (as lead or co-unit) by task state
    and by the light of what the unit itself owes for the period."""
    result: dict[int, tuple[Unit, Counts]] = {}
    for row in rows:
        state = row.task.state
        for line in row.ledger:
            unit = line.task_unit.unit
            entry = result.get(unit.id)
            if entry is None:  # not setdefault: a Counts is two dicts to build, once per unit
                entry = result[unit.id] = (unit, Counts())
            counts = entry[1]
            counts.states[state] += 1
            counts.lights[line.light] += 1
    return sorted(result.values(), key=lambda uc: (-uc[1].lights[Light.RED], uc[0].sort_order, uc[0].id))


# --- targets and 序时进度 -----------------------------------------------------


def _fmt(value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    if value.__class__ is not Decimal:  # a Decimal is used as it is (str() would give it back unchanged)
        value = Decimal(str(value))
    if value == value.to_integral_value():
        return f"{int(value)}"
    return f"{value.normalize():f}"


def _share(actual: Decimal | None, baseline: Decimal, goal: Decimal) -> float | None:
    if actual is None or goal == baseline:
        return None
    return float((actual - baseline) / (goal - baseline))


def _time_share(start: date, end: date, on: date) -> float:
    if on < start:
        return 0.0
    total = (end - start).days + 1
    elapsed = min((on - start).days + 1, total)
    return elapsed / total


def target_window(target: Target, plan: Plan, progress_date: date) -> tuple[date, date]:
    """The stretch of time a target is to be met in: a 每年 rate within the
    year of the progress date; a target against a baseline year from the
    year after it; otherwise from the plan's start to the end of its year
    (or of the plan)."""
    if target.kind is TargetKind.ANNUAL and target.due_year is None:
        year = min(max(progress_date.year, plan.period_start.year), plan.period_end.year)
        return date(year, 1, 1), date(year, 12, 31)
    start = plan.period_start
    if target.baseline_year and target.baseline_year + 1 > start.year:
        start = date(target.baseline_year + 1, 1, 1)
    end = date(target.due_year, 12, 31) if target.due_year else plan.period_end
    return start, max(end, start)


SUFFIX_COMPARATORS = ("以上", "以内")


def goal_text(t: Target) -> str:
    """The target as the document states it: 累计5000家以上, 每年500场以上,
    2027年突破50万吨 (a level reached in a year, not a yearly rate), 较2024年翻一番."""
    if t.kind is TargetKind.RATIO:
        base = f"较{t.baseline_year}年" if t.baseline_year else ""
        return f"{base}{t.comparator}({_fmt(t.value)}{t.measure})"
    amount = f"{_fmt(t.value)}{t.measure}"
    amount = f"{amount}{t.comparator}" if t.comparator in SUFFIX_COMPARATORS else f"{t.comparator}{amount}"
    return f"{t.kind_label}{amount}"


class PeriodSpan(NamedTuple):
    id: int
    code: str
    starts_on: date
    ends_on: date


def _target_progress(
    target: Target,
    plan: Plan,
    periods_in: Callable[[date, date], tuple[list[PeriodSpan], list[int]]],  # the plan's periods in a window
    # (and their ids): the line runs to the target
    progress_date: date,
    approved: _ApprovedValues,  # only periods up to the chosen one
    shares: dict[tuple[int, int], dict[int, dict[int, Decimal]]],  # the units' shares of split targets, at least
    # where no lead figure stands for them
    windows: dict[int, list[int]],  # filled in: target id -> the ids of the periods in its window
    latest_shares: Callable[[], dict[tuple[int, int], Decimal]],  # (target, unit) -> latest share in the window
) -> TargetProgress:
    start, end = target_window(target, plan, progress_date)
    baseline = target.baseline_value if target.baseline_value is not None else (
        Decimal(1) if target.kind is TargetKind.RATIO else Decimal(0))
    # A count added up from the plan's start (累计) starts at 0, a ratio at 1,
    # a yearly rate at 0 each year; a level to reach by a year does not.
    baseline_known = (target.baseline_value is not None or target.kind is not TargetKind.ANNUAL
                      or target.due_year is None)
    in_window, windows[target.id] = periods_in(start, end)
    target_id, task_id = target.id, target.task_id
    by_period = approved.by_target.get(target_id, {})
    # What the approved lead reports of the window took in from the units,
    # period by period (a split target's shares); read once per target here
    # rather than once per allocation and period.
    def shares_in_window(included) -> list[dict[int, dict[int, Decimal]]]:
        return [included.get((task_id, p.id), {}) for p in in_window] if task_id is not None else []

    # Usually empty: the lead reports give the totals themselves.
    totals_in_window = shares_in_window(shares) if shares else None

    # A split target's total is the lead's figure, or else the sum of the
    # units' shares its approved report took in.
    def allocated_sum(by_unit: dict[int, dict[int, Decimal]]) -> Decimal | None:
        if task_id is None:
            return None
        found = [values[target_id] for values in by_unit.values() if target_id in values]
        return sum(found, Decimal(0)) if found else None

    actuals = []
    latest, latest_period = None, None
    for i, p in enumerate(in_window):
        actual = by_period.get(p.id)
        if actual is None and totals_in_window:
            actual = allocated_sum(totals_in_window[i])
        if actual is not None:
            latest, latest_period = actual, p.code
        actuals.append(actual)

    def series() -> list[SeriesPoint]:
        base_f, goal_f = float(baseline), float(target.value)
        return [
            SeriesPoint(p.code, p.ends_on,
                        base_f + (goal_f - base_f) * _time_share(start, end, p.ends_on) if baseline_known else None,
                        float(actual) if actual is not None else None)
            for p, actual in zip(in_window, actuals)
        ]

    def allocations() -> list[AllocationRow]:
        latest = latest_shares()
        return [
            AllocationRow(a.unit, a.value, a.baseline_value or Decimal(0), latest.get((target_id, a.unit_id)))
            for a in sorted(target.allocations, key=lambda a: (a.unit.sort_order, a.unit_id))
        ]

    return TargetProgress(
        target=target,
        window_start=start,
        window_end=end,
        baseline=baseline,
        latest=latest,
        latest_period=latest_period,
        time_share=_time_share(start, end, progress_date),
        _series=series,
        _allocations=allocations,
        baseline_known=baseline_known,
    )


def format_number(value) -> str:
    return _fmt(value)


def format_share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
