"""Plain-data views of the model, for `plan show --json` and the API."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from .models import FiscalMeasure, Plan, Target, Task, TaskUnit


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
