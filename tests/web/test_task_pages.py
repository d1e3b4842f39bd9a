"""The task page: periods and who owes what, milestones, closing and
suspension, deadline extensions, target progress and its split, each role's
view of it, and its forms' errors."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import AuditEntry, ExtensionRequest, Milestone, MilestoneState, TargetAllocation, TaskState
from supervise.services.units import find_unit

from .conftest import file, page, task_no

LEAD, CO = "省委网信办", "省商务厅"


def _milestone() -> Milestone:
    return session().scalar(select(Milestone))


@pytest.mark.parametrize(
    "role,unit,sees,hidden",
    [
        ("coordinator", "省商务厅", ["暂缓任务", "目标分解", "报送情况"], ["提出节点", "申请延期", "填报本单位"]),
        ("liaison", LEAD, ["提出节点", "申请延期", "填报本单位牵头单位报告"], ["暂缓任务", "目标分解"]),
        ("liaison", CO, ["填报本单位配合单位报送", "报送情况"], ["提出节点", "申请延期", "暂缓任务", "目标分解"]),
        ("liaison", "省教育厅", ["报送情况"], ["填报本单位", "提出节点", "暂缓任务"]),
        ("leader", "省商务厅", ["报送情况", "目标指标与完成进度"], ["填报本单位", "提出节点", "暂缓任务", "目标分解"]),
    ],
)
def test_each_role_sees_its_part_of_the_task_page(login_as, plan, role, unit, sees, hidden):
    client, _ = login_as(role, unit=unit)
    html = page(client.get(f"/tasks/{task_no(plan, 3).id}"))
    for text in sees:
        assert text in html, text
    for text in hidden:
        assert text not in html, text


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_do_not_read_tasks(login_as, plan, role):
    client, _ = login_as(role)
    assert client.get(f"/tasks/{task_no(plan, 3).id}").status_code == 403


def test_periods_show_due_dates_lights_and_who_owes_what(login_as, plan):
    client, _ = login_as("leader")
    html = page(client.get(f"/tasks/{task_no(plan, 3).id}"))
    # 2025Q2 ended on 30 June: the lead's report is due on the 5th working
    # day after (7 July), the co-units' two working days earlier (3 July).
    assert "2025年第二季度" in html and "2025-07-07" in html and "2025-07-03" in html
    assert "2025年第三季度" in html and "2025年第四季度" not in html  # not yet begun
    assert html.count("未报送") >= 3 and "light-yellow" in html and "light-red" in html


def test_milestones_are_proposed_confirmed_done_with_evidence_and_decided(login_as, plan):
    task = task_no(plan, 3)
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")

    # Bad input first: the form says what is wrong and keeps what was typed.
    response = lead.post(f"/tasks/{task.id}/milestones", data={"ms-title": "品牌目录发布", "ms-due_on": "九月底"})
    html = page(response, 400)
    assert "日期格式应为 YYYY-MM-DD" in html and 'value="品牌目录发布"' in html
    assert session().scalar(select(func.count(Milestone.id))) == 0

    response = lead.post(f"/tasks/{task.id}/milestones", data={"ms-title": "品牌目录发布", "ms-due_on": "2025-09-30"})
    assert response.status_code == 302
    m = _milestone()
    assert m.state is MilestoneState.PROPOSED and m.due_on == date(2025, 9, 30)
    assert "节点待确认" in page(coord.get("/work"))

    # A co-unit cannot confirm it; the coordinator does.
    co, _ = login_as("liaison", unit=CO)
    assert co.post(f"/milestones/{m.id}/confirm", data={"version": m.version}).status_code == 403
    assert coord.post(f"/milestones/{m.id}/confirm", data={"version": m.version}).status_code == 302
    assert _milestone().state is MilestoneState.CONFIRMED

    # Marking it done needs evidence.
    m = _milestone()
    response = lead.post(f"/milestones/{m.id}/done", data={f"ms{m.id}-done-version": m.version,
                                                           f"ms{m.id}-done-note": "已发布"})
    assert "请先上传节点完成的佐证材料" in page(response, 400)
    response = lead.post(f"/milestones/{m.id}/evidence",
                         data={f"ms{m.id}-ev-version": m.version, f"ms{m.id}-ev-file": file("品牌目录.pdf")},
                         content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    m = _milestone()
    assert lead.post(f"/milestones/{m.id}/done", data={f"ms{m.id}-done-version": m.version,
                                                       f"ms{m.id}-done-note": "已发布"}).status_code == 302
    assert _milestone().state is MilestoneState.DONE_CLAIMED

    # Rejecting needs a reason; then the lead claims again and it is accepted.
    m = _milestone()
    response = coord.post(f"/milestones/{m.id}/decide",
                          data={f"ms{m.id}-decide-version": m.version, f"ms{m.id}-decide-refuse": "1"})
    assert "请填写原因" in page(response, 400)
    assert _milestone().state is MilestoneState.DONE_CLAIMED
    response = coord.post(f"/milestones/{m.id}/decide", data={
        f"ms{m.id}-decide-version": m.version, f"ms{m.id}-decide-refuse": "1", f"ms{m.id}-decide-reason": "缺少发布文件"})
    assert response.status_code == 302
    m = _milestone()
    assert m.state is MilestoneState.CONFIRMED and m.reject_reason == "缺少发布文件"
    assert "缺少发布文件" in page(lead.get(f"/tasks/{task.id}"))
    lead.post(f"/milestones/{m.id}/done", data={f"ms{m.id}-done-version": m.version, f"ms{m.id}-done-note": "补充"})
    m = _milestone()
    # A stale decision is refused.
    response = coord.post(f"/milestones/{m.id}/decide",
                          data={f"ms{m.id}-decide-version": m.version - 1, f"ms{m.id}-decide-agree": "1"})
    assert "已被他人修改" in page(response, 409)
    assert coord.post(f"/milestones/{m.id}/decide",
                      data={f"ms{m.id}-decide-version": m.version, f"ms{m.id}-decide-agree": "1"}).status_code == 302
    assert _milestone().state is MilestoneState.COMPLETED
    html = page(coord.get(f"/tasks/{task.id}"))
    assert "已完成" in html and "品牌目录.pdf" in html


def test_suspend_resume_and_close_through_the_page(login_as, plan):
    task = task_no(plan, 3)
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    leader, _ = login_as("leader")

    assert leader.post(f"/tasks/{task.id}/suspend",
                       data={"suspend-version": task.version, "suspend-reason": "x"}).status_code == 403
    response = coord.post(f"/tasks/{task.id}/suspend", data={"suspend-version": task.version, "suspend-reason": ""})
    assert "请填写原因" in page(response, 400)
    assert task_no(plan, 3).state is TaskState.NOT_STARTED
    response = coord.post(f"/tasks/{task.id}/suspend",
                          data={"suspend-version": task.version, "suspend-reason": "政策调整,待省里统一部署"})
    assert response.status_code == 302
    task = task_no(plan, 3)
    assert task.state is TaskState.SUSPENDED
    assert "本期无需报送" in page(lead.get(f"/tasks/{task.id}"))
    # The page of an hour ago is stale now.
    response = coord.post(f"/tasks/{task.id}/resume", data={"resume-version": task.version - 1, "resume-reason": "恢复"})
    assert page(response, 409)
    assert coord.post(f"/tasks/{task.id}/resume",
                      data={"resume-version": task.version, "resume-reason": "部署已明确"}).status_code == 302
    task = task_no(plan, 3)
    assert task.state is TaskState.IN_PROGRESS

    # Asking to close needs evidence, then a reason.
    response = lead.post(f"/tasks/{task.id}/request-close", data={"close-version": task.version, "close-reason": "已完成"})
    assert "申请办结需上传佐证材料" in page(response, 400)
    response = lead.post(f"/tasks/{task.id}/close-evidence",
                         data={"close-ev-version": task.version, "close-ev-file": file("办结报告.pdf")},
                         content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    assert lead.post(f"/tasks/{task.id}/request-close",
                     data={"close-version": task.version, "close-reason": "目标已提前完成"}).status_code == 302
    task = task_no(plan, 3)
    assert task.state is TaskState.CLOSING_REQUESTED
    html = page(coord.get(f"/tasks/{task.id}"))
    assert "办结审核" in html and "办结报告.pdf" in html

    # Refusing needs a reason; the coordinator then agrees on a second request.
    response = coord.post(f"/tasks/{task.id}/decide-close",
                          data={"decide-close-version": task.version, "decide-close-refuse": "1"})
    assert "请填写原因" in page(response, 400)
    coord.post(f"/tasks/{task.id}/decide-close", data={"decide-close-version": task.version,
                                                       "decide-close-refuse": "1", "decide-close-reason": "缺少台账"})
    task = task_no(plan, 3)
    assert task.state is TaskState.IN_PROGRESS
    lead.post(f"/tasks/{task.id}/request-close", data={"close-version": task.version, "close-reason": "已补台账"})
    task = task_no(plan, 3)
    # 同意办结 asks once more and says what follows; nothing changes until confirmed.
    html = page(coord.post(f"/tasks/{task.id}/decide-close",
                           data={"decide-close-version": task.version, "decide-close-agree": "1"}))
    assert "确认同意办结" in html and "已办结" in html
    assert task_no(plan, 3).state is TaskState.CLOSING_REQUESTED
    assert coord.post(f"/tasks/{task.id}/decide-close",
                      data={"decide-close-version": task.version, "decide-close-agree": "同意",
                            "confirmed": "1"}).status_code == 302
    assert task_no(plan, 3).state is TaskState.CLOSED
    actions = session().scalars(select(AuditEntry.action).where(AuditEntry.task_id == task.id,
                                                                AuditEntry.action.startswith("task."))).all()
    assert actions == ["task.suspend", "task.resume", "task.request_close", "task.reject_close",
                       "task.request_close", "task.approve_close"]


def test_extension_is_requested_and_granted_keeping_the_original_deadline(login_as, plan):
    task = task_no(plan, 3)
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    response = lead.post(f"/tasks/{task.id}/extensions", data={
        "ext-version": task.version, "ext-new_deadline": "2027-06-30", "ext-reason": "进口品牌认定推迟"})
    html = page(response, 400)
    assert "新的完成时限必须晚于当前时限" in html and "进口品牌认定推迟" in html
    response = lead.post(f"/tasks/{task.id}/extensions", data={"ext-version": task.version, "ext-new_deadline": ""})
    html = page(response, 400)
    assert "请填写新的完成时限" in html and "请填写延期原因" in html
    assert session().scalar(select(func.count(ExtensionRequest.id))) == 0

    response = lead.post(f"/tasks/{task.id}/extensions", data={
        "ext-version": task.version, "ext-new_deadline": "2028-06-30", "ext-reason": "进口品牌认定推迟"})
    assert response.status_code == 302
    ext = session().scalar(select(ExtensionRequest))
    html = page(lead.get(f"/tasks/{task.id}"))
    assert "待审批" in html and "申请延期</button>" not in html  # one pending request at a time
    decide = page(coord.get("/work?state=decide"))
    assert "申请延期至 2028-06-30" in decide and "任务3. 支持品牌建设和推广" in decide

    response = coord.post(f"/extensions/{ext.id}/decide",
                          data={f"ext{ext.id}-version": task.version, f"ext{ext.id}-agree": "1"})
    assert response.status_code == 302
    task = task_no(plan, 3)
    assert task.deadline == date(2028, 6, 30) and task.original_deadline == date(2027, 12, 31)
    html = page(lead.get(f"/tasks/{task.id}"))
    assert "2028-06-30" in html and "原定 2027-12-31" in html and "已同意" in html
    # Decided already: a second decision is refused by the state machine.
    response = coord.post(f"/extensions/{ext.id}/decide",
                          data={f"ext{ext.id}-version": task.version, f"ext{ext.id}-refuse": "1",
                                f"ext{ext.id}-reason": "x"})
    assert page(response, 409)


def test_a_coordinator_splits_a_target_among_the_units(login_as, plan):
    task = task_no(plan, 1)
    target = task.targets[0]  # 新增跨境电商应用主体 5000 家
    hangzhou, ningbo = find_unit("杭州市政府"), find_unit("宁波市政府")
    coord, _ = login_as("coordinator")
    prefix = f"split{target.id}-share_"

    response = coord.post(f"/targets/{target.id}/split", data={prefix + str(hangzhou.id): "一千"})
    html = page(response, 400)
    assert "请输入不小于 0 的数字" in html and 'value="一千"' in html
    response = coord.post(f"/targets/{target.id}/split", data={})
    assert "请至少为一个单位填写分解数值" in page(response, 400)
    assert session().scalar(select(func.count(TargetAllocation.id))) == 0

    liaison, _ = login_as("liaison", unit="省经信厅")
    assert liaison.post(f"/targets/{target.id}/split", data={prefix + str(hangzhou.id): "1"}).status_code == 403

    response = coord.post(f"/targets/{target.id}/split",
                          data={prefix + str(hangzhou.id): "1500", prefix + str(ningbo.id): "1000"})
    assert response.status_code == 302
    shares = dict(session().execute(select(TargetAllocation.unit_id, TargetAllocation.value)).all())
    assert shares == {hangzhou.id: 1500, ningbo.id: 1000}
    html = page(coord.get(f"/tasks/{task.id}"))
    assert "1,500" in html and "1,000" in html
    assert session().scalar(select(AuditEntry).where(AuditEntry.action == "target.split"))


def test_the_history_lists_the_latest_entries_and_the_rest_on_demand(login_as, plan):
    """A busy task's 变更记录: the latest 20 entries, newest first, then
    a link drawing the rest (up to 200); another unit's draft stays hidden."""
    from supervise import audit
    from supervise.db import unit_of_work

    client, user = login_as("coordinator")
    task = task_no(plan, 3)
    with unit_of_work():
        for i in range(45):
            audit.record(user, "task.update", task_id=task.id, object_type="tasks", object_id=task.id,
                         reason=f"调整说明第{i:02d}次")
    html = page(client.get(f"/tasks/{task.id}"))
    shown = [i for i in range(45) if f"调整说明第{i:02d}次" in html]
    assert shown == list(range(25, 45))  # the newest 20
    assert "查看更早的变更记录" in html and 'href="/tasks/%d?history=all#history"' % task.id in html
    html = page(client.get(f"/tasks/{task.id}?history=all"))
    assert all(f"调整说明第{i:02d}次" in html for i in range(45))
    assert "查看更早的变更记录" not in html and "只看最近 20 条" in html
    assert html.index("调整说明第44次") < html.index("调整说明第00次")  # newest first
