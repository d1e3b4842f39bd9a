"""The whole reporting round in a real browser (Debian's Chromium, headless,
driven by Playwright) against the app served on loopback: a co-unit's
liaison files a contribution with a file named in Chinese, the lead unit's
liaison accepts it and reports, a coordinator returns the report with a
reason, the lead revises and resubmits, the coordinator approves, then
issues the quarterly 通报 in Word and downloads it; the test opens the file.

Slow (a browser, about 10-20 s): marked `slow`."""
from __future__ import annotations

import re

import docx

from supervise.models import ReportState

from .browser import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, log_in, report_id_of, stored_report
from .conftest import PDF, task_no

pytestmark = NEEDS_CHROMIUM

# Task 3 (支持品牌建设和推广): 省委网信办 leads, 省商务厅 contributes. Today is
# pinned by tests/web/conftest.py to 2025-07-03: 2025Q2 is due.
LEAD, CO = "省委网信办", "省商务厅"
CHINESE_NAME = "2025年第二季度 品牌培育台账(终稿).pdf"
APPROVED_TEXT = "本季度全省新增省级出口知名品牌 62 个,名单见附件。"


def _ok(page):
    """The action was done: its page shows the success flash."""
    assert page.locator(".flash-success").count() >= 1, page.content()[:3000]


def test_the_whole_round_in_chromium(live_server, plan, make_user, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    task = task_no(plan, 3)
    target = task.targets[0]
    co_user = make_user("liaison", unit=CO, login="co_liaison")
    lead_user = make_user("liaison", unit=LEAD, login="lead_liaison")
    coord_user = make_user("coordinator", login="coord")
    upload = tmp_path / CHINESE_NAME
    upload.write_bytes(PDF)
    base = live_server.url
    problems: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def session_of(user):
            context = browser.new_context(accept_downloads=True, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda e: problems.append(f"{user.login}: {e}"))
            page.on("response", lambda r: problems.append(f"{user.login}: {r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
            log_in(page, base, user.login)
            return page

        # The co-unit's liaison starts its contribution for 2025Q2 from the task page.
        co = session_of(co_user)
        co.goto(f"{base}/tasks/{task.id}")
        co.locator("form:has(input[name=period][value='2025Q2']) button[type=submit]").click()
        co.wait_for_url(re.compile(r"/reports/\d+$"))
        contribution_id = report_id_of(co)
        co.fill("textarea[name=text]", "新认定省级出口知名品牌 35 个。")
        co.fill(f"input[name=value_{target.id}]", "35")
        co.click("input[type=submit][name=save]")
        _ok(co)
        # The file named in Chinese, through the file chooser's input.
        co.set_input_files("input[type=file][name=file]", str(upload))
        co.click("button:text-is('上传')")
        _ok(co)
        assert co.get_by_text(CHINESE_NAME).count() >= 1
        co.click("input[type=submit][name=submit]")
        _ok(co)
        assert stored_report(contribution_id).state is ReportState.SUBMITTED
        [evidence] = stored_report(contribution_id).evidence
        assert evidence.original_name == CHINESE_NAME

        # The lead's liaison accepts it, files the task's report including it, and submits.
        lead = session_of(lead_user)
        lead.goto(f"{base}/reports/{contribution_id}")
        lead.click("button:text-is('采纳…')")
        lead.click("button:text-is('确认采纳')")
        _ok(lead)
        assert stored_report(contribution_id).state is ReportState.ACCEPTED
        lead.goto(f"{base}/tasks/{task.id}")
        lead.locator("form:has(input[name=period][value='2025Q2']) button[type=submit]").click()
        lead.wait_for_url(re.compile(r"/reports/\d+$"))
        lead_id = report_id_of(lead)
        assert lead_id != contribution_id
        lead.check(f"input[name=include][value='{contribution_id}']")
        lead.click("button:text-is('保存引用')")
        _ok(lead)
        lead.fill("textarea[name=text]", "本季度全省新增品牌 60 个。")
        lead.fill(f"input[name=value_{target.id}]", "60")
        lead.click("input[type=submit][name=submit]")
        _ok(lead)
        assert stored_report(lead_id).state is ReportState.SUBMITTED

        # The coordinator returns it with a reason.
        coord = session_of(coord_user)
        coord.goto(f"{base}/reports/{lead_id}")
        coord.fill("textarea[name='return-reason']", "请补充品牌名单")
        coord.click("button:text-is('退回')")
        _ok(coord)
        assert stored_report(lead_id).state is ReportState.RETURNED

        # The lead sees the reason, revises and resubmits.
        lead.goto(f"{base}/reports/{lead_id}")
        assert "请补充品牌名单" in lead.locator(".notice-returned").inner_text()
        lead.fill("textarea[name=text]", APPROVED_TEXT)
        lead.fill(f"input[name=value_{target.id}]", "62")
        lead.click("input[type=submit][name=submit]")
        _ok(lead)
        assert stored_report(lead_id).state is ReportState.SUBMITTED

        # The coordinator approves.
        coord.goto(f"{base}/reports/{lead_id}")
        coord.click("button:text-is('审核通过…')")
        coord.click("button:text-is('确认审核通过')")
        _ok(coord)
        assert stored_report(lead_id).state is ReportState.APPROVED

        # ... and issues the quarterly report for 2025Q2 in Word, then downloads it.
        coord.goto(f"{base}/dashboard/reports")
        coord.select_option("select[name=period]", "2025Q2")
        coord.select_option("select[name=format]", "docx")
        coord.fill("textarea[name=next_steps]", "各牵头单位要对照分工抓好落实。")
        coord.click("button:text-is('预览通报')")  # the first page and the figures, nothing issued yet
        assert coord.locator("#preview").is_visible() and coord.locator("tr.just-issued").count() == 0
        dialogs: list[str] = []
        coord.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
        coord.click("button:text-is('确认签发并归档')")
        _ok(coord)
        assert dialogs and "不能修改或撤回" in dialogs[0]
        with coord.expect_download() as info:
            coord.locator("tr.just-issued a[href$='/download']").click()
        download = info.value
        assert download.suggested_filename.endswith(".docx")
        saved = tmp_path / "通报.docx"
        download.save_as(saved)

        # The contribution's file downloads under its exact Chinese name.
        lead.goto(f"{base}/reports/{contribution_id}")
        with lead.expect_download() as info:
            lead.get_by_text(CHINESE_NAME).first.click()
        assert info.value.suggested_filename == CHINESE_NAME
        browser.close()

    assert problems == []
    document = docx.Document(saved)
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert task.title in text
    assert APPROVED_TEXT in text
