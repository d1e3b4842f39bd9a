"""Plain-data views of the model, for `plan show --json` and the API."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .models import (
    ApiToken,
    Evidence,
    ExtensionRequest,
    FiscalMeasure,
    Milestone,
    Plan,
    Report,
    ReportingPeriod,
    ReportKind,
    ReportVersion,
    Target,
    Task,
    TaskUnit,
    Unit,
    User,
)


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, without exponent or trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def target_dict(t: Target) -> dict[str, Any]:
    return {
        "id": t.id,
        "text": t.text,
        "subject": t.subject,
        "value": number(t.value),
        "measure": t.measure,
        "comparator": t.comparator,
        "kind": t.kind.value,
        "year": t.due_year,
        "baseline_year": t.baseline_year,
        "baseline_value": number(t.baseline_value),
        "threshold": t.threshold,
    }


def task_unit_dict(tu: TaskUnit) -> dict[str, Any]:
    return {
        "unit_id": tu.unit_id,
        "name": tu.unit.canonical_name,
        "short_name": tu.unit.short_name,
        "role": tu.role.value,
        "confirmed": tu.is_confirmed,
        "via": tu.via_collective,
    }


def task_dict(task: Task, *, with_text: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": task.id,
        "number": task.number,
        "title": task.title,
        "state": task.state.value,
        "deadline": task.deadline.isoformat() if task.deadline else None,
        "units": [task_unit_dict(tu) for tu in task.units],
        "targets": [target_dict(t) for t in task.targets],
    }
    if with_text:
        data["text"] = task.text
    return data


def measure_dict(m: FiscalMeasure) -> dict[str, Any]:
    return {
        "group": m.group_title,
        "group_number": m.group_number,
        "number": m.number,
        "title": m.title,
        "text": m.text,
        "cap_amount": number(m.cap_amount),
        "subsidy_rate": number(m.subsidy_rate),
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "document_number": plan.document_number,
        "title": plan.title,
        "status": plan.status.value,
        "first_period": plan.first_period,
        "issuing_office": plan.issuing_office,
        "issued_on": plan.issued_on.isoformat() if plan.issued_on else None,
        "period_start": plan.period_start.isoformat(),
        "period_end": plan.period_end.isoformat(),
        "notes": plan.notes,
        "targets": [target_dict(t) for t in plan.targets],
        "sections": [
            {"number": s.number, "title": s.title, "tasks": [task_dict(t) for t in s.tasks]} for s in plan.sections
        ],
        "measures": [measure_dict(m) for m in plan.measures],
    }


# --- progress reporting (the API's shapes) ------------------------------------


def iso(value: date | datetime | None) -> str | None:
    """Dates as YYYY-MM-DD; times as ISO 8601 with their UTC offset."""
    return value.isoformat() if value is not None else None


def unit_ref(unit: Unit) -> dict[str, Any]:
    return {"id": unit.id, "name": unit.canonical_name, "short_name": unit.short_name}


def user_ref(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "unit": user.unit.short_name}


def task_ref(task: Task) -> dict[str, Any]:
    return {"id": task.id, "number": task.number, "title": task.title}


def period_dict(period: ReportingPeriod) -> dict[str, Any]:
    return {
        "code": period.code,
        "label": period.label,
        "starts_on": iso(period.starts_on),
        "ends_on": iso(period.ends_on),
        "due_on": iso(period.due_on),
    }


def evidence_dict(evidence: Evidence) -> dict[str, Any]:
    return {
        "id": evidence.id,
        "name": evidence.original_name,
        "size": evidence.size,
        "content_type": evidence.content_type,
        "sha256": evidence.sha256,
        "task_id": evidence.task_id,
        "report_id": evidence.report_id,
        "milestone_id": evidence.milestone_id,
        "uploaded_at": iso(evidence.uploaded_at),
        "uploaded_by": user_ref(evidence.uploaded_by),
        "download_url": f"/api/v1/evidence/{evidence.id}",
    }


def report_summary_dict(report: Report) -> dict[str, Any]:
    """A report in a list: who, what, which state; no text."""
    return {
        "id": report.id,
        "kind": report.kind.value,
        "kind_label": report.kind.label,
        "state": report.state.value,
        "state_label": report.state.label,
        "task": task_ref(report.task),
        "period": report.period.code,
        "unit": unit_ref(report.unit),
        "version": report.version,
        "submitted_at": iso(report.submitted_at),
        "returned_at": iso(report.returned_at),
        "decided_at": iso(report.decided_at),
    }


def report_version_dict(version: ReportVersion, *, with_text: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": version.number,
        "submitted_at": iso(version.submitted_at),
        "submitted_by": user_ref(version.submitted_by),
    }
    if with_text:
        data["text"] = version.text
        data["values"] = {k: number(Decimal(v)) for k, v in version.snapshot.get("values", {}).items()}
        data["evidence"] = list(version.snapshot.get("evidence", []))
        data["included"] = list(version.snapshot.get("included", []))
    return data


def report_dict(report: Report, *, included: list[Report] | None = None) -> dict[str, Any]:
    """A report in full. `included`: the contributions a lead report cites."""
    data = report_summary_dict(report)
    data.update(
        {
            "text": report.text,
            "values": {str(v.target_id): number(v.value) for v in sorted(report.values, key=lambda v: v.target_id)},
            "return_reason": report.return_reason,
            "created_at": iso(report.created_at),
            "updated_at": iso(report.updated_at),
            "first_submitted_at": iso(report.first_submitted_at),
            "created_by": user_ref(report.created_by),
            "decided_by": user_ref(report.decided_by),
            "evidence": [evidence_dict(e) for e in report.evidence],
            "versions": [report_version_dict(v) for v in report.versions],
            "included": [c.id for c in included or []] if report.kind is ReportKind.LEAD_REPORT else [],
        }
    )
    return data


def milestone_dict(milestone: Milestone) -> dict[str, Any]:
    return {
        "id": milestone.id,
        "task_id": milestone.task_id,
        "title": milestone.title,
        "due_on": iso(milestone.due_on),
        "state": milestone.state.value,
        "state_label": milestone.state.label,
        "note": milestone.note,
        "reject_reason": milestone.reject_reason,
        "completed_at": iso(milestone.completed_at),
        "evidence": [evidence_dict(e) for e in milestone.evidence],
    }


def extension_dict(request: ExtensionRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "task_id": request.task_id,
        "state": request.state.value,
        "reason": request.reason,
        "old_deadline": iso(request.old_deadline),
        "new_deadline": iso(request.new_deadline),
        "created_at": iso(request.created_at),
        "decided_at": iso(request.decided_at),
        "decision_reason": request.decision_reason,
    }


def token_dict(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "label": token.label,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
        "state": token_state(token),
    }


def token_state(token: ApiToken) -> str:
    """active, expired or revoked."""
    from .db import utcnow

    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.expires_at > utcnow() else "expired"
