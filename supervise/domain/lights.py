"""Traffic lights (红黄绿灯): one rule for every place a status is shown --
the task page, 我的待办, the API, the dashboard and the 通报.

green: done, or not yet due within the warning window;
yellow: due within the plan's notice window (its reminder rules'
        `notice_working_days`, default 3 working days), not done;
red: past due and not done.

The window is the plan's own, so that a page, a report and the reminder that
says "due soon" never disagree.
"""
from __future__ import annotations

import enum
from datetime import date

from ..models import Plan
from .reminder_rules import rules_for
from .workdays import WorkdayCalendar


class Light(enum.Enum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}[self.value]


LIGHT_ORDER = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}


def light_for(plan: Plan | None, due_on: date | None, today: date, calendar: WorkdayCalendar, *, done: bool) -> Light:
    """The light of an item of `plan` due on `due_on`, as of `today`."""
    if done or due_on is None:
        return Light.GREEN
    if today > due_on:
        return Light.RED
    if calendar.working_days_between(today, due_on) <= rules_for(plan).notice_working_days:
        return Light.YELLOW
    return Light.GREEN


def worst(lights) -> Light:
    return max(lights, key=LIGHT_ORDER.__getitem__, default=Light.GREEN)
