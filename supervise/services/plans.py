"""Plans: importing a plan document, the reporting periods, and the
coordinator's decisions about a task's responsible units."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select

from .. import workflow
from ..db import session, utcnow
from ..domain.clock import today as local_today
from ..domain.periods import InvalidPeriod, parse_period
from ..errors import NotFound, ValidationError
from ..importer import ParsedPlan, ParsedTarget, ParsedUnitRef, parse_plan
from ..importer.reader import MAX_BYTES as MAX_DOCUMENT_BYTES
from ..models import (
    FiscalMeasure,
    Plan,
    PlanKind,
    PlanStatus,
    ReportingPeriod,
    Section,
    Target,
    TargetKind,
    Task,
    TaskSource,
    TaskState,
    TaskUnit,
    Unit,
    UnitRole,
    User,
)
from ..domain.periods import period_spans
from ..policy import Operator, authorize, can, visible_plans
from ..domain.workdays import WorkdayCalendar, report_due_date
from . import audit
from .units import city_governments, county_governments, find_unit


@dataclass
class ImportResult:
    plan: Plan
    created: bool
    # Names the unit directory does not know: left on the draft's tasks for
    # the coordinator to match or create (never created silently).
    unknown_units: list[str] = field(default_factory=list)

    @property
    def new_units(self) -> list[str]:  # the former name, kept for callers
        return self.unknown_units


def import_plan_document(
    text: str,
    *,
    actor: User | Operator,
    expand_counties: bool | None = None,
    filename: str = "",
    publish: bool = False,
    first_period: str | None = None,
    today: date | None = None,
) -> ImportResult:
    """Import a plan document's text (pasted, or a seed file); see
    `import_parsed_plan`."""
    return import_parsed_plan(
        parse_plan(text), text, hashlib.sha256(text.encode("utf-8")).hexdigest(), actor=actor,
        expand_counties=expand_counties, filename=filename, publish=publish, first_period=first_period, today=today,
    )


def import_parsed_plan(
    parsed: ParsedPlan,
    source_text: str,
    digest: str,
    *,
    actor: User | Operator,
    expand_counties: bool | None = None,
    filename: str = "",
    publish: bool = False,
    first_period: str | None = None,
    today: date | None = None,
) -> ImportResult:
    """Import a parsed plan as a DRAFT: only coordinators see it, and it owes
    nothing until it is published (`publish=True` does that at once, from
    `first_period`, by default the current one; the document must then say
    all a plan needs). What the document leaves open (文号, period, a lead)
    stays open on the draft, with a warning, for the coordinator to settle on
    the review page. Importing the same document again changes nothing; a
    different document under a number already held is refused."""
    from ..importer import PlanParseError

    authorize(actor, "plan.import")
    if publish:
        authorize(actor, "plan.manage")
    sess = session()
    if publish:
        _require_complete(parsed)
    if not parsed.tasks and not parsed.document_number:
        # Neither a 文号 nor a tagged task: not a plan document at all. (A
        # plan without tags becomes a draft: its tasks are added by hand.)
        raise PlanParseError("文件中既没有文号,也没有带责任单位的任务,不像是计划文件;"
                             "没有文件的督办事项请用“新建计划或督办事项”")
    existing = None
    if parsed.document_number:
        existing = sess.scalar(select(Plan).where(Plan.document_number == parsed.document_number))
    else:
        existing = sess.scalar(select(Plan).where(Plan.source_sha256 == digest))
    if existing is not None:
        if existing.source_sha256 == digest:
            return ImportResult(existing, created=False)
        raise ValidationError(
            f"文号 {parsed.document_number} 的计划已导入,且本次文件内容与已导入的不同;"
            "请核对文件,已有计划不会被覆盖"
        )
    if expand_counties is None:
        expand_counties = bool(current_app.config.get("EXPAND_COUNTIES"))
    result = ImportResult(_create_plan(parsed, source_text, digest, today or local_today()), created=True)
    plan = result.plan
    plan.source_filename = filename[:255]
    collectives = _collective_members(expand_counties)
    # Printed numbers may repeat (several tags in one numbered paragraph are
    # several tasks): then the tasks are numbered in document order.
    numbers = [pt.number for pt in parsed.tasks]
    by_position = len(set(numbers)) != len(numbers) or any(n <= 0 for n in numbers)
    position = 0
    for section_number, parsed_section in enumerate(parsed.sections, start=1):
        section = Section(plan=plan, number=section_number, title=(parsed_section.title or "主要任务")[:120])
        sess.add(section)
        for pt in parsed_section.tasks:
            position += 1
            # A task whose text sets no date is due when the plan ends.
            deadline = pt.deadline or plan.period_end
            task = Task(
                plan=plan,
                section=section,
                number=position if by_position else pt.number,
                title=(pt.title or pt.text[:60])[:255],
                text=pt.text,
                source_text=pt.source_text or pt.text,
                deadline=deadline,
                original_deadline=deadline,
                starts_on=pt.starts_on,
                warnings=list(pt.warnings) or None,
            )
            sess.add(task)
            with sess.no_autoflush:
                _assign_parsed_units(task, pt.units, collectives, result.unknown_units)
            for target_position, parsed_target in enumerate(pt.targets, start=1):
                task.targets.append(_target(plan, parsed_target, target_position))
    for target_position, parsed_target in enumerate(parsed.targets, start=1):
        sess.add(_target(plan, parsed_target, target_position))
    for m in parsed.measures:
        plan.measures.append(
            FiscalMeasure(
                group_number=m.group_number,
                group_title=m.group,
                number=m.number,
                title=m.title,
                text=m.text,
                cap_amount=m.cap_amount,
                subsidy_rate=m.subsidy_rate,
            )
        )
    sess.flush()
    audit.record(
        actor,
        "plan.import",
        obj=plan,
        detail={"document_number": plan.document_number, "sha256": digest, "unknown_units": result.unknown_units,
                "filename": filename or None},
    )
    if publish:
        _publish(actor, plan, first_period=first_period, today=today)
    return result


PENDING_NUMBER_PREFIX = "待补文号-"


def _require_complete(parsed: ParsedPlan) -> None:
    """A direct import (no review) needs what the parser may leave open:
    文号, date, office, period, tasks, and task numbers that are unique."""
    from ..importer import PlanParseError

    missing = []
    if not parsed.document_number:
        missing.append("文号")
    if parsed.issued_on is None:
        missing.append("成文日期")
    if not parsed.issuing_office:
        missing.append("发文机关")
    if parsed.period_start is None:
        missing.append("计划期（如“（2024—2027年）”）")
    if not parsed.tasks:
        missing.append("带责任单位的任务")
    if missing:
        raise PlanParseError("文件中未找到" + "、".join(missing) + "，无法直接导入；请补全文件后再导入")
    numbers = [task.number for task in parsed.tasks]
    sections = [section.number for section in parsed.sections]
    if len(set(numbers)) != len(numbers) or len(set(sections)) != len(sections):
        raise PlanParseError("文件中有编号相同的任务（一段中有多个责任单位括注），无法直接导入")


def _create_plan(parsed: ParsedPlan, text: str, digest: str, today: date) -> Plan:
    """The plan's own fields; what the document does not say is filled in
    provisionally and said in the plan's warnings."""
    warnings = list(parsed.warnings)
    number = parsed.document_number
    if not number:
        number = PENDING_NUMBER_PREFIX + digest[:8]
        warnings.append("未找到文号:请在“计划信息”中填写后再发布")
    start, end = parsed.period_start, parsed.period_end
    if start is None or end is None:
        year = (parsed.issued_on or today).year
        deadlines = [t.deadline for t in parsed.tasks if t.deadline]
        start = date(year, 1, 1)
        end = max([date(year, 12, 31), *deadlines])
        end = date(end.year, 12, 31)
        warnings.append(f"未找到计划期:暂按 {start.year}—{end.year} 年,请在“计划信息”中核对")
    plan = Plan(
        status=PlanStatus.DRAFT,
        document_number=number[:64],
        title=(parsed.title or "(未识别标题)")[:255],
        issuing_office=(parsed.issuing_office or "")[:120],
        issued_on=parsed.issued_on,
        period_start=start,
        period_end=end,
        notes="\n".join(parsed.notes),
        source_text=text,
        source_sha256=digest,
        warnings=warnings or None,
    )
    session().add(plan)
    return plan


def _target(plan: Plan, t: ParsedTarget, position: int) -> Target:
    return Target(
        plan=plan,
        position=position,
        text=t.text,
        subject=t.subject,
        value=t.value,
        measure=t.measure,
        comparator=t.comparator,
        kind=TargetKind(t.kind),
        due_year=t.year,
        baseline_year=t.baseline_year,
        threshold=t.threshold,
    )


def _collective_members(expand_counties: bool) -> dict[str, list[Unit]]:
    """The units each collective name stands for: the 11 cities, and with
    them (where configured) each city's county governments."""
    cities = city_governments()
    with_counties: list[Unit] = []
    for city in cities:
        with_counties.append(city)
        if expand_counties:
            with_counties.extend(county_governments(city))
    return {"cities": cities, "cities_and_counties": with_counties}


def _assign_parsed_units(
    task: Task, refs: tuple[ParsedUnitRef, ...], collectives: dict[str, list[Unit]], new_units: list[str]
) -> None:
    position = 0
    seen: set[int] = set()

    def add(unit: Unit, role: UnitRole, confirmed: bool, via: str | None) -> None:
        nonlocal position
        if unit.id in seen:
            return
        seen.add(unit.id)
        position += 1
        task.units.append(
            TaskUnit(unit=unit, role=role, position=position, is_confirmed=confirmed, via_collective=via)
        )

    for ref in refs:
        role = UnitRole(ref.role)
        if ref.collective:
            # A collective never leads as a whole; its members join as co-units.
            for member in collectives.get(ref.collective, []):
                add(member, UnitRole.CO, False, ref.name)
            continue
        unit = find_unit(ref.name)
        if unit is None:
            # Never created silently: the coordinator matches it on the
            # review page, or says to create it.
            pending = list(task.pending_units or [])
            if all(p["name"] != ref.name for p in pending):
                pending.append({"name": ref.name, "role": role.value, "confirmed": bool(ref.confirmed)})
            task.pending_units = pending
            if ref.name not in new_units:
                new_units.append(ref.name)
            continue
        add(unit, role, ref.confirmed, None)


def _first_period_start(plan: Plan) -> date | None:
    """The day reporting starts: the first day of the plan's first period.
    None on a draft, which owes nothing."""
    if plan.status is not PlanStatus.PUBLISHED:
        return None
    if not plan.first_period:
        return plan.period_start
    return parse_period(plan.first_period).starts_on


def rebuild_periods(plan: Plan, calendar: WorkdayCalendar | None = None) -> None:
    """Make the plan's reporting periods match its frequency, its dates and
    its first period, and recompute their due dates (after the calendar or
    the rule changed). A draft has none: it owes nothing."""
    sess = session()
    calendar = calendar or WorkdayCalendar.load(sess)
    starts = _first_period_start(plan)
    spans = [] if starts is None else [
        span for span in period_spans(plan.period_start, plan.period_end, plan.reporting_frequency)
        if span.ends_on >= starts
    ]
    if spans and plan.first_period != spans[0].code:
        # Keep the code in the plan's frequency (e.g. 2025Q3 -> 2025-07).
        plan.first_period = spans[0].code
    existing = {p.code: p for p in plan.periods}
    for span in spans:
        period = existing.pop(span.code, None)
        if period is None:
            period = ReportingPeriod(code=span.code, starts_on=span.starts_on, ends_on=span.ends_on, due_on=span.ends_on)
            plan.periods.append(period)
        period.due_on = report_due_date(calendar, span.ends_on, plan.report_due_working_days)
    # Periods that no longer fit (the frequency changed) go, unless reports
    # were filed for them: those stay on record with their due dates.
    if existing:
        from ..models import Report

        used = set(
            sess.scalars(select(Report.period_id).where(Report.period_id.in_([p.id for p in existing.values() if p.id])))
        )
        for period in existing.values():
            if period.id not in used:
                plan.periods.remove(period)
    sess.flush()


def period_label(code: str) -> str:
    """2025Q3 -> 2025年第三季度 (as the period itself reads)."""
    return ReportingPeriod(code=code).label


def default_first_period(plan: Plan, today: date) -> str:
    """The current period by default; the plan's first if it has not begun,
    its last if it has ended."""
    spans = period_spans(plan.period_start, plan.period_end, plan.reporting_frequency)
    if not spans:
        raise ValidationError("计划的起止日期无效,无法确定报送期次")
    for span in spans:
        if span.starts_on <= today <= span.ends_on:
            return span.code
    return spans[0].code if today < spans[0].starts_on else spans[-1].code


def _checked_first_period(plan: Plan, code: str | None) -> str | None:
    if code is None or not str(code).strip():
        return None
    try:
        span = parse_period(str(code))
    except InvalidPeriod as exc:
        raise ValidationError(str(exc), field_errors={"first_period": "无法识别的期次"}) from None
    if span.ends_on < plan.period_start or span.starts_on > plan.period_end:
        raise ValidationError(
            f"首个报送期次 {span.code} 不在计划期限({plan.period_start.year}—{plan.period_end.year}年)内",
            field_errors={"first_period": "不在计划期限内"},
        )
    # In the plan's own frequency: the period containing the span's first day.
    for candidate in period_spans(plan.period_start, plan.period_end, plan.reporting_frequency):
        if candidate.starts_on <= max(span.starts_on, plan.period_start) <= candidate.ends_on:
            return candidate.code
    return span.code


def publishing_problems(plan: Plan, *, with_lead: set[int] | None = None) -> list[str]:
    """What must be settled before a draft can be published. `with_lead`,
    the ids of the tasks that have a lead unit, where the caller has read
    them (else each task's units are asked)."""
    problems = []
    if plan.document_number.startswith(PENDING_NUMBER_PREFIX):
        problems.append("尚未填写文号")
    if not plan.tasks:
        problems.append("计划中还没有任务")
    for task in plan.tasks:
        for pending in task.pending_units or []:
            problems.append(f"任务{task.number}:单位“{pending['name']}”尚未对应到单位名录")
        if (task.id not in with_lead) if with_lead is not None else task.lead is None:
            problems.append(f"任务{task.number}:尚未确定牵头单位")
    return problems


def _publish(
    actor: User | Operator, plan: Plan, *, first_period: str | None = None, today: date | None = None
) -> Plan:
    """Publish a draft: units owe reports from `first_period` (the current
    period by default) on, nothing before; they are told of their tasks.
    The caller has authorized `plan.manage`."""
    if "publish" not in workflow.allowed_actions(plan):
        raise ValidationError("该计划已发布", field_errors={"first_period": "已发布"})
    problems = publishing_problems(plan)
    if problems:
        raise ValidationError("尚不能发布:" + ";".join(problems[:5]) + ("等" if len(problems) > 5 else ""),
                              field_errors={"first_period": "尚有未确定的内容"})
    today = today or local_today()
    code = _checked_first_period(plan, first_period) or default_first_period(plan, today)
    plan.first_period = code  # in the plan's own frequency: rebuild_periods keeps it
    plan.published_at = utcnow()
    workflow.transition(plan, "publish", actor,
                        detail={"document_number": plan.document_number, "first_period": code,
                                "tasks": len(plan.tasks)})
    for task in plan.tasks:
        task.original_deadline = task.deadline
        for tu in task.units:
            if tu.role is UnitRole.LEAD and task.source is not TaskSource.PLAN:
                tu.is_confirmed = True
    rebuild_periods(plan)
    _notify_units_of_plan(plan)
    return plan


def publish_plan(
    actor: User | Operator, plan: Plan, *, first_period: str | None = None, today: date | None = None
) -> Plan:
    authorize(actor, "plan.manage", plan)
    return _publish(actor, plan, first_period=first_period, today=today)


def _notify_units_of_plan(plan: Plan) -> None:
    from . import notifications

    by_unit: dict[int, list[Task]] = {}
    for task in plan.tasks:
        for tu in task.units:
            by_unit.setdefault(tu.unit_id, []).append(task)
    label = "督办事项" if plan.kind is PlanKind.ITEMS else "计划"
    for unit_id, tasks in by_unit.items():
        numbers = "、".join(str(t.number) for t in tasks[:10]) + ("等" if len(tasks) > 10 else "")
        notifications.notify(
            notifications.liaisons_of(unit_id), "plan.published",
            f"{label}《{plan.title}》已发布,本单位承担 {len(tasks)} 项任务",
            body=f"任务 {numbers};自 {period_label(plan.first_period)} 起按期报送进展。" if plan.first_period else "",
            link=f"/plans/{plan.id}",
        )


def set_first_period(actor: User | Operator, plan: Plan, code: str) -> Plan:
    """Move the first period units report for. Earlier: the periods in
    between become owed, with their due dates. Later: only while nothing
    has been filed for the periods that would go."""
    authorize(actor, "plan.manage", plan)
    if plan.status is not PlanStatus.PUBLISHED:
        raise ValidationError("草稿计划请在发布时选择首个报送期次", field_errors={"first_period": "计划尚未发布"})
    new_code = _checked_first_period(plan, code)
    if new_code is None:
        raise ValidationError("请填写首个报送期次", field_errors={"first_period": "必填"})
    before = plan.first_period
    if new_code == before:
        return plan
    new_start = parse_period(new_code).starts_on
    dropped = [p for p in plan.periods if p.ends_on < new_start]
    if dropped:
        from ..models import Report

        filed = session().scalar(select(Report.id).where(Report.period_id.in_([p.id for p in dropped])).limit(1))
        if filed is not None:
            raise ValidationError("已有单位报送了更早期次的进展,首个报送期次不能后移",
                                  field_errors={"first_period": "更早期次已有报送"})
    plan.first_period = new_code
    rebuild_periods(plan)
    audit.record(actor, "plan.first_period", obj=plan,
                 detail={"before": before, "after": plan.first_period,
                         "periods": [p.code for p in plan.periods]})
    return plan


def find_plan(document_number: str) -> Plan:
    plan = session().scalar(select(Plan).where(Plan.document_number == document_number.strip()))
    if plan is None:
        raise NotFound(f"未找到文号为 {document_number} 的计划")
    return plan


def list_plans(user: User, *, include_drafts: bool = False) -> list[Plan]:
    """The plans `user` may see; drafts (coordinators only) when asked for:
    the plans page lists them, the API and the working lists do not."""
    authorize(user, "plan.view")
    query = select(Plan).where(visible_plans(user)).order_by(Plan.issued_on.desc(), Plan.id.desc())
    if not include_drafts:
        query = query.where(Plan.status == PlanStatus.PUBLISHED)
    return list(session().scalars(query))


def get_plan(user: User, plan_id: int) -> Plan:
    authorize(user, "plan.view")
    plan = session().get(Plan, plan_id)
    if plan is None or not can(user, "plan.view", plan):
        raise NotFound("未找到该计划")
    return plan


@dataclass(frozen=True)
class UnitName:
    short_name: str


@dataclass(frozen=True)
class ListedTaskUnit:
    """A responsible unit as a list of tasks names it."""

    unit: UnitName
    role: UnitRole
    is_confirmed: bool


@dataclass(frozen=True)
class ListedUnits:
    """A task's responsible units read as rows, in the task's order; which
    is the lead and which are co-units is the model's own rule."""

    units: tuple[ListedTaskUnit, ...] = ()
    lead = Task.lead
    co_units = Task.co_units


def listed_units(plan_id: int) -> dict[int, ListedUnits]:
    """Each task's units of the plan as `ListedUnits` (one statement for
    the plan's ~300 task units, not a TaskUnit and its Unit for each); a
    task without units is not in it."""
    names: dict[str, UnitName] = {}
    units: dict[int, list[ListedTaskUnit]] = {}
    for task_id, role, is_confirmed, short_name in session().execute(
        select(TaskUnit.task_id, TaskUnit.role, TaskUnit.is_confirmed, Unit.short_name)
        .join(Unit, Unit.id == TaskUnit.unit_id).join(Task, Task.id == TaskUnit.task_id)
        .where(Task.plan_id == plan_id).order_by(TaskUnit.task_id, TaskUnit.position, TaskUnit.id)
    ):
        name = names.get(short_name) or names.setdefault(short_name, UnitName(short_name))
        units.setdefault(task_id, []).append(ListedTaskUnit(name, role, is_confirmed))
    return {task_id: ListedUnits(tuple(rows)) for task_id, rows in units.items()}


@dataclass(frozen=True)
class ListedTask:
    """A task as the plan's page lists it: read as rows, not ORM objects."""

    id: int
    number: int
    title: str
    state: TaskState
    responsible: ListedUnits
    targets: tuple[Target, ...]

    @property
    def lead(self) -> ListedTaskUnit | None:
        return self.responsible.lead

    @property
    def co_units(self) -> list[ListedTaskUnit]:
        return self.responsible.co_units


@dataclass(frozen=True)
class ListedSection:
    number: int
    title: str
    tasks: tuple[ListedTask, ...]


@dataclass(frozen=True)
class PlanOutline:
    """The plan's page: the plan, its sections with their tasks (units,
    targets, state), its overall targets and fiscal measures."""

    plan: Plan
    sections: tuple[ListedSection, ...]


def plan_outline(user: User, plan_id: int) -> PlanOutline:
    """The plan `plan_id` as its page lists it (404 for what `user` may not
    see). The ~30 tasks and ~300 task units are read as rows (a few
    statements, whatever their number); only the targets, which the page
    formats through the model's properties, are ORM objects."""
    plan = get_plan(user, plan_id)
    sess = session()
    units_of = listed_units(plan.id)
    targets_of: dict[int, list[Target]] = {}
    for target in sess.scalars(select(Target).where(Target.plan_id == plan.id, Target.task_id.is_not(None))
                               .order_by(Target.task_id, Target.position)):
        targets_of.setdefault(target.task_id, []).append(target)
    tasks_of: dict[int, list[ListedTask]] = {}
    for task_id, section_id, number, title, state in sess.execute(
        select(Task.id, Task.section_id, Task.number, Task.title, Task.state)
        .where(Task.plan_id == plan.id).order_by(Task.number)
    ):
        tasks_of.setdefault(section_id, []).append(ListedTask(
            task_id, number, title, state, units_of.get(task_id) or ListedUnits(),
            tuple(targets_of.get(task_id, ()))))
    sections = tuple(
        ListedSection(number, title, tuple(tasks_of.get(section_id, ())))
        for section_id, number, title in sess.execute(
            select(Section.id, Section.number, Section.title).where(Section.plan_id == plan.id).order_by(Section.number))
    )
    return PlanOutline(plan, sections)


def get_task(user: User, task_id: int) -> Task:
    authorize(user, "task.view")
    task = session().get(Task, task_id)
    if task is None or not can(user, "task.view", task):
        raise NotFound("未找到该任务")
    return task


# --- the coordinator's decisions on responsible units ---------------------


def _unit_snapshot(task: Task) -> list[dict]:
    return [
        {"unit": tu.unit.short_name, "role": tu.role.value, "confirmed": tu.is_confirmed} for tu in task.units
    ]


def _tell_units_of_change(task: Task, unit_ids: set[int], title: str, reason: str) -> None:
    """The liaisons of every unit concerned by a change of a published
    task's units (drafts tell nobody: nobody sees them yet)."""
    if task.plan.is_draft:
        return
    from . import notifications

    for unit_id in sorted(unit_ids):
        notifications.notify(notifications.liaisons_of(unit_id), "task.changed", title,
                             body=f"原因:{reason}" if reason else "", link=f"/tasks/{task.id}", task_id=task.id)


def set_lead_unit(actor: User, task: Task, unit_id: int, *, reason: str = "") -> None:
    """Confirm the proposed lead, or make another responsible unit the lead."""
    authorize(actor, "task.assign_units", task)
    target = next((tu for tu in task.units if tu.unit_id == unit_id), None)
    if target is None:
        raise ValidationError("牵头单位必须是该任务的责任单位之一", field_errors={"unit_id": "不是该任务的责任单位"})
    before = _unit_snapshot(task)
    for tu in task.units:
        if tu is target:
            tu.role, tu.is_confirmed = UnitRole.LEAD, True
        elif tu.role is UnitRole.LEAD:
            tu.role, tu.is_confirmed = UnitRole.CO, False
    _renumber(task)
    session().flush()
    audit.record(
        actor, "task.set_lead", obj=task, task_id=task.id, reason=reason or None,
        detail={"lead": target.unit.canonical_name, "before": before, "after": _unit_snapshot(task)},
    )
    _tell_units_of_change(task, {tu.unit_id for tu in task.units},
                          f"任务{task.number}的牵头单位确定为{target.unit.short_name}", reason)


def add_task_unit(actor: User, task: Task, unit_id: int, *, reason: str = "") -> TaskUnit:
    authorize(actor, "task.assign_units", task)
    unit = session().get(Unit, unit_id)
    if unit is None:
        raise ValidationError("未找到该单位", field_errors={"unit_id": "未找到该单位"})
    if any(tu.unit_id == unit.id for tu in task.units):
        raise ValidationError(f"{unit.short_name} 已是该任务的责任单位", field_errors={"unit_id": "已是责任单位"})
    before = _unit_snapshot(task)
    tu = TaskUnit(unit=unit, role=UnitRole.CO, position=len(task.units) + 1)
    task.units.append(tu)
    session().flush()
    audit.record(actor, "task.add_unit", obj=task, task_id=task.id, reason=reason or None,
                 detail={"unit": unit.canonical_name, "before": before, "after": _unit_snapshot(task)})
    _tell_units_of_change(task, {t.unit_id for t in task.units},
                          f"{unit.short_name}增列为任务{task.number}“{task.title}”的配合单位", reason)
    return tu


def remove_task_unit(actor: User, task: Task, unit_id: int, *, reason: str = "") -> None:
    authorize(actor, "task.assign_units", task)
    tu = next((tu for tu in task.units if tu.unit_id == unit_id), None)
    if tu is None:
        raise ValidationError("该单位不是此任务的责任单位", field_errors={"unit_id": "不是责任单位"})
    if tu.role is UnitRole.LEAD:
        raise ValidationError("不能直接移除牵头单位,请先指定其他牵头单位", field_errors={"unit_id": "牵头单位不能移除"})
    before = _unit_snapshot(task)
    concerned = {t.unit_id for t in task.units}
    task.units.remove(tu)
    _renumber(task)
    session().flush()
    audit.record(actor, "task.remove_unit", obj=task, task_id=task.id, reason=reason or None,
                 detail={"unit": tu.unit.canonical_name, "before": before, "after": _unit_snapshot(task)})
    _tell_units_of_change(task, concerned, f"{tu.unit.short_name}不再是任务{task.number}“{task.title}”的责任单位", reason)


def _renumber(task: Task) -> None:
    # The lead first, the others in the order the document listed them.
    ordered = sorted(task.units, key=lambda tu: (tu.role is not UnitRole.LEAD, tu.position))
    for position, tu in enumerate(ordered, start=1):
        tu.position = position


def current_period(plan: Plan, today: date) -> ReportingPeriod | None:
    return next((p for p in plan.periods if p.starts_on <= today <= p.ends_on), None)


def update_plan_settings(
    actor: User, plan: Plan, *, frequency: str | None = None, due_working_days: Any = None
) -> Plan:
    """Change how often units report on a plan and how long after a period
    they have; the periods and their due dates follow."""
    from ..models import ReportingFrequency

    authorize(actor, "plan.manage", plan)
    before = {"frequency": plan.reporting_frequency.value, "due_working_days": plan.report_due_working_days}
    if frequency is not None:
        try:
            plan.reporting_frequency = ReportingFrequency(frequency)
        except ValueError:
            raise ValidationError("报送周期应为按月、按季度或按半年", field_errors={"frequency": "无效的报送周期"}) from None
    if due_working_days is not None:
        try:
            days = int(due_working_days)
        except (TypeError, ValueError):
            raise ValidationError("报送时限必须是整数", field_errors={"due_working_days": "必须是整数"}) from None
        if not 0 <= days <= 60:
            raise ValidationError("报送时限应在 0 到 60 个工作日之间", field_errors={"due_working_days": "超出范围"})
        plan.report_due_working_days = days
    rebuild_periods(plan)
    after = {"frequency": plan.reporting_frequency.value, "due_working_days": plan.report_due_working_days}
    if after != before:
        audit.record(actor, "plan.settings", obj=plan, detail={"before": before, "after": after})
    return plan




def import_plan_file(data: bytes, filename: str = "", *, actor: User | Operator, **kwargs: Any) -> ImportResult:
    """Import an uploaded or given plan file: Word, PDF with text, Excel task
    table, text in UTF-8 or GB18030 (see import_parsed_plan). A file that
    cannot be read is a ValidationError saying what to do; nothing changes."""
    from ..importer import PlanParseError, read_document
    from ..importer.document import parse_source

    if not data or not data.strip():
        raise ValidationError("文件内容为空", field_errors={"document": "文件内容为空"})
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"文件过大(上限 {MAX_DOCUMENT_BYTES // 1024 // 1024} MB)",
                              field_errors={"document": "文件过大"})
    try:
        source = read_document(data, filename)
        parsed = parse_source(source)
        # The digest of the file as given: the same file again changes nothing.
        return import_parsed_plan(parsed, source.text(), hashlib.sha256(data).hexdigest(), filename=filename,
                                  actor=actor, **kwargs)
    except PlanParseError as exc:
        raise ValidationError(f"无法导入该文件:{exc}", field_errors={"document": "无法导入该文件"}) from None


def import_plan_for(actor: User, data: bytes | str, filename: str = "") -> ImportResult:
    """A coordinator imports a plan document from the pages: a draft."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return import_plan_file(data, filename or "粘贴的文本.txt", actor=actor)
