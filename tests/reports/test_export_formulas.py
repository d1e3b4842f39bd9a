"""Exported cells never run as formulas: user text starting with = + - @ (or
a tab before one) stays text in the workbook and gets the apostrophe guard
in the CSV."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from supervise.db import session, unit_of_work
from supervise.models import Task
from supervise.reports.ledger import render_csv, render_xlsx
from supervise.reports.supervision import build_supervision

from .conftest import AS_OF

DANGEROUS = ["=HYPERLINK(\"http://127.0.0.1/\",\"点击\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1+1"]


@pytest.mark.parametrize("title", DANGEROUS)
def test_user_text_is_text_in_xlsx_and_guarded_in_csv(scenario, title):
    with unit_of_work():
        session().get(Task, scenario.tasks[4].id).title = title
    session().expire_all()
    data = build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF)

    raw = render_xlsx(data)
    assert b"<f>" not in raw and b"<f " not in raw  # no formula element anywhere
    cells = [c for ws in load_workbook(io.BytesIO(raw)).worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and title.strip() in c.value]
    assert cells and all(c.data_type == "s" for c in cells)

    text = render_csv(data).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row if title.strip() in cell]
    assert cells and all(cell.startswith("'") for cell in cells), cells
