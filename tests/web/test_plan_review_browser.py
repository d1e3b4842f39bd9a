"""A coordinator in a real browser (Chromium, headless): uploads a plan, finds
it as a draft, matches an unknown unit name to the directory with one click
on the closest suggestion, creates another unit on purpose, publishes from
the current period; then makes a list of 督办事项 by hand and adds a leader's
instruction to it. Screenshots of the review and by-hand pages at 1366×768
and 390×844 go to $SUPERVISE_SCREENSHOTS (or the test's tmp directory).

Slow (a browser): marked `slow`."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from supervise.db import session
from supervise.models import Plan, PlanStatus, Task, TaskSource

from ..test_plan_drafts import DRAFT_DOC
from .browser import CHROMIUM, CHROMIUM_ARGS, DESK, NEEDS_CHROMIUM, PHONE, log_in

pytestmark = NEEDS_CHROMIUM

SIZES = {"desktop": DESK, "phone": PHONE}


def _stored(model, **where):
    session().rollback()
    session().expire_all()
    return session().scalar(select(model).filter_by(**where))


def test_review_publish_and_items_by_hand_in_chromium(app, live_server, make_user, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SUPERVISE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    coordinator = make_user("coordinator", login="coord")
    make_user("liaison", unit="省经信厅", login="jxt_liaison")
    document = tmp_path / "数字贸易提升行动方案.md"
    document.write_text(DRAFT_DOC, encoding="utf-8")
    base = live_server.url
    problems: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.on("dialog", lambda d: d.accept())

        def snap(name: str, on=page) -> None:
            for size, (width, height) in SIZES.items():
                on.set_viewport_size({"width": width, "height": height})
                on.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
                # Nothing sticks out sideways at either width.
                overflow = on.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (name, size, overflow)
            on.set_viewport_size({"width": 1366, "height": 768})

        log_in(page, base, coordinator.login)

        # Upload: a draft, and its review page.
        page.goto(f"{base}/plans/import")
        page.set_input_files("input[type=file][name=document]", str(document))
        page.click("button[type=submit].primary")
        page.wait_for_url("**/review")
        assert page.locator(".flash-success").count() == 1
        assert page.locator("article.review-task").count() == 3
        assert page.locator("button.primary[disabled]").count() == 1  # not yet: names to match
        snap("review")

        # A real Word document of other conventions: its draft, with the parser's warnings.
        corpus = Path("/work/shared/plans-corpus/docx/gwy-chuangxin-tuiguang-2018.docx")
        if corpus.exists():
            page.goto(f"{base}/plans/import")
            page.set_input_files("input[type=file][name=document]", str(corpus))
            page.click("button[type=submit].primary")
            page.wait_for_url("**/review")
            assert page.locator("article.review-task").count() >= 10
            snap("review-docx")
            page.goto(f"{base}/plans/{_stored(Plan, document_number='浙政办发〔2026〕9号').id}/review")

        # One click on the closest suggestion for 省数局.
        page.locator(".unit-match:has-text('省数局') .suggest button", has_text="省数据局").click()
        page.wait_for_load_state()
        assert "已对应为 浙江省数据局" in page.locator(".flash-success").inner_text()
        # 省跨境电商协会 is created, because the coordinator says so.
        match = page.locator(".unit-match:has-text('省跨境电商协会')")
        match.locator("summary").click()
        match.locator("input[name=create]").check()
        match.locator("input[name=canonical_name]").fill("浙江省跨境电子商务协会")
        match.locator("button", has_text="确定").click()
        page.wait_for_load_state()
        assert page.locator(".unit-match").count() == 0

        # Publish from the period offered (the current one).
        page.click("text=发布并通知各责任单位")
        page.wait_for_url("**/plans/*")
        assert page.locator(".flash-success").count() == 1
        plan = _stored(Plan, document_number="浙政办发〔2026〕9号")
        assert plan.status is PlanStatus.PUBLISHED and plan.first_period == "2026Q1"  # today is pinned to 2025-07-03: before the plan starts
        # A unit of the plan has nothing to do yet: its 我的待办 says what it owes next.
        liaison = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768}).new_page()
        log_in(liaison, base, "jxt_liaison")
        liaison.goto(f"{base}/work")
        said = liaison.locator("p.next-due").inner_text()
        assert said.startswith("下一次报送:2026年第一季度 任务1「建设数字贸易平台」 配合单位报送等 2 项,截止 2026年"), said
        snap("work-next-due", on=liaison)

        # By hand: a list of 督办事项 and a leader's instruction in it.
        page.goto(f"{base}/plans/new")
        snap("by-hand-new")
        page.select_option("select[name=kind]", "items")
        page.fill("input[name=title]", "2025年省政府领导批示督办事项")
        page.click("button[type=submit].primary")
        page.wait_for_url("**/tasks/new")
        page.fill("input[name=title]", "研究解决跨境电商海外仓用地问题")
        page.fill("textarea[name=text]", "请省经信厅会同杭州市政府研究解决海外仓用地问题,月底前报送进展。")
        page.select_option("select[name=source]", "leader_instruction")
        page.fill("input[name=source_document_number]", "省领导批示〔2025〕15号")
        page.fill("input[name=source_issued_on]", "2025-06-20")
        page.select_option("select[name=lead_unit_id]", label="省经信厅")
        page.select_option("select[name=co_unit_ids]", label=["杭州市政府"])
        page.fill("input[name=deadline]", "2025-09-30")
        snap("by-hand-task")
        page.click("button[type=submit].primary")
        page.wait_for_url("**/review*")
        assert page.locator("article.review-task").count() == 1
        snap("by-hand-review")
        browser.close()

    task = _stored(Task, title="研究解决跨境电商海外仓用地问题")
    assert task.source is TaskSource.LEADER_INSTRUCTION and task.source_document_number == "省领导批示〔2025〕15号"
    assert task.lead.unit.short_name == "省经信厅" and [tu.unit.short_name for tu in task.co_units] == ["杭州市政府"]
    assert not problems, problems
