"""The report pages, end to end: a co-unit files a contribution with evidence
named in Chinese, the lead accepts it and reports, a coordinator returns, the
lead revises and resubmits, the coordinator approves; and what must not
happen (bad input, stale pages, other units' drafts)."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select

from supervise.db import session
from supervise.models import AuditEntry, Evidence, Notification, ReportState, ReportVersion

from .conftest import PDF, created_id, file, page, report, task_no

# Task 3 (支持品牌建设和推广): 省委网信办 leads; 省商务厅 and 省市场监管局 contribute;
# one target, 400 省级跨境电商出口知名品牌.
LEAD, CO, OTHER_CO = "省委网信办", "省商务厅", "省市场监管局"
CHINESE_NAME = "2025年第二季度 品牌培育台账(终稿).pdf"


def _file_contribution(co, task, text="新认定省级出口知名品牌 35 个。", value="35"):
    rid = created_id(co.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))
    target = task.targets[0]
    r = report(rid)
    response = co.post(f"/reports/{rid}", data={"version": r.version, "text": text, f"value_{target.id}": value,
                                                "save": "保存草稿"})
    assert response.status_code == 302, page(response, 302)
    return rid


def test_the_whole_round_through_the_pages(login_as, plan, app):
    task = task_no(plan, 3)
    target = task.targets[0]
    co, co_user = login_as("liaison", unit=CO)
    lead, lead_user = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")

    # The co-unit sees what it owes on the task page and starts its contribution.
    html = page(co.get(f"/tasks/{task.id}"))
    assert "填报本单位配合单位报送" in html and "2025年第二季度" in html
    rid = _file_contribution(co, task)
    assert report(rid).kind.value == "contribution" and report(rid).state is ReportState.DRAFT

    # Evidence named in Chinese; stored once under its hash, the name kept exactly.
    r = report(rid)
    response = co.post(f"/reports/{rid}/evidence", data={"version": r.version, "file": file(CHINESE_NAME)},
                       content_type="multipart/form-data")
    assert response.status_code == 302, page(response, 302)
    evidence = session().scalar(select(Evidence).where(Evidence.report_id == rid))
    assert evidence.original_name == CHINESE_NAME
    stored = Path(app.config["EVIDENCE_DIR"]) / evidence.sha256[:2] / evidence.sha256[2:4] / evidence.sha256
    assert stored.read_bytes() == PDF
    assert CHINESE_NAME in page(co.get(f"/reports/{rid}"))

    # Submit: the contribution goes to the lead unit, who is told.
    r = report(rid)
    response = co.post(f"/reports/{rid}", data={"version": r.version, "text": r.text,
                                                f"value_{target.id}": "35", "submit": "保存并报送"})
    assert response.status_code == 302, page(response, 302)
    assert report(rid).state is ReportState.SUBMITTED
    assert session().scalar(select(Notification).where(Notification.user_id == lead_user.id,
                                                       Notification.kind == "contribution.submitted"))

    # The lead sees it, downloads the file under its Chinese name, and accepts.
    html = page(lead.get(f"/reports/{rid}"))
    assert "采纳" in html and "退回" in html and CHINESE_NAME in html
    download = lead.get(f"/evidence/{evidence.id}")
    assert download.status_code == 200
    assert download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(CHINESE_NAME, safe='!#$&+-.^_`|~')}" in disposition
    assert "inline" not in disposition
    assert session().scalar(
        select(AuditEntry).where(AuditEntry.action == "evidence.download", AuditEntry.object_id == evidence.id,
                                 AuditEntry.actor_id == lead_user.id)
    )
    r = report(rid)
    assert lead.post(f"/reports/{rid}/accept", data={"version": r.version, "confirmed": "1"}).status_code == 302
    assert report(rid).state is ReportState.ACCEPTED

    # The lead files the task's report, includes the contribution, and submits.
    lead_rid = created_id(lead.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}))
    assert report(lead_rid).kind.value == "lead_report"
    html = page(lead.get(f"/reports/{lead_rid}"))
    assert "省商务厅(已采纳)" in html
    r = report(lead_rid)
    assert lead.post(f"/reports/{lead_rid}/inclusions", data={"version": r.version, "include": [rid]}).status_code == 302
    r = report(lead_rid)
    response = lead.post(f"/reports/{lead_rid}", data={
        "version": r.version, "text": "本季度全省新增品牌 60 个。", f"value_{target.id}": "60", "submit": "1"})
    assert response.status_code == 302, page(response, 302)
    assert report(lead_rid).state is ReportState.SUBMITTED
    assert task_no(plan, 3).state.value == "in_progress"

    # The coordinator finds it in the review queue and returns it with a reason.
    assert "任务3. 支持品牌建设和推广" in page(coord.get("/work"))
    r = report(lead_rid)
    response = coord.post(f"/reports/{lead_rid}/return",
                          data={"version": r.version, "return-version": r.version, "return-reason": "请补充品牌名单"})
    assert response.status_code == 302, page(response, 302)
    assert report(lead_rid).state is ReportState.RETURNED
    assert "请补充品牌名单" in page(lead.get("/work"))

    # The lead revises and resubmits; the coordinator approves; it is locked.
    r = report(lead_rid)
    response = lead.post(f"/reports/{lead_rid}", data={
        "version": r.version, "text": "本季度全省新增品牌 62 个,名单见附件。", f"value_{target.id}": "62", "submit": "1"})
    assert response.status_code == 302, page(response, 302)
    r = report(lead_rid)
    assert r.state is ReportState.SUBMITTED
    assert coord.post(f"/reports/{lead_rid}/approve", data={"version": r.version, "confirmed": "1"}).status_code == 302
    assert report(lead_rid).state is ReportState.APPROVED
    html = page(lead.get(f"/reports/{lead_rid}"))
    assert "已审核通过并锁定" in html and "保存并报送" not in html

    # Two versions kept, with who and when, and compared.
    versions = session().scalars(select(ReportVersion).where(ReportVersion.report_id == lead_rid)
                                 .order_by(ReportVersion.number)).all()
    assert [v.number for v in versions] == [1, 2] and versions[0].text == "本季度全省新增品牌 60 个。"
    html = page(coord.get(f"/reports/{lead_rid}"))
    assert "第1版" in html and "第2版" in html and lead_user.name in html
    html = page(coord.get(f"/reports/{lead_rid}/versions/1"))
    # The page's text, not its markup: a random CSRF token or an id may hold "62".
    assert "本季度全省新增品牌 60 个。" in html and "62" not in re.sub(r"<[^>]*>", " ", html)
    html = page(coord.get(f"/reports/{lead_rid}/compare?from=1&to=2"))
    # Side by side, the changed characters marked: 60 → 62, and the words added.
    assert '<del class="diff-del">0</del>' in html and '<ins class="diff-ins">2</ins>' in html
    assert '<ins class="diff-ins">,名单见附件</ins>' in html and "有变化" in html

    # The approved value rolls up into the task's progress.
    html = page(coord.get(f"/tasks/{task.id}"))
    assert "最新审核值" in html and "62" in re.sub(r"<[^>]*>", " ", html) and "15.5%" in html

    # Only a coordinator reopens, with a reason.
    r = report(lead_rid)
    assert lead.post(f"/reports/{lead_rid}/reopen", data={"reopen-version": r.version, "reopen-reason": "x"}).status_code == 403
    response = coord.post(f"/reports/{lead_rid}/reopen", data={"reopen-version": r.version, "reopen-reason": "数据口径调整"})
    assert response.status_code == 302
    assert report(lead_rid).state is ReportState.RETURNED


def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(login_as, plan):
    task = task_no(plan, 3)
    target = task.targets[0]
    co, _ = login_as("liaison", unit=CO)
    rid = _file_contribution(co, task, text="原有内容", value="10")
    before = report(rid).version

    # A value that is not a number: the form says so and keeps what was typed.
    response = co.post(f"/reports/{rid}", data={"version": before, "text": "新的内容", f"value_{target.id}": "三十五",
                                                "save": "1"})
    html = page(response, 400)
    assert "请输入不小于 0 的数字" in html and "新的内容" in html and "三十五" in html
    assert report(rid).text == "原有内容" and report(rid).version == before

    # Submitting without text: the service refuses, the typed values stay on the page.
    response = co.post(f"/reports/{rid}", data={"version": before, "text": "  ", f"value_{target.id}": "99",
                                                "submit": "1"})
    html = page(response, 400)
    assert "请填写进展情况后再报送" in html and 'value="99"' in html
    r = report(rid)
    assert r.state is ReportState.DRAFT and r.text == "原有内容" and r.values[0].value == 10 and r.version == before

    # A file that is not what its name says is refused and nothing is stored.
    response = co.post(f"/reports/{rid}/evidence", data={"version": before, "file": file("说明.pdf", b"MZ\x90\x00evil")},
                       content_type="multipart/form-data")
    assert "不支持的文件类型" in page(response, 400)
    response = co.post(f"/reports/{rid}/evidence", data={"version": before}, content_type="multipart/form-data")
    assert "请选择要上传的文件" in page(response, 400)
    assert session().scalar(select(func.count(Evidence.id))) == 0

    # The lead returns without a reason: refused next to the field, nothing changes.
    co.post(f"/reports/{rid}", data={"version": before, "text": "内容", "submit": "1"})
    lead, _ = login_as("liaison", unit=LEAD)
    r = report(rid)
    response = lead.post(f"/reports/{rid}/return", data={"return-version": r.version, "return-reason": " "})
    assert "请填写原因" in page(response, 400)
    assert report(rid).state is ReportState.SUBMITTED and report(rid).version == r.version


def test_a_stale_page_gets_a_clear_409_and_overwrites_nothing(login_as, plan):
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    colleague, _ = login_as("liaison", unit=CO)
    rid = _file_contribution(co, task, text="第一稿")
    seen = report(rid).version
    # A colleague saves first.
    assert colleague.post(f"/reports/{rid}", data={"version": seen, "text": "同事的修改", "save": "1"}).status_code == 302
    # The first page is now stale: its save is refused and says why.
    response = co.post(f"/reports/{rid}", data={"version": seen, "text": "我的修改", "save": "1"})
    assert "已被他人修改" in page(response, 409)
    assert report(rid).text == "同事的修改"

    # Two reviewers on one report: the second is told it changed.
    co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": "报送", "submit": "1"})
    lead_a, _ = login_as("liaison", unit=LEAD)
    lead_b, _ = login_as("liaison", unit=LEAD)
    seen = report(rid).version
    assert lead_a.post(f"/reports/{rid}/accept", data={"version": seen, "confirmed": "1"}).status_code == 302
    response = lead_b.post(f"/reports/{rid}/return", data={"return-version": seen, "return-reason": "不全"})
    assert page(response, 409)
    assert report(rid).state is ReportState.ACCEPTED


def test_another_units_draft_does_not_exist_for_its_liaisons(login_as, plan):
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    rid = _file_contribution(co, task, text="草稿:尚未定稿的数字")
    r = report(rid)
    co.post(f"/reports/{rid}/evidence", data={"version": r.version, "file": file(CHINESE_NAME)},
            content_type="multipart/form-data")
    evidence = session().scalar(select(Evidence).where(Evidence.report_id == rid))

    for role, unit in [("liaison", OTHER_CO), ("liaison", LEAD), ("coordinator", "省商务厅"), ("leader", "省商务厅")]:
        client, _ = login_as(role, unit=unit)
        assert client.get(f"/reports/{rid}").status_code == 404, (role, unit)
        assert client.get(f"/evidence/{evidence.id}").status_code == 404, (role, unit)
        assert client.post(f"/reports/{rid}", data={"version": r.version, "text": "x", "save": "1"}).status_code == 404
        # The task page does not give the draft away either.
        html = page(client.get(f"/tasks/{task.id}"))
        assert f'href="/reports/{rid}"' not in html and "草稿" not in html
    assert report(rid).text == "草稿:尚未定稿的数字"

    # A submitted contribution reaches the lead, but not another co-unit.
    co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": "报送稿", "submit": "1"})
    other, _ = login_as("liaison", unit=OTHER_CO)
    assert other.get(f"/reports/{rid}").status_code == 404
    lead, _ = login_as("liaison", unit=LEAD)
    assert "报送稿" in page(lead.get(f"/reports/{rid}"))


def test_only_reviewers_review(login_as, plan):
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    rid = _file_contribution(co, task)
    co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": "报送", "submit": "1"})
    version = report(rid).version
    # The co-unit itself, a coordinator and a leader cannot accept a contribution.
    for client in (co, login_as("coordinator")[0], login_as("leader")[0]):
        assert client.post(f"/reports/{rid}/accept", data={"version": version, "confirmed": "1"}).status_code in (403, 404)
        assert client.post(f"/reports/{rid}/return", data={"return-version": version,
                                                             "return-reason": "x"}).status_code in (403, 404)
    assert report(rid).state is ReportState.SUBMITTED and report(rid).version == version


def test_with_csrf_on_the_forms_carry_their_token_and_a_post_without_it_changes_nothing(app, make_user, plan):
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    user = make_user("liaison", unit=CO)
    client = app.test_client()

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    html = page(client.get("/login"))
    assert client.post("/login", data={"login": user.login, "password": "Test@Pass2026",
                                       "csrf_token": token(html)}).status_code == 302
    task = task_no(plan, 3)
    html = page(client.get(f"/tasks/{task.id}"))
    assert client.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2"}).status_code == 400
    rid = created_id(client.post(f"/tasks/{task.id}/reports", data={"period": "2025Q2", "csrf_token": token(html)}))
    html = page(client.get(f"/reports/{rid}"))
    version = report(rid).version
    assert client.post(f"/reports/{rid}", data={"version": version, "text": "无令牌", "save": "1"}).status_code == 400
    assert report(rid).text == ""
    response = client.post(f"/reports/{rid}", data={"version": version, "text": "有令牌", "save": "1",
                                                    "csrf_token": token(html)})
    assert response.status_code == 302
    assert report(rid).text == "有令牌"


def test_size_limit_and_tampered_files(login_as, make_user, plan, app):
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    coordinator = make_user("coordinator")
    rid = _file_contribution(co, task)
    app.config["MAX_UPLOAD_MB"] = 1
    big = PDF + b"0" * (1024 * 1024)
    response = co.post(f"/reports/{rid}/evidence", data={"version": report(rid).version, "file": file("大文件.pdf", big)},
                       content_type="multipart/form-data")
    assert "文件超过大小上限 1 MB" in page(response, 413)
    assert session().scalar(select(func.count(Evidence.id))) == 0
    assert not any(p.is_file() for p in Path(app.config["EVIDENCE_DIR"]).rglob("*") if p.parent.name != "tmp")

    co.post(f"/reports/{rid}/evidence", data={"version": report(rid).version, "file": file(CHINESE_NAME)},
            content_type="multipart/form-data")
    evidence = session().scalar(select(Evidence))
    stored = Path(app.config["EVIDENCE_DIR"]) / evidence.sha256[:2] / evidence.sha256[2:4] / evidence.sha256
    stored.write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    response = co.get(f"/evidence/{evidence.id}")
    assert response.status_code == 410 and "附件校验失败" in response.get_data(as_text=True)
    assert session().scalar(select(AuditEntry).where(AuditEntry.action == "evidence.download")) is None
    # Reported: an audit row each time, the coordinators told once.
    assert co.get(f"/evidence/{evidence.id}").status_code == 410
    failures = session().scalars(select(AuditEntry).where(AuditEntry.action == "evidence.integrity_failed")).all()
    assert [(f.object_id, f.detail["sha256"]) for f in failures] == [(evidence.id, evidence.sha256)] * 2
    told = session().scalars(select(Notification).where(Notification.kind == "evidence.integrity_failed")).all()
    assert [n.user_id for n in told] == [coordinator.id]


def test_a_file_is_removed_from_a_draft_but_not_from_a_submitted_report(login_as, plan):
    task = task_no(plan, 3)
    co, _ = login_as("liaison", unit=CO)
    rid = _file_contribution(co, task)
    for name in ("错传的文件.pdf", "正确的文件.pdf"):
        co.post(f"/reports/{rid}/evidence", data={"version": report(rid).version, "file": file(name, PDF + name.encode())},
                content_type="multipart/form-data")
    wrong = session().scalar(select(Evidence).where(Evidence.original_name == "错传的文件.pdf"))
    stale = report(rid).version - 1
    assert co.post(f"/evidence/{wrong.id}/remove", data={"version": stale}).status_code == 409
    assert co.post(f"/evidence/{wrong.id}/remove", data={"version": report(rid).version}).status_code == 302
    assert [e.original_name for e in report(rid).evidence] == ["正确的文件.pdf"]
    assert session().scalar(select(AuditEntry).where(AuditEntry.action == "evidence.remove"))

    co.post(f"/reports/{rid}", data={"version": report(rid).version, "text": "报送", "submit": "1"})
    kept = report(rid).evidence[0]
    assert co.post(f"/evidence/{kept.id}/remove", data={"version": report(rid).version}).status_code == 409
    assert "删除</button>" not in page(co.get(f"/reports/{rid}"))
    assert len(report(rid).evidence) == 1
