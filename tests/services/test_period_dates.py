"""Periods by date: a report is created and submitted only for a period that
has begun, and a 通报 is issued only for a period that is over (service,
pages, API and CLI; the pickers offer only those periods)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.errors import ValidationError
from supervise.models import ExportFormat, IssuedReport, Report, ReportingPeriod, ReportState
from supervise.policy import SYSTEM
from supervise.services import report_archive
from supervise.services import reports as report_service
from supervise.services.users import issue_api_token

from ..conftest import login
from ..factories import task_by_number

TODAY = date(2026, 12, 2)  # 2027Q4 is a year away


@pytest.fixture
def pinned(app):
    app.config["TODAY"] = TODAY
    return TODAY


def _period(plan, code: str) -> ReportingPeriod:
    return session().scalar(select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id,
                                                          ReportingPeriod.code == code))


def _reports() -> int:
    return session().scalar(select(func.count(Report.id)))


def test_no_report_for_a_period_that_has_not_begun(plan, make_user, pinned):
    task = task_by_number(plan, 1)
    lead = make_user("liaison", unit="省经信厅")
    with pytest.raises(ValidationError, match="尚未开始") as refused:
        with unit_of_work():
            report_service.create_report(lead, task, "2027Q4", text="提前填报")
    assert refused.value.field_errors == {"period": "该期次尚未开始"}
    # The period that is running can be filed; the day it begins counts.
    with unit_of_work():
        report = report_service.create_report(lead, task, "2026Q4", text="本季度进展")
    assert report.period.code == "2026Q4"
    with unit_of_work():
        report_service.create_report(lead, task, "2027Q1", text="首日", today=date(2027, 1, 1))
    assert _reports() == 2


def test_no_submission_for_a_period_that_has_not_begun(plan, make_user):
    task = task_by_number(plan, 1)
    lead = make_user("liaison", unit="省经信厅")
    with unit_of_work():
        report = report_service.create_report(lead, task, "2026Q3", text="进展", today=date(2026, 7, 1))
    with pytest.raises(ValidationError, match="尚未开始"):
        with unit_of_work():
            report_service.submit_report(lead, session().merge(report), today=date(2026, 6, 30))
    assert session().get(Report, report.id).state is ReportState.DRAFT
    with unit_of_work():
        report_service.submit_report(lead, session().merge(report), today=date(2026, 7, 1))
    assert session().get(Report, report.id).state is ReportState.SUBMITTED


def test_the_api_and_the_page_refuse_a_future_period(app, plan, make_user, pinned):
    task = task_by_number(plan, 1)
    lead = make_user("liaison", unit="省经信厅")
    with unit_of_work():
        token = issue_api_token(lead)
    client = app.test_client()
    response = client.post("/api/v1/reports", json={"task_id": task.id, "period": "2027Q4", "text": "提前"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "validation_error" and "尚未开始" in body["message"]
    assert body["fields"] == {"period": "该期次尚未开始"}
    login(client, lead)
    response = client.post(f"/tasks/{task.id}/reports", data={"period": "2027Q4"})
    assert response.status_code == 400 and "尚未开始" in response.get_data(as_text=True)
    # The task page offers only periods that have begun.
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "2026年第四季度" in html and "2027年第一季度" not in html
    assert _reports() == 0


def test_a_supervision_report_only_for_a_period_that_is_over(app, plan, make_user, pinned):
    coordinator = make_user("coordinator")
    for code, as_of in (("2026Q4", None), ("2027Q4", None), ("2026Q3", date(2026, 9, 30))):
        with pytest.raises(ValidationError, match="尚未结束"):
            with unit_of_work():
                report_archive.issue_report(coordinator, plan, _period(plan, code), ExportFormat.CSV, as_of=as_of)
    with pytest.raises(ValidationError, match="晚于今天"):
        with unit_of_work():
            report_archive.issue_report(coordinator, plan, _period(plan, "2026Q3"), ExportFormat.CSV,
                                        as_of=date(2026, 12, 3))
    assert session().scalar(select(func.count(IssuedReport.id))) == 0
    with unit_of_work():
        row, _ = report_archive.issue_report(coordinator, plan, _period(plan, "2026Q3"), ExportFormat.CSV)
    assert row.period.code == "2026Q3"


def test_the_issue_page_offers_only_ended_periods_and_refuses_others(app, plan, make_user, pinned):
    client = app.test_client()
    login(client, make_user("coordinator"))
    html = client.get(f"/dashboard/reports?plan={plan.id}").get_data(as_text=True)
    assert 'value="2026Q3"' in html and 'value="2026Q4"' not in html and 'value="2027Q4"' not in html
    response = client.post("/dashboard/reports", data={"plan": plan.id, "period": "2027Q4", "format": "csv"})
    assert response.status_code == 400 and "尚未结束" in response.get_data(as_text=True)
    assert session().scalar(select(func.count(IssuedReport.id))) == 0


def test_the_command_line_refuses_a_period_that_is_not_over(app, plan, tmp_path, pinned):
    runner = app.test_cli_runner()
    out = tmp_path / "tb.csv"
    result = runner.invoke(args=["report", "export", "--period", "2027Q4", "--format", "csv", "-o", str(out)])
    assert result.exit_code != 0 and "尚未结束" in result.output and not out.exists()
    result = runner.invoke(args=["report", "export", "--period", "2026Q2", "--format", "csv", "-o", str(out),
                                 "--as-of", "2026-06-15"])
    assert result.exit_code != 0 and "尚未结束" in result.output and not out.exists()
    result = runner.invoke(args=["report", "export", "--period", "2026Q2", "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert session().scalar(select(IssuedReport.issued_by_login)) == ""  # issued by the operator (SYSTEM)
    assert SYSTEM.login == "cli"
