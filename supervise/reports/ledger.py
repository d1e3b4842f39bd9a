"""The 台账: one row per task × unit, as an Excel workbook (one sheet per
action, and the plan's targets on a last sheet) and as CSV.

Text that users wrote (titles, unit names, summaries) is never written as a
formula: in the workbook it is stored as a string cell, and in the CSV a cell
that begins with = + - @ (or a tab or carriage return) gets a leading
apostrophe, the usual guard against formula injection in spreadsheets.
"""
from __future__ import annotations

import csv
import io
from copy import copy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ..models import Section, Target, UnitRole
from .supervision import LedgerRow, Supervision, TargetProgress, chinese_number

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"


@dataclass(frozen=True)
class Column:
    title: str
    width: float


BASE_COLUMNS = [
    Column("行动", 24), Column("任务序号", 9), Column("任务", 36), Column("单位", 22), Column("职责", 9),
    Column("任务状态", 10), Column("本期报送状态", 13), Column("最近报送日期", 13), Column("本期截止日期", 13),
    Column("红黄绿灯", 9), Column("本期审核通过的进展", 48),
]


def section_name(section: Section) -> str:
    return f"({chinese_number(section.number)}){section.title}"


def target_column(target: Target) -> Column:
    return Column(f"{target.task.number}. {target.subject or target.text}({target.measure})", 18)


def ledger_rows(data: Supervision, *, with_targets: bool = True) -> list[tuple[LedgerRow, list]]:
    """Every task × unit row with its cells, in the order of the plan. The
    approved summary of the period stands on the lead's row; then a cell
    per task target, unless not `with_targets` (the workbook puts on each
    sheet only its own tasks' targets)."""
    target_ids = [t.id for t in _task_targets(data)] if with_targets else []
    result = []
    for task_row in data.tasks:
        for row in task_row.ledger:
            is_lead = row.task_unit.role is UnitRole.LEAD
            cells = [
                section_name(row.section),
                row.task.number,
                row.task.title,
                row.unit.short_name,
                row.task_unit.role.label,
                row.task.state.label,
                row.report_state_label,
                row.last_reported_on,
                row.due_on,
                row.light.label,
                (task_row.approved_summary or "") if is_lead else "",
            ]
            if target_ids:
                values = row.values
                cells += [values.get(t) for t in target_ids]
            result.append((row, cells))
    return result


def _task_targets(data: Supervision) -> list[Target]:
    return [t for row in data.tasks for t in row.task.targets]


# --- Excel --------------------------------------------------------------------


def _safe_sheet_title(title: str, used: set[str]) -> str:
    for ch in '[]:*?/\\':
        title = title.replace(ch, "")
    title = title[:31] or "Sheet"
    base, n = title, 2
    while title in used:
        suffix = f"_{n}"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title)
    return title


def _put(cell: Cell, value) -> None:
    if type(value) is str:  # the most frequent, see the end
        cell.value = value
        cell.data_type = "s"
    elif value is None:
        cell.value = None
    elif isinstance(value, bool):
        cell.value = value
    elif isinstance(value, Decimal):
        cell.value = int(value) if value == value.to_integral_value() else float(value)
    elif isinstance(value, (int, float)):
        cell.value = value
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        # Assigning a string that starts with "=" makes openpyxl write a
        # formula; user text is always a plain string cell.
        cell.value = str(value)
        cell.data_type = "s"


# A cell's style is a row of indices into the workbook's fonts, fills,
# alignments and number formats, looked up by hashing the style objects on
# each assignment; that lookup, done per header, long text or date cell, was
# a sixth of the workbook's time. The first cell of each kind on a sheet does
# it, the others copy its indices (the same file).
def _write_sheet(ws, columns: list[Column], rows: list[list]) -> None:
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE3EA")
    header_style = None
    for i, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        _put(cell, column.title)
        if header_style is None:
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            header_style = cell._style
        else:
            cell._style = copy(header_style)
        ws.column_dimensions[get_column_letter(i)].width = column.width
    wrap = Alignment(wrap_text=True, vertical="top")
    wrapped_style = date_style = None
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            if value is None:
                continue  # an empty cell without style is not written: no need to make it
            cell = ws.cell(row=r, column=c)
            if isinstance(value, date):
                if date_style is None:
                    _put(cell, value)
                    date_style = cell._style
                else:
                    cell.value = value
                    cell._style = copy(date_style)
                continue
            _put(cell, value)
            if isinstance(value, str) and len(value) > 20:
                if wrapped_style is None:
                    cell.alignment = wrap
                    wrapped_style = cell._style
                else:
                    cell._style = copy(wrapped_style)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(rows) + 1, 1)}"


def render_xlsx(data: Supervision) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = f"{data.plan.title} {data.period.label} 台账"
    wb.properties.creator = "督查督办系统"
    used: set[str] = set()
    rows = ledger_rows(data, with_targets=False)
    for section, _ in data.by_section:
        task_rows = [row for row in data.tasks if row.section.id == section.id]
        targets = [t for row in task_rows for t in row.task.targets]
        target_ids = [t.id for t in targets]
        columns = BASE_COLUMNS + [target_column(t) for t in targets]
        sheet_rows = []
        for line, cells in rows:
            if line.section.id != section.id:
                continue
            values = line.values
            sheet_rows.append(cells + [values.get(t) for t in target_ids])
        ws = wb.create_sheet(_safe_sheet_title(section_name(section), used))
        _write_sheet(ws, columns, sheet_rows)
    _targets_sheet(wb.create_sheet(_safe_sheet_title("目标指标", used)), data)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


TARGET_COLUMNS = [
    Column("指标", 40), Column("单位", 18), Column("目标值", 12), Column("计量单位", 9), Column("类型", 8),
    Column("基期值", 10), Column("最新值(审核通过)", 16), Column("最新值期次", 12), Column("完成比例", 11),
    Column("序时进度", 11), Column("是否滞后", 9),
]


def _target_rows(t: TargetProgress) -> list[list]:
    rows = [[t.name, "", t.target.value, t.target.measure, t.target.kind_label, t.baseline, t.latest,
             t.latest_period or "", t.share, t.time_share, "是" if t.is_behind else "否"]]
    for a in t.allocations:
        behind = t.time_share > 0 and (a.share is None or a.share < t.time_share)
        rows.append([f"{t.name}(分解)", a.unit.short_name, a.value, t.target.measure, t.target.kind_label,
                     a.baseline, a.actual, "", a.share, t.time_share, "是" if behind else "否"])
    return rows


def _targets_sheet(ws, data: Supervision) -> None:
    rows = [row for t in data.targets for row in _target_rows(t)]
    _write_sheet(ws, TARGET_COLUMNS, rows)
    # As in _write_sheet: the style looked up for the first cell, copied to the others.
    percent_styles = {}
    for r in range(2, len(rows) + 2):
        for c in (9, 10):
            cell = ws.cell(row=r, column=c)
            key = None if cell._style is None else tuple(cell._style)
            if key in percent_styles:
                cell._style = copy(percent_styles[key])
            else:
                cell.number_format = PERCENT_FORMAT
                percent_styles[key] = cell._style


# --- CSV ------------------------------------------------------------------------


def csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def render_csv(data: Supervision) -> bytes:
    """The whole ledger in one file, UTF-8 with a BOM so that Excel reads the
    Chinese correctly; one column per task target."""
    targets = _task_targets(data)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.title for c in BASE_COLUMNS] + [target_column(t).title for t in targets])
    for _, cells in ledger_rows(data):
        writer.writerow([csv_text(v) for v in cells])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
