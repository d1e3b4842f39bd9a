"""Fixtures for the page tests: a pinned 'today', tasks by number, files to upload."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from supervise.db import session
from supervise.models import Report, Task

# Early July 2025: 2025Q2 has ended, its contributions are due (2025-07-03)
# and the lead reports due on 2025-07-07.
TODAY = date(2025, 7, 3)

# The smallest file the evidence store takes for a PDF: it judges by content.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def pinned_today(app):
    app.config["TODAY"] = TODAY


def task_no(plan, number: int) -> Task:
    return session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == number))


def report(report_id: int) -> Report:
    return session().get(Report, report_id)


def file(name: str, content: bytes = PDF):
    return (io.BytesIO(content), name)


def created_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.search(r"/reports/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def page(response, status: int = 200) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:3000]
    return html
