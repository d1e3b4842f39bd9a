"""A task's lifecycle, extensions, milestones and split targets."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from supervise.db import unit_of_work
from supervise.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from supervise.evidence_store import store
from supervise.models import ExtensionState, MilestoneState, TaskState
from supervise.services import reports as rs
from supervise.services import tasks as ts
from supervise.services import work

from ..factories import PDF_BYTES, file_report, make_cast


@pytest.fixture
def cast(plan, people):
    return make_cast(plan, people)


def _attach(actor, target):
    stored = store(io.BytesIO(PDF_BYTES), "办结材料.pdf")
    with unit_of_work():
        return rs.attach_evidence(actor, target, stored)


def test_closing_needs_evidence_and_a_coordinator(cast):
    task = cast.task
    file_report(cast.lead, task, submit=True)
    with pytest.raises(ValidationError, match="佐证材料"):
        with unit_of_work():
            ts.request_close(cast.lead, task, "已全面完成")
    with pytest.raises(PermissionDenied):
        _attach(cast.co, task)
    _attach(cast.lead, task)
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.request_close(cast.co, task, "已完成")
    with unit_of_work():
        ts.request_close(cast.lead, task, "已全面完成")
    assert task.state is TaskState.CLOSING_REQUESTED
    assert [t.id for t in work.my_work(cast.coordinator, date(2025, 8, 1)).closing_requests] == [task.id]
    with pytest.raises(ValidationError):
        with unit_of_work():
            ts.decide_close(cast.coordinator, task, agree=False, reason="")
    with unit_of_work():
        ts.decide_close(cast.coordinator, task, agree=False, reason="指标尚未达到")
    assert task.state is TaskState.IN_PROGRESS
    with unit_of_work():
        ts.request_close(cast.lead, task, "已达标")
        ts.decide_close(cast.coordinator, task, agree=True)
    assert task.state is TaskState.CLOSED
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            ts.suspend_task(cast.coordinator, task, "暂缓")


def test_suspend_and_resume_with_reason(cast):
    task = cast.task
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.suspend_task(cast.leader, task, "看看")
    with pytest.raises(ValidationError):
        with unit_of_work():
            ts.suspend_task(cast.coordinator, task, "")
    with unit_of_work():
        ts.suspend_task(cast.coordinator, task, "政策调整")
    assert task.state is TaskState.SUSPENDED
    with pytest.raises(ValidationError, match="不需要报送"):
        file_report(cast.lead, task)
    with unit_of_work():
        ts.resume_task(cast.coordinator, task, "政策明确")
    assert task.state is TaskState.IN_PROGRESS


def test_stale_task_version_is_refused(cast):
    task = cast.task
    stale = task.version
    with unit_of_work():
        ts.suspend_task(cast.coordinator, task, "政策调整")
    with pytest.raises(Conflict):
        with unit_of_work():
            ts.resume_task(cast.coordinator, task, "恢复", expected_version=stale)


def test_extension_before_the_deadline_keeps_the_original(cast):
    task = cast.task
    original = task.deadline
    assert original == date(2027, 12, 31)
    with pytest.raises(ValidationError, match="已超过"):
        with unit_of_work():
            ts.request_extension(cast.lead, task, "2028-06-30", "项目延后", today=date(2028, 1, 5))
    with pytest.raises(ValidationError, match="晚于"):
        with unit_of_work():
            ts.request_extension(cast.lead, task, "2027-06-30", "提前", today=date(2026, 1, 5))
    with pytest.raises(ValidationError, match="格式"):
        with unit_of_work():
            ts.request_extension(cast.lead, task, "明年", "项目延后", today=date(2026, 1, 5))
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.request_extension(cast.co, task, "2028-06-30", "项目延后", today=date(2026, 1, 5))
    with unit_of_work():
        request = ts.request_extension(cast.lead, task, "2028-06-30", "口岸建设延后", today=date(2026, 1, 5))
    with pytest.raises(Conflict):
        with unit_of_work():
            ts.request_extension(cast.lead, task, "2028-09-30", "再延", today=date(2026, 1, 5))
    with unit_of_work():
        ts.decide_extension(cast.coordinator, request, grant=True)
    assert request.state is ExtensionState.GRANTED
    assert task.deadline == date(2028, 6, 30) and task.original_deadline == original


def test_extension_refused_needs_reason(cast):
    with unit_of_work():
        request = ts.request_extension(cast.lead, cast.task, "2028-06-30", "延后", today=date(2026, 1, 5))
    with pytest.raises(ValidationError):
        with unit_of_work():
            ts.decide_extension(cast.coordinator, request, grant=False, reason=" ")
    with unit_of_work():
        ts.decide_extension(cast.coordinator, request, grant=False, reason="理由不充分")
    assert request.state is ExtensionState.REFUSED and cast.task.deadline == date(2027, 12, 31)


def test_milestones(cast):
    task = cast.task
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.propose_milestone(cast.co, task, "建立梯度培育库", "2025-09-30")
    with pytest.raises(ValidationError):
        with unit_of_work():
            ts.propose_milestone(cast.lead, task, "", "2025-09-30")
    with unit_of_work():
        milestone = ts.propose_milestone(cast.lead, task, "建立梯度培育库", "2025-09-30")
    with pytest.raises(InvalidTransition):
        with unit_of_work():
            ts.mark_milestone_done(cast.lead, milestone)
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.confirm_milestone(cast.lead, milestone)
    with unit_of_work():
        ts.confirm_milestone(cast.coordinator, milestone)
    w = work.my_work(cast.lead, date(2025, 9, 26))
    assert [m.id for m, _light in w.milestones_due] == [milestone.id]
    with pytest.raises(ValidationError, match="佐证"):
        with unit_of_work():
            ts.mark_milestone_done(cast.lead, milestone, "已建立")
    _attach(cast.lead, milestone)
    with unit_of_work():
        ts.mark_milestone_done(cast.lead, milestone, "已建立")
    with unit_of_work():
        ts.decide_milestone(cast.coordinator, milestone, accept=False, reason="材料不全")
    assert milestone.state is MilestoneState.CONFIRMED and milestone.reject_reason == "材料不全"
    with unit_of_work():
        ts.mark_milestone_done(cast.lead, milestone, "补充材料")
        ts.decide_milestone(cast.coordinator, milestone, accept=True)
    assert milestone.state is MilestoneState.COMPLETED and milestone.completed_at is not None


def test_split_target_rolls_up_approved_values(cast):
    task = cast.task
    target = task.targets[0]  # 5000 new businesses
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            ts.split_target(cast.lead, target, {cast.co.unit_id: 500})
    with pytest.raises(ValidationError, match="责任单位"):
        with unit_of_work():
            ts.split_target(cast.coordinator, target, {cast.outsider.unit_id: 500})
    with unit_of_work():
        ts.split_target(cast.coordinator, target, {cast.co.unit_id: 1500, cast.lead.unit_id: 3500})
    assert {a.unit_id: a.value for a in target.allocations} == {cast.co.unit_id: 1500, cast.lead.unit_id: 3500}

    contribution = file_report(cast.co, task, values={target.id: 600}, submit=True)
    lead_report = file_report(cast.lead, task, values={target.id: 1400}, submit=True)
    progress = ts.target_progress(task)[0]
    assert progress["value"] is None  # nothing approved yet
    with unit_of_work():
        rs.accept_contribution(cast.lead, contribution)
        rs.approve_report(cast.coordinator, lead_report)
    progress = ts.target_progress(task)[0]
    assert progress["value"] == Decimal(2000)
    assert progress["share"] == pytest.approx(0.4)
    units = {row["unit"].id: row for row in progress["units"]}
    assert units[cast.co.unit_id]["value"] == 600 and units[cast.co.unit_id]["share"] == pytest.approx(0.4)
    assert units[cast.lead.unit_id]["share"] == pytest.approx(0.4)
