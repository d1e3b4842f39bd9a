"""The plan, task, unit and home pages, and the coordinator's lead decision."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry, Task, UnitRole
from supervise.services.units import find_unit


def _task(plan, number) -> Task:
    return session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == number))


def test_plan_page_shows_actions_tasks_units_and_targets(login_as, plan):
    client, _ = login_as("leader")
    html = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "浙政办发〔2024〕27号" in html
    for title in ["实施主体引育壮大行动", "实施服务保障提升行动", "开展跨境电商企业梯度引育", "创新治理机制"]:
        assert title in html
    assert "省经信厅" in html and "待确认" in html
    assert "5,000" in html and "财政政策措施" in html


def test_task_page_shows_text_units_targets(login_as, plan):
    client, _ = login_as("liaison", unit="省经信厅")
    task = _task(plan, 1)
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "专精特新企业" in html
    assert "浙江省经济和信息化厅" in html and "杭州市人民政府" in html
    assert "牵头单位" in html and "配合单位" in html
    # A liaison sees no form to change units.
    assert 'name="action"' not in html


def test_unit_page_lists_tasks_as_lead_and_as_co(login_as, plan):
    client, _ = login_as("leader")
    unit = find_unit("省经信厅")
    html = client.get(f"/units/{unit.id}").get_data(as_text=True)
    assert "牵头任务" in html and "配合任务" in html
    assert "开展跨境电商企业梯度引育" in html


def test_coordinator_confirms_or_changes_the_lead_with_history(login_as, plan):
    client, coordinator = login_as("coordinator")
    task = _task(plan, 1)
    commerce = find_unit("省商务厅")
    response = client.post(
        f"/tasks/{task.id}", data={"action": "set_lead", "unit_id": commerce.id, "reason": "按分工由商务厅牵头"}
    )
    assert response.status_code == 302
    session().rollback()  # end the read snapshot; see what requests committed
    task = _task(plan, 1)
    assert task.lead.unit_id == commerce.id and task.lead.is_confirmed
    assert task.units[0].unit_id == commerce.id
    assert sum(tu.role is UnitRole.LEAD for tu in task.units) == 1
    # Remove a co-unit and add it back.
    science = find_unit("省科技厅")
    assert client.post(f"/tasks/{task.id}", data={"action": "remove", "unit_id": science.id}).status_code == 302
    assert client.post(f"/tasks/{task.id}", data={"action": "add", "unit_id": science.id}).status_code == 302
    history = session().scalars(select(AuditEntry.action).where(AuditEntry.task_id == task.id)).all()
    assert history == ["task.set_lead", "task.remove_unit", "task.add_unit"]
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "按分工由商务厅牵头" in html


def test_lead_cannot_be_removed_and_the_form_says_why(login_as, plan):
    client, _ = login_as("coordinator")
    task = _task(plan, 1)
    lead_id = task.lead.unit_id
    response = client.post(f"/tasks/{task.id}", data={"action": "remove", "unit_id": lead_id})
    assert response.status_code == 400
    assert "不能直接移除牵头单位" in response.get_data(as_text=True)
    session().rollback()  # end the read snapshot; see what requests committed
    assert _task(plan, 1).lead.unit_id == lead_id


def test_other_roles_cannot_change_units(login_as, plan):
    task = _task(plan, 1)
    commerce = find_unit("省商务厅")
    for role, unit in [("liaison", "省经信厅"), ("leader", "省商务厅"), ("admin", "省商务厅"), ("auditor", "省商务厅")]:
        client, _ = login_as(role, unit=unit)
        response = client.post(f"/tasks/{task.id}", data={"action": "set_lead", "unit_id": commerce.id})
        assert response.status_code in (403, 404), role
    session().rollback()  # end the read snapshot; see what requests committed
    assert _task(plan, 1).lead.unit.short_name == "省经信厅"


def test_pages_fit_a_phone(login_as, plan):
    client, _ = login_as("leader")
    html = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert 'name="viewport"' in html
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert "@media (max-width: 720px)" in css
    assert "cdn" not in html.lower()
