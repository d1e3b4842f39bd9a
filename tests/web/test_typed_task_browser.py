"""Issue 12 point 2 on the task page, in a real browser (Debian's Chromium)
at 1366×768 and 390×844: the lead types the reason for 申请办结 and a
milestone's 完成情况, chooses a file and clicks 上传; the text is still in
its box afterwards. Screenshots go to $SUPERVISE_ARTIFACTS/task-typed (or
the test's temporary folder): look at them. Slow: marked `slow`."""
from __future__ import annotations

from sqlalchemy import select

from supervise.db import session
from supervise.models import Milestone

from .browser import CHROMIUM, CHROMIUM_ARGS, DESK, NEEDS_CHROMIUM, PHONE, log_in, press
from .conftest import PDF, page as html_of, task_no
from .test_typed_task_work import LEAD, NOTE, REASON, _in_progress
from .test_walk_browser import _artifacts

pytestmark = NEEDS_CHROMIUM


def test_typed_text_survives_upload_on_the_task_page(live_server, app, plan, login_as, make_user, tmp_path):
    from playwright.sync_api import sync_playwright

    task = _in_progress(login_as, plan)
    lead_client, _ = login_as("liaison", unit=LEAD)
    coord, _ = login_as("coordinator")
    assert lead_client.post(f"/tasks/{task.id}/milestones",
                            data={"ms-title": "品牌目录发布", "ms-due_on": "2025-09-30"}).status_code == 302
    m = session().scalar(select(Milestone))
    html_of(coord.post(f"/milestones/{m.id}/confirm", data={"version": m.version}), 302)
    make_user("liaison", unit=LEAD, login="typed_lead", name="吴牵头")
    upload = tmp_path / "办结报告.pdf"
    upload.write_bytes(PDF)
    shots = _artifacts(tmp_path).parent / "task-typed"
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for width, height in (DESK, PHONE):
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(20_000)
            log_in(page, live_server.url, "typed_lead")
            page.goto(f"{live_server.url}/tasks/{task.id}")
            page.screenshot(path=str(shots / f"task_before_{width}.png"), full_page=True)

            # 申请办结: reason typed, file chosen, 上传.
            page.fill("textarea[name=close-reason]", REASON)
            page.set_input_files("input[name=close-ev-file]", str(upload))
            press(page, "form:has(textarea[name=close-reason]) button:text-is('上传')")
            assert page.input_value("textarea[name=close-reason]") == REASON
            assert page.locator(".flash-success").count() == 1

            # A milestone's 完成情况: typed, file chosen, 上传.
            note = f"textarea[name=ms{m.id}-done-note]"
            page.fill(note, NOTE)
            page.set_input_files(f"input[name=ms{m.id}-ev-file]", str(upload))
            press(page, f"form:has({note}) button:text-is('上传')")
            assert page.input_value(note) == NOTE
            # The reason typed for closing was not in that form: the page is drawn afresh for it.
            page.screenshot(path=str(shots / f"task_after_upload_{width}.png"), full_page=True)
            for section in ("milestones", "lifecycle"):
                page.locator(f"#{section}").screenshot(path=str(shots / f"task_{section}_{width}.png"))
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= width + 1, f"page {wide}px wide at {width}px"
            context.close()
        browser.close()
