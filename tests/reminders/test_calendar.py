"""The working-day calendar: filled from chinese-calendar, extended by an
admin for a year the package does not know, and the one source of every due
date. Real dates of 2025: the Spring Festival and National Day holidays and
their make-up working weekend days (调休)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.models import AuditEntry, CalendarDay, ReportingPeriod
from supervise.domain.workdays import WorkdayCalendar, working_days_overdue


def _due(plan, code: str) -> date:
    session().rollback()
    return session().scalar(
        select(ReportingPeriod.due_on).where(ReportingPeriod.plan_id == plan.id, ReportingPeriod.code == code)
    )


def test_2025_holidays_and_make_up_days_come_from_the_package(workdays):
    # National Day and Mid-Autumn: 1-8 October off, Sunday 28 September and
    # Saturday 11 October worked.
    assert not any(workdays.is_workday(date(2025, 10, d)) for d in range(1, 9))
    assert workdays.is_workday(date(2025, 9, 28)) and workdays.is_workday(date(2025, 10, 11))
    assert not workdays.is_workday(date(2025, 10, 12))
    # Spring Festival: 28 January to 4 February off, Sunday 26 January and Saturday 8 February worked.
    assert not any(workdays.is_workday(date(2025, 1, d)) for d in range(28, 32))
    assert not workdays.is_workday(date(2025, 2, 4))
    assert workdays.is_workday(date(2025, 1, 26)) and workdays.is_workday(date(2025, 2, 8))
    row = session().get(CalendarDay, date(2025, 10, 1))
    assert row.name == "国庆节" and row.source == "chinese_calendar"
    assert session().get(CalendarDay, date(2025, 10, 11)).name.endswith("调休上班")


def test_counting_working_days_across_the_holidays(workdays):
    # The 5th working day after 30 September 2025 is Tuesday 14 October
    # (9, 10, 11 [Saturday, worked], 13, 14).
    assert workdays.add_working_days(date(2025, 9, 30), 5) == date(2025, 10, 14)
    # Two working days before that is the make-up Saturday.
    assert workdays.add_working_days(date(2025, 10, 14), -2) == date(2025, 10, 11)
    # A milestone due 27 January 2025 is 1 working day overdue on 5 February
    # (the holiday week counts for nothing), 4 on Saturday 8 February.
    assert working_days_overdue(date(2025, 1, 27), date(2025, 2, 5), workdays) == 1
    assert working_days_overdue(date(2025, 1, 27), date(2025, 2, 8), workdays) == 4
    # Without the calendar the same count would be wrong.
    assert working_days_overdue(date(2025, 1, 27), date(2025, 2, 5), WorkdayCalendar()) == 7


def test_report_due_dates_follow_the_calendar_when_it_changes(plan, ctx):
    from supervise.services.calendar import sync_from_package

    # The plan was imported before the calendar held 2025: weekends only.
    assert _due(plan, "2025Q3") == date(2025, 10, 7)
    with unit_of_work():
        change = sync_from_package([2025])
    assert change.plans_rebuilt == 1
    assert _due(plan, "2025Q3") == date(2025, 10, 14)
    # 2024Q4 ends on 31 December; New Year's Day is off: 2, 3, 6, 7, 8 January.
    assert _due(plan, "2024Q4") == date(2025, 1, 8)


def test_cli_imports_a_year_the_package_does_not_know(app, plan, tmp_path):
    # 2027's National Day as the State Council might publish it.
    csv_file = tmp_path / "2027.csv"
    csv_file.write_text(
        "日期,类型,名称\n"
        + "".join(f"2027-10-0{d},休,国庆节\n" for d in range(1, 8))
        + "2027-09-26,班,国庆节调休上班\n2027-10-09,班,国庆节调休上班\n",
        encoding="utf-8",
    )
    before = _due(plan, "2027Q3")
    result = app.test_cli_runner().invoke(args=["calendar", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "已导入 2027 年共 9 天" in result.output
    # 30 September 2027 is a Thursday: 1 Oct (Fri) to 7 Oct off, 8 (Fri), 9 (Sat, worked), 11, 12, 13.
    assert before == date(2027, 10, 7)
    assert _due(plan, "2027Q3") == date(2027, 10, 13)
    assert session().scalar(select(AuditEntry.action).where(AuditEntry.action == "calendar.import"))
    show = app.test_cli_runner().invoke(args=["calendar", "show", "2027"])
    assert "2027-10-09 班 国庆节调休上班 (admin)" in show.output


def test_a_bad_file_is_refused_with_the_line_and_changes_nothing(app, workdays, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("2026-10-01,休,国庆节\n2026-10-02,放假吗,国庆节\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "import", str(bad)])
    assert result.exit_code != 0
    assert "第 2 行" in result.output and "休 或 班" in result.output
    session().rollback()
    # 2026 still as the package has it.
    assert session().get(CalendarDay, date(2026, 10, 1)).source == "chinese_calendar"


def test_sync_keeps_an_admins_correction(app, workdays, login_as):
    from supervise.services.calendar import sync_from_package

    client, _ = login_as("admin")
    response = client.post(
        "/admin/calendar/day", data={"day": "2025-12-31", "kind": "holiday", "name": "临时调整"}
    )
    assert response.status_code == 302
    with unit_of_work():
        sync_from_package([2025])
    row = session().get(CalendarDay, date(2025, 12, 31))
    assert row.is_workday is False and row.source == "admin"


def test_calendar_page_import_and_permissions(app, workdays, login_as):
    admin, _ = login_as("admin")
    html = admin.get("/admin/calendar?year=2025").get_data(as_text=True)
    assert "国庆节" in html and "调休上班" in html
    from io import BytesIO

    data = {"file": (BytesIO("2027-01-01,休,元旦\n".encode("utf-8")), "2027.csv")}
    response = admin.post("/admin/calendar/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert session().get(CalendarDay, date(2027, 1, 1)).name == "元旦"
    data = {"file": (BytesIO("2027-01-02,休\n2027-13-01,休\n".encode("utf-8")), "bad.csv")}
    response = admin.post("/admin/calendar/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and "第 2 行" in response.get_data(as_text=True)
    assert session().get(CalendarDay, date(2027, 1, 2)) is None
    for role in ("liaison", "coordinator", "auditor", "leader"):
        other, _ = login_as(role)
        assert other.get("/admin/calendar").status_code == 403
        assert other.post("/admin/calendar/day", data={"day": "2025-12-30", "kind": "holiday"}).status_code == 403
    assert session().get(CalendarDay, date(2025, 12, 30)) is None
