"""Fixtures for fault tests: a contribution in draft, ready to be submitted
by its co-unit's liaison, and helpers to look at what is stored."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.models import Report, ReportVersion, Task, User
from supervise.services import reports as report_service
from supervise.services.users import issue_api_token


@pytest.fixture
def draft(plan, make_user):
    """(co-unit liaison, their API token, the id of their draft contribution
    to task 1 for 2025Q2)."""
    task = next(t for t in plan.tasks if t.number == 1)
    liaison = make_user("liaison", unit="省科技厅")
    with unit_of_work():
        user = session().get(User, liaison.id)
        report = report_service.create_report(user, session().get(Task, task.id), "2025Q2", text="省科技厅:新增 120 家")
        token = issue_api_token(user, label="faults")
    return liaison, token, report.id


def versions_of(report_id: int) -> int:
    session().rollback()
    return session().scalar(select(func.count()).select_from(ReportVersion).where(ReportVersion.report_id == report_id))


def report_state(report_id: int) -> str:
    session().rollback()
    session().expire_all()
    return session().get(Report, report_id).state.value


# The reminders' fixtures (the 2025 calendar, a small plan, the people who
# get reminders), reused by the scheduler faults.
from tests.reminders.conftest import make_person, people, small_plan, workdays  # noqa: E402,F401
