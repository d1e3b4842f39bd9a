"""Issue 12, points 2, 7 and 8 through the pages, without a browser (so
without JavaScript): what was typed goes with 上传, 保存引用 and 删除 and is
saved as the draft; a decision that locks asks once more and says what
follows; the lead sees the co-units' figures (a suggested total) and the
cited evidence, and after 采纳 a pointer to its own report."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import Evidence, ReportState

from .conftest import created_id, file, page, report, task_no

LEAD, CO, OTHER_CO = "省委网信办", "省商务厅", "省市场监管局"
TYPED = "本季度新认定省级出口知名品牌 35 个,另有 12 个在公示中。"


def _new_report(client, task) -> int:
    return created_id(client.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))


def test_an_upload_saves_what_was_typed_as_the_draft(login_as, plan):
    task = task_no(plan, 3)
    target = task.targets[0]
    co, _ = login_as("liaison", unit=CO)
    rid = _new_report(co, task)
    # The report's form posts its text and values along with the file (上传 is a button of it).
    response = co.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": TYPED, f"value_{target.id}": "35", "file": file("台账.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    r = report(rid)
    assert r.text == TYPED and [str(v.value.normalize()) for v in r.values] == ["35"]
    assert [e.original_name for e in r.evidence] == ["台账.pdf"]
    html = page(co.get(f"/reports/{rid}"))
    assert TYPED in html and 'value="35"' in html and "已填写的内容已保存为草稿" in html

    # 上传 without a file: refused, and the typed text comes back on the page.
    response = co.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": TYPED + "(修改中)", f"value_{target.id}": "36"},
        content_type="multipart/form-data")
    html = page(response, 400)
    assert TYPED + "(修改中)" in html and 'value="36"' in html and "请选择要上传的文件" in html

    # A file the store refuses (a program named .pdf): refused, typed text kept on the page.
    response = co.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": "新的文字", f"value_{target.id}": "37",
        "file": file("假的.pdf", b"MZ\x90\x00" + b"\x00" * 200)}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "新的文字" in response.get_data(as_text=True)
    assert report(rid).text == TYPED  # nothing of the refused request kept

    # 删除 is a button of the same form: the typed text goes with it too.
    evidence = session().scalar(select(Evidence).where(Evidence.report_id == rid))
    response = co.post(f"/evidence/{evidence.id}/remove", data={
        "version": report(rid).version, "text": "删除附件前输入的文字", f"value_{target.id}": "38"})
    assert response.status_code == 302, page(response, 302)
    assert report(rid).text == "删除附件前输入的文字" and not report(rid).evidence

    # A file chosen and then 保存草稿: uploaded with the draft.
    response = co.post(f"/reports/{rid}", data={
        "version": report(rid).version, "text": "保存草稿时带上文件", f"value_{target.id}": "39", "save": "1",
        "file": file("照片.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    assert [e.original_name for e in report(rid).evidence] == ["照片.pdf"]


def _accepted_contribution(login_as, task, unit, value):
    client, _ = login_as("liaison", unit=unit)
    rid = _new_report(client, task)
    target = task.targets[0]
    response = client.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": f"{unit}本季度情况", f"value_{target.id}": value,
        "file": file(f"{unit}名单.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    response = client.post(f"/reports/{rid}", data={
        "version": report(rid).version, "text": f"{unit}本季度情况", f"value_{target.id}": value, "submit": "1"})
    assert response.status_code == 302, page(response, 302)
    return rid


def test_a_citation_saves_the_typed_draft_and_the_lead_sees_figures_and_evidence(login_as, plan):
    task = task_no(plan, 3)
    target = task.targets[0]
    c1 = _accepted_contribution(login_as, task, CO, "35")
    c2 = _accepted_contribution(login_as, task, OTHER_CO, "20")
    lead, _ = login_as("liaison", unit=LEAD)

    # 采纳 asks once more and says what follows; nothing changes until confirmed.
    response = lead.post(f"/reports/{c1}/accept", data={"version": report(c1).version})
    html = page(response)
    assert "确认采纳" in html and "锁定" in html and "牵头报告中引用" in html
    assert report(c1).state is ReportState.SUBMITTED
    response = lead.post(f"/reports/{c1}/accept", data={"version": report(c1).version, "confirmed": "1"})
    assert response.status_code == 302 and report(c1).state is ReportState.ACCEPTED

    # After 采纳 the contribution's page points to writing the lead's report.
    html = page(lead.get(f"/reports/{c1}"))
    assert "下一步" in html and "开始撰写2025年第二季度牵头报告" in html
    lead_rid = _new_report(lead, task)
    html = page(lead.get(f"/reports/{c1}"))
    assert f'href="/reports/{lead_rid}"' in html and "撰写2025年第二季度牵头报告" in html

    # The lead's form offers the accepted contribution's figure as a suggested total.
    html = page(lead.get(f"/reports/{lead_rid}"))
    assert "省商务厅 35" in html and "建议值" in html

    # Tick both contributions and 保存引用 after typing: the text is saved with the citations.
    response = lead.post(f"/reports/{lead_rid}/inclusions", data={
        "version": report(lead_rid).version, "text": "全省新增品牌 55 个。", f"value_{target.id}": "",
        "include-shown": "1", "include": [c1, c2]})
    assert response.status_code == 302, page(response, 302)
    assert report(lead_rid).text == "全省新增品牌 55 个。"
    html = page(lead.get(f"/reports/{lead_rid}"))
    assert "全省新增品牌 55 个。" in html
    assert "省商务厅 35、省市场监管局 20" in html and ">55</strong>" in html  # the lead decides; the sum is offered
    # The cited contributions' files are shown on the lead's report.
    assert "引用的配合单位佐证材料" in html and "省商务厅名单.pdf" in html and "省市场监管局名单.pdf" in html
    response = lead.post(f"/reports/{lead_rid}", data={
        "version": report(lead_rid).version, "text": "全省新增品牌 55 个。", f"value_{target.id}": "55",
        "include-shown": "1", "include": [c1, c2], "submit": "1"})
    assert response.status_code == 302, page(response, 302)

    # The coordinator sees the cited files too, and approval asks once more.
    coord, _ = login_as("coordinator")
    html = page(coord.get(f"/reports/{lead_rid}"))
    assert "省商务厅名单.pdf" in html and "审核通过…" in html and "退回" in html
    response = coord.post(f"/reports/{lead_rid}/approve", data={"version": report(lead_rid).version})
    html = page(response)
    assert "确认审核通过" in html and "锁定" in html and "重新打开" in html
    assert report(lead_rid).state is ReportState.SUBMITTED
    response = coord.post(f"/reports/{lead_rid}/approve", data={"version": report(lead_rid).version, "confirmed": "1"})
    assert response.status_code == 302 and report(lead_rid).state is ReportState.APPROVED


def test_two_versions_side_by_side_with_the_changed_characters_marked(login_as, plan):
    """Issue 12 point 9: no unified diff (--- +++ @@); the two versions side
    by side, characters marked (Chinese has no spaces), values and files."""
    task = task_no(plan, 3)
    target = task.targets[0]
    co, _ = login_as("liaison", unit=CO)
    rid = _new_report(co, task)
    co.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": "第一段不变。\n本季度认定品牌 35 个。", f"value_{target.id}": "35",
        "file": file("第一版名单.pdf")}, content_type="multipart/form-data")
    co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": report(rid).text,
                                     f"value_{target.id}": "35", "submit": "1"})
    lead, _ = login_as("liaison", unit=LEAD)
    response = lead.post(f"/reports/{rid}/return", data={
        "return-version": report(rid).version, "return-reason": "请补充名单"})
    assert response.status_code == 302, page(response, 302)
    co.post(f"/reports/{rid}/evidence", data={
        "version": report(rid).version, "text": "第一段不变。\n本季度认定省级品牌 38 个。", f"value_{target.id}": "38",
        "file": file("补充名单.pdf")}, content_type="multipart/form-data")
    response = co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": report(rid).text,
                                                f"value_{target.id}": "38", "submit": "1"})
    assert response.status_code == 302, page(response, 302)

    html = page(lead.get(f"/reports/{rid}/compare?from=1&to=2"))
    assert "@@" not in html and "+++" not in html
    assert html.count('class="version-col"') == 2
    assert '<ins class="diff-ins">省级</ins>' in html
    assert '<del class="diff-del">5</del>' in html and '<ins class="diff-ins">8</ins>' in html
    assert "第一段不变。" in html and '<del class="diff-del">第一段' not in html  # unchanged text unmarked
    assert "有变化" in html and "35" in html and "38" in html
    assert "新增</span>" in html and "补充名单.pdf" in html
    assert "两版共有:第一版名单.pdf" in html
