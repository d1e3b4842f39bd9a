"""Issue 11, points 4-7: an import is a draft only coordinators see and that
owes nothing; the review page; unknown unit names matched, never created
silently; publishing from a first period (the current one by default);
moving it earlier; plans and 督办事项 by hand; changes to published tasks
audited and told; bad files refused without a change."""
from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.policy import SYSTEM
from supervise.models import (
    AuditEntry,
    Notification,
    Plan,
    PlanStatus,
    ReportingPeriod,
    Task,
    TaskSource,
    Unit,
    UnitAlias,
)

from .conftest import SOURCE_DOC

DRAFT_DOC = """浙江省人民政府办公厅文件

浙政办发〔2026〕9号

# 浙江省数字贸易提升行动方案(2026—2028年)

## 二、主要任务

### (一)实施平台建设行动

1. 建设数字贸易平台。累计培育数字贸易平台 20 个以上。(牵头单位:省商务厅;配合单位:省经信厅、省数据局)

2. 培育数字贸易主体。新增数字贸易企业 300 家以上。(责任单位:省商务厅、浙江省经济和信息化厅,各市、县〔市、区〕政府)

3. 完善跨境数据流动服务。(牵头单位:省跨境电商协会;配合单位:税务总局、省商务厅、省数局)

浙江省人民政府办公厅

2026年2月10日
"""

TODAY = date(2026, 12, 2)


def _count(model) -> int:
    return session().scalar(select(func.count()).select_from(model))


def _import_draft(client) -> Plan:
    response = client.post(
        "/plans/import",
        data={"document": (io.BytesIO(DRAFT_DOC.encode("utf-8")), "方案.md")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    plan = session().scalar(select(Plan).where(Plan.document_number == "浙政办发〔2026〕9号"))
    assert response.headers["Location"].endswith(f"/plans/{plan.id}/review")
    return plan


def _api(user) -> dict[str, str]:
    from supervise.services.users import issue_api_token

    with unit_of_work():
        return {"Authorization": f"Bearer {issue_api_token(user, label='test')}"}


@pytest.fixture
def coordinator(app, login_as):
    app.config["TODAY"] = TODAY
    return login_as("coordinator")


def test_an_import_is_a_draft_only_coordinators_see_and_it_owes_nothing(app, coordinator, login_as):
    from supervise.domain.workdays import WorkdayCalendar
    from supervise.reminders.scan import due_reminders

    client, _ = coordinator
    notes_before = _count(Notification)
    plan = _import_draft(client)
    assert plan.status is PlanStatus.DRAFT and plan.first_period is None
    assert plan.periods == [] and len(plan.tasks) == 3
    assert _count(Notification) == notes_before
    task = plan.tasks[0]
    page = client.get(f"/plans/{plan.id}/review").get_data(as_text=True)
    assert "草稿" in page and "原文" in page and "识别结果" in page
    assert "累计培育数字贸易平台 20 个以上" in page  # the source text beside what was extracted
    assert client.get(f"/plans/{plan.id}").status_code == 302  # the coordinator is sent to the review
    listed = client.get("/plans").get_data(as_text=True)
    assert plan.title in listed and "待核对发布" in listed

    for role, unit in [("liaison", "省商务厅"), ("leader", "省商务厅")]:
        other, user = login_as(role, unit=unit)
        api = _api(user)
        assert other.get(f"/plans/{plan.id}").status_code == 404
        assert other.get(f"/tasks/{task.id}").status_code == 404
        assert other.get(f"/plans/{plan.id}/review").status_code in (403, 404)
        assert plan.title not in other.get("/plans").get_data(as_text=True)
        assert all(p["id"] != plan.id for p in other.get("/api/v1/plans", headers=api).get_json())
        assert all(t["plan_id"] != plan.id for t in other.get("/api/v1/tasks", headers=api).get_json())
        assert other.get(f"/api/v1/tasks/{task.id}", headers=api).status_code == 404
    # Coordinators' API lists hold only live work too.
    api = _api(coordinator[1])
    assert all(t["plan_id"] != plan.id for t in client.get("/api/v1/tasks", headers=api).get_json())
    assert all(p["id"] != plan.id for p in client.get("/api/v1/plans", headers=api).get_json())
    # Nothing is owed, nothing reminded.
    liaison, _ = login_as("liaison", unit="省商务厅")
    assert plan.title not in liaison.get("/work").get_data(as_text=True)
    with app.app_context():
        reminders = due_reminders(date(2026, 12, 2), WorkdayCalendar.load(session()))
        assert not [r for r in reminders if getattr(r, "task_id", None) in {t.id for t in plan.tasks}]
    assert "数字贸易" not in client.get("/dashboard/").get_data(as_text=True)


def test_unknown_names_are_matched_or_created_only_when_told(coordinator):
    client, _ = coordinator
    units_before = _count(Unit)
    plan = _import_draft(client)
    assert _count(Unit) == units_before  # nothing created silently
    task2 = next(t for t in plan.tasks if t.number == 2)
    # A full name the directory knows as an alias is matched straight away.
    assert "浙江省经济和信息化厅" in [tu.unit.canonical_name for tu in task2.units]
    task3 = next(t for t in plan.tasks if t.number == 3)
    # 税务总局 is an alias of 国家税务总局 in the directory.
    assert "国家税务总局" in [tu.unit.canonical_name for tu in task3.units]
    pending = {p["name"] for p in task3.pending_units}
    assert pending == {"省跨境电商协会", "省数局"}
    assert task3.lead is None  # its lead is among the unknown names

    page = client.get(f"/plans/{plan.id}/review").get_data(as_text=True)
    assert "待对应的单位" in page and "尚未对应到单位名录" in page
    from supervise.services.plan_review import suggest_units

    assert suggest_units("省数局")[0].short_name == "省数据局"
    assert suggest_units("浙江省经信厅")[0].short_name == "省经信厅"
    assert suggest_units("国家税务局")[0].canonical_name == "国家税务总局"
    assert "省数据局" in page  # offered beside the unknown name

    # Publishing is refused while names are open, and changes nothing.
    response = client.post(f"/plans/{plan.id}/publish", data={"first_period": "2026Q4"})
    assert response.status_code == 400 and "尚不能发布" in response.get_data(as_text=True)
    assert session().get(Plan, plan.id).status is PlanStatus.DRAFT

    data_bureau = session().scalar(select(Unit).where(Unit.short_name == "省数据局"))
    response = client.post(f"/plans/{plan.id}/review/units", data={"name": "省数局", "unit_id": str(data_bureau.id)})
    assert response.status_code == 302
    # The name is now an alias: the next document is understood.
    assert session().scalar(select(UnitAlias.unit_id).where(UnitAlias.alias == "省数局")) == data_bureau.id
    # Create only when the coordinator says so; without a choice it is an error.
    response = client.post(f"/plans/{plan.id}/review/units", data={"name": "省跨境电商协会", "unit_id": ""})
    assert response.status_code == 400 and "请从单位名录中选择" in response.get_data(as_text=True)
    assert _count(Unit) == units_before
    response = client.post(f"/plans/{plan.id}/review/units",
                           data={"name": "省跨境电商协会", "create": "y", "canonical_name": "浙江省跨境电子商务协会"})
    assert response.status_code == 302
    assert _count(Unit) == units_before + 1
    task3 = session().get(Task, task3.id)
    assert task3.pending_units is None
    assert task3.lead.unit.short_name == "省跨境电商协会"
    assert {tu.unit.short_name for tu in task3.co_units} == {"税务总局", "省商务厅", "省数据局"}
    assert session().scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "unit.create")) == 1


def _resolve_all(client, plan):
    data_bureau = session().scalar(select(Unit).where(Unit.short_name == "省数据局"))
    client.post(f"/plans/{plan.id}/review/units", data={"name": "省数局", "unit_id": str(data_bureau.id)})
    commerce = session().scalar(select(Unit).where(Unit.short_name == "省商务厅"))
    client.post(f"/plans/{plan.id}/review/units", data={"name": "省跨境电商协会", "unit_id": str(commerce.id)})


def test_publishing_starts_reporting_in_the_current_period_and_tells_the_units(coordinator, login_as):
    client, _ = coordinator
    plan = _import_draft(client)
    _resolve_all(client, plan)
    page = client.get(f"/plans/{plan.id}/review").get_data(as_text=True)
    assert '<option selected value="2026Q4">' in page or 'value="2026Q4" selected' in page
    liaison, liaison_user = login_as("liaison", unit="省经信厅")
    response = client.post(f"/plans/{plan.id}/publish", data={"first_period": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    plan = session().get(Plan, plan.id)
    assert plan.status is PlanStatus.PUBLISHED and plan.first_period == "2026Q4"
    assert [p.code for p in plan.periods][0] == "2026Q4"  # nothing owed for 2026Q1-Q3
    assert len(plan.periods) == 9  # 2026Q4 .. 2028Q4
    told = session().scalars(select(Notification).where(Notification.user_id == liaison_user.id,
                                                        Notification.kind == "plan.published")).all()
    assert len(told) == 1 and "本单位承担 2 项任务" in told[0].title
    # Now the liaison sees it; targets keep the plan's baseline.
    assert liaison.get(f"/plans/{plan.id}").status_code == 200
    # Moving the first period earlier makes those periods owed, with due dates.
    response = client.post(f"/plans/{plan.id}/first-period", data={"first_period": "2026Q1"})
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    q2 = next(p for p in plan.periods if p.code == "2026Q2")
    assert plan.first_period == "2026Q1" and len(plan.periods) == 12
    assert q2.due_on.isoformat() == "2026-07-07"  # the 5th working day after 30 June
    entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "plan.first_period"))
    assert entry.detail["before"] == "2026Q4" and entry.detail["after"] == "2026Q1"
    # A period outside the plan is a message, not a change.
    response = client.post(f"/plans/{plan.id}/first-period", data={"first_period": "2030Q1"})
    assert response.status_code == 400
    assert session().get(Plan, plan.id).first_period == "2026Q1"


def test_review_edits_merge_split_remove(coordinator):
    client, _ = coordinator
    plan = _import_draft(client)
    task1, task2, task3 = plan.tasks
    commerce = session().scalar(select(Unit).where(Unit.short_name == "省商务厅"))
    data_bureau = session().scalar(select(Unit).where(Unit.short_name == "省数据局"))
    response = client.post(f"/plans/{plan.id}/tasks/{task1.id}/edit", data={
        "title": "建设数字贸易平台(修订)", "text": task1.text, "source": "plan", "section_title": task1.section.title,
        "lead_unit_id": str(data_bureau.id), "co_unit_ids": [str(commerce.id)], "deadline": "2027-06-30",
        "targets": "累计培育数字贸易平台 30 个以上",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    task1 = session().get(Task, task1.id)
    assert task1.title == "建设数字贸易平台(修订)" and task1.deadline == date(2027, 6, 30)
    assert task1.lead.unit_id == data_bureau.id and task1.lead.is_confirmed
    assert [tu.unit_id for tu in task1.co_units] == [commerce.id]
    assert [int(t.value) for t in task1.targets] == [30]
    # A target line without a quantity is a message next to the field, and nothing typed is lost.
    response = client.post(f"/plans/{plan.id}/tasks/{task1.id}/edit", data={
        "title": "新标题", "source": "plan", "targets": "进一步加强平台建设"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "未识别出数量指标" in body and "新标题" in body
    assert session().get(Task, task1.id).title == "建设数字贸易平台(修订)"

    # Split off a sentence of task 2 as a new task right after it.
    response = client.post(f"/plans/{plan.id}/tasks/{task2.id}/split", data={"part": "新增数字贸易企业 300 家以上。"})
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    assert [t.number for t in plan.tasks] == [1, 2, 3, 4]
    assert plan.tasks[2].text == "新增数字贸易企业 300 家以上。" and plan.tasks[3].id == task3.id
    assert {tu.unit_id for tu in plan.tasks[2].units} == {tu.unit_id for tu in plan.tasks[1].units}
    # Merge it back.
    new_id = plan.tasks[2].id
    response = client.post(f"/plans/{plan.id}/tasks/{new_id}/merge", data={"into": str(task2.id)})
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    assert [t.id for t in plan.tasks] == [task1.id, task2.id, task3.id]
    assert "新增数字贸易企业 300 家以上。" in plan.tasks[1].text
    # Remove task 1: the others are numbered again.
    response = client.post(f"/plans/{plan.id}/tasks/{task1.id}/remove")
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    assert [(t.id, t.number) for t in plan.tasks] == [(task2.id, 1), (task3.id, 2)]


def test_items_by_hand_then_changes_after_publication_are_audited_and_told(coordinator, login_as):
    client, coordinator_user = coordinator
    response = client.get("/plans/new")
    assert response.status_code == 200 and "督办事项" in response.get_data(as_text=True)
    response = client.post("/plans/new", data={"kind": "items", "title": "", "frequency": "monthly"})
    assert response.status_code == 400 and "请填写名称" in response.get_data(as_text=True)
    assert _count(Plan) == 0
    response = client.post("/plans/new", data={"kind": "items", "title": "2026年省政府领导批示督办事项",
                                                "frequency": "monthly"})
    assert response.status_code == 302
    plan = session().scalar(select(Plan).where(Plan.title == "2026年省政府领导批示督办事项"))
    assert plan.is_draft and plan.document_number == "督办事项〔2026〕1号"
    assert plan.period_start == date(2026, 1, 1) and plan.period_end == date(2026, 12, 31)
    economy = session().scalar(select(Unit).where(Unit.short_name == "省经信厅"))
    hangzhou = session().scalar(select(Unit).where(Unit.short_name == "杭州市政府"))
    commerce = session().scalar(select(Unit).where(Unit.short_name == "省商务厅"))
    response = client.post(f"/plans/{plan.id}/tasks/new", data={
        "title": "研究解决跨境电商海外仓用地问题", "text": "请省经信厅会同杭州市研究解决。", "source": "leader_instruction",
        "source_document_number": "省领导批示〔2026〕15号", "source_issued_on": "2026-11-20",
        "lead_unit_id": str(economy.id), "co_unit_ids": [str(hangzhou.id)], "deadline": "2026-12-31",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    task = session().scalar(select(Task).where(Task.plan_id == plan.id))
    assert task.source is TaskSource.LEADER_INSTRUCTION
    assert task.source_document_number == "省领导批示〔2026〕15号" and task.source_issued_on == date(2026, 11, 20)
    response = client.post(f"/plans/{plan.id}/publish", data={"first_period": "2026-12"})
    assert response.status_code == 302
    plan = session().get(Plan, plan.id)
    assert [p.code for p in plan.periods] == ["2026-12"]

    _liaison, economy_liaison = login_as("liaison", unit="省经信厅")
    _other, commerce_liaison = login_as("liaison", unit="省商务厅")
    # After publication: a change without a reason is refused, with a reason audited and told.
    response = client.post(f"/plans/{plan.id}/tasks/{task.id}/edit", data={
        "title": task.title, "source": "leader_instruction", "lead_unit_id": str(commerce.id),
        "co_unit_ids": [str(hangzhou.id)], "deadline": "2026-12-31"})
    assert response.status_code == 400 and "请说明原因" in response.get_data(as_text=True)
    response = client.post(f"/plans/{plan.id}/tasks/{task.id}/edit", data={
        "title": task.title, "source": "leader_instruction", "lead_unit_id": str(commerce.id),
        "co_unit_ids": [str(hangzhou.id)], "deadline": "2026-12-25", "reason": "按领导最新批示调整"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    entry = session().scalar(select(AuditEntry).where(AuditEntry.action == "task.change"))
    assert entry.detail["before"]["lead"] == "浙江省经济和信息化厅"
    assert entry.detail["after"]["lead"] == "浙江省商务厅" and entry.detail["after"]["deadline"] == "2026-12-25"
    assert entry.reason == "按领导最新批示调整"
    for user in (economy_liaison, commerce_liaison):  # the unit that left and the one that came
        kinds = session().scalars(select(Notification.title).where(Notification.user_id == user.id,
                                                                   Notification.kind == "task.changed")).all()
        assert kinds and "牵头单位" in kinds[0] and "完成时限" in kinds[0]
    # Adding a task to the published list: audited, told.
    response = client.post(f"/plans/{plan.id}/tasks/new", data={
        "title": "会议议定:推进海外仓建设", "source": "meeting_decision", "source_document_number": "专题会议纪要〔2026〕8号",
        "lead_unit_id": str(economy.id), "deadline": "2026-12-31", "reason": "专题会议议定"})
    assert response.status_code == 302
    assert session().scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "task.add")) == 2
    assert session().scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == economy_liaison.id, Notification.kind == "task.assigned")) == 1


@pytest.mark.parametrize("name,data,message", [
    ("empty.md", b"", "文件内容为空"),
    ("blank.txt", b"   \n\n ", "文件内容为空"),
    ("binary.txt", bytes(range(256)) * 64, "这不是文本文件"),
    ("scan.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "另存为"),
    ("huge.md", b"a" * (20 * 1024 * 1024 + 10), "文件过大"),
    ("notaplan.md", "这不是一个计划".encode("gb18030"), "不像是计划文件"),
])
def test_a_bad_file_is_a_message_and_changes_nothing(coordinator, name, data, message):
    client, _ = coordinator
    before = (_count(Plan), _count(Task), _count(AuditEntry))
    response = client.post("/plans/import", data={"document": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and 'class="field-error"' in body
    assert (_count(Plan), _count(Task), _count(AuditEntry)) == before


def test_cli_import_draft_publish_and_first_period(app, make_user, tmp_path):
    app.config["TODAY"] = TODAY
    runner = app.test_cli_runner()
    path = tmp_path / "方案.md"
    path.write_text(SOURCE_DOC.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(args=["plan", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "草稿" in result.output
    session().rollback()
    plan = session().scalar(select(Plan))
    assert plan.is_draft and session().scalar(select(func.count(ReportingPeriod.id))) == 0
    # The draft goes (a coordinator discards it); publish at import time, from a given period.
    from supervise.services.plan_review import discard_draft

    coordinator = make_user("coordinator")
    with unit_of_work():
        discard_draft(coordinator, session().get(Plan, plan.id))
    assert _count(Plan) == 0 and _count(Task) == 0
    result = runner.invoke(args=["plan", "import", str(path), "--publish", "--first-period", "2025Q1"])
    assert result.exit_code == 0, result.output
    assert "自 2025Q1 起报送" in result.output
    session().rollback()
    plan = session().scalar(select(Plan))
    assert plan.status is PlanStatus.PUBLISHED and plan.periods[0].code == "2025Q1"
    result = runner.invoke(args=["plan", "set-first-period", plan.document_number, "2024Q3"])
    assert result.exit_code == 0, result.output
    session().rollback()
    session().expire_all()
    assert [p.code for p in session().get(Plan, plan.id).periods][:2] == ["2024Q3", "2024Q4"]
    # Bad input: one line, non-zero, nothing changed.
    for args in (["plan", "set-first-period", plan.document_number, "2024Q9"],
                 ["plan", "set-first-period", "无此文号", "2025Q1"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    bad = tmp_path / "bad.txt"
    bad.write_bytes(bytes(range(256)) * 8)
    result = runner.invoke(args=["plan", "import", str(bad), "--publish"])
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert "这不是文本文件" in result.output
    session().rollback()
    assert _count(Plan) == 1


def test_make_run_seed_starts_reporting_in_the_current_period(app, units):
    """The 27号 plan seeded by `make run` owes nothing for the quarters
    before installation: a 杭州 liaison does not start with 121 overdue reports."""
    from supervise.seed import run_seed
    from supervise.services.users import create_user
    from supervise.services.work import my_work
    from supervise.models import Role

    app.config["TODAY"] = TODAY
    app.config["CREATE_DEMO_ACCOUNTS"] = False
    with unit_of_work():
        run_seed(app)
    plan = session().scalar(select(Plan))
    assert plan.status is PlanStatus.PUBLISHED and plan.first_period == "2026Q4"
    assert [p.code for p in plan.periods] == ["2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4"]
    with unit_of_work():
        liaison = create_user("hz_liaison", unit_name="杭州市政府", roles=[Role.LIAISON], password="Test@Pass2026",
                                  actor=SYSTEM)
    work = my_work(liaison, TODAY)
    assert all(item.obligation.period.code == "2026Q4" for item in work.owed)
    assert not [item for item in work.owed if item.overdue_days > 0]


CORPUS = Path("/work/shared/plans-corpus")
CORPUS_FILES = ["docx/gwy-chuangxin-tuiguang-2018.docx", "pdf/gwy-nongji-2018.pdf", "gbk/gwy-tiyu-saishi-2018.txt",
                "gwy-jili-2018.txt", "gwy-zhijiao-2019.txt"]


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared plans corpus is not on this machine")
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_real_documents_become_drafts_with_every_task_and_nothing_guessed(coordinator, name):
    """Word, PDF and GB18030 documents of other conventions: each becomes a
    draft holding every task the corpus expects, names the directory does not
    know are left to match (never created), and the draft can be published
    only once they are settled."""
    client, _ = coordinator
    path = CORPUS / name
    expected = json.loads((CORPUS / "expected" / (path.stem + ".json")).read_text(encoding="utf-8"))
    units_before = _count(Unit)
    response = client.post("/plans/import", data={"document": (io.BytesIO(path.read_bytes()), path.name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    plan = session().scalar(select(Plan).order_by(Plan.id.desc()))
    assert plan.is_draft and plan.source_filename == path.name
    assert len(plan.tasks) == len(expected["tasks"])
    assert [t.number for t in plan.tasks] == list(range(1, len(plan.tasks) + 1)) or len(
        {t.number for t in plan.tasks}) == len(plan.tasks)
    assert _count(Unit) == units_before
    page = client.get(f"/plans/{plan.id}/review")
    assert page.status_code == 200
    # Every task shows its source text; leads the document names and the
    # directory knows are set.
    body = page.get_data(as_text=True)
    assert body.count('class="review-task"') == len(plan.tasks)
    known_leads = [t for t in expected["tasks"] if t.get("lead") and t["lead"] in {
        a for (a,) in session().execute(select(UnitAlias.alias))}]
    with_lead = [t for t in plan.tasks if t.lead is not None]
    assert len(with_lead) >= len(known_leads) * 0.8, (len(with_lead), len(known_leads))
    # The same file again changes nothing.
    client.post("/plans/import", data={"document": (io.BytesIO(path.read_bytes()), path.name)},
                content_type="multipart/form-data")
    assert _count(Plan) == 1
