"""Working days of the Chinese statutory calendar.

Every deadline calculation goes through this module. A day is a working day
if the calendar table says so; days it does not list follow the week
(Monday–Friday). The table holds public holidays that fall on weekdays and
weekend days made into working days (调休), so an admin can add next year's
days as data when the State Council publishes them.
"""
from __future__ import annotations

import bisect
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models.calendar import CalendarDay


class WorkdayCalendar:
    """The calendar loaded once (a few hundred rows) and asked many times."""

    def __init__(self, overrides: dict[date, bool] | None = None):
        self.overrides = overrides or {}
        # Days where the calendar differs from the week, sorted, with +1 for a
        # weekend day worked and -1 for a weekday off: counting working days
        # over years is then arithmetic plus a bisect, not a walk day by day.
        self._corrections = sorted(
            (day, 1 if is_workday else -1)
            for day, is_workday in self.overrides.items()
            if is_workday != (day.weekday() < 5)
        )
        self._correction_days = [day for day, _ in self._corrections]

    @classmethod
    def load(cls, session: Session) -> WorkdayCalendar:
        rows = session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
        return cls({day: is_workday for day, is_workday in rows})

    def is_workday(self, day: date) -> bool:
        override = self.overrides.get(day)
        if override is not None:
            return override
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (n > 0), or before it (n < 0);
        n == 0 gives `start` itself if it is a working day, else the next one."""
        day = start
        if n == 0:
            while not self.is_workday(day):
                day += timedelta(days=1)
            return day
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days `end` is after
        `start`; negative if `end` comes first."""
        if end == start:
            return 0
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        weeks, rest = divmod((end - start).days, 7)
        count = weeks * 5
        day = start + timedelta(days=weeks * 7)
        for _ in range(rest):
            day += timedelta(days=1)
            if day.weekday() < 5:
                count += 1
        lo = bisect.bisect_right(self._correction_days, start)
        hi = bisect.bisect_right(self._correction_days, end)
        count += sum(delta for _, delta in self._corrections[lo:hi])
        return sign * count


def report_due_date(calendar: WorkdayCalendar, period_end: date, working_days_after: int) -> date:
    """When a report for a period ending on `period_end` is due: the N-th
    working day after the period ends (default 5)."""
    return calendar.add_working_days(period_end, working_days_after)


def working_days_overdue(due_on: date, today: date, calendar: WorkdayCalendar) -> int:
    """How many working days `today` is past `due_on` (0 if not past)."""
    return max(calendar.working_days_between(due_on, today), 0) if today > due_on else 0
