"""The reminder rules of a plan: the defaults, overridden per plan by
`Plan.reminder_rules`. The traffic light of an item comes from the same
numbers (`lights.light_for` reads `notice_working_days`), so the page and
the reminder never disagree."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from ..errors import ValidationError
from ..models import Plan
from .workdays import WorkdayCalendar, working_days_overdue


@dataclass(frozen=True)
class ReminderRules:
    # A notice this many working days before an item is due (and the light turns yellow).
    notice_working_days: int = 3
    # Once overdue, a reminder to the unit's liaisons every N working days.
    overdue_every_working_days: int = 2
    # Escalation to the unit's leaders and the coordinators from N working
    # days overdue, repeated every M working days while the delay grows.
    escalate_after_working_days: int = 5
    escalate_every_working_days: int = 5
    # A returned item not resubmitted within N working days is chased, then every M.
    returned_chase_after_working_days: int = 3
    returned_every_working_days: int = 2
    # Past this many working days overdue an item is no longer chased (it
    # stays red and in the quarterly report), so that an old plan imported
    # late does not flood every unit.
    chase_limit_working_days: int = 60

    def timing(self, due_on: date, today: date, calendar: WorkdayCalendar) -> list[tuple[str, int]]:
        """The (rule, step) pairs that apply today to an item due on `due_on`
        and not done. Only the current step of each rule: after days without
        a scan the first scan sends what is relevant now, not every missed one."""
        if today < due_on:
            if calendar.working_days_between(today, due_on) <= self.notice_working_days:
                return [("due_soon", 0)]
            return []
        if today == due_on:
            return [("due_today", 0)]
        overdue = working_days_overdue(due_on, today, calendar)
        if overdue < 1 or overdue > self.chase_limit_working_days:
            return []
        result = [("overdue", (overdue - 1) // self.overdue_every_working_days)]
        if overdue >= self.escalate_after_working_days:
            result.append(
                ("escalation", (overdue - self.escalate_after_working_days) // self.escalate_every_working_days)
            )
        return result

    def returned_step(self, returned_on: date, today: date, calendar: WorkdayCalendar) -> int | None:
        waited = calendar.working_days_between(returned_on, today)
        if waited < self.returned_chase_after_working_days or waited > self.chase_limit_working_days:
            return None
        return (waited - self.returned_chase_after_working_days) // self.returned_every_working_days


DEFAULT_RULES = ReminderRules()

RULE_LABELS = {
    "notice_working_days": "到期前提醒(工作日)",
    "overdue_every_working_days": "逾期后每隔几个工作日催办",
    "escalate_after_working_days": "逾期几个工作日后提级督办",
    "escalate_every_working_days": "提级督办每隔几个工作日重复",
    "returned_chase_after_working_days": "退回后几个工作日未重报即催办",
    "returned_every_working_days": "退回催办每隔几个工作日重复",
    "chase_limit_working_days": "逾期超过几个工作日后不再催办",
}


def rules_for(plan: Plan | None) -> ReminderRules:
    overrides = (plan.reminder_rules if plan is not None else None) or {}
    if not overrides:
        return DEFAULT_RULES  # frozen: shared, not copied (a light is asked for each line of a list)
    known = {f.name for f in fields(ReminderRules)}
    return replace(DEFAULT_RULES, **{k: int(v) for k, v in overrides.items() if k in known})


def validate_rules(values: dict[str, Any]) -> dict[str, int]:
    """Check user-given overrides; the result holds only what differs from the defaults."""
    known = {f.name for f in fields(ReminderRules)}
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    for key, raw in values.items():
        if key not in known:
            errors[key] = "未知的规则项"
            continue
        try:
            value = int(str(raw).strip())
        except ValueError:
            errors[key] = "应为整数"
            continue
        low = 0 if key == "notice_working_days" else 1
        if not low <= value <= 250:
            errors[key] = f"应在 {low} 到 250 之间"
            continue
        if value != getattr(DEFAULT_RULES, key):
            clean[key] = value
    if errors:
        first = next(iter(errors))
        raise ValidationError(f"{RULE_LABELS.get(first, first)}:{errors[first]}", field_errors=errors)
    return clean


def rules_dict(rules: ReminderRules) -> dict[str, int]:
    return asdict(rules)
