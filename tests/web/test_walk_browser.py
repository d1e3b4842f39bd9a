"""The first day, walked in a real browser (Debian's Chromium, headless, via
Playwright) as each role, at the desk (1366×768) and on a phone (390×844).

On every page, at both sizes, it asserts:
- no page is wider than the viewport (nothing scrolls sideways);
- every visible button and link-button has text contrast ≥ 4.5:1 against
  its background (WCAG AA), computed from the computed styles;
- no internal name shows in the visible text (audit events, states, roles,
  job ids, login names, trigger syntax);
and it walks the flows of issue 12: what was typed survives an upload and a
citation (point 2), a user saved in 用户管理 stays in their unit (point 1),
approving asks once more and says what follows (point 7), and 签发 (point
10: `_issue_step` is the hook for its preview and confirmation).

Full-page screenshots of every page at both sizes go to
$SUPERVISE_ARTIFACTS/walk (or the test's temporary folder): look at them.

Slow (a browser, a minute or two): marked `slow`."""
from __future__ import annotations

import os
import re
from pathlib import Path

from supervise import labels
from supervise.db import session
from supervise.models import ExtensionState, MilestoneState, ReportState, Role, TaskState, User
from supervise.scheduler.registry import JOBS

from .browser import CHROMIUM, CHROMIUM_ARGS, DESK, NEEDS_CHROMIUM, PHONE, log_in, press, report_id_of, stored_report
from .conftest import PDF, task_no

pytestmark = NEEDS_CHROMIUM

# Task 3 (支持品牌建设和推广): 省委网信办 leads, 省商务厅 contributes. Today is
# pinned by tests/web/conftest.py to 2025-07-03: 2025Q2 is due.
LEAD, CO = "省委网信办", "省商务厅"
LOGINS = {"co": "walk_co_liaison", "lead": "walk_lead_liaison", "coord": "walk_coordinator",
          "leader": "walk_leader", "admin": "walk_admin", "auditor": "walk_auditor"}

# The contrast of a button's text, from the computed styles: its colour over
# the backgrounds of it and its ancestors, blended; WCAG's relative luminance.
CONTRAST_JS = """
() => {
  const parse = c => { const m = c && c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const blend = (top, under) => ({r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
                                  b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                     return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
    let base = {r: 255, g: 255, b: 255, a: 1};
    for (let i = layers.length - 1; i >= 0; i--) base = blend(layers[i], base);
    return base; };
  const out = [];
  const sel = 'button, a.button, input[type=submit], input[type=button], input[type=reset], .navtoggle-label, .button-link';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || st.visibility === 'hidden' || st.display === 'none') continue;
    const text = ((el.innerText || el.value || '') + '').trim();
    if (!text) continue;
    const bg = background(el), fg = blend(parse(st.color), bg);
    const a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push(`${text} ${ratio.toFixed(2)}:1 (${st.color} on rgb(${bg.r|0},${bg.g|0},${bg.b|0}))`);
  }
  return out;
}
"""


def _code_words() -> list[re.Pattern]:
    """Internal names that must never reach the screen."""
    words = set(labels.known_events()) | {j.id for j in JOBS} | set(LOGINS.values())
    words |= {s.value for enum in (TaskState, ReportState, MilestoneState, ExtensionState, Role) for s in enum}
    words |= {"lead_report", "contribution", "Traceback", "None"}
    patterns = [re.compile(rf"(?<![A-Za-z0-9_.]){re.escape(w)}(?![A-Za-z0-9_])") for w in sorted(words)]
    return patterns + [re.compile(r"cron\["), re.compile(r"interval\["), re.compile(r"@@ -\d")]


def _artifacts(tmp_path: Path) -> Path:
    root = Path(os.environ["SUPERVISE_ARTIFACTS"]) if os.environ.get("SUPERVISE_ARTIFACTS") else tmp_path
    folder = root / "walk"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Walk:
    """Visits pages and checks each at both sizes; collects every finding, so
    one run lists all of them."""

    def __init__(self, browser, base: str, shots: Path):
        self.browser, self.base, self.shots = browser, base, shots
        self.findings: list[str] = []
        self.code_words = _code_words()
        self.count = 0

    def session(self, who: str, login: str | None = None):
        context = self.browser.new_context(viewport={"width": DESK[0], "height": DESK[1]}, locale="zh-CN",
                                           accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda e: self.findings.append(f"{who}: script error {e}"))
        page.on("console", lambda m: self.findings.append(f"{who}: console {m.text}") if m.type == "error" else None)
        page.on("response", lambda r: self.findings.append(f"{who}: HTTP {r.status} {r.url}")
                if r.status >= 400 else None)
        if login:
            log_in(page, self.base, login)
        return page

    def check(self, page, name: str, *, logins_shown: bool = False) -> None:
        """The page as it is now, at the desk and on a phone. `logins_shown`:
        a page about accounts, where the login name is the subject."""
        self.count += 1
        for width, height in (DESK, PHONE):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(50)
            where = f"{name} @{width}"
            overflow = page.evaluate("""() => [document.documentElement.scrollWidth, document.body.scrollWidth,
                                               window.innerWidth]""")
            if max(overflow[:2]) > overflow[2] + 1:
                wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && getComputedStyle(e).position !== 'absolute')
                    .slice(0, 3).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
                self.findings.append(f"{where}: page {max(overflow[:2])}px wide in a {width}px window: {wide}")
            for bad in page.evaluate(CONTRAST_JS):
                self.findings.append(f"{where}: low contrast {bad}")
            text = page.inner_text("body")
            for pattern in self.code_words:
                if logins_shown and pattern.pattern.startswith("(?<![A-Za-z0-9_.])walk_"):
                    continue
                match = pattern.search(text)
                if match:
                    around = text[max(0, match.start() - 30):match.end() + 30].replace("\n", " ")
                    self.findings.append(f"{where}: internal name {match.group(0)!r} in “{around}”")
            slug = re.sub(r"[^\w]+", "_", name).strip("_")
            page.screenshot(path=str(self.shots / f"{self.count:02d}_{slug}_{width}.png"), full_page=True)
        page.set_viewport_size({"width": DESK[0], "height": DESK[1]})

    def goto(self, page, path: str, name: str, **kw) -> None:
        page.goto(self.base + path)
        page.wait_for_load_state()
        self.check(page, name, **kw)


def _ok(page) -> None:
    assert page.locator(".flash-success").count() >= 1, page.content()[:3000]


def _issue_step(walk: Walk, coord, period: str) -> None:
    """签发 (issue 12 point 10): choose the period and format, write the
    下一步工作要求, preview the 通报 (checked like any page), then confirm in
    the dialog that says what follows."""
    coord.goto(f"{walk.base}/dashboard/reports")
    walk.check(coord, "coordinator 督查通报")
    coord.select_option("select[name=period]", period)
    coord.select_option("select[name=format]", "docx")
    coord.fill("textarea[name=next_steps]", "各牵头单位要对照任务分工,按期报送进展。")
    with coord.expect_navigation():
        coord.locator("button[name=step][value=preview]").click()
    coord.wait_for_load_state()
    walk.check(coord, "coordinator 签发预览")
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    coord.once("dialog", answer)
    with coord.expect_navigation():
        coord.locator("button[name=step][value=issue]").click()
    coord.wait_for_load_state()
    assert asked and "不能修改或撤回" in asked[0], asked
    _ok(coord)
    walk.check(coord, "coordinator 通报已签发")


def test_every_role_walks_its_main_path_at_desk_and_phone_width(live_server, app, plan, make_user, tmp_path):
    from playwright.sync_api import sync_playwright

    app.config["MAX_UPLOAD_MB"] = 1  # the limit the page states and static/js/app.js checks

    task = task_no(plan, 3)
    target = task.targets[0]
    people = {
        "co": make_user("liaison", unit=CO, login=LOGINS["co"], name="周配合"),
        "lead": make_user("liaison", unit=LEAD, login=LOGINS["lead"], name="吴牵头"),
        "coord": make_user("coordinator", login=LOGINS["coord"], name="郑督办"),
        "leader": make_user("leader", login=LOGINS["leader"], name="冯领导"),
        "admin": make_user("admin", login=LOGINS["admin"], name="陈管理"),
        "auditor": make_user("auditor", login=LOGINS["auditor"], name="褚审计"),
    }
    upload = tmp_path / "品牌培育台账.pdf"
    upload.write_bytes(PDF)
    shots = _artifacts(tmp_path)
    base = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        walk = Walk(browser, base, shots)

        # The very first visit: the login page, without a yellow 请先登录.
        first = walk.session("visitor")
        first.goto(base + "/")
        first.wait_for_load_state()
        assert "/login" in first.url and first.locator(".flash-warning").count() == 0
        walk.check(first, "first visit")

        # --- the co-unit's liaison files its contribution ------------------------------------
        co = walk.session("co", LOGINS["co"])
        walk.check(co, "co home")
        walk.goto(co, "/work", "co 我的待办")
        walk.goto(co, f"/tasks/{task.id}", "co task")
        press(co, "form:has(input[name=period][value='2025Q2']) button[type=submit]")
        co.wait_for_url(re.compile(r"/reports/\d+$"))
        contribution_id = report_id_of(co)
        typed = "新认定省级出口知名品牌 35 个,名单见附件。"
        co.fill("textarea[name=text]", typed)
        co.fill(f"input[name=value_{target.id}]", "35")
        # A file over the limit is refused in the page, before it is sent: nothing typed is lost.
        big = tmp_path / "超大台账.pdf"
        big.write_bytes(PDF + b"0" * (1024 * 1024 + 10))
        co.set_input_files("input[type=file][name=file]", str(big))
        before = co.url
        co.click("button:text-is('上传')")
        co.wait_for_timeout(500)
        assert co.url == before and co.input_value("textarea[name=text]") == typed
        assert co.evaluate("document.querySelector('input[type=file]').validationMessage").startswith("文件“超大台账.pdf”")
        co.set_input_files("input[type=file][name=file]", str(upload))
        press(co, "button:text-is('上传')")  # point 2: the typed text goes with the file
        _ok(co)
        assert co.input_value("textarea[name=text]") == typed
        assert co.input_value(f"input[name=value_{target.id}]") == "35"
        assert co.get_by_text("品牌培育台账.pdf").count() >= 1
        walk.check(co, "co contribution after upload")
        press(co, "input[type=submit][name=submit]")
        _ok(co)
        assert stored_report(contribution_id).state is ReportState.SUBMITTED
        walk.goto(co, "/notifications", "co 通知")
        walk.goto(co, "/reminders/", "co 催办提醒")
        walk.goto(co, "/profile", "co 个人设置", logins_shown=True)

        # --- the lead accepts (asked once more) and writes its report -------------------------
        lead = walk.session("lead", LOGINS["lead"])
        walk.check(lead, "lead home")
        walk.goto(lead, "/work", "lead 我的待办")
        walk.goto(lead, f"/reports/{contribution_id}", "lead reviews the contribution")
        press(lead, "button:text-is('采纳…')")
        assert "锁定" in lead.inner_text("main")
        walk.check(lead, "lead confirms 采纳")
        press(lead, "button:text-is('确认采纳')")
        _ok(lead)
        assert stored_report(contribution_id).state is ReportState.ACCEPTED
        assert lead.locator(".next-step").count() == 1  # point 8: a pointer to the lead's report
        walk.check(lead, "lead after 采纳")
        press(lead, ".next-step button[type=submit]")
        lead.wait_for_url(re.compile(r"/reports/\d+$"))
        lead_id = report_id_of(lead)
        assert lead_id != contribution_id
        assert "建议值" in lead.inner_text("main")  # point 8: the co-unit's figure offered
        lead_text = "本季度全省新增品牌 60 个。"
        lead.fill("textarea[name=text]", lead_text)
        lead.check(f"input[name=include][value='{contribution_id}']")
        press(lead, "button:text-is('保存引用')")  # point 2: the typed text goes with the citation
        _ok(lead)
        assert lead.input_value("textarea[name=text]") == lead_text
        assert lead.is_checked(f"input[name=include][value='{contribution_id}']")
        assert lead.get_by_text("品牌培育台账.pdf").count() >= 1  # the cited evidence on the lead's report
        walk.check(lead, "lead report with citation")
        lead.fill(f"input[name=value_{target.id}]", "60")
        press(lead, "input[type=submit][name=submit]")
        _ok(lead)

        # --- the coordinator returns it; the lead revises ------------------------------------
        coord = walk.session("coord", LOGINS["coord"])
        walk.check(coord, "coordinator home")
        walk.goto(coord, "/plans", "coordinator 行动计划")
        walk.goto(coord, f"/plans/{plan.id}", "coordinator plan")
        walk.goto(coord, "/work", "coordinator 我的待办")
        walk.goto(coord, f"/reports/{lead_id}", "coordinator reviews")
        yes = coord.locator("button.decide-yes").bounding_box()
        no = coord.locator("button.decide-no").bounding_box()
        assert abs(yes["height"] - no["height"]) < 2 and abs(yes["width"] - no["width"]) < 2  # point 7
        coord.fill("textarea[name='return-reason']", "请补充品牌名单")
        press(coord, "button:text-is('退回')")
        _ok(coord)
        assert stored_report(lead_id).state is ReportState.RETURNED
        lead.goto(f"{base}/reports/{lead_id}")
        lead.fill("textarea[name=text]", "本季度全省新增品牌 62 个,名单见附件。")
        lead.fill(f"input[name=value_{target.id}]", "62")
        press(lead, "input[type=submit][name=submit]")
        _ok(lead)
        walk.goto(lead, f"/reports/{lead_id}/compare?from=1&to=2", "lead compares versions")

        # --- the coordinator approves (asked once more) and issues the 通报 ------------------------
        coord.goto(f"{base}/reports/{lead_id}")
        press(coord, "button:text-is('审核通过…')")
        follows = coord.inner_text("main")
        assert "锁定" in follows and "重新打开" in follows and stored_report(lead_id).state is ReportState.SUBMITTED
        walk.check(coord, "coordinator confirms 审核通过")
        press(coord, "button:text-is('确认审核通过')")
        _ok(coord)
        assert stored_report(lead_id).state is ReportState.APPROVED
        walk.check(coord, "coordinator approved report")
        walk.goto(coord, "/dashboard/", "coordinator 督查看板")
        _issue_step(walk, coord, "2025Q2")
        walk.goto(coord, "/admin/scheduler", "coordinator 调度与发送")
        walk.goto(coord, "/units", "coordinator 责任单位")

        # --- the leader reads -----------------------------------------------------------------
        leader = walk.session("leader", LOGINS["leader"])
        walk.check(leader, "leader home")
        walk.goto(leader, "/dashboard/", "leader 督查看板")
        walk.goto(leader, f"/tasks/{task.id}", "leader task")
        walk.goto(leader, f"/reports/{lead_id}", "leader report")

        # --- the administrator saves a colleague's phone number: the unit stays -----------------
        admin = walk.session("admin", LOGINS["admin"])
        walk.goto(admin, "/admin/users", "admin 用户管理", logins_shown=True)
        walk.goto(admin, "/admin/users/new", "admin 新建账号")
        assert admin.locator("input[type=checkbox][name=roles]").count() == len(Role)
        co_user = people["co"]
        walk.goto(admin, f"/admin/users/{co_user.id}", "admin account page", logins_shown=True)
        unit_name = session().get(User, co_user.id).unit.canonical_name
        assert admin.input_value("select[name=unit]") == unit_name  # point 1
        assert admin.is_checked("input[type=checkbox][name=roles][value=liaison]")
        admin.fill("input[name=phone]", "13900001111")
        press(admin, "button:text-is('保存')")
        _ok(admin)
        session().rollback()
        saved = session().get(User, co_user.id)
        assert saved.unit.canonical_name == unit_name and saved.phone == "13900001111"
        walk.goto(admin, "/dashboard/archive", "admin 通报归档")  # the 通报 the coordinator issued, with its hash
        assert admin.locator("code.hash").count() == 1
        walk.goto(admin, "/admin/calendar", "admin 工作日历")
        walk.goto(admin, "/admin/scheduler", "admin 调度与发送")

        # --- the auditor reads what changed ----------------------------------------------------
        auditor = walk.session("auditor", LOGINS["auditor"])
        walk.goto(auditor, "/audit/", "auditor 审计日志")
        assert "修改账号信息" in auditor.inner_text("main") and "13900001111" in auditor.inner_text("main")

        # The phone menu opens without a script and shows the navigation.
        co.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        co.goto(base + "/")
        assert not co.locator("nav.mainnav").is_visible()
        co.click("label.navtoggle-label")
        assert co.locator("nav.mainnav").is_visible()
        co.screenshot(path=str(shots / "menu_open_390.png"), full_page=False)
        browser.close()

    assert walk.count >= 30
    assert not walk.findings, "\n".join(walk.findings)
