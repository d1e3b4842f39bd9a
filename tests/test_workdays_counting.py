"""Counting working days by arithmetic gives what walking day by day gives."""
from __future__ import annotations

import random
from datetime import date, timedelta

from supervise.domain.workdays import WorkdayCalendar


def _walk(calendar: WorkdayCalendar, start: date, end: date) -> int:
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += calendar.is_workday(day)
    return sign * count


def test_counting_matches_walking_day_by_day():
    rng = random.Random(5)
    base = date(2024, 1, 1)
    overrides = {}
    for _ in range(80):  # holidays on weekdays, worked weekends, and overrides that change nothing
        day = base + timedelta(days=rng.randint(0, 1500))
        overrides[day] = rng.random() < 0.5
    overrides[date(2025, 10, 1)] = False  # National Day, a Wednesday
    overrides[date(2025, 9, 28)] = True  # the Sunday worked before it
    calendar = WorkdayCalendar(overrides)
    for _ in range(3000):
        start = base + timedelta(days=rng.randint(-30, 1500))
        end = start + timedelta(days=rng.randint(-400, 400))
        assert calendar.working_days_between(start, end) == _walk(calendar, start, end), (start, end)
    # After Friday 26 September: Sunday 28 (worked), Monday 29, Tuesday 30, not
    # Wednesday 1 October (holiday), Thursday 2.
    assert calendar.working_days_between(date(2025, 9, 26), date(2025, 10, 2)) == 4
