"""The coordinator's work on a plan before and after it goes live: the
review of a draft (what the parser extracted beside the source text, the
unit names to match to the directory, tasks added, removed, merged, split),
plans and 督办事项 made by hand, and changes to a published task's units,
lead or deadline (audited with before/after, the units concerned told)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..db import session
from ..domain.clock import today as local_today
from ..domain.periods import period_spans
from ..errors import ValidationError
from ..importer import extract_targets, normalise_unit_name
from ..models import (
    Plan,
    PlanKind,
    PlanStatus,
    ReportingFrequency,
    Section,
    Task,
    TaskSource,
    TaskUnit,
    Unit,
    UnitAlias,
    UnitKind,
    UnitRole,
    User,
)
from ..policy import authorize
from . import audit, notifications
from .plans import (
    ListedUnits,
    _target,
    default_first_period,
    listed_units,
    period_label,
    publishing_problems,
    rebuild_periods,
)
from .units import ensure_unit

# --- reading ----------------------------------------------------------------


@dataclass
class PendingName:
    """A unit name the directory does not know, with the tasks using it and
    the directory's closest units."""

    name: str
    task_numbers: list[int]
    suggestions: list[Unit]


@dataclass
class DraftReview:
    plan: Plan
    tasks: list[Task]
    pending: list[PendingName]
    problems: list[str]
    period_choices: list[tuple[str, str]]  # (code, label) for the first period
    default_period: str
    directory: list[Unit] = field(default_factory=list)
    units_of: dict[int, ListedUnits] = field(default_factory=dict)  # by task id


_KIND_ORDER = [UnitKind.PROVINCIAL_DEPARTMENT, UnitKind.CUSTOMS, UnitKind.FINANCIAL_INSTITUTION,
               UnitKind.STATE_OWNED_ENTERPRISE, UnitKind.OTHER, UnitKind.CITY_GOVERNMENT, UnitKind.COUNTY_GOVERNMENT]


def directory_units() -> list[Unit]:
    """The active units to choose from: provincial departments first, then
    the others, the cities, and their counties last."""
    units = session().scalars(select(Unit).where(Unit.is_active).order_by(Unit.sort_order, Unit.id))
    return sorted(units, key=lambda u: _KIND_ORDER.index(u.kind) if u.kind in _KIND_ORDER else len(_KIND_ORDER))


_PREFIXES = ("中华人民共和国", "浙江省", "国家", "省", "中国")


def _core(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix) + 1:
            return name[len(prefix):]
    return name


def suggest_units(name: str, limit: int = 5) -> list[Unit]:
    """The directory's units whose names, short names or aliases come closest
    to `name` (best first)."""
    return suggest_units_for([name], limit)[name]


_MIN_SCORE = 0.45


def suggest_units_for(names: Iterable[str], limit: int = 5, *,
                      directory: list[Unit] | None = None) -> dict[str, list[Unit]]:
    """`suggest_units` for several names, reading the directory's aliases
    once (one statement whatever the names, and one for the units suggested
    unless the active units, `directory`, are at hand).

    Each alias is scored against a name by SequenceMatcher's ratio, exactly
    as before, but only where its upper bound, quick_ratio (twice the
    characters the two names share, counted with repeats, over their total
    length), says the alias could still be suggested; that bound is counted
    for every alias at once from an index of their characters. The same
    suggestions, same order, for a fraction of the time."""
    names = list(dict.fromkeys(names))
    if not names:
        return {}
    rows = tuple(map(tuple, session().execute(
        select(UnitAlias.alias, UnitAlias.unit_id).join(Unit).where(Unit.is_active).order_by(UnitAlias.id)
    )))
    table = _alias_table(rows)
    ranked_ids = {name: _ranked_unit_ids(name, table) for name in names}
    if directory is None:
        wanted = {unit_id for pairs in ranked_ids.values() for _score, unit_id in pairs}
        directory = list(session().scalars(select(Unit).where(Unit.id.in_(sorted(wanted)))))
    units = {u.id: u for u in directory}
    result = {}
    for name, pairs in ranked_ids.items():
        ranked = sorted(((score, units[unit_id]) for score, unit_id in pairs),
                        key=lambda pair: (-pair[0], pair[1].sort_order, pair[1].id))
        result[name] = [unit for _score, unit in ranked[:limit]]
    return result


@dataclass(frozen=True, eq=False)
class _AliasTable:
    """The directory's aliases as the scoring reads them: (unit id, alias,
    alias without 浙江省/国家/…) and an index of the characters of each."""

    aliases: list[tuple[int, str, str]]
    whole_index: dict[str, list[int]]
    core_index: dict[str, list[int]]
    wholes: list[str]
    cores: list[str]


@lru_cache(maxsize=4)
def _alias_table(rows: tuple[tuple[str, int], ...]) -> _AliasTable:
    """Built once per content of the directory's aliases (the rows read by
    each request are the key: a changed directory is a new table)."""
    aliases = [(unit_id, candidate, _core(candidate)) for candidate, unit_id in rows]
    wholes = [candidate for _unit, candidate, _core_candidate in aliases]
    cores = [core_candidate for _unit, _candidate, core_candidate in aliases]
    return _AliasTable(aliases, _char_index(wholes), _char_index(cores), wholes, cores)


@lru_cache(maxsize=512)
def _ranked_unit_ids(name: str, table: _AliasTable) -> list[tuple[float, int]]:
    """(score, unit id) of every unit scoring at least _MIN_SCORE for `name`,
    its best alias's score. Cached per name and alias table: the same
    unknown names are shown on every visit of a draft's review page. (The
    caller must not change the list.)"""
    key = normalise_unit_name(name)
    best: dict[int, float] = {}
    if key:
        core_key = _core(key)
        whole_shared = _shared_chars(key, table.whole_index, table.wholes)
        core_shared = _shared_chars(core_key, table.core_index, table.cores)
        for i, (unit_id, candidate, core_candidate) in enumerate(table.aliases):
            floor = max(_MIN_SCORE, best.get(unit_id, 0.0))
            contains = len(core_key) >= 2 and (core_key in candidate or core_candidate in key)
            if not (contains and 0.75 >= floor):  # else it may qualify on containment alone
                bound = max(_quick_ratio(whole_shared.get(i, 0), len(key) + len(candidate)),
                            0.85 * _quick_ratio(core_shared.get(i, 0), len(core_key) + len(core_candidate)))
                if bound < floor:
                    continue  # its score cannot reach the floor
            score = SequenceMatcher(None, key, candidate).ratio()
            # Without 浙江省/国家/省…, a little less sure: 国家X and 省X differ.
            score = max(score, 0.85 * SequenceMatcher(None, core_key, core_candidate).ratio())
            if contains:
                score = max(score, 0.75)
            if score >= _MIN_SCORE and score > best.get(unit_id, 0.0):
                best[unit_id] = score
    return [(score, unit_id) for unit_id, score in best.items()]


def _char_index(texts: list[str]) -> dict[str, list[int]]:
    """For each character, the positions in `texts` of the texts holding it."""
    index: dict[str, list[int]] = {}
    for position, text in enumerate(texts):
        for char in set(text):
            index.setdefault(char, []).append(position)
    return index


def _shared_chars(key: str, index: dict[str, list[int]], texts: list[str]) -> dict[int, int]:
    """For each text sharing a character with `key`, how many characters
    they share counted with repeats (what SequenceMatcher.quick_ratio counts)."""
    shared: dict[int, int] = {}
    for char in set(key):
        in_key = key.count(char)
        for position in index.get(char, ()):
            shared[position] = shared.get(position, 0) + min(in_key, texts[position].count(char))
    return shared


def _quick_ratio(matches: int, length: int) -> float:
    """SequenceMatcher's ratio formula (difflib._calculate_ratio)."""
    return 2.0 * matches / length if length else 1.0


def draft_review(user: User, plan: Plan, today: date | None = None) -> DraftReview:
    authorize(user, "plan.manage", plan)
    today = today or local_today()
    # The tasks with their targets and section, a statement per relation
    # rather than per task; their units as rows (listed_units: building a
    # TaskUnit and its Unit for each of a plan's ~200 was most of the page).
    session().scalars(select(Plan).where(Plan.id == plan.id).options(
        selectinload(Plan.tasks).options(selectinload(Task.targets), joinedload(Task.section)),
    )).all()
    units_of = listed_units(plan.id)
    names: dict[str, list[int]] = {}
    for task in plan.tasks:
        for pending in task.pending_units or []:
            names.setdefault(pending["name"], []).append(task.number)
    directory = directory_units()
    suggestions = suggest_units_for(names, directory=directory)
    pending = [PendingName(name, numbers, suggestions[name]) for name, numbers in names.items()]
    spans = period_spans(plan.period_start, plan.period_end, plan.reporting_frequency)
    return DraftReview(
        plan=plan,
        tasks=list(plan.tasks),
        pending=pending,
        problems=publishing_problems(plan, with_lead={t for t, u in units_of.items() if u.lead is not None})
        if plan.is_draft else [],
        period_choices=[(s.code, period_label(s.code)) for s in spans],
        default_period=default_first_period(plan, today) if spans else "",
        directory=directory,
        units_of=units_of,
    )


# --- plans by hand ----------------------------------------------------------


def _text(value: Any, label: str, key: str, *, max_length: int, required: bool = True) -> str:
    text = re.sub(r"\s+", " ", str(value or "")).strip()
    if required and not text:
        raise ValidationError(f"请填写{label}", field_errors={key: "必填"})
    if len(text) > max_length:
        raise ValidationError(f"{label}不能超过 {max_length} 个字", field_errors={key: "过长"})
    return text


def _date(value: Any, label: str, key: str, *, required: bool = False) -> date | None:
    if isinstance(value, date) or value is None and not required:
        return value
    raw = str(value or "").strip()
    if not raw:
        if required:
            raise ValidationError(f"请填写{label}", field_errors={key: "必填"})
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{label}应为日期,如 2026-06-30", field_errors={key: "日期格式不对"}) from None


def _auto_number(kind: PlanKind, year: int) -> str:
    prefix = f"督办事项〔{year}〕" if kind is PlanKind.ITEMS else f"自建计划〔{year}〕"
    taken = session().scalar(select(func.count(Plan.id)).where(Plan.document_number.like(prefix + "%"))) or 0
    while True:
        taken += 1
        number = f"{prefix}{taken}号"
        if session().scalar(select(Plan.id).where(Plan.document_number == number)) is None:
            return number


def create_plan(
    actor: User,
    *,
    kind: str,
    title: Any,
    document_number: Any = "",
    issuing_office: Any = "",
    issued_on: Any = None,
    period_start: Any = None,
    period_end: Any = None,
    frequency: str = "quarterly",
    today: date | None = None,
) -> Plan:
    """A plan, or a list of standalone 督办事项, made by hand: a draft to
    which the coordinator adds tasks, then publishes."""
    authorize(actor, "plan.import")
    try:
        plan_kind = PlanKind(kind)
    except ValueError:
        raise ValidationError("请选择行动计划或督办事项", field_errors={"kind": "无效"}) from None
    try:
        plan_frequency = ReportingFrequency(frequency)
    except ValueError:
        raise ValidationError("报送周期应为按月、按季度或按半年", field_errors={"frequency": "无效的报送周期"}) from None
    today = today or local_today()
    title = _text(title, "名称", "title", max_length=255)
    issuing_office = _text(issuing_office, "印发单位", "issuing_office", max_length=120, required=False)
    issued = _date(issued_on, "印发日期", "issued_on")
    start = _date(period_start, "起始日期", "period_start") or date(today.year, 1, 1)
    end = _date(period_end, "截止日期", "period_end") or date(start.year, 12, 31)
    if end < start:
        raise ValidationError("截止日期不能早于起始日期", field_errors={"period_end": "早于起始日期"})
    if (end.year - start.year) > 10:
        raise ValidationError("实施期不能超过 10 年", field_errors={"period_end": "过长"})
    number = _text(document_number, "文号", "document_number", max_length=64, required=False)
    if number and session().scalar(select(Plan.id).where(Plan.document_number == number)) is not None:
        raise ValidationError(f"文号 {number} 已被另一计划使用", field_errors={"document_number": "文号已存在"})
    plan = Plan(
        status=PlanStatus.DRAFT,
        kind=plan_kind,
        document_number=number or _auto_number(plan_kind, start.year),
        title=title,
        issuing_office=issuing_office or (actor.unit.canonical_name if actor.unit else ""),
        issued_on=issued,
        period_start=start,
        period_end=end,
        reporting_frequency=plan_frequency,
    )
    session().add(plan)
    session().flush()
    audit.record(actor, "plan.create", obj=plan,
                 detail={"kind": plan_kind.value, "document_number": plan.document_number, "title": title})
    return plan


def discard_draft(actor: User, plan: Plan) -> None:
    authorize(actor, "plan.manage", plan)
    _require_draft(plan)
    audit.record(actor, "plan.discard", obj=plan, detail={"document_number": plan.document_number,
                                                           "tasks": len(plan.tasks)})
    sess = session()
    for task in list(plan.tasks):
        sess.delete(task)
    sess.delete(plan)
    sess.flush()


def _require_draft(plan: Plan) -> None:
    if not plan.is_draft:
        raise ValidationError("计划已发布,不能再删除、合并或拆分任务", field_errors={"task": "计划已发布"})


# --- tasks ------------------------------------------------------------------


@dataclass
class TaskFields:
    """What the coordinator sets on a task (from the review page, the
    by-hand form, or the change form of a published task)."""

    title: Any
    text: Any = ""
    deadline: Any = None
    lead_unit_id: Any = None
    co_unit_ids: Iterable[Any] = ()
    targets: Any = None  # one target per line; None leaves them as they are
    section_title: Any = None
    source: Any = None
    source_document_number: Any = None
    source_issued_on: Any = None


def _unit_ids(lead: Any, cos: Iterable[Any]) -> tuple[int | None, list[int]]:
    def as_id(value: Any) -> int | None:
        if value in (None, "", 0, "0"):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValidationError("单位选择无效", field_errors={"lead_unit_id": "单位选择无效"}) from None

    lead_id = as_id(lead)
    co_ids: list[int] = []
    for value in cos:
        unit_id = as_id(value)
        if unit_id is not None and unit_id != lead_id and unit_id not in co_ids:
            co_ids.append(unit_id)
    wanted = {i for i in [lead_id, *co_ids] if i is not None}
    if wanted:
        found = set(session().scalars(select(Unit.id).where(Unit.id.in_(wanted), Unit.is_active)))
        if found != wanted:
            raise ValidationError("所选单位不在单位名录中", field_errors={"co_unit_ids": "单位不在名录中"})
    return lead_id, co_ids


def _snapshot(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "lead": task.lead.unit.canonical_name if task.lead else None,
        "co_units": [tu.unit.canonical_name for tu in task.co_units],
    }


def _set_units(task: Task, lead_id: int | None, co_ids: list[int]) -> None:
    current = {tu.unit_id: tu for tu in task.units}
    wanted = ([lead_id] if lead_id else []) + co_ids
    for unit_id, tu in current.items():
        if unit_id not in wanted:
            task.units.remove(tu)
    session().flush()
    for position, unit_id in enumerate(wanted, start=1):
        tu = current.get(unit_id)
        role = UnitRole.LEAD if unit_id == lead_id else UnitRole.CO
        if tu is None:
            tu = TaskUnit(unit=session().get(Unit, unit_id), role=role, position=position)
            task.units.append(tu)
        tu.role, tu.position = role, position
        # The coordinator chose the lead: it is confirmed.
        tu.is_confirmed = role is UnitRole.LEAD


def _section(plan: Plan, title: Any) -> Section:
    name = _text(title, "所属部分", "section_title", max_length=120, required=False)
    if not name:
        if plan.sections:
            return plan.sections[-1]
        name = "督办事项" if plan.kind is PlanKind.ITEMS else "主要任务"
    for section in plan.sections:
        if section.title == name:
            return section
    section = Section(plan=plan, number=max((s.number for s in plan.sections), default=0) + 1, title=name)
    session().add(section)
    session().flush()
    return section


def _apply(task: Task, fields: TaskFields, *, creating: bool) -> None:
    plan = task.plan
    task.title = _text(fields.title, "任务标题", "title", max_length=255)
    if fields.text is not None:
        text = str(fields.text or "").strip()
        if len(text) > 20000:
            raise ValidationError("任务内容过长", field_errors={"text": "过长"})
        task.text = text or task.title
    deadline = _date(fields.deadline, "完成时限", "deadline")
    if deadline is not None and not (plan.period_start <= deadline <= date(plan.period_end.year + 5, 12, 31)):
        raise ValidationError("完成时限应在计划实施期内", field_errors={"deadline": "超出实施期"})
    task.deadline = deadline
    if fields.source is not None:
        try:
            task.source = TaskSource(fields.source or TaskSource.PLAN.value)
        except ValueError:
            raise ValidationError("请选择任务来源", field_errors={"source": "无效"}) from None
    if fields.source_document_number is not None:
        task.source_document_number = _text(fields.source_document_number, "来源文号", "source_document_number",
                                            max_length=64, required=False) or None
    if fields.source_issued_on is not None:
        task.source_issued_on = _date(fields.source_issued_on, "来源文件日期", "source_issued_on")
    lead_id, co_ids = _unit_ids(fields.lead_unit_id, fields.co_unit_ids)
    if not plan.is_draft and lead_id is None:
        raise ValidationError("已发布的任务必须有牵头单位", field_errors={"lead_unit_id": "请选择牵头单位"})
    _set_units(task, lead_id, co_ids)
    if fields.targets is not None and plan.is_draft:
        _set_targets(task, fields.targets)


def _set_targets(task: Task, raw: Any) -> None:
    lines = [line.strip() for line in str(raw or "").splitlines() if line.strip()]
    if [t.text for t in task.targets] == lines:
        return
    parsed = []
    for number, line in enumerate(lines, start=1):
        found = extract_targets(line, due_year=task.plan.period_end.year)
        if not found:
            raise ValidationError(f"第 {number} 行未识别出数量指标(如“新增应用主体 5000 家以上”)",
                                  field_errors={"targets": "未识别出数量指标"})
        parsed.append(found[0])
    task.targets.clear()
    session().flush()
    for position, target in enumerate(parsed, start=1):
        task.targets.append(_target(task.plan, target, position))


def _renumber_tasks(plan: Plan, ordered: list[Task]) -> None:
    """Number the plan's tasks 1.. in the given order (two steps, so the
    unique (plan, number) never sees two tasks on one number)."""
    sess = session()
    for task in ordered:
        task.number = task.number + 100000
    sess.flush()
    for number, task in enumerate(ordered, start=1):
        task.number = number
    sess.flush()
    sess.expire(plan, ["tasks"])


def _units_concerned(*unit_ids: Iterable[int]) -> set[int]:
    return {uid for ids in unit_ids for uid in ids}


def _tell_units(unit_ids: set[int], kind: str, title: str, task: Task, body: str = "") -> None:
    for unit_id in sorted(unit_ids):
        notifications.notify(notifications.liaisons_of(unit_id), kind, title, body=body,
                             link=f"/tasks/{task.id}", task_id=task.id)


def add_task(actor: User, plan: Plan, fields: TaskFields, *, reason: str = "") -> Task:
    """A task added by hand to a draft or (audited, the units told) to a
    published plan."""
    authorize(actor, "plan.manage", plan)
    sess = session()
    number = (sess.scalar(select(func.max(Task.number)).where(Task.plan_id == plan.id)) or 0) + 1
    task = Task(plan=plan, section=_section(plan, fields.section_title), number=number, title="", text="",
                source=TaskSource.LEADER_INSTRUCTION if plan.kind is PlanKind.ITEMS else TaskSource.PLAN)
    sess.add(task)
    with sess.no_autoflush:
        _apply(task, fields, creating=True)
    task.original_deadline = task.deadline
    sess.flush()
    after = _snapshot(task)
    audit.record(actor, "task.add", obj=task, task_id=task.id, reason=reason or None,
                 detail={"plan": plan.document_number, "after": after, "source": task.source.value,
                         "source_document_number": task.source_document_number})
    if not plan.is_draft:
        _tell_units({tu.unit_id for tu in task.units}, "task.assigned",
                    f"新增任务{task.number}“{task.title}”", task,
                    body=(f"完成时限:{task.deadline.isoformat()}" if task.deadline else ""))
    return task


def edit_task(actor: User, task: Task, fields: TaskFields, *, reason: str = "") -> Task:
    """Change a task. On a draft anything; once published, its title,
    units, lead and deadline, audited with before/after, every unit
    concerned (before or after) told."""
    authorize(actor, "plan.manage", task.plan)
    before = _snapshot(task)
    units_before = {tu.unit_id for tu in task.units}
    with session().no_autoflush:
        _apply(task, fields, creating=False)
    session().flush()
    after = _snapshot(task)
    if after == before and task.plan.is_draft:
        return task
    action = "task.edit_draft" if task.plan.is_draft else "task.change"
    audit.record(actor, action, obj=task, task_id=task.id, reason=reason or None,
                 detail={"before": before, "after": after})
    if not task.plan.is_draft and after != before:
        changes = [label for key, label in (("title", "标题"), ("deadline", "完成时限"), ("lead", "牵头单位"),
                                            ("co_units", "配合单位")) if before[key] != after[key]]
        _tell_units(units_before | {tu.unit_id for tu in task.units}, "task.changed",
                    f"任务{task.number}“{task.title}”的{'、'.join(changes)}已调整", task,
                    body=(f"原因:{reason}" if reason else ""))
    return task


def remove_task(actor: User, task: Task) -> None:
    plan = task.plan
    authorize(actor, "plan.manage", plan)
    _require_draft(plan)
    audit.record(actor, "task.remove_draft", obj=plan, detail={"number": task.number, "title": task.title})
    remaining = [t for t in plan.tasks if t.id != task.id]
    session().delete(task)
    session().flush()
    _renumber_tasks(plan, remaining)


def merge_tasks(actor: User, task: Task, into: Task) -> Task:
    """Merge `task` into `into` (e.g. a paragraph the parser cut in two):
    texts joined, units, unmatched names, warnings and targets kept."""
    plan = task.plan
    authorize(actor, "plan.manage", plan)
    _require_draft(plan)
    if into.plan_id != plan.id or into.id == task.id:
        raise ValidationError("请选择同一计划中的另一项任务", field_errors={"into": "无效的任务"})
    into.text = f"{into.text}\n{task.text}".strip()
    into.source_text = f"{into.source_text}\n{task.source_text}".strip()
    into.warnings = list(dict.fromkeys([*(into.warnings or []), *(task.warnings or [])])) or None
    pending = list(into.pending_units or [])
    for item in task.pending_units or []:
        if all(p["name"] != item["name"] for p in pending):
            pending.append(item)
    into.pending_units = pending or None
    if into.deadline is None or (task.deadline and task.deadline > into.deadline):
        into.deadline = task.deadline or into.deadline
    have = {tu.unit_id for tu in into.units}
    for tu in sorted(task.units, key=lambda tu: tu.position):
        if tu.unit_id not in have:
            role = UnitRole.LEAD if tu.role is UnitRole.LEAD and into.lead is None else UnitRole.CO
            into.units.append(TaskUnit(unit=tu.unit, role=role, position=len(into.units) + 1,
                                       is_confirmed=tu.is_confirmed and role is UnitRole.LEAD,
                                       via_collective=tu.via_collective))
            have.add(tu.unit_id)
    for target in list(task.targets):
        target.task = into
        target.position = len(into.targets) + 1
    session().flush()
    audit.record(actor, "task.merge_draft", obj=plan, detail={"merged": task.number, "into": into.number})
    remaining = [t for t in plan.tasks if t.id != task.id]
    session().delete(task)
    session().flush()
    _renumber_tasks(plan, remaining)
    return into


_SENTENCE_END = re.compile(r"[。;;!?]")


def split_task(actor: User, task: Task, part: Any) -> Task:
    """Split off `part` of a task's text as a new task right after it, with
    the same units (e.g. two tasks the parser read as one)."""
    plan = task.plan
    authorize(actor, "plan.manage", plan)
    _require_draft(plan)
    part = str(part or "").strip()
    if not part:
        raise ValidationError("请填写拆出的新任务内容", field_errors={"part": "必填"})
    if part == task.text.strip():
        raise ValidationError("拆出的内容不能是整项任务", field_errors={"part": "与原任务相同"})
    if part in task.text:
        task.text = task.text.replace(part, "").strip() or task.text
    title = _SENTENCE_END.split(part, 1)[0].strip()[:255] or part[:255]
    new = Task(plan=plan, section=task.section, number=10**6, title=title, text=part, source_text=part,
               deadline=task.deadline, original_deadline=task.deadline, source=task.source,
               source_document_number=task.source_document_number, source_issued_on=task.source_issued_on,
               pending_units=list(task.pending_units or []) or None)
    session().add(new)
    for tu in sorted(task.units, key=lambda tu: tu.position):
        new.units.append(TaskUnit(unit=tu.unit, role=tu.role, position=tu.position, is_confirmed=tu.is_confirmed,
                                  via_collective=tu.via_collective))
    for target in list(task.targets):
        if target.text and target.text in part:
            target.task = new
    session().flush()
    ordered = []
    for t in plan.tasks:
        if t.id == new.id:
            continue
        ordered.append(t)
        if t.id == task.id:
            ordered.append(new)
    audit.record(actor, "task.split_draft", obj=plan, detail={"from": task.number, "part": part[:200]})
    _renumber_tasks(plan, ordered)
    return new


# --- unit names the directory does not know -------------------------------------


def resolve_unit_name(
    actor: User, plan: Plan, name: str, *, unit_id: Any = None, create: bool = False,
    canonical_name: Any = None,
) -> Unit:
    """Match a name the document uses to a unit of the directory (the name
    becomes one of its aliases, so the next document is understood), or,
    only when the coordinator says so, create the unit. Every task of the
    plan using the name gets the unit in the role the document gave."""
    authorize(actor, "plan.manage", plan)
    tasks = [t for t in plan.tasks if any(p["name"] == name for p in t.pending_units or [])]
    if not tasks:
        raise ValidationError(f"计划中没有待对应的单位“{name}”", field_errors={"unit_id": "没有该名称"})
    if create:
        full = _text(canonical_name or name, "单位全称", "canonical_name", max_length=120)
        from .units import find_unit

        if find_unit(full) is not None:
            raise ValidationError(f"单位名录中已有“{full}”,请直接选择", field_errors={"canonical_name": "已存在"})
        unit = ensure_unit(full, short_name=name if len(name) <= 60 else full, kind=UnitKind.OTHER,
                           aliases=(name,))
        audit.record(actor, "unit.create", obj=unit, detail={"canonical_name": full, "from_plan": plan.document_number,
                                                            "name_in_document": name})
    else:
        try:
            unit = session().get(Unit, int(unit_id)) if unit_id not in (None, "") else None
        except (TypeError, ValueError):
            unit = None
        if unit is None or not unit.is_active:
            raise ValidationError("请从单位名录中选择对应的单位", field_errors={"unit_id": "请选择单位"})
        key = normalise_unit_name(name)
        if key and session().scalar(select(UnitAlias.id).where(UnitAlias.alias == key)) is None:
            unit.aliases.append(UnitAlias(alias=key))
    for task in tasks:
        entry = next(p for p in task.pending_units or [] if p["name"] == name)
        task.pending_units = [p for p in task.pending_units or [] if p["name"] != name] or None
        role = UnitRole(entry.get("role", "co"))
        if role is UnitRole.LEAD and task.lead is not None:
            role = UnitRole.CO
        confirmed = bool(entry.get("confirmed")) and role is UnitRole.LEAD
        present = next((tu for tu in task.units if tu.unit_id == unit.id), None)
        if present is not None:
            if role is UnitRole.LEAD:  # the document's lead, listed again as a co-unit
                present.role, present.is_confirmed, present.position = role, confirmed, 0
        else:
            position = 0 if role is UnitRole.LEAD else len(task.units) + 1
            task.units.append(TaskUnit(unit=unit, role=role, position=position, is_confirmed=confirmed))
        for number, tu in enumerate(sorted(task.units, key=lambda tu: (tu.role is not UnitRole.LEAD, tu.position)),
                                    start=1):
            tu.position = number
    session().flush()
    audit.record(actor, "plan.resolve_unit", obj=plan,
                 detail={"name": name, "unit": unit.canonical_name, "created": create,
                         "tasks": [t.number for t in tasks]})
    return unit


def update_draft_plan(actor: User, plan: Plan, *, title: Any, document_number: Any, issuing_office: Any,
                      issued_on: Any, period_start: Any, period_end: Any, frequency: Any) -> Plan:
    """The plan's own fields, on a draft."""
    authorize(actor, "plan.manage", plan)
    if not plan.is_draft:
        raise ValidationError("计划已发布,文号和期限不能再改", field_errors={"title": "计划已发布"})
    before = {"title": plan.title, "document_number": plan.document_number}
    plan.title = _text(title, "名称", "title", max_length=255)
    number = _text(document_number, "文号", "document_number", max_length=64)
    if number != plan.document_number and session().scalar(
        select(Plan.id).where(Plan.document_number == number, Plan.id != plan.id)
    ) is not None:
        raise ValidationError(f"文号 {number} 已被另一计划使用", field_errors={"document_number": "文号已存在"})
    plan.document_number = number
    plan.issuing_office = _text(issuing_office, "印发单位", "issuing_office", max_length=120, required=False)
    plan.issued_on = _date(issued_on, "印发日期", "issued_on")
    start = _date(period_start, "起始日期", "period_start", required=True)
    end = _date(period_end, "截止日期", "period_end", required=True)
    assert start is not None and end is not None
    if end < start:
        raise ValidationError("截止日期不能早于起始日期", field_errors={"period_end": "早于起始日期"})
    plan.period_start, plan.period_end = start, end
    try:
        plan.reporting_frequency = ReportingFrequency(frequency)
    except ValueError:
        raise ValidationError("报送周期应为按月、按季度或按半年", field_errors={"frequency": "无效的报送周期"}) from None
    rebuild_periods(plan)
    audit.record(actor, "plan.edit_draft", obj=plan, detail={"before": before, "after": {
        "title": plan.title, "document_number": plan.document_number}})
    return plan
