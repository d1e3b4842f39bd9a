"""`report export --as-of DATE` shows the data as it stood at the end of that
day: versions submitted and decisions taken later are left out, and lateness
is judged against that day.

The work is done through the services, on days set by a clock the test turns
(the services stamp their rows with `utcnow()`); the history is then read back
from what the system keeps: the submitted versions and the audit trail."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import supervise.audit
import supervise.services.reports
import supervise.services.tasks
from supervise.db import session, unit_of_work
from supervise.evidence_store import store
from supervise.models import Report, ReportingPeriod, ReportState, TaskState
from supervise.reports.supervision import build_supervision
from supervise.services import reports as report_service
from supervise.services import tasks as task_service

from ..factories import PDF_BYTES, task_by_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Task 3: 省委网信办 leads, 省商务厅 contributes; one target (知名品牌). Task 1: 省经信厅 leads.
BRANDS, LATE = 3, 1


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 7, 1, 2, 0, tzinfo=timezone.utc)

    def on(self, y: int, m: int, d: int, hh: int = 10) -> None:
        self.now = datetime(y, m, d, hh, 0, tzinfo=SHANGHAI).astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    for module in (supervise.audit, supervise.services.reports, supervise.services.tasks):
        monkeypatch.setattr(module, "utcnow", clock)
    return clock


def _get(model, id_):
    return session().get(model, id_)


@pytest.fixture
def story(plan, make_user, clock):
    """2025Q2 (reports due 2025-07-07), told day by day."""
    brands, late = task_by_number(plan, BRANDS), task_by_number(plan, LATE)
    target = brands.targets[0]
    lead = make_user("liaison", unit="省委网信办", login="lead")
    co = make_user("liaison", unit="省商务厅", login="co")
    late_lead = make_user("liaison", unit="省经信厅", login="late_lead")
    coordinator = make_user("coordinator", login="coord")

    clock.on(2025, 7, 1)
    with unit_of_work():
        contribution = report_service.create_report(co, brands, "2025Q2", text="配合:新增品牌 35 个",
                                                    values={target.id: 35})
        report_service.submit_report(co, contribution)
    clock.on(2025, 7, 2)
    with unit_of_work():
        report = report_service.create_report(lead, brands, "2025Q2", text="第一版:新增品牌 120 个",
                                              values={target.id: 120})
        report_service.accept_contribution(lead, _get(Report, contribution.id))
    with unit_of_work():
        report_service.set_inclusions(lead, _get(Report, report.id), [contribution.id])
        report_service.submit_report(lead, _get(Report, report.id))
    clock.on(2025, 7, 10)
    with unit_of_work():
        report_service.return_report(coordinator, _get(Report, report.id), "请补充品牌名单")
    clock.on(2025, 7, 12)
    with unit_of_work():
        report_service.update_report(lead, _get(Report, report.id), text="第二版:新增品牌 150 个",
                                     values={target.id: 150})
        report_service.submit_report(lead, _get(Report, report.id))
    clock.on(2025, 7, 15)
    with unit_of_work():
        report_service.approve_report(coordinator, _get(Report, report.id))
    clock.on(2025, 7, 20)  # task 1 reports late, is closed after
    with unit_of_work():
        late_report = report_service.create_report(late_lead, late, "2025Q2", text="迟报")
        report_service.submit_report(late_lead, late_report)
    with unit_of_work():
        report_service.approve_report(coordinator, _get(Report, late_report.id))
        report_service.attach_evidence(late_lead, task_by_number(plan, LATE), store(io.BytesIO(PDF_BYTES), "办结.pdf"))
    with unit_of_work():
        task_service.request_close(late_lead, task_by_number(plan, LATE), "全部完成")
    clock.on(2025, 7, 21)
    with unit_of_work():
        task_service.decide_close(coordinator, task_by_number(plan, LATE), True)
    return {"plan": plan, "period": session().scalar(select(ReportingPeriod).where(
        ReportingPeriod.plan_id == plan.id, ReportingPeriod.code == "2025Q2")), "target": target,
        "report": report.id, "late": late_report.id}


def _build(story, day: date):
    return build_supervision(session(), story["plan"], story["period"], as_of=day, historic=True)


def _row(data, number: int):
    return next(row for row in data.tasks if row.task.number == number)


def test_a_returned_version_and_a_later_approval_are_left_out(story):
    target = story["target"]
    # 11 July: the first version was returned; nothing approved yet.
    data = _build(story, date(2025, 7, 11))
    row = _row(data, BRANDS)
    assert row.lead_report.state is ReportState.RETURNED and row.approved_summary is None
    assert [item.report.return_reason for item in data.returned] == ["请补充品牌名单"]
    assert next(t for t in data.targets if t.target.id == target.id).latest is None
    assert data.report_counts["returned"] == 1 and data.report_counts["approved"] == 0
    # 16 July: the second version, approved the day before, with its own figure.
    data = _build(story, date(2025, 7, 16))
    row = _row(data, BRANDS)
    assert row.lead_report.state is ReportState.APPROVED
    assert row.approved_summary == "第二版:新增品牌 150 个"
    lead_line = next(line for line in row.ledger if line.task_unit.role.value == "lead")
    assert lead_line.values == {target.id: 150}
    co_line = next(line for line in row.ledger if line.unit.short_name == "省商务厅")
    assert co_line.values == {target.id: 35} and co_line.report_state is ReportState.ACCEPTED
    assert data.returned == []


def test_lateness_is_judged_against_that_day(story):
    data = _build(story, date(2025, 7, 16))
    late = _row(data, LATE)
    assert late.lead_report is None and late.task.state is TaskState.NOT_STARTED
    assert any(item.task.number == LATE and item.kind == "牵头单位报告" for item in data.overdue)
    assert late.light.value == "red"
    # Later the task reported (late) and was closed: neither shows on 16 July.
    now = build_supervision(session(), story["plan"], story["period"], as_of=date(2025, 7, 22))
    assert _row(now, LATE).task.state is TaskState.CLOSED
    on_20 = _build(story, date(2025, 7, 20))
    assert _row(on_20, LATE).task.state is TaskState.CLOSING_REQUESTED
    assert _row(on_20, LATE).lead_report.state is ReportState.APPROVED
    assert not any(item.task.number == LATE and item.kind == "牵头单位报告" for item in on_20.overdue)
    # Punctuality then: 省委网信办 on time (2 July), 省经信厅 not (20 July).
    punctual = {u.unit.short_name: u.per_period.get("2025Q2") for u in _build(story, date(2025, 7, 22)).punctuality}
    assert punctual["省委网信办"][0] == 1 and punctual["省经信厅"][0] == 0


def test_the_as_of_export_on_the_command_line(app, story, tmp_path):
    out = tmp_path / "ledger.csv"
    result = app.test_cli_runner().invoke(args=["report", "export", "--period", "2025Q2", "--format", "csv",
                                                "-o", str(out), "--as-of", "2025-07-11"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    brands = [r for r in rows if r["任务序号"] == str(BRANDS) and r["职责"] == "牵头单位"][0]
    assert brands["本期报送状态"] == "已退回" and brands["本期审核通过的进展"] == ""
    assert brands["最近报送日期"] == "2025-07-02"
    late = [r for r in rows if r["任务序号"] == str(LATE) and r["职责"] == "牵头单位"][0]
    assert late["本期报送状态"] == "未报送" and late["红黄绿灯"] == "红灯" and late["任务状态"] == "未启动"
    # Without --as-of: the data as it is.
    out_now = tmp_path / "now.csv"
    result = app.test_cli_runner().invoke(args=["report", "export", "--period", "2025Q2", "--format", "csv",
                                                "-o", str(out_now)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out_now.read_bytes().decode("utf-8-sig"))))
    brands = [r for r in rows if r["任务序号"] == str(BRANDS) and r["职责"] == "牵头单位"][0]
    assert brands["本期报送状态"] == "已审核通过" and brands["本期审核通过的进展"] == "第二版:新增品牌 150 个"
    late = [r for r in rows if r["任务序号"] == str(LATE) and r["职责"] == "牵头单位"][0]
    assert late["任务状态"] == "已办结"
