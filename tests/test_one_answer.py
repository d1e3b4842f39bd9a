"""Regression tests for issue 10: every screen gives one answer.

With a plan whose notice window (10 working days) differs from the default
(3), a task's light is the same on the task page, 我的待办 (page and API),
the API's task periods, the dashboard and the exported 通报 (Excel and Word,
read back); a pinned date moves every one of them; and the API refuses a
deadline-extension decision on a stale version with 409, as the page does."""
from __future__ import annotations

import io
import re
from datetime import date

import docx
import openpyxl
import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.models import ExportFormat, ReportingPeriod, Task
from supervise.reminders.service import set_plan_rules
from supervise.services import report_archive
from supervise.services import reports as report_service
from supervise.services import tasks as task_service
from supervise.services.users import issue_api_token

from .conftest import login

LABELS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯"}
NUMBERS = (1, 2, 5)  # task 1 owes, task 2's report is in, task 5 owes: all led by provincial departments


def _block(html: str, pos: int) -> str:
    """The table row (or list item) around position `pos`."""
    start = max(html.rfind("<tr", 0, pos), html.rfind("<li", 0, pos), html.rfind("<summary", 0, pos))
    ends = [i for i in (html.find("</tr>", pos), html.find("</li>", pos), html.find("</summary>", pos)) if i != -1]
    return html[start:min(ends)]


def _light_in(block: str) -> str:
    found = set(re.findall(r"light-(green|yellow|red)\b", block))
    assert len(found) == 1, block
    return found.pop()


def _task_page_light(client, task: Task) -> str:
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    return _light_in(_block(html, html.index("2025年第二季度")))


def _work_page_light(client, task: Task) -> str:
    html = client.get("/work").get_data(as_text=True)
    rows = {_block(html, m.start()) for m in re.finditer(rf'href="/tasks/{task.id}[#"]', html)}
    rows = [r for r in rows if "2025年第二季度" in r]
    assert len(rows) == 1, rows
    return _light_in(rows[0])


def _dashboard_light(client, plan, task: Task) -> str:
    html = client.get(f"/dashboard/?plan={plan.id}&period=2025Q2&view=tasks").get_data(as_text=True)
    rows = [_block(html, m.start()) for m in re.finditer(rf'href="/tasks/{task.id}"', html)]
    return _light_in("".join(r for r in rows if "light-" in r))


def _api(client, token, url):
    response = client.get("/api/v1" + url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _api_period_light(client, token, task: Task) -> str:
    [period] = _api(client, token, f"/tasks/{task.id}/periods?period=2025Q2")
    [lead] = [o for o in period["owed"] if o["kind"] == "lead_report"]
    return lead["light"]


def _api_work_light(client, token, task: Task) -> str:
    [item] = [o for o in _api(client, token, "/me/work?period=2025Q2&per_page=100")["items"]
              if o["task"]["id"] == task.id and o["kind"] == "report_due"]
    return item["light"]


def _exported_lights(coordinator, plan) -> tuple[dict[int, str], dict[int, str]]:
    """Task number -> light label, from the issued Excel ledger (the lead's
    row) and from the Word 通报, each opened and read back."""
    period = session().scalar(select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id,
                                                            ReportingPeriod.code == "2025Q2"))
    with unit_of_work():
        _, xlsx = report_archive.issue_report(coordinator, plan, period, ExportFormat.XLSX)
        _, word = report_archive.issue_report(coordinator, plan, period, ExportFormat.DOCX)
    ledger = {}
    for sheet in openpyxl.load_workbook(io.BytesIO(xlsx)).worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        header_at = next((i for i, r in enumerate(rows) if r and "红黄绿灯" in r), None)
        if header_at is None:
            continue
        col = {name: rows[header_at].index(name) for name in ("任务序号", "职责", "红黄绿灯")}
        ledger.update({r[col["任务序号"]]: r[col["红黄绿灯"]] for r in rows[header_at + 1:]
                       if r[col["职责"]] == "牵头单位" and isinstance(r[col["任务序号"]], int)})
    # The 通报 states every task's light in its annex table (任务落实情况一览表).
    annex = docx.Document(io.BytesIO(word)).tables[-1]
    header = [c.text for c in annex.rows[0].cells]
    col = {name: header.index(name) for name in ("序号", "红黄绿灯")}
    notice = {int(r.cells[col["序号"]].text): r.cells[col["红黄绿灯"]].text for r in annex.rows[1:]}
    return ledger, {n: notice[n] for n in NUMBERS}


@pytest.fixture
def world(app, plan, make_user):
    """The 27号 plan told to warn 10 working days ahead; the lead liaisons
    of tasks 1, 2 and 5 and a coordinator; task 2's 2025Q2 report submitted."""
    coordinator = make_user("coordinator", login="coord")
    tasks = {t.number: t for t in session().scalars(select(Task).where(Task.plan_id == plan.id))}
    liaisons = {n: make_user("liaison", unit=tasks[n].lead.unit.short_name, login=f"lead{n}") for n in NUMBERS}
    with unit_of_work():
        set_plan_rules(coordinator, plan, {"notice_working_days": 10})
    with unit_of_work():
        report = report_service.create_report(liaisons[2], tasks[2], "2025Q2", text="二季度进展")
        report_service.submit_report(liaisons[2], report)
    with unit_of_work():
        tokens = {u.login: issue_api_token(u, label="t") for u in [coordinator, *liaisons.values()]}
    for n in NUMBERS:
        # A far deadline and no milestones: the task's light is its lead report's.
        assert tasks[n].deadline is None or tasks[n].deadline > date(2025, 12, 31)
    return coordinator, tasks, liaisons, tokens


def _every_screen(app, plan, world) -> dict[int, dict[str, str]]:
    coordinator, tasks, liaisons, tokens = world
    coord_client = app.test_client()
    login(coord_client, coordinator)
    ledger, notice = _exported_lights(coordinator, plan)
    seen = {}
    for n in NUMBERS:
        task = tasks[n]
        lead_client = app.test_client()
        login(lead_client, liaisons[n])
        screens = {
            "task page": _task_page_light(coord_client, task),
            "API task periods": _api_period_light(coord_client, tokens["coord"], task),
            "dashboard": _dashboard_light(coord_client, plan, task),
            "Excel ledger": {v: k for k, v in LABELS.items()}[ledger[n]],
            "Word 通报": {v: k for k, v in LABELS.items()}[notice[n]],
        }
        if n != 2:  # 我的待办 lists what is still owed
            screens["我的待办"] = _work_page_light(lead_client, task)
            screens["API 我的待办"] = _api_work_light(lead_client, tokens[f"lead{n}"], task)
        seen[n] = screens
    return seen


def test_a_plans_own_warning_window_gives_one_light_on_every_screen(app, plan, world):
    # 2025-07-01: 2025Q2 has ended (its 通报 may be issued) and its lead reports
    # are due on 2025-07-07, four working days ahead: yellow under this plan's
    # window of 10, green under the default 3.
    app.config["TODAY"] = date(2025, 7, 1)
    seen = _every_screen(app, plan, world)
    assert seen[1] == {screen: "yellow" for screen in seen[1]}, seen[1]
    assert seen[5] == {screen: "yellow" for screen in seen[5]}, seen[5]
    assert seen[2] == {screen: "green" for screen in seen[2]}, seen[2]  # filed: done


def test_a_pinned_date_moves_every_screen(app, plan, world):
    app.config["TODAY"] = date(2025, 7, 1)  # due within the window: yellow
    before = _every_screen(app, plan, world)
    app.config["TODAY"] = date(2025, 7, 9)  # past 2025-07-07: red
    after = _every_screen(app, plan, world)
    for n in (1, 5):
        assert before[n] == {screen: "yellow" for screen in before[n]}, before[n]
        assert after[n] == {screen: "red" for screen in after[n]}, after[n]
    assert after[2] == {screen: "green" for screen in after[2]}


def test_the_api_refuses_a_stale_version_on_an_extension_decision(app, plan, world):
    coordinator, tasks, liaisons, tokens = world
    app.config["TODAY"] = date(2025, 6, 25)
    task = tasks[1]
    with unit_of_work():
        task.deadline = date(2025, 12, 31)
    with unit_of_work():
        request = task_service.request_extension(liaisons[1], task, "2026-06-30", "需要更多时间", today=date(2025, 6, 25))
    seen_version = session().get(Task, task.id).version
    with unit_of_work():  # someone changes the task meanwhile
        task_service.suspend_task(coordinator, session().get(Task, task.id), "暂缓观察")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['coord']}"}
    stale = client.post(f"/api/v1/extensions/{request.id}/decide", headers=headers,
                        json={"grant": True, "version": seen_version})
    assert stale.status_code == 409, stale.get_data(as_text=True)
    assert "已被他人修改" in stale.get_json()["message"]
    session().expire_all()
    assert session().get(Task, task.id).deadline == date(2025, 12, 31)  # nothing changed
    assert session().get(type(request), request.id).state.value == "pending"
    fresh = client.post(f"/api/v1/extensions/{request.id}/decide", headers=headers,
                        json={"grant": False, "reason": "请按期完成", "version": session().get(Task, task.id).version})
    assert fresh.status_code == 200, fresh.get_data(as_text=True)
    assert fresh.get_json()["state"] == "refused"


def test_the_page_and_the_api_offer_the_same_actions(app, plan, world):
    """What a user may do comes from the read model: the buttons on the page
    and the "actions" of the API are one list."""
    coordinator, tasks, liaisons, tokens = world
    app.config["TODAY"] = date(2025, 6, 25)
    from supervise.models import Report

    report = session().scalar(select(Report).where(Report.task_id == tasks[2].id))
    cases = [
        # (user, token, report actions, task number, task actions that must be there / must not)
        (coordinator, tokens["coord"], ["approve", "return"], 1, {"suspend", "assign_units"}, {"file_report"}),
        (liaisons[2], tokens["lead2"], [], 2, {"file_report", "propose_milestone"}, {"suspend"}),
    ]
    for user, token, report_actions, number, task_has, task_lacks in cases:
        client = app.test_client()
        login(client, user)
        assert _api(client, token, f"/reports/{report.id}")["actions"] == report_actions
        page = client.get(f"/reports/{report.id}").get_data(as_text=True)
        for action in ("approve", "return"):
            assert (f'action="/reports/{report.id}/{action}"' in page) is (action in report_actions), (user.login, action)
        task = tasks[number]
        actions = set(_api(client, token, f"/tasks/{task.id}")["actions"])
        assert task_has <= actions and not task_lacks & actions, actions
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert (f'action="/tasks/{task.id}/suspend"' in page) is ("suspend" in actions)
        assert ('name="period"' in page) is ("file_report" in actions)
