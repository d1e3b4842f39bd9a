"""Plans: importing a plan document, the reporting periods, and the
coordinator's decisions about a task's responsible units."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..db import session
from ..errors import NotFound, ValidationError
from ..importer import ParsedPlan, ParsedTarget, ParsedUnitRef, parse_plan
from ..models import (
    FiscalMeasure,
    Plan,
    ReportingPeriod,
    Section,
    Target,
    TargetKind,
    Task,
    TaskUnit,
    Unit,
    UnitKind,
    UnitRole,
    User,
)
from ..domain.periods import period_spans
from ..policy import authorize
from ..domain.workdays import WorkdayCalendar, report_due_date
from . import audit
from .units import city_governments, county_governments, ensure_unit, find_unit


@dataclass
class ImportResult:
    plan: Plan
    created: bool
    new_units: list[str] = field(default_factory=list)


def import_plan_document(text: str, *, actor: User | None = None, expand_counties: bool | None = None) -> ImportResult:
    """Import a plan document. Importing the same document again changes
    nothing; a different document under a number already held is refused."""
    sess = session()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    parsed = parse_plan(text)
    existing = sess.scalar(select(Plan).where(Plan.document_number == parsed.document_number))
    if existing is not None:
        if existing.source_sha256 == digest:
            return ImportResult(existing, created=False)
        raise ValidationError(
            f"文号 {parsed.document_number} 的计划已导入,且本次文件内容与已导入的不同;"
            "请核对文件,已有计划不会被覆盖"
        )
    if expand_counties is None:
        expand_counties = bool(current_app.config.get("EXPAND_COUNTIES"))
    result = ImportResult(_create_plan(parsed, text, digest), created=True)
    plan = result.plan
    collectives = _collective_members(expand_counties)
    for parsed_section in parsed.sections:
        section = Section(plan=plan, number=parsed_section.number, title=parsed_section.title)
        sess.add(section)
        for pt in parsed_section.tasks:
            task = Task(
                plan=plan,
                section=section,
                number=pt.number,
                title=pt.title,
                text=pt.text,
                deadline=plan.period_end,
                original_deadline=plan.period_end,
            )
            sess.add(task)
            with sess.no_autoflush:
                _assign_parsed_units(task, pt.units, collectives, result.new_units)
            for position, parsed_target in enumerate(pt.targets, start=1):
                task.targets.append(_target(plan, parsed_target, position))
    for position, parsed_target in enumerate(parsed.targets, start=1):
        sess.add(_target(plan, parsed_target, position))
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
    rebuild_periods(plan)
    audit.record(
        actor,
        "plan.import",
        obj=plan,
        detail={"document_number": plan.document_number, "sha256": digest, "new_units": result.new_units},
    )
    return result


def _create_plan(parsed: ParsedPlan, text: str, digest: str) -> Plan:
    plan = Plan(
        document_number=parsed.document_number,
        title=parsed.title,
        issuing_office=parsed.issuing_office,
        issued_on=parsed.issued_on,
        period_start=parsed.period_start,
        period_end=parsed.period_end,
        notes="\n".join(parsed.notes),
        source_text=text,
        source_sha256=digest,
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
            unit = ensure_unit(ref.name, short_name=ref.name, kind=UnitKind.OTHER)
            new_units.append(ref.name)
        add(unit, role, ref.confirmed, None)


def rebuild_periods(plan: Plan, calendar: WorkdayCalendar | None = None) -> None:
    """Make the plan's reporting periods match its frequency and dates, and
    recompute their due dates (after the calendar or the rule changed)."""
    sess = session()
    calendar = calendar or WorkdayCalendar.load(sess)
    spans = period_spans(plan.period_start, plan.period_end, plan.reporting_frequency)
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


def list_plans(user: User) -> list[Plan]:
    authorize(user, "plan.view")
    return list(session().scalars(select(Plan).order_by(Plan.issued_on.desc(), Plan.id.desc())))


def get_plan(user: User, plan_id: int) -> Plan:
    authorize(user, "plan.view")
    plan = session().get(Plan, plan_id)
    if plan is None:
        raise NotFound("未找到该计划")
    return plan


def get_task(user: User, task_id: int) -> Task:
    authorize(user, "task.view")
    task = session().get(Task, task_id)
    if task is None:
        raise NotFound("未找到该任务")
    return task


# --- the coordinator's decisions on responsible units ---------------------


def _unit_snapshot(task: Task) -> list[dict]:
    return [
        {"unit": tu.unit.short_name, "role": tu.role.value, "confirmed": tu.is_confirmed} for tu in task.units
    ]


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


def add_task_unit(actor: User, task: Task, unit_id: int, *, reason: str = "") -> TaskUnit:
    authorize(actor, "task.assign_units", task)
    unit = session().get(Unit, unit_id)
    if unit is None:
        raise ValidationError("未找到该单位", field_errors={"unit_id": "未找到该单位"})
    if any(tu.unit_id == unit.id for tu in task.units):
        raise ValidationError(f"{unit.short_name} 已是该任务的责任单位", field_errors={"unit_id": "已是责任单位"})
    tu = TaskUnit(unit=unit, role=UnitRole.CO, position=len(task.units) + 1)
    task.units.append(tu)
    session().flush()
    audit.record(actor, "task.add_unit", obj=task, task_id=task.id, reason=reason or None,
                 detail={"unit": unit.canonical_name})
    return tu


def remove_task_unit(actor: User, task: Task, unit_id: int, *, reason: str = "") -> None:
    authorize(actor, "task.assign_units", task)
    tu = next((tu for tu in task.units if tu.unit_id == unit_id), None)
    if tu is None:
        raise ValidationError("该单位不是此任务的责任单位", field_errors={"unit_id": "不是责任单位"})
    if tu.role is UnitRole.LEAD:
        raise ValidationError("不能直接移除牵头单位,请先指定其他牵头单位", field_errors={"unit_id": "牵头单位不能移除"})
    task.units.remove(tu)
    _renumber(task)
    session().flush()
    audit.record(actor, "task.remove_unit", obj=task, task_id=task.id, reason=reason or None,
                 detail={"unit": tu.unit.canonical_name})


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


def import_plan_for(actor: User, text: str) -> ImportResult:
    """A coordinator imports a plan document from the pages."""
    authorize(actor, "plan.import")
    if not text or not text.strip():
        raise ValidationError("文件内容为空", field_errors={"document": "文件内容为空"})
    from ..importer import PlanParseError

    try:
        return import_plan_document(text, actor=actor)
    except PlanParseError as exc:
        raise ValidationError(f"无法识别该计划文件:{exc}", field_errors={"document": "无法识别该计划文件"}) from None
