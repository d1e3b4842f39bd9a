"""Progress reporting: contributions of co-units, the lead unit's report,
review by the coordinators, versions, evidence."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from .. import workflow
from ..db import session, utcnow
from ..serialize import decimal_text
from ..errors import Conflict, NotFound, PermissionDenied, ValidationError
from ..evidence_store import StoredFile
from ..models import (
    AuditEntry,
    Evidence,
    Milestone,
    Report,
    ReportInclusion,
    ReportingPeriod,
    ReportKind,
    ReportState,
    ReportValue,
    ReportVersion,
    Task,
    TaskState,
    UnitRole,
    User,
)
from ..domain.clock import today as local_today
from ..domain.periods import has_started, not_started_message, resolve_period
from ..domain.text import clean_text
from ..policy import DENIED, authorize, authorize_view_report, can, review_action, why_not
from . import audit, notifications

MAX_TEXT = 20000


# --- loading ---------------------------------------------------------------


def get_report(actor: User, report_id: int) -> Report:
    report = session().get(Report, report_id)
    if report is None:
        raise NotFound("未找到该报告,或您无权查看")
    authorize_view_report(actor, report)
    return report


def get_report_with_versions(actor: User, report_id: int) -> Report:
    """`get_report`, its submitted versions loaded with who submitted each
    (one statement whatever their number and submitters), for the pages
    that show versions."""
    report = get_report(actor, report_id)
    session().scalars(select(Report).where(Report.id == report.id).options(
        selectinload(Report.versions).options(joinedload(ReportVersion.submitted_by).lazyload(User.role_grants)),
    )).all()
    return report


def _check_version(report: Report, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != report.version:
        raise Conflict("该报告已被他人修改(版本已变化),请刷新后再操作")


# --- values ----------------------------------------------------------------


def parse_values(task: Task, values: dict[Any, Any] | None) -> dict[int, Decimal]:
    """{target_id: number} for the task's own targets; a clear error otherwise."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValidationError("指标数值格式不正确", field_errors={"values": "应为 {指标编号: 数值}"})
    target_ids = {t.id for t in task.targets}
    parsed: dict[int, Decimal] = {}
    for key, raw in values.items():
        try:
            target_id = int(key)
        except (TypeError, ValueError):
            raise ValidationError(f"指标编号“{key}”无效", field_errors={"values": "指标编号无效"}) from None
        if target_id not in target_ids:
            raise ValidationError(f"指标 {target_id} 不属于该任务", field_errors={f"value_{target_id}": "不属于该任务"})
        if raw is None or raw == "":
            continue
        if isinstance(raw, bool):
            raise ValidationError("指标数值必须是数字", field_errors={f"value_{target_id}": "必须是数字"})
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(f"指标数值“{raw}”不是数字", field_errors={f"value_{target_id}": "必须是数字"}) from None
        if not number.is_finite() or number < 0 or number >= Decimal("1e14"):
            raise ValidationError("指标数值必须是不小于 0 的有限数", field_errors={f"value_{target_id}": "数值超出范围"})
        parsed[target_id] = number.quantize(Decimal("0.0001"))
    return parsed


def _set_values(report: Report, values: dict[int, Decimal]) -> None:
    existing = {v.target_id: v for v in report.values}
    for target_id, number in values.items():
        if target_id in existing:
            existing[target_id].value = number
        else:
            report.values.append(ReportValue(target_id=target_id, value=number))


def _check_text(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ValidationError("进展情况必须是文字", field_errors={"text": "必须是文字"})
    text = clean_text(text).strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(f"进展情况不能超过 {MAX_TEXT} 字", field_errors={"text": "内容过长"})
    return text


# --- filing ----------------------------------------------------------------


def _check_started(period: ReportingPeriod, today: date | None) -> None:
    if not has_started(period, today or local_today()):
        raise ValidationError(not_started_message(period), field_errors={"period": "该期次尚未开始"})


def create_report(actor: User, task: Task, period_code: str, *, text: Any = "", values: Any = None,
                  today: date | None = None) -> Report:
    """Start the caller's unit's report for a task and period: the lead unit's
    report if the unit leads the task, otherwise a contribution. Only for a
    period that has begun (`today` defaults to the one today())."""
    authorize(actor, "report.file", task)
    period = resolve_period(session(), task.plan, period_code)
    _check_started(period, today)
    if task.state in (TaskState.CLOSED, TaskState.SUSPENDED):
        raise ValidationError(f"任务处于“{task.state.label}”状态,不需要报送")
    existing = session().scalar(
        select(Report).where(Report.task_id == task.id, Report.period_id == period.id, Report.unit_id == actor.unit_id)
    )
    if existing is not None:
        raise Conflict(f"本单位 {period.label} 的报送已存在(编号 {existing.id}),请直接修改")
    task_unit = next(tu for tu in task.units if tu.unit_id == actor.unit_id)
    kind = ReportKind.LEAD_REPORT if task_unit.role is UnitRole.LEAD else ReportKind.CONTRIBUTION
    report = Report(
        task=task, period=period, unit_id=actor.unit_id, kind=kind, text=_check_text(text), created_by_id=actor.id
    )
    _set_values(report, parse_values(task, values))
    session().add(report)
    session().flush()
    audit.record(actor, f"{workflow.machine_for(report).name}.create", obj=report, task_id=task.id,
                 to_state=report.state.value, detail={"period": period.code})
    return report


def update_report(
    actor: User, report: Report, *, text: Any = None, values: Any = None, expected_version: int | None = None
) -> Report:
    authorize(actor, "report.file", report)
    _check_version(report, expected_version)
    workflow.next_state(report, "edit")  # refuses edits of submitted or approved reports
    if text is not None:
        report.text = _check_text(text)
    _set_values(report, parse_values(report.task, values))
    report.updated_at = utcnow()
    session().flush()
    # Who edited a report is on record: they may not decide on it (maker-checker).
    audit.record(actor, f"{workflow.machine_for(report).name}.edit", obj=report, task_id=report.task_id,
                 detail={"text": text is not None, "values": sorted(str(k) for k in (values or {}))})
    return report


def set_inclusions(actor: User, report: Report, contribution_ids: list[int], *, expected_version: int | None = None) -> None:
    """The contributions the lead's report cites and includes."""
    authorize(actor, "report.file", report)
    if report.kind is not ReportKind.LEAD_REPORT:
        raise ValidationError("只有牵头单位的报告可以引用配合单位的报送")
    _check_version(report, expected_version)
    workflow.next_state(report, "edit")
    wanted = set(int(i) for i in contribution_ids)
    valid = {
        c.id
        for c in session().scalars(
            select(Report).where(
                Report.id.in_(wanted), Report.task_id == report.task_id, Report.period_id == report.period_id,
                Report.kind == ReportKind.CONTRIBUTION, Report.state.in_([ReportState.SUBMITTED, ReportState.ACCEPTED]),
            )
        )
    }
    if wanted - valid:
        raise ValidationError("只能引用本任务本期已报送或已采纳的配合单位报送", field_errors={"include": "无效的报送"})
    current = {i.contribution_id: i for i in included_rows(report)}
    for cid in wanted - set(current):
        session().add(ReportInclusion(report_id=report.id, contribution_id=cid))
    for cid in set(current) - wanted:
        session().delete(current[cid])
    report.updated_at = utcnow()  # bumps the version: the report changed
    session().flush()
    if wanted != set(current):
        audit.record(actor, "report.cite", obj=report, task_id=report.task_id,
                     detail={"before": sorted(current), "after": sorted(wanted)})


def included_rows(report: Report) -> list[ReportInclusion]:
    return list(session().scalars(select(ReportInclusion).where(ReportInclusion.report_id == report.id)))


def included_contributions(report: Report) -> list[Report]:
    return list(
        session().scalars(
            select(Report)
            .join(ReportInclusion, ReportInclusion.contribution_id == Report.id)
            .where(ReportInclusion.report_id == report.id)
            .order_by(Report.id)
        )
    )


@dataclass(frozen=True)
class Suggestion:
    """What co-units reported for one target, and their sum: offered to the
    lead as a suggested figure (the lead decides what to report)."""

    parts: list[tuple[str, Decimal]]
    total: Decimal


def suggested_values(report: Report, contributions: list[Report]) -> dict[int, Suggestion]:
    """{target_id: Suggestion} from the given contributions (the ones the lead
    cites, or else the accepted ones) for the lead's report."""
    target_ids = {t.id for t in report.task.targets}
    found: dict[int, list[tuple[str, Decimal]]] = {}
    for c in contributions:
        for v in c.values:
            if v.target_id in target_ids and v.value is not None:
                found.setdefault(v.target_id, []).append((c.unit.short_name, v.value))
    return {tid: Suggestion(parts, sum((n for _, n in parts), Decimal(0))) for tid, parts in found.items()}


def lead_report_for(contribution: Report) -> Report | None:
    """The lead unit's report for the contribution's task and period, if started."""
    return session().scalar(
        select(Report).where(Report.task_id == contribution.task_id, Report.period_id == contribution.period_id,
                             Report.kind == ReportKind.LEAD_REPORT)
    )


def _snapshot(report: Report) -> dict[str, Any]:
    return {
        "values": {str(v.target_id): decimal_text(v.value) for v in sorted(report.values, key=lambda v: v.target_id)},
        "evidence": [e.id for e in report.evidence],
        "included": [c.id for c in included_contributions(report)] if report.kind is ReportKind.LEAD_REPORT else [],
    }


def submit_report(actor: User, report: Report, *, expected_version: int | None = None,
                  today: date | None = None) -> Report:
    authorize(actor, "report.file", report)
    _check_version(report, expected_version)
    _check_started(report.period, today)
    if not report.text.strip():
        raise ValidationError("请填写进展情况后再报送", field_errors={"text": "请填写进展情况"})
    resubmission = report.state is ReportState.RETURNED
    workflow.transition(report, "submit", actor)
    now = utcnow()
    report.submitted_at = now
    report.first_submitted_at = report.first_submitted_at or now
    report.return_reason = None if not resubmission else report.return_reason
    number = len(report.versions) + 1
    report.versions.append(
        ReportVersion(number=number, text=report.text, snapshot=_snapshot(report), submitted_by_id=actor.id, submitted_at=now)
    )
    task = report.task
    if task.state is TaskState.NOT_STARTED:
        workflow.transition(task, "start", actor, detail={"by_report": report.id})
    session().flush()
    link = f"/reports/{report.id}"
    notifications.mark_handled(link, notifications.WAITING_FOR_REVISION)  # revised and sent again
    label = f"任务{task.number}“{task.title}”{report.period.label}"
    if report.kind is ReportKind.LEAD_REPORT:
        notifications.notify(
            notifications.coordinators(), "report.submitted",
            f"{report.unit.short_name} {'重新' if resubmission else ''}报送了{label}的进展情况,待审核",
            link=link, task_id=task.id, exclude=actor,
        )
    else:
        lead = task.lead
        if lead is not None:
            notifications.notify(
                notifications.liaisons_of(lead.unit_id), "contribution.submitted",
                f"配合单位 {report.unit.short_name} 报送了{label}的材料,请牵头单位审阅",
                link=link, task_id=task.id, exclude=actor,
            )
    return report


# --- review ------------------------------------------------------------------


def _authorize_review(actor: User, report: Report, action: str) -> None:
    reason = why_not(actor, review_action(report, action), report)
    if reason == DENIED and report.kind is ReportKind.CONTRIBUTION and action in ("accept", "return"):
        reason = f"只有牵头单位的联络员可以{'采纳' if action == 'accept' else '退回'}配合单位的报送"
    if reason is not None:
        raise PermissionDenied(reason)


def accept_contribution(actor: User, report: Report, *, expected_version: int | None = None) -> Report:
    _authorize_review(actor, report, "accept")
    _check_version(report, expected_version)
    workflow.transition(report, "accept", actor)
    report.decided_at, report.decided_by_id = utcnow(), actor.id
    session().flush()
    notifications.mark_handled(f"/reports/{report.id}", notifications.WAITING_FOR_REVIEW)  # reviewed
    notifications.notify(
        notifications.liaisons_of(report.unit_id), "contribution.accepted",
        f"牵头单位已采纳您单位报送的任务{report.task.number} {report.period.label}材料",
        link=f"/reports/{report.id}", task_id=report.task_id,
    )
    return report


def approve_report(actor: User, report: Report, *, expected_version: int | None = None) -> Report:
    _authorize_review(actor, report, "approve")
    _check_version(report, expected_version)
    workflow.transition(report, "approve", actor)
    report.decided_at, report.decided_by_id = utcnow(), actor.id
    session().flush()
    notifications.mark_handled(f"/reports/{report.id}", notifications.WAITING_FOR_REVIEW)  # reviewed
    notifications.notify(
        notifications.liaisons_of(report.unit_id), "report.approved",
        f"任务{report.task.number} {report.period.label}的进展情况已审核通过",
        link=f"/reports/{report.id}", task_id=report.task_id,
    )
    return report


def return_report(actor: User, report: Report, reason: Any, *, expected_version: int | None = None) -> Report:
    """Send a report (coordinator) or a contribution (the lead) back with a reason."""
    _authorize_review(actor, report, "return")
    _check_version(report, expected_version)
    reason = _reason(reason)
    workflow.transition(report, "return", actor, reason=reason)
    report.return_reason = reason
    report.returned_at = utcnow()
    report.decided_at, report.decided_by_id = report.returned_at, actor.id
    session().flush()
    notifications.mark_handled(f"/reports/{report.id}", notifications.WAITING_FOR_REVIEW)  # reviewed
    notifications.notify(
        notifications.liaisons_of(report.unit_id), "report.returned",
        f"任务{report.task.number} {report.period.label}的报送被退回,请修改后重新报送",
        body=f"退回原因:{reason}", link=f"/reports/{report.id}", task_id=report.task_id,
    )
    return report


def reopen_report(actor: User, report: Report, reason: Any, *, expected_version: int | None = None) -> Report:
    """Unlock an approved report (coordinators only, with a reason)."""
    _authorize_review(actor, report, "reopen")
    _check_version(report, expected_version)
    reason = _reason(reason)
    workflow.transition(report, "reopen", actor, reason=reason)
    report.return_reason = reason
    report.returned_at = utcnow()
    session().flush()
    notifications.notify(
        notifications.liaisons_of(report.unit_id), "report.reopened",
        f"任务{report.task.number} {report.period.label}的报告已被重新打开,请修改后重新报送",
        body=f"原因:{reason}", link=f"/reports/{report.id}", task_id=report.task_id,
    )
    return report


def _reason(reason: Any) -> str:
    reason = clean_text(reason).strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError("请填写原因", field_errors={"reason": "请填写原因"})
    if len(reason) > 2000:
        raise ValidationError("原因不能超过 2000 字", field_errors={"reason": "内容过长"})
    return reason


# --- evidence ------------------------------------------------------------------


def attach_evidence(
    actor: User, target: Report | Milestone | Task, stored: StoredFile, *, expected_version: int | None = None
) -> Evidence:
    """Record an uploaded file (already in the store) against a report, a
    milestone or a task's request to close."""
    authorize(actor, "evidence.upload", target)
    if expected_version is not None and int(expected_version) != target.version:
        raise Conflict("该事项已被他人修改(版本已变化),请刷新后再上传")
    if isinstance(target, Report):
        workflow.next_state(target, "edit")  # only while the report can be edited
        evidence = Evidence(task_id=target.task_id, report=target, unit_id=target.unit_id)
        target.updated_at = utcnow()
    elif isinstance(target, Milestone):
        evidence = Evidence(task_id=target.task_id, milestone=target, unit_id=actor.unit_id)
    else:
        evidence = Evidence(task_id=target.id, unit_id=actor.unit_id)
    evidence.sha256 = stored.sha256
    evidence.size = stored.size
    evidence.content_type = stored.content_type
    evidence.original_name = stored.original_name
    evidence.uploaded_by_id = actor.id
    session().add(evidence)
    session().flush()
    audit.record(
        actor, "evidence.upload", obj=evidence, task_id=evidence.task_id,
        detail={"name": stored.original_name, "sha256": stored.sha256, "size": stored.size,
                "report_id": evidence.report_id, "milestone_id": evidence.milestone_id},
    )
    return evidence


def remove_evidence(actor: User, evidence: Evidence, *, expected_version: int | None = None) -> None:
    if evidence.report is None:
        raise ValidationError("只能删除报告草稿中的附件")
    authorize(actor, "evidence.upload", evidence.report)
    _check_version(evidence.report, expected_version)
    workflow.next_state(evidence.report, "edit")
    # A file that went out with a submitted version is part of the record:
    # that version must stay viewable as it was, file included.
    for version in evidence.report.versions:
        if evidence.id in version.snapshot.get("evidence", []):
            raise ValidationError(
                f"该附件已随第 {version.number} 版报送,作为记录保留,不能删除;如需更正,请上传新的附件并在说明中注明",
                field_errors={"file": "已报送的附件不能删除"},
            )
    audit.record(actor, "evidence.remove", obj=evidence, task_id=evidence.task_id,
                 detail={"name": evidence.original_name, "sha256": evidence.sha256, "report_id": evidence.report_id})
    report = evidence.report
    report.updated_at = utcnow()
    report.evidence.remove(evidence)  # keep the loaded collection true to what is stored
    session().delete(evidence)
    session().flush()


def get_evidence(actor: User, evidence_id: int) -> Evidence:
    evidence = session().get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound("未找到该附件,或您无权查看")
    if not can(actor, "evidence.download", evidence):
        raise NotFound("未找到该附件,或您无权查看")
    return evidence


def report_damaged_evidence(actor: User, evidence: Evidence, *, missing: bool) -> None:
    """A download found the stored file missing or its bytes changed: audit
    it every time, and tell the coordinators once per file."""
    action = "evidence.missing" if missing else "evidence.integrity_failed"
    already = session().scalar(
        select(AuditEntry.id).where(AuditEntry.action == action, AuditEntry.object_type == "evidence",
                                    AuditEntry.object_id == evidence.id).limit(1)
    )
    audit.record(actor, action, obj=evidence, task_id=evidence.task_id,
                 detail={"name": evidence.original_name, "sha256": evidence.sha256})
    if already is None:
        what = "已丢失" if missing else "内容与登记的哈希值不一致(可能已被篡改或损坏)"
        notifications.notify(
            notifications.coordinators(), action, f"佐证材料“{evidence.original_name}”{what}",
            body=f"附件编号 {evidence.id},SHA-256 {evidence.sha256};{actor.name}({actor.unit.short_name})下载时发现,已拒绝下载。"
                 "请联系系统管理员从备份恢复该文件。",
            task_id=evidence.task_id,
        )


def record_download(actor: User, evidence: Evidence) -> None:
    audit.record(actor, "evidence.download", obj=evidence, task_id=evidence.task_id,
                 detail={"name": evidence.original_name, "sha256": evidence.sha256})


# --- versions ------------------------------------------------------------------


def compare_versions(older: ReportVersion, newer: ReportVersion) -> dict[str, Any]:
    """What changed between two submitted versions: a line diff of the text
    and the values side by side."""
    diff = list(
        difflib.unified_diff(
            older.text.splitlines(), newer.text.splitlines(),
            fromfile=f"第{older.number}版", tofile=f"第{newer.number}版", lineterm="",
        )
    )
    old_values = older.snapshot.get("values", {})
    new_values = newer.snapshot.get("values", {})
    values = [
        {"target_id": int(tid), "old": old_values.get(tid), "new": new_values.get(tid),
         "changed": old_values.get(tid) != new_values.get(tid)}
        for tid in sorted(set(old_values) | set(new_values), key=int)
    ]
    return {"from": older.number, "to": newer.number, "text_diff": diff, "values": values,
            "text_changed": older.text != newer.text}


Segment = tuple[str, str]  # ("same" | "del" | "ins", text)


def _char_diff(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """Mark changed characters (Chinese has no spaces to split words on):
    lines are matched first, then the characters of the lines that differ."""
    left: list[Segment] = []
    right: list[Segment] = []

    def chars(a: str, b: str) -> None:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                left.append(("same", a[i1:i2]))
                right.append(("same", b[j1:j2]))
            else:
                if i2 > i1:
                    left.append(("del", a[i1:i2]))
                if j2 > j1:
                    right.append(("ins", b[j1:j2]))

    a_lines, b_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False).get_opcodes():
        a, b = "".join(a_lines[i1:i2]), "".join(b_lines[j1:j2])
        if op == "equal":
            left.append(("same", a))
            right.append(("same", b))
        else:
            chars(a, b)
    return left, right


@dataclass(frozen=True)
class SideBySide:
    """Two submitted versions of a report, for reading side by side."""

    older: ReportVersion
    newer: ReportVersion
    text_changed: bool
    old_text: list[Segment]
    new_text: list[Segment]
    values: list[dict[str, Any]]  # target, old, new, changed
    evidence_added: list[Evidence]
    evidence_removed: list[Evidence]
    evidence_kept: list[Evidence]
    cited_added: list[Report]
    cited_removed: list[Report]


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def compare_side_by_side(report: Report, older: ReportVersion, newer: ReportVersion) -> SideBySide:
    """What changed between two versions: the text with changed characters
    marked, the values that changed, and the files added or removed."""
    old_text, new_text = _char_diff(older.text or "", newer.text or "")
    targets = {t.id: t for t in report.task.targets}
    old_values, new_values = older.snapshot.get("values", {}), newer.snapshot.get("values", {})
    values = [
        {"target": targets.get(int(tid)), "old": _decimal_or_none(old_values.get(tid)),
         "new": _decimal_or_none(new_values.get(tid)),
         "changed": old_values.get(tid) != new_values.get(tid)}
        for tid in sorted(set(old_values) | set(new_values), key=int)
    ]
    old_ids, new_ids = list(older.snapshot.get("evidence", [])), list(newer.snapshot.get("evidence", []))
    files = {e.id: e for e in session().scalars(select(Evidence).where(Evidence.id.in_(set(old_ids) | set(new_ids))))}
    old_cited, new_cited = set(older.snapshot.get("included", [])), set(newer.snapshot.get("included", []))
    cited = {r.id: r for r in session().scalars(select(Report).where(Report.id.in_(old_cited | new_cited))
                                                .options(joinedload(Report.unit)))}
    return SideBySide(
        older=older, newer=newer, text_changed=(older.text or "") != (newer.text or ""),
        old_text=old_text, new_text=new_text, values=values,
        evidence_added=[files[i] for i in new_ids if i not in old_ids and i in files],
        evidence_removed=[files[i] for i in old_ids if i not in new_ids and i in files],
        evidence_kept=[files[i] for i in new_ids if i in old_ids and i in files],
        cited_added=[cited[i] for i in sorted(new_cited - old_cited) if i in cited],
        cited_removed=[cited[i] for i in sorted(old_cited - new_cited) if i in cited],
    )


def version_of(report: Report, number: int) -> ReportVersion:
    for version in report.versions:
        if version.number == number:
            return version
    raise NotFound(f"该报告没有第 {number} 版")


def as_local_date(moment: datetime):
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date()


