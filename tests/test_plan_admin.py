"""Coordinators import plan documents from the pages and set reporting."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from supervise.db import session
from supervise.models import AuditEntry, Plan, ReportingFrequency

from .conftest import SOURCE_DOC

SMALL_PLAN = """浙江省人民政府办公厅文件

浙政办发〔2026〕3号

# 浙江省数字贸易提升行动方案(2026—2028年)

## 二、主要任务

### (一)实施平台建设行动

1. 建设数字贸易平台。累计培育数字贸易平台 20 个以上。(牵头单位:省商务厅;配合单位:省经信厅、省数据局)

2. 培育数字贸易主体。新增数字贸易企业 300 家以上。(责任单位:省商务厅、省经信厅,各市、县〔市、区〕政府)

浙江省人民政府办公厅

2026年2月10日
"""


def test_coordinator_imports_a_plan_document(login_as, units):
    client, _ = login_as("coordinator")
    assert client.get("/plans/import").status_code == 200
    response = client.post(
        "/plans/import",
        data={"document": (io.BytesIO(SMALL_PLAN.encode("utf-8")), "方案.md")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    plan = session().scalar(select(Plan).where(Plan.document_number == "浙政办发〔2026〕3号"))
    assert plan is not None and len(plan.tasks) == 2
    task1 = plan.tasks[0]
    assert task1.lead.unit.short_name == "省商务厅" and task1.lead.is_confirmed
    assert session().scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "plan.import")) == 1
    # The same document again changes nothing.
    client.post("/plans/import", data={"text": SMALL_PLAN})
    assert session().scalar(select(func.count()).select_from(Plan)) == 1


def test_bad_documents_get_a_message_and_change_nothing(login_as, units):
    client, _ = login_as("coordinator")
    for data in ({"text": "这不是一个计划"}, {"text": ""},
                 {"document": (io.BytesIO("文本".encode("gbk")), "gbk.txt")}):
        response = client.post("/plans/import", data=data, content_type="multipart/form-data")
        assert response.status_code == 400
        assert 'class="field-error"' in response.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(Plan)) == 0


def test_only_coordinators_import(login_as, units):
    for role, unit in [("liaison", "省经信厅"), ("leader", "省商务厅"), ("admin", "省商务厅"), ("auditor", "省商务厅")]:
        client, _ = login_as(role, unit=unit)
        assert client.get("/plans/import").status_code in (403, 404)
        response = client.post("/plans/import", data={"text": SOURCE_DOC.read_text(encoding="utf-8")})
        assert response.status_code in (403, 404)
    assert session().scalar(select(func.count()).select_from(Plan)) == 0


def test_reporting_settings_rebuild_periods(login_as, plan):
    client, _ = login_as("coordinator")
    response = client.post(f"/plans/{plan.id}/settings", data={"frequency": "half_yearly", "due_working_days": "10"})
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    assert plan.reporting_frequency is ReportingFrequency.HALF_YEARLY
    assert [p.code for p in plan.periods][:2] == ["2024H1", "2024H2"] and len(plan.periods) == 8
    h1 = plan.periods[2]
    assert h1.code == "2025H1" and h1.due_on.isoformat() == "2025-07-14"  # 10th working day after 30 June
    response = client.post(f"/plans/{plan.id}/settings", data={"frequency": "weekly", "due_working_days": "99"})
    assert response.status_code == 400
    assert session().get(Plan, plan.id).reporting_frequency is ReportingFrequency.HALF_YEARLY
    leader, _ = login_as("leader")
    assert leader.post(f"/plans/{plan.id}/settings", data={"frequency": "monthly"}).status_code == 403
