"""Two-level reporting through the services, against a real database."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from supervise.models import AuditEntry, Notification, Report, ReportKind, ReportState, TaskState
from supervise.policy import can, visible_reports
from supervise.services import reports as rs
from supervise.services import work

from ..factories import file_report, make_cast, upload


@pytest.fixture
def cast(plan, people):
    return make_cast(plan, people)


def _count(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


def test_the_whole_two_level_flow(cast):
    task = cast.task
    target = task.targets[0]
    contribution = file_report(cast.co, task, text="杭州新增应用主体 300 家", values={target.id: "300"})
    assert contribution.kind is ReportKind.CONTRIBUTION and contribution.state is ReportState.DRAFT
    assert task.state is TaskState.NOT_STARTED
    with unit_of_work():
        rs.submit_report(cast.co, contribution)
    assert task.state is TaskState.IN_PROGRESS  # the first report starts the task

    # The lead's liaisons are told; the lead accepts and consolidates.
    lead_notes = session().scalars(select(Notification).where(Notification.user_id == cast.lead.id)).all()
    assert [n.kind for n in lead_notes] == ["contribution.submitted"]
    with unit_of_work():
        rs.accept_contribution(cast.lead, contribution)
        report = rs.create_report(cast.lead, task, "2025Q2", text="全省汇总", values={target.id: 1200})
        rs.set_inclusions(cast.lead, report, [contribution.id])
        rs.submit_report(cast.lead, report)
    assert report.kind is ReportKind.LEAD_REPORT and report.state is ReportState.SUBMITTED
    assert [c.id for c in rs.included_contributions(report)] == [contribution.id]
    coordinator_notes = session().scalars(select(Notification.kind).where(Notification.user_id == cast.coordinator.id)).all()
    assert coordinator_notes == ["report.submitted"]

    # Returned with a reason, revised, resubmitted, approved.
    with pytest.raises(ValidationError, match="原因"):
        with unit_of_work():
            rs.return_report(cast.coordinator, report, "  ")
    assert report.state is ReportState.SUBMITTED
    with unit_of_work():
        rs.return_report(cast.coordinator, report, "请补充各地市数据")
    assert report.state is ReportState.RETURNED and report.return_reason == "请补充各地市数据"
    with unit_of_work():
        rs.update_report(cast.lead, report, text="全省汇总(补充各地市数据)", values={target.id: 1250})
        rs.submit_report(cast.lead, report)
    with unit_of_work():
        rs.approve_report(cast.coordinator, report)
    assert report.state is ReportState.APPROVED

    # Every submitted version is kept unchanged and can be compared.
    assert [v.number for v in report.versions] == [1, 2]
    assert report.versions[0].text == "全省汇总" and report.versions[0].snapshot["values"] == {str(target.id): "1200"}
    diff = rs.compare_versions(report.versions[0], report.versions[1])
    assert diff["text_changed"] and diff["values"] == [
        {"target_id": target.id, "old": "1200", "new": "1250", "changed": True}
    ]

    # Approved is locked; only a coordinator reopens, with a reason.
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            rs.update_report(cast.lead, report, text="偷偷修改")
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            rs.reopen_report(cast.leader, report, "想改")
    with unit_of_work():
        rs.reopen_report(cast.coordinator, report, "数据口径调整")
    assert report.state is ReportState.RETURNED
    actions = session().scalars(select(AuditEntry.action).where(AuditEntry.object_id == report.id,
                                                                AuditEntry.object_type == "reports")).all()
    assert actions.count("report.submit") == 2 and "report.reopen" in actions and "report.approve" in actions


def test_refused_transition_changes_nothing(cast):
    report = file_report(cast.lead, cast.task)
    audit_before, version_before = _count(AuditEntry), report.version
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            rs.approve_report(cast.coordinator, report)  # a draft cannot be approved
    session().rollback()
    assert session().get(Report, report.id).state is ReportState.DRAFT
    assert report.version == version_before and _count(AuditEntry) == audit_before


def test_stale_version_is_refused(cast):
    report = file_report(cast.lead, cast.task, submit=True)
    stale = report.version
    with unit_of_work():
        rs.return_report(cast.coordinator, report, "补充材料")
    with pytest.raises(Conflict):
        with unit_of_work():
            rs.approve_report(cast.coordinator, report, expected_version=stale)


def test_only_own_unit_files_and_drafts_are_private(cast):
    with pytest.raises(PermissionDenied):
        file_report(cast.outsider, cast.task)
    with pytest.raises(PermissionDenied):
        file_report(cast.coordinator, cast.task)
    draft = file_report(cast.co, cast.task)
    for user in (cast.lead, cast.outsider, cast.coordinator, cast.leader):
        with pytest.raises(NotFound):
            rs.get_report(user, draft.id)
        assert draft.id not in session().scalars(select(Report.id).where(visible_reports(user))).all()
    assert rs.get_report(cast.co, draft.id) is draft
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            rs.update_report(cast.lead, draft, text="替人改")


def test_visibility_of_submitted_and_approved_items(cast):
    contribution = file_report(cast.co, cast.task, submit=True)
    assert can(cast.lead, "report.view", contribution)  # the lead sees it once submitted
    assert not can(cast.outsider, "report.view", contribution)
    lead_report = file_report(cast.lead, cast.task, submit=True)
    assert not can(cast.outsider, "report.view", lead_report)  # not yet approved
    with unit_of_work():
        rs.approve_report(cast.coordinator, lead_report)
    assert can(cast.outsider, "report.view", lead_report)
    assert not can(cast.auditor, "report.view", lead_report) and not can(cast.admin, "report.view", lead_report)
    for user in (cast.lead, cast.co, cast.outsider, cast.coordinator, cast.leader, cast.admin, cast.auditor):
        listed = set(session().scalars(select(Report.id).where(visible_reports(user))))
        expected = {r.id for r in session().scalars(select(Report)) if can(user, "report.view", r)}
        assert listed == expected, user.login


def test_lead_reviews_contributions_and_must_give_a_reason(cast):
    contribution = file_report(cast.co, cast.task, submit=True)
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            rs.accept_contribution(cast.coordinator, contribution)
    with pytest.raises(ValidationError):
        with unit_of_work():
            rs.return_report(cast.lead, contribution, "")
    with unit_of_work():
        rs.return_report(cast.lead, contribution, "数据口径不对")
    notes = session().scalars(select(Notification.kind).where(Notification.user_id == cast.co.id)).all()
    assert "report.returned" in notes
    w = work.my_work(cast.co, date(2025, 7, 3))
    assert [r.id for r in w.returned] == [contribution.id]


def test_values_are_validated(cast):
    other_task_target = next(t for t in cast.task.plan.tasks if t.number == 3).targets[0]
    for bad in ({other_task_target.id: 1}, {cast.task.targets[0].id: "很多"}, {cast.task.targets[0].id: -5},
                {cast.task.targets[0].id: "NaN"}, {"x": 1}, [1, 2]):
        with pytest.raises(ValidationError):
            file_report(cast.lead, cast.task, values=bad)
    assert _count(Report) == 0
    with pytest.raises(ValidationError, match="期次"):
        file_report(cast.lead, cast.task, period="2025Q9")
    with pytest.raises(ValidationError, match="没有报送期次"):
        file_report(cast.lead, cast.task, period="2031Q1")


def test_one_report_per_unit_task_and_period(cast):
    file_report(cast.lead, cast.task)
    with pytest.raises(Conflict, match="已存在"):
        file_report(cast.lead, cast.task)


def test_evidence_only_while_editable(cast, app):
    report = file_report(cast.lead, cast.task)
    evidence = upload(cast.lead, report, name="季度台账 2025Q2.pdf")
    assert evidence.original_name == "季度台账 2025Q2.pdf"
    with unit_of_work():
        rs.submit_report(cast.lead, report)
    assert report.versions[0].snapshot["evidence"] == [evidence.id]
    with pytest.raises(InvalidTransition):
        upload(cast.lead, report)
    with pytest.raises(PermissionDenied):
        upload(cast.co, report)


def test_a_file_that_went_out_with_a_version_stays(cast):
    report = file_report(cast.lead, cast.task)
    kept = upload(cast.lead, report, name="第一版台账.pdf")
    with unit_of_work():
        rs.submit_report(cast.lead, report)
        rs.return_report(cast.coordinator, report, "请更正台账")
    draft_only = upload(cast.lead, report, name="草稿.pdf", data=b"%PDF-1.4 draft only\n%%EOF\n")
    with pytest.raises(ValidationError, match="第 1 版"):
        with unit_of_work():
            rs.remove_evidence(cast.lead, kept)
    with unit_of_work():
        rs.remove_evidence(cast.lead, draft_only)
    session().rollback()
    assert {e.original_name for e in session().get(Report, report.id).evidence} == {"第一版台账.pdf"}
