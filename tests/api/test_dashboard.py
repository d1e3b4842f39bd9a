"""GET /api/v1/dashboard: the dashboard's figures, the same as the page's and
the quarterly 通报's (one read model, services/dashboard.py)."""
from __future__ import annotations

import io
import re
from datetime import date

from docx import Document

from supervise.db import session
from supervise.reports.docx_export import render_docx
from supervise.reports.supervision import build_supervision

from supervise.db import unit_of_work
from supervise.models import Plan

from ..factories import make_draft_plan
from .conftest import logged_in, report_in_state

AS_OF = date(2025, 7, 21)


def test_the_dashboard_api_gives_the_figures_of_the_page_and_the_report(cast):
    report_in_state(cast, "lead", "returned", "2025Q2")
    data = cast.leader.get(f"/dashboard?period=2025Q2&as_of={AS_OF}").get_json()
    assert data["period"] == "2025Q2" and data["as_of"] == AS_OF.isoformat() and data["tasks"] == 22
    assert sum(data["lights"].values()) == 22
    assert sum(sum(s["lights"].values()) for s in data["sections"]) == 22
    assert data["reports"]["owed"] == 22 and data["reports"]["returned"] == 1 and data["late"]["returned"] == 1
    # The Word 通报 for the same period and day carries the same figures.
    plan = cast.task.plan
    period = next(p for p in plan.periods if p.code == "2025Q2")
    word = Document(io.BytesIO(render_docx(build_supervision(session(), plan, period, as_of=AS_OF))))
    text = "\n".join(p.text for p in word.paragraphs)
    assert f"本期应报送牵头单位报告{data['reports']['owed']}份" in text
    assert f"退回修改{data['reports']['returned']}份" in text
    red = data["lights"]["red"]
    assert (f"红灯{red}项" in text) == bool(red)
    # A level to reach by a year with no baseline: no 序时进度, never behind.
    air = next(t for t in data["targets"] if "航空货邮" in t["name"])
    assert air["goal"].startswith("2027年") and "每年" not in air["goal"]
    assert air["baseline_known"] is False and air["time_share"] is None and air["is_behind"] is False


def test_the_dashboard_api_is_for_leaders_and_coordinators(cast):
    assert cast.coordinator.get("/dashboard").status_code == 200
    for client in (cast.lead, cast.admin, cast.auditor):
        assert client.get("/dashboard").status_code == 403


def test_bad_dashboard_arguments_are_clear_errors(cast):
    for query, status, text in [("as_of=2025-13-01", 400, "日期格式"), ("period=1999Q1", 400, "1999Q1"),
                                ("plan=999999", 404, "未找到该计划"), ("plan=x", 400, "plan")]:
        response = cast.leader.get(f"/dashboard?{query}")
        assert response.status_code == status and re.search(text, response.get_json()["message"]), query


def test_a_newer_draft_is_not_the_dashboards_plan(cast):
    """A draft (newer than every published plan, or with no date: PostgreSQL
    sorts it first) owes nothing and is not shown: the dashboard, page and
    API, opens on the newest published plan and does not offer the draft."""
    dated = make_draft_plan("草稿〔2099〕1号", date(2099, 1, 1), date(2099, 12, 31), title="较新的草稿")
    with unit_of_work() as sess:
        sess.get(Plan, dated.id).issued_on = date(2099, 1, 1)
    undated = make_draft_plan("草稿〔2099〕2号", date(2099, 1, 1), date(2099, 12, 31), title="未写日期的草稿")
    data = cast.leader.get(f"/dashboard?as_of={AS_OF}").get_json()
    assert data["plan"]["id"] == cast.task.plan_id
    for draft in (dated, undated):
        assert cast.leader.get(f"/dashboard?plan={draft.id}").status_code == 404
    page = logged_in(cast.leader).client.get(f"/dashboard/?as_of={AS_OF}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and cast.task.plan.document_number in html
    assert "较新的草稿" not in html and "未写日期的草稿" not in html
