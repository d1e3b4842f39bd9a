"""Traffic lights (红黄绿灯): one rule for every place a status is shown.

green: done, or not yet due within the warning window;
yellow: due within `warn_working_days` working days (default 3), not done;
red: past due and not done.
"""
from __future__ import annotations

import enum
from datetime import date

from .workdays import WorkdayCalendar

DEFAULT_WARN_WORKING_DAYS = 3


class Light(enum.Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}[self.value]


def light_for(
    due_on: date | None,
    today: date,
    calendar: WorkdayCalendar,
    *,
    done: bool,
    warn_working_days: int = DEFAULT_WARN_WORKING_DAYS,
) -> Light:
    if done or due_on is None:
        return Light.GREEN
    if today > due_on:
        return Light.RED
    if calendar.working_days_between(today, due_on) <= warn_working_days:
        return Light.YELLOW
    return Light.GREEN


def working_days_overdue(due_on: date, today: date, calendar: WorkdayCalendar) -> int:
    """How many working days `today` is past `due_on` (0 if not past)."""
    return max(calendar.working_days_between(due_on, today), 0) if today > due_on else 0


def plan_light(plan, due_on: date | None, today: date, calendar: WorkdayCalendar, *, done: bool) -> Light:
    """The light of an item of `plan`, with the plan's own notice window (its
    reminder rules), so that a page and the reminder never disagree."""
    from .reminder_rules import rules_for

    return rules_for(plan).light(due_on, today, calendar, done=done)
