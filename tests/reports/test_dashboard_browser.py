"""The dashboard in a real browser, served on loopback with its
Content-Security-Policy: ECharts (served by the app) draws every chart and no
script error or CSP violation occurs."""
from __future__ import annotations

import shutil

import pytest

from ..conftest import PASSWORD
from .conftest import AS_OF

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")


@pytest.fixture
def server(live_server) -> str:
    return live_server.url


def test_charts_render_under_the_csp(server, scenario, make_user):
    from playwright.sync_api import sync_playwright

    leader = make_user("leader")
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        # Resource failures are checked by URL below (the browser asks for a favicon).
        page.on("console", lambda m: problems.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.goto(f"{server}/login")
        page.fill("input[name=login]", leader.login)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # The summary draws the lights by action; the targets view its page of target charts.
        for query, least in (("", 1), ("&view=targets", 5), ("&view=targets&page=2", 1)):
            page.goto(f"{server}/dashboard/?period=2025Q2&as_of={AS_OF}{query}")
            charts = page.locator("[data-chart]")
            page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length > 0")
            page.wait_for_timeout(300)
            drawn = page.locator("[data-chart] canvas").count()
            assert charts.count() == drawn and drawn >= least, query
        browser.close()
    assert problems == []
