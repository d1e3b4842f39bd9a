"""The reminder rules applied by the scan, on real 2025 dates: who is told
what on which day, each (recipient, item, rule, step) once, the current step
only after a pause, and nothing for a rolled-back scan."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.domain.lights import Light, light_for
from supervise.models import (
    Channel, Delivery, Milestone, MilestoneState, Notification, Report, ReportKind, ReportState, ReportingPeriod,
)
from supervise.domain.reminder_rules import rules_for
from supervise.reminders.scan import run_scan

from .conftest import task_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def scan(day: date) -> set[tuple[str, str, int]]:
    """Run the scan for `day`; the new (login, rule, step) in-app reminders."""
    with unit_of_work():
        result = run_scan(day)
    return {(l.recipient.login, l.rule, l.step) for l in result.new_lines if l.channel is Channel.IN_APP}


def period(plan, code: str) -> ReportingPeriod:
    return session().scalar(select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id, ReportingPeriod.code == code))


def file_report(plan, task_number: int, unit_user, code: str, state: ReportState, **kw) -> Report:
    task = task_of(plan, task_number)
    kind = ReportKind.LEAD_REPORT if task.lead.unit_id == unit_user.unit_id else ReportKind.CONTRIBUTION
    with unit_of_work() as sess:
        report = Report(task_id=task.id, period_id=period(plan, code).id, unit_id=unit_user.unit_id, kind=kind,
                        state=state, created_by_id=unit_user.id, **kw)
        sess.add(report)
    return report


@pytest.fixture
def quiet(small_plan, people):
    """Only task 1 owes reports: task 2 (省商务厅) has filed its 2025Q3 report."""
    file_report(small_plan, 2, people.coordinator, "2025Q3", ReportState.APPROVED)
    return small_plan


def test_the_schedule_of_2025q3_around_national_day(quiet, people):
    assert period(quiet, "2025Q3").due_on == date(2025, 10, 14)
    lead, co = "lead_liaison", "hz_liaison"
    # 9 October: the lead report is 4 working days off (10, 11 [Sat, worked], 13, 14): no notice
    # yet; the contribution is due on the make-up Saturday, 2 working days off.
    assert scan(date(2025, 10, 9)) == {(co, "due_soon", 0)}
    assert scan(date(2025, 10, 10)) == {(lead, "due_soon", 0)}
    assert scan(date(2025, 10, 11)) == {(co, "due_today", 0)}
    # Sunday 12 October is a day off: nobody is reminded.
    assert scan(date(2025, 10, 12)) == set()
    # Monday 13: the contribution was not in two working days before the
    # lead's report is due: the co-unit is chased and the lead told.
    assert scan(date(2025, 10, 13)) == {(co, "contribution_late", 0), (lead, "contribution_late", 0)}
    assert scan(date(2025, 10, 14)) == {(lead, "due_today", 0)}
    assert scan(date(2025, 10, 15)) == {(lead, "overdue", 0), (co, "contribution_late", 1)}
    # Every two working days, not every day.
    assert scan(date(2025, 10, 16)) == set()
    # The contribution is 5 working days overdue (13, 14, 15, 16, 17): the
    # co-unit's leader and the coordinators are told.
    assert scan(date(2025, 10, 17)) == {
        (lead, "overdue", 1), (co, "contribution_late", 2), ("hz_leader", "escalation", 0), ("coord", "escalation", 0),
    }
    # 21 October: the lead report is 5 working days overdue: its unit's
    # leader and the coordinators are told.
    new = scan(date(2025, 10, 21))
    assert ("jxt_leader", "escalation", 0) in new and ("coord", "escalation", 0) in new
    assert (lead, "overdue", 2) in new


def test_the_escalation_of_the_contribution_came_on_its_fifth_working_day_overdue(quiet, people):
    # Contribution due Saturday 11 October: 13 (1), 14 (2), 15 (3), 16 (4), 17 (5).
    new = scan(date(2025, 10, 17))
    assert ("hz_leader", "escalation", 0) in new and ("coord", "escalation", 0) in new
    assert not any(rule == "escalation" for _, rule, _ in scan(date(2025, 10, 20)))


def test_a_milestone_across_the_spring_festival(small_plan, people):
    task = task_of(small_plan, 1)
    with unit_of_work() as sess:
        sess.add(Milestone(task_id=task.id, title="出台梯度培育方案", due_on=date(2025, 2, 5),
                           state=MilestoneState.CONFIRMED, proposed_by_id=people.lead.id))
    lead = "lead_liaison"
    # Three working days before 5 February: 26 January (Sunday, worked), 27, then the holiday, then 5.
    assert scan(date(2025, 1, 23)) == set()
    assert scan(date(2025, 1, 24)) == {(lead, "due_soon", 0)}
    assert scan(date(2025, 1, 29)) == set()  # the holiday
    assert scan(date(2025, 2, 5)) == {(lead, "due_today", 0)}
    assert scan(date(2025, 2, 6)) == {(lead, "overdue", 0)}
    assert scan(date(2025, 2, 8)) == {(lead, "overdue", 1)}  # a Saturday, worked
    new = scan(date(2025, 2, 12))  # 6, 7, 8, 10, 11, 12: 6 working days
    assert ("jxt_leader", "escalation", 0) in new and ("coord", "escalation", 0) in new
    # Done claimed: no more reminders.
    with unit_of_work():
        session().get(Milestone, 1).state = MilestoneState.DONE_CLAIMED
    assert scan(date(2025, 2, 14)) == set()


def test_after_days_without_a_scan_only_the_current_step_is_sent(quiet, people):
    # Nothing ran in October until the 21st.
    new = scan(date(2025, 10, 21))
    assert new == {
        ("lead_liaison", "overdue", 2), ("jxt_leader", "escalation", 0), ("coord", "escalation", 0),
        # The contribution is 7 working days overdue; the lead is told once.
        ("hz_liaison", "contribution_late", 3), ("lead_liaison", "contribution_late", 0),
        ("hz_leader", "escalation", 0),
    }


def test_running_twice_sends_nothing_twice(quiet, people):
    first = scan(date(2025, 10, 15))
    assert first
    assert scan(date(2025, 10, 15)) == set()
    keys = session().execute(
        select(Delivery.recipient_id, Delivery.item_key, Delivery.rule, Delivery.step, Delivery.channel)
    ).all()
    assert len(keys) == len(set(keys))
    # One in-app notification per in-app delivery.
    in_app = session().scalar(select(func.count()).select_from(Delivery).where(Delivery.channel == Channel.IN_APP))
    assert session().scalar(select(func.count()).select_from(Notification)) == in_app


def test_done_items_are_not_chased(quiet, people):
    file_report(quiet, 1, people.lead, "2025Q3", ReportState.SUBMITTED)
    file_report(quiet, 1, people.co, "2025Q3", ReportState.ACCEPTED)
    assert scan(date(2025, 10, 21)) == set()


def test_a_returned_report_is_chased_after_three_working_days(quiet, people):
    returned_at = datetime(2025, 10, 13, 10, 0, tzinfo=SHANGHAI)
    file_report(quiet, 1, people.co, "2025Q3", ReportState.RETURNED, returned_at=returned_at)
    file_report(quiet, 1, people.lead, "2025Q3", ReportState.SUBMITTED)
    assert scan(date(2025, 10, 15)) == set()  # 2 working days
    assert scan(date(2025, 10, 16)) == {("hz_liaison", "returned", 0)}
    assert scan(date(2025, 10, 17)) == set()
    assert scan(date(2025, 10, 20)) == {("hz_liaison", "returned", 1)}
    session().rollback()
    note = session().scalar(select(Notification).where(Notification.kind == "reminder.returned"))
    assert "退回" in note.title and "2025年10月13日" in note.body


def test_rules_are_configurable_per_plan_and_drive_the_light(quiet, people, workdays):
    from supervise.reminders.service import set_plan_rules

    assert light_for(quiet, date(2025, 10, 14), date(2025, 10, 9), workdays, done=False) is Light.GREEN
    assert light_for(quiet, date(2025, 10, 14), date(2025, 10, 10), workdays, done=False) is Light.YELLOW
    assert light_for(quiet, date(2025, 10, 14), date(2025, 10, 15), workdays, done=False) is Light.RED
    assert light_for(quiet, date(2025, 10, 14), date(2025, 10, 15), workdays, done=True) is Light.GREEN
    with unit_of_work():
        set_plan_rules(people.coordinator, quiet, {"notice_working_days": 4, "overdue_every_working_days": 1})
    assert rules_for(quiet).notice_working_days == 4
    assert light_for(quiet, date(2025, 10, 14), date(2025, 10, 9), workdays, done=False) is Light.YELLOW
    assert ("lead_liaison", "due_soon", 0) in scan(date(2025, 10, 9))
    scan(date(2025, 10, 15))
    assert ("lead_liaison", "overdue", 1) in scan(date(2025, 10, 16))  # every working day now


def test_bad_rules_are_refused_and_change_nothing(quiet, people):
    from supervise.errors import PermissionDenied, ValidationError
    from supervise.reminders.service import set_plan_rules

    with pytest.raises(ValidationError, match="逾期后每隔几个工作日催办"):
        with unit_of_work():
            set_plan_rules(people.coordinator, quiet, {"overdue_every_working_days": 0})
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            set_plan_rules(people.lead, quiet, {"notice_working_days": 5})
    session().rollback()
    assert rules_for(quiet).overdue_every_working_days == 2 and quiet.reminder_rules is None


def test_dry_run_records_nothing(app, quiet, people):
    result = app.test_cli_runner().invoke(args=["remind", "--as-of", "2025-10-15", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "将发送 overdue#0 [站内] → " in result.output and "lead_liaison" in result.output
    session().rollback()
    assert session().scalar(select(func.count()).select_from(Delivery)) == 0
    result = app.test_cli_runner().invoke(args=["remind", "--as-of", "2025-10-15"])
    assert "已发送 overdue#0" in result.output and "新发送 3 条" in result.output
    result = app.test_cli_runner().invoke(args=["remind", "--as-of", "2025-10-15"])
    assert "新发送 0 条,已发送过 3 条" in result.output
    assert app.test_cli_runner().invoke(args=["remind", "--as-of", "2025-10-32"]).exit_code != 0


def test_a_rolled_back_scan_notifies_nobody(quiet, people, smtp_server):
    with pytest.raises(RuntimeError):
        with unit_of_work():
            result = run_scan(date(2025, 10, 15))
            assert result.outbox  # e-mails were queued ...
            raise RuntimeError("something later in the same transaction failed")
    session().rollback()
    assert session().scalar(select(func.count()).select_from(Delivery)) == 0
    assert session().scalar(select(func.count()).select_from(Notification)) == 0
    import time

    time.sleep(0.3)
    assert smtp_server.messages == []  # ... and never sent
