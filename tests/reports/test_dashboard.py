"""The dashboard page, issuing and downloading reports from the pages and the
command line, and who may do it."""
from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from docx import Document
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import AuditEntry, ExportFormat, IssuedReport
from supervise.reports.supervision import format_number

from .conftest import AS_OF


def _chart_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def _target_chart(client, base: str, wanted) -> tuple[dict, str]:
    """The chart data of one target, from the page of charts that holds it."""
    for n in range(1, 10):
        page = client.get(f"{base}&view=targets&page={n}").get_data(as_text=True)
        found = [t for t in _chart_data(page)["targets"] if wanted(t)]
        if found:
            return found[0], page
    raise AssertionError("no chart for that target")


def test_dashboard_shows_lights_targets_lists_and_punctuality(login_as, scenario):
    client, _ = login_as("leader")
    base = f"/dashboard/?period=2025Q2&as_of={AS_OF}"
    response = client.get(base)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # One screen of summary: lights by action, targets against 序时进度, what is late.
    for heading in ["各行动红黄绿灯", "指标与序时进度", "逾期与滞后"]:
        assert heading in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "1 个工作节点逾期" in text and "1 份报告退回修改" in text
    charts = _chart_data(html)
    sections = charts["sections"]
    assert len(sections) == 5 and sum(s["red"] + s["yellow"] + s["green"] for s in sections) == 22
    for s in sections:
        assert f"<td>{s['name']}</td>" in html
    assert len(html) < 40_000  # the summary, not every table
    # The rest is one click away.
    views = {"sections": "按行动:任务状态与红黄绿灯", "units": "按单位", "targets": "目标指标与序时进度",
             "late": "逾期事项", "punctuality": "各单位报送及时率", "tasks": "任务一览"}
    for view, heading in views.items():
        assert f'href="/dashboard/?plan={scenario.plan.id}&amp;period=2025Q2&amp;view={view}&amp;as_of={AS_OF}"' in html
        page = client.get(f"{base}&view={view}").get_data(as_text=True)
        assert heading in page, view
    late = client.get(f"{base}&view=late").get_data(as_text=True)
    assert "数据口径与上季度不一致" in late  # returned
    assert "开通第一条新航线" in late  # overdue milestone
    assert "二季度未审核" not in html + late  # submitted but not approved: no figure, no summary
    tasks = client.get(f"{base}&view=tasks").get_data(as_text=True)
    assert "第 1 / 2 页" in tasks and tasks.count('<td class="num">') == 20
    assert '<td class="num">21</td>' in client.get(f"{base}&view=tasks&page=2").get_data(as_text=True)

    parks, page = _target_chart(client, base, lambda t: t["name"] == "8. 省级跨境电商产业园")
    q1 = parks["periods"].index("2025Q1")
    assert parks["actual"][q1] == 20 and parks["actual"][q1 + 1] is None
    # The straight line from baseline 0 to the target 100 over 2024-2027.
    assert parks["planned"][0] == pytest.approx(100 * 91 / 1461, abs=0.01)
    assert parks["planned"][-1] == pytest.approx(100)
    assert parks["planned"][q1] == pytest.approx(100 * 456 / 1461, abs=0.01)
    row = f"<tr><td>2025Q1</td><td>{format_number(parks['planned'][q1])}</td><td>20</td></tr>"
    assert row in page
    assert client.get(f"{base}&view=nonsense").status_code == 400


def test_a_level_to_reach_by_a_year_is_not_every_year_and_has_no_made_up_baseline(login_as, scenario):
    """「国际航空货邮吞吐量突破50万吨」: a level in 2027, not 每年; with no
    baseline in the document its chart has no 序时 line from 0 and it is not
    judged against 序时进度."""
    from supervise.models import Target, TargetKind

    air = session().scalar(select(Target).where(Target.text.like("%航空货邮吞吐量%")))
    assert air.kind is TargetKind.ANNUAL and air.due_year == 2027 and air.baseline_value is None
    assert air.kind_label == "2027年"
    client, _ = login_as("leader")
    page = client.get(f"/dashboard/?period=2025Q2&as_of={AS_OF}&view=targets").get_data(as_text=True)
    row = page[page.index(f'#target-{air.id}"'):]
    row = row[:row.index("</tr>")]
    assert "2027年突破50万吨" in row and "每年" not in row and "未给出" in row
    chart, _ = _target_chart(client, f"/dashboard/?period=2025Q2&as_of={AS_OF}", lambda t: t["id"] == air.id)
    assert chart["baseline_known"] is False and set(chart["planned"]) == {None}
    assert chart["goal"] == float(air.value)
    plan_page = client.get(f"/plans/{scenario.plan.id}").get_data(as_text=True)
    assert "每年 · 2027年" not in plan_page


def test_dashboard_scripts_are_files_served_by_the_app(login_as, scenario):
    client, _ = login_as("coordinator")
    response = client.get("/dashboard/")
    html = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attrs, body in scripts:
        # Either a file of ours, or a JSON data block (never executed).
        assert ('src="/static/' in attrs and not body.strip()) or 'type="application/json"' in attrs
    for src in re.findall(r'src="(/static/[^"]+)"', html):
        assert client.get(src).status_code == 200, src
    assert "echarts" in html and "cdn" not in html.lower()


@pytest.mark.parametrize("role,status", [("leader", 200), ("coordinator", 200), ("liaison", 403), ("admin", 403),
                                         ("auditor", 403)])
def test_who_sees_the_dashboard_and_the_reports(login_as, plan, role, status):
    client, _ = login_as(role)
    assert client.get("/dashboard/").status_code == status
    assert client.get("/dashboard/reports").status_code == status
    nav = client.get("/").get_data(as_text=True) if role != "auditor" else ""
    assert ("督查看板" in nav) == (status == 200)


def test_bad_input_gets_a_clear_message(login_as, plan):
    client, _ = login_as("leader")
    response = client.get("/dashboard/?period=2031Q9")
    assert response.status_code == 400 and "计划中没有报送期次 2031Q9" in response.get_data(as_text=True)
    assert client.get("/dashboard/?plan=99999").status_code == 404
    response = client.post("/dashboard/reports", data={"period": "2025Q2", "format": "pdf"})
    assert response.status_code == 400 and "不支持的导出格式" in response.get_data(as_text=True)
    response = client.post("/dashboard/reports", data={"period": "1999Q1", "format": "docx"})
    assert response.status_code == 400 and "没有报送期次 1999Q1" in response.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(IssuedReport)) == 0


NEXT_STEPS = "各牵头单位要对照分工抓好落实。\n\n逾期单位要说明原因并提出整改措施。"
ISSUE = {"period": "2025Q2", "format": "docx", "next_steps": NEXT_STEPS, "step": "issue"}


def test_issuing_shows_a_preview_and_its_figures_before_confirming(login_as, scenario, app):
    client, _ = login_as("coordinator")
    form = {"plan": scenario.plan.id, "period": "2025Q2", "format": "docx", "next_steps": NEXT_STEPS}
    response = client.post("/dashboard/reports", data={**form, "step": "preview"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and session().scalar(select(func.count()).select_from(IssuedReport)) == 0
    # The first page, as the Word file will have it, and the figures it carries.
    assert "通报首页预览" in html and "2025年第二季度落实情况的督查通报" in html and "一、总体情况" in html
    assert "通报中的数字" in html and "确认签发并归档" in html and "data-confirm=" in html
    assert NEXT_STEPS in html.replace("\r", "")  # what was typed is kept for the confirmation
    # Posting without a step never issues (a stale form, a double click on 预览).
    assert client.post("/dashboard/reports", data=form).status_code == 200
    # A Word 通报 is not issued without 下一步工作要求; what was typed stays.
    response = client.post("/dashboard/reports", data={**form, "next_steps": "  ", "step": "issue"})
    assert response.status_code == 400 and "请填写下一步工作要求" in response.get_data(as_text=True)
    assert session().scalar(select(func.count()).select_from(IssuedReport)) == 0
    response = client.post("/dashboard/reports", data={**form, "step": "issue"})
    assert response.status_code == 302
    row = session().scalar(select(IssuedReport))
    assert row.next_steps == "各牵头单位要对照分工抓好落实。\n逾期单位要说明原因并提出整改措施。"
    doc = Document(io.BytesIO(client.get(f"/dashboard/reports/{row.id}/download").data))
    texts = [p.text for p in doc.paragraphs]
    i = texts.index("六、下一步工作要求")
    assert texts[i + 1:i + 3] == ["各牵头单位要对照分工抓好落实。", "逾期单位要说明原因并提出整改措施。"]


def test_hashes_are_for_the_archive_view_of_admins_and_auditors(login_as, scenario, app):
    client, _ = login_as("coordinator")
    assert client.post("/dashboard/reports", data={"plan": scenario.plan.id, **ISSUE}).status_code == 302
    row = session().scalar(select(IssuedReport))
    leader, _ = login_as("leader")
    listing = leader.get("/dashboard/reports").get_data(as_text=True)
    assert row.filename in listing and row.sha256[:16] not in listing and "SHA-256" not in listing
    assert leader.get("/dashboard/archive").status_code == 403
    for role in ("admin", "auditor"):
        other, _ = login_as(role)
        archive = other.get("/dashboard/archive").get_data(as_text=True)
        assert row.sha256 in archive and row.filename in archive and "通报归档" in archive
        assert other.get(f"/dashboard/reports/{row.id}/download").status_code == 403  # hashes, not the contents


def _issued_rows(html: str) -> list[list[str]]:
    """The cells of the issued-通报 table, as text."""
    body = re.search(r"<table class=\"grid\">\s*<thead>.*?</thead>\s*<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [[re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_issue_page_and_the_archive_list_the_same_issued_reports(login_as, scenario, app):
    """One table (templates/dashboard/_issued.html) on both pages, each with its own columns."""
    from supervise.db import unit_of_work
    from supervise.policy import SYSTEM
    from supervise.services import report_archive

    client, coordinator = login_as("coordinator")
    admin, _ = login_as("admin")
    for html in (client.get("/dashboard/reports").get_data(as_text=True),
                 admin.get("/dashboard/archive").get_data(as_text=True)):
        assert '<p class="muted">尚未签发。</p>' in html and "<table class=\"grid\">" not in html
    assert client.post("/dashboard/reports", data={"plan": scenario.plan.id, **ISSUE}).status_code == 302
    with unit_of_work():
        period = next(p for p in scenario.plan.periods if p.code == "2025Q2")
        report_archive.issue_report(SYSTEM, scenario.plan, period, ExportFormat.CSV)
    by_page, by_cli = session().scalars(select(IssuedReport).order_by(IssuedReport.id)).all()

    listing = _issued_rows(client.get("/dashboard/reports").get_data(as_text=True))
    archive = _issued_rows(admin.get("/dashboard/archive").get_data(as_text=True))
    assert [r[2] for r in listing] == [r[5] for r in archive] == ["命令行(系统管理员)", f"{coordinator.name}({coordinator.unit.short_name})"]
    assert [r[1].split(" ")[0] for r in listing] == [r[3] for r in archive] == [by_cli.filename, by_page.filename]
    assert "下一步工作要求" in listing[1][1] and [r[0] for r in listing] == ["2025年第二季度"] * 2
    assert [r[0] for r in archive] == [f"#{by_cli.id}", f"#{by_page.id}"]
    assert [r[7] for r in archive] == [by_cli.sha256, by_page.sha256]


def test_issue_from_the_page_archives_and_downloads_byte_for_byte(login_as, scenario, app):
    client, coordinator = login_as("coordinator")
    response = client.post("/dashboard/reports", data={"plan": scenario.plan.id, **ISSUE})
    assert response.status_code == 302
    row = session().scalar(select(IssuedReport))
    assert row.format is ExportFormat.DOCX and row.issued_by_id == coordinator.id and row.issued_at is not None
    assert row.period.code == "2025Q2" and row.filename.endswith("2025Q2-督查通报.docx")

    first = client.get(f"/dashboard/reports/{row.id}/download")
    assert first.status_code == 200
    assert "attachment" in first.headers["Content-Disposition"]
    assert hashlib.sha256(first.data).hexdigest() == row.sha256 and len(first.data) == row.size
    Document(io.BytesIO(first.data))  # a real Word file

    # Later, after the data changed, the archived file is still the one issued.
    client.post("/dashboard/reports", data={"plan": scenario.plan.id, **ISSUE})
    again = client.get(f"/dashboard/reports/{row.id}/download")
    assert again.data == first.data
    # A leader downloads the same bytes; a liaison may not.
    leader, _ = login_as("leader")
    assert leader.get(f"/dashboard/reports/{row.id}/download").data == first.data
    liaison, _ = login_as("liaison", unit="省经信厅")
    assert liaison.get(f"/dashboard/reports/{row.id}/download").status_code == 403
    assert liaison.post("/dashboard/reports", data={**ISSUE, "format": "csv"}).status_code == 403

    actions = session().scalars(select(AuditEntry.action).where(AuditEntry.action.like("report.%"))
                                .order_by(AuditEntry.id)).all()
    assert actions == ["report.issue", "report.download", "report.issue", "report.download", "report.download"]
    listing = client.get("/dashboard/reports").get_data(as_text=True)
    assert row.filename in listing and coordinator.name in listing


def test_a_tampered_archive_file_is_refused(login_as, scenario, app):
    client, _ = login_as("coordinator")
    client.post("/dashboard/reports", data={"plan": scenario.plan.id, **ISSUE, "format": "csv"})
    row = session().scalar(select(IssuedReport))
    path = app.config["ARCHIVE_DIR"] / row.sha256[:2] / f"{row.sha256}.csv"
    path.write_bytes(path.read_bytes() + b"x")
    response = client.get(f"/dashboard/reports/{row.id}/download")
    assert response.status_code == 400 and "校验失败" in response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["docx", "xlsx", "csv"])
def test_cli_exports_archives_and_fetches_the_same_bytes(app, scenario, tmp_path, fmt):
    runner = app.test_cli_runner()
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(args=["report", "export", "--period", "2025Q2", "--format", fmt, "-o", str(out),
                                 "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    row = session().scalar(select(IssuedReport))
    assert row.sha256 == hashlib.sha256(content).hexdigest() and row.issued_by_login == ""
    fetched = tmp_path / "fetched"
    result = runner.invoke(args=["report", "fetch", str(row.id), "-o", str(fetched)])
    assert result.exit_code == 0, result.output
    assert fetched.read_bytes() == content
    listing = runner.invoke(args=["report", "list"])
    assert row.sha256 in listing.output


def test_cli_refuses_bad_input_and_changes_nothing(app, scenario, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "x.docx"
    result = runner.invoke(args=["report", "export", "--period", "2099Q1", "--format", "docx", "-o", str(out)])
    assert result.exit_code != 0 and "没有计划包含报送期次 2099Q1" in result.output
    result = runner.invoke(args=["report", "export", "--period", "2025Q2", "--format", "docx", "-o", str(out),
                                 "--as", "nobody"])
    assert result.exit_code != 0 and "未找到用户" in result.output
    assert not out.exists()
    assert session().scalar(select(func.count()).select_from(IssuedReport)) == 0
