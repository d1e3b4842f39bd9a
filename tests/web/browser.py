"""What the browser tests share: Debian's Chromium and how it is started,
the two window sizes, logging a person in through the login page, pressing
a button that sends a form, and reading back what the server stored."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from supervise.db import session
from supervise.models import Report

from ..conftest import PASSWORD

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "")
                 if p and Path(p).exists()), None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--lang=zh-CN"]

# A browser test's module says `pytestmark = NEEDS_CHROMIUM`.
NEEDS_CHROMIUM = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: apt-get install -y chromium fonts-noto-cjk"),
]

DESK, PHONE = (1366, 768), (390, 844)


def press(page, selector: str) -> None:
    """Click a button that sends a form, and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_load_state()


def log_in(page, base: str, login: str, password: str = PASSWORD) -> None:
    """Through the login page, as a person does; fails if it stays there."""
    page.goto(f"{base}/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    press(page, "button[type=submit]")
    assert "/login" not in page.url, page.content()[:2000]


def stored_report(report_id: int) -> Report:
    """The report as stored now (the server committed it in another thread)."""
    session().rollback()
    session().expire_all()
    return session().get(Report, report_id)


def report_id_of(page) -> int:
    """The id of the report whose page the browser shows."""
    match = re.search(r"/reports/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))
