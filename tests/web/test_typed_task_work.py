"""Issue 12 point 2 on the task page, without a browser (so without
JavaScript): the reason for 申请办结 and a milestone's 完成情况 go with
上传 (it is a button of the same form) and come back on the page, whether
the file is taken or refused (no file, wrong type, too big); a file chosen
and then 申请办结 / 申请验收 goes with the request."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from supervise.db import session
from supervise.models import Evidence, Milestone, MilestoneState, TaskState

from .conftest import PDF, file, page, task_no

LEAD = "省委网信办"
REASON = "三项目标均已提前完成,品牌目录已于 6 月发布。"
NOTE = "目录已于 2025 年 6 月 28 日印发,共收录品牌 120 个。"


def _form_with(html: str, field: str) -> str:
    """The <form> of the page that holds `field`."""
    forms = [f for f in re.findall(r"<form\b.*?</form>", html, re.S) if f'name="{field}"' in f]
    assert len(forms) == 1, forms
    return forms[0]


def _in_progress(login_as, plan):
    """Task 3 under way (a coordinator suspends and resumes it through the page)."""
    coord, _ = login_as("coordinator")
    for action in ("suspend", "resume"):
        task = task_no(plan, 3)
        response = coord.post(f"/tasks/{task.id}/{action}",
                              data={f"{action}-version": task.version, f"{action}-reason": "统一部署"})
        assert response.status_code == 302, page(response, 302)
    task = task_no(plan, 3)
    assert task.state is TaskState.IN_PROGRESS
    return task


def _evidence_count() -> int:
    return session().scalar(select(func.count(Evidence.id)))


def test_the_reason_for_closing_survives_an_upload(login_as, plan, app):
    task = _in_progress(login_as, plan)
    lead, _ = login_as("liaison", unit=LEAD)

    # 上传 is a button of the form where the reason is typed.
    form = _form_with(page(lead.get(f"/tasks/{task.id}")), "close-reason")
    assert f'formaction="/tasks/{task.id}/close-evidence"' in form and 'name="close-ev-file"' in form
    assert 'enctype="multipart/form-data"' in form

    # Typed, then 上传: the file is taken, the reason is still on the page, nothing is requested yet.
    response = lead.post(f"/tasks/{task.id}/close-evidence", data={
        "close-ev-version": task.version, "close-version": task.version, "close-reason": REASON,
        "close-ev-file": file("办结报告.pdf")}, content_type="multipart/form-data")
    html = page(response)
    assert REASON in _form_with(html, "close-reason") and "已填写的内容仍在下方" in html
    assert "办结报告.pdf" in html and _evidence_count() == 1
    assert task_no(plan, 3).state is not TaskState.CLOSING_REQUESTED

    # 上传 without a file: refused with a message, the reason kept.
    response = lead.post(f"/tasks/{task.id}/close-evidence", data={
        "close-ev-version": task.version, "close-version": task.version, "close-reason": REASON + "(补充)"},
        content_type="multipart/form-data")
    html = page(response, 400)
    assert REASON + "(补充)" in _form_with(html, "close-reason") and "请选择要上传的文件" in html

    # A program named .pdf: refused, the reason kept, nothing stored.
    response = lead.post(f"/tasks/{task.id}/close-evidence", data={
        "close-ev-version": task.version, "close-version": task.version, "close-reason": REASON,
        "close-ev-file": file("假的.pdf", b"MZ\x90\x00" + b"\x00" * 200)}, content_type="multipart/form-data")
    html = page(response, 400)
    assert REASON in _form_with(html, "close-reason") and _evidence_count() == 1

    # Too big: refused (413) with the limit stated, the reason kept.
    app.config["MAX_UPLOAD_MB"] = 1
    response = lead.post(f"/tasks/{task.id}/close-evidence", data={
        "close-ev-version": task.version, "close-version": task.version, "close-reason": REASON,
        "close-ev-file": file("大文件.pdf", PDF + b"0" * (1024 * 1024))}, content_type="multipart/form-data")
    html = page(response, 413)
    assert REASON in _form_with(html, "close-reason") and "文件超过大小上限 1 MB" in html
    assert _evidence_count() == 1

    # The reason as it came back, submitted: the request is made with it.
    response = lead.post(f"/tasks/{task.id}/request-close",
                         data={"close-version": task_no(plan, 3).version, "close-reason": REASON})
    assert response.status_code == 302, page(response, 302)
    assert task_no(plan, 3).state is TaskState.CLOSING_REQUESTED


def test_a_file_chosen_then_request_close_goes_with_the_request(login_as, plan):
    task = _in_progress(login_as, plan)
    lead, _ = login_as("liaison", unit=LEAD)
    response = lead.post(f"/tasks/{task.id}/request-close", data={
        "close-ev-version": task.version, "close-version": task.version, "close-reason": REASON,
        "close-ev-file": file("办结报告.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    assert task_no(plan, 3).state is TaskState.CLOSING_REQUESTED and _evidence_count() == 1


def _confirmed_milestone(login_as, task) -> Milestone:
    lead, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    assert lead.post(f"/tasks/{task.id}/milestones",
                     data={"ms-title": "品牌目录发布", "ms-due_on": "2025-09-30"}).status_code == 302
    m = session().scalar(select(Milestone))
    assert coord.post(f"/milestones/{m.id}/confirm", data={"version": m.version}).status_code == 302
    return session().scalar(select(Milestone))


def test_a_milestone_note_survives_an_upload(login_as, plan):
    task = task_no(plan, 3)
    m = _confirmed_milestone(login_as, task)
    lead, _ = login_as("liaison", unit=LEAD)
    done, ev = f"ms{m.id}-done", f"ms{m.id}-ev"

    form = _form_with(page(lead.get(f"/tasks/{task.id}")), f"{done}-note")
    assert f'formaction="/milestones/{m.id}/evidence"' in form and f'name="{ev}-file"' in form

    response = lead.post(f"/milestones/{m.id}/evidence", data={
        f"{ev}-version": m.version, f"{done}-version": m.version, f"{done}-note": NOTE,
        f"{ev}-file": file("品牌目录.pdf")}, content_type="multipart/form-data")
    html = page(response)
    assert NOTE in _form_with(html, f"{done}-note") and "已填写的内容仍在下方" in html
    m = session().scalar(select(Milestone))
    assert [e.original_name for e in m.evidence] == ["品牌目录.pdf"] and m.state is MilestoneState.CONFIRMED

    # A refused file: the note kept, with the reason next to the file.
    response = lead.post(f"/milestones/{m.id}/evidence", data={
        f"{ev}-version": m.version, f"{done}-version": m.version, f"{done}-note": NOTE,
        f"{ev}-file": file("假的.pdf", b"MZ\x90\x00" + b"\x00" * 200)}, content_type="multipart/form-data")
    html = page(response, 400)
    assert NOTE in _form_with(html, f"{done}-note") and _evidence_count() == 1
    response = lead.post(f"/milestones/{m.id}/evidence", data={
        f"{ev}-version": m.version, f"{done}-version": m.version, f"{done}-note": NOTE},
        content_type="multipart/form-data")
    html = page(response, 400)
    assert NOTE in _form_with(html, f"{done}-note") and "请选择要上传的文件" in html

    # Then 申请验收 with a second file chosen: both kept, the note saved.
    response = lead.post(f"/milestones/{m.id}/done", data={
        f"{ev}-version": m.version, f"{done}-version": m.version, f"{done}-note": NOTE,
        f"{ev}-file": file("印发通知.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    m = session().scalar(select(Milestone))
    assert m.state is MilestoneState.DONE_CLAIMED and m.note == NOTE
    assert sorted(e.original_name for e in m.evidence) == ["印发通知.pdf", "品牌目录.pdf"]
