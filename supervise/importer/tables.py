"""Task tables (任务分工表, 清单): a row is a task, the column naming units is
its tag, a 完成时限 column its deadline.

Tables come from Word (real tables), Excel sheets, or text where a table
was flattened to one cell per line (a web page): a run of lines that are
all column names (序号 / 重点任务 / 主要内容 / 牵头单位 / 配合单位 / 完成时限 …)
starts one, and each row then begins with its 序号.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .dates import column_deadline
from .reader import Block, TableBlock, TextBlock
from .tags import TagUnits, parse_tag, split_names
from .text import chinese_number, remove_spaces

# Column names and what the column holds.
_COLUMNS = (
    ("number", r"序号|编号|序列|排序"),
    ("lead", r"牵头(?:单位|部门)|主责(?:单位|部门)|主办(?:单位|部门)|牵头"),
    ("co", r"配合(?:单位|部门)|协同(?:单位|部门)|协办(?:单位|部门)|参与(?:单位|部门)|参加单位|配合"),
    ("listed", r"责任(?:单位|部门|主体|处室)|负责(?:单位|部门)|实施(?:单位|主体|部门)|承办(?:单位|部门)|指导(?:部门|单位)"
               r"|推进(?:单位|部门)|(?:牵头|责任)(?:单位|部门)(?:及|和|/|、)?(?:配合|参与)(?:单位|部门)"),
    ("deadline", r"完成(?:时限|时间|期限)|时间(?:节点|安排|要求)?|时限(?:要求)?|进度(?:安排)?|截止(?:时间|日期)"),
    ("scope", r"推广范围|适用范围|实施范围|范围|备注|说明|类别|领域|责任人|联系人|联系方式|分管领导"),
    ("target", r"(?:预期|工作|年度|主要|量化)?目标(?:任务|要求)?|指标|预期成效|成果形式"),
    ("text", r"主要内容|具体内容|工作内容|任务内容|具体措施|工作措施|主要措施|措施内容|具体举措|工作举措|内容|举措内容"
             r"|工作要求|具体任务|任务要求|任务描述|具体工作"),
    ("title", r"重点任务|主要任务|工作任务|任务名称|任务|改革举措|举措|主要举措|重点工作|工作事项|事项|项目名称|项目"
              r"|政策措施|措施|工作名称|名称|重点事项|督办事项"),
)
_COLUMN_PATTERNS = [(kind, re.compile(rf"^(?:{pattern})$")) for kind, pattern in _COLUMNS]


def column_kind(cell: str) -> str | None:
    name = re.sub(r"[\s　*＊:：()（）]", "", cell or "")
    if not name or len(name) > 14:
        return None
    for kind, pattern in _COLUMN_PATTERNS:
        if pattern.match(name):
            return kind
    return None


@dataclass(frozen=True)
class TableRow:
    number: int
    group: str
    group_number: int
    title: str
    text: str
    cells: tuple[str, ...]
    units: TagUnits | None  # None: not a task row
    deadline: date | None
    ongoing: bool
    target: str


def _header(rows: tuple[tuple[str, ...], ...]) -> tuple[int, list[str | None]] | None:
    for index, row in enumerate(rows[:4]):
        kinds = [column_kind(cell) for cell in row]
        named = [k for k in kinds if k]
        if len(named) >= 2 and any(k in ("lead", "co", "listed") for k in named) \
                and any(k in ("title", "text") for k in named):
            return index, kinds
    return None


def read_task_table(block: TableBlock) -> list[TableRow] | None:
    """The rows of a task table, or None if the table is not one (it has no
    column naming units, or none naming the task)."""
    found = _header(block.rows)
    if found is None:
        return None
    start, kinds = found
    # A two-row header ("责任单位" over "牵头单位 | 配合单位"): the lower row is
    # the more precise.
    while start + 1 < len(block.rows):
        lower = [column_kind(cell) for cell in block.rows[start + 1]]
        if sum(1 for k in lower if k) < 2:
            break
        kinds = [low or high for high, low in zip(kinds, lower)] + kinds[len(lower):]
        start += 1
    header = tuple(block.rows[start])
    rows: list[TableRow] = []
    group, group_number, running = "", 0, 0
    for row in block.rows[start + 1:]:
        cells = tuple(row) + ("",) * (len(kinds) - len(row))
        if cells[:len(header)] == header:
            continue  # the header repeated on a new page
        filled = [c for c in cells if c.strip()]
        if not filled:
            continue
        if len(set(filled)) == 1 and len(cells) > 1 and (len(filled) > 1 or not _cell(cells, kinds, "number")
                                                           or not _cell(cells, kinds, "number").strip().isdigit()):
            # A merged row: a group heading ("一、知识产权保护方面（共5项）").
            group, group_number = _group(filled[0], group_number)
            continue
        number_text = _cell(cells, kinds, "number").strip()
        running += 1
        number = int(number_text) if number_text.isdigit() else (chinese_number(number_text) or running)
        title = _cell(cells, kinds, "title").strip()
        text = _cell(cells, kinds, "text").strip()
        if not title and not text:
            continue
        units = _row_units(cells, kinds)
        deadline_cell = _cell(cells, kinds, "deadline")
        rows.append(TableRow(
            number=number,
            group=group,
            group_number=group_number,
            title=remove_spaces(title) if title else _short(text),
            text=text or title,
            cells=cells,
            units=units,
            deadline=column_deadline(deadline_cell) if deadline_cell else None,
            ongoing=bool(re.search(r"长期|持续|常态|每年", deadline_cell or "")),
            target=_cell(cells, kinds, "target"),
        ))
    return rows


def _cell(cells: tuple[str, ...], kinds: list[str | None], kind: str) -> str:
    parts = [cells[i] for i, k in enumerate(kinds) if k == kind and i < len(cells) and cells[i]]
    return "\n".join(dict.fromkeys(parts))


def _group(text: str, previous: int) -> tuple[str, int]:
    text = remove_spaces(text)
    match = re.match(r"^(?:[(（]?(?P<num>[一二三四五六七八九十]+)[)）、.．]?)", text)
    number = chinese_number(match["num"]) if match and match["num"] else previous + 1
    title = text[match.end():] if match else text
    title = re.sub(r"[(（]共?\d+项[)）]$", "", title)
    return title, number or previous + 1


def _short(text: str) -> str:
    first = re.split(r"[。；;\n]", text, maxsplit=1)[0]
    return remove_spaces(first[:60])


def _row_units(cells: tuple[str, ...], kinds: list[str | None]) -> TagUnits:
    units = TagUnits()
    for cell, kind in zip(cells, kinds):
        if kind not in ("lead", "co", "listed") or not cell.strip():
            continue
        flat = remove_spaces(cell.replace("\n", "、"))
        tag = parse_tag(flat)
        if tag is not None and kind == "listed":
            units.leads += tag.leads
            units.listed += tag.listed
            units.co += tag.co
            units.lead_marked += tag.lead_marked
            units.notes += tag.notes
            units.first_listed_leads = units.first_listed_leads or tag.first_listed_leads
            continue
        names, notes = split_names(flat)
        names = [re.sub(r"(?:牵头负责|牵头|负责|参与|配合)$", "", n) for n in names]
        marked = [n for n in names if re.search(r"[(（〈<【]牵头[)）〉>】]$", n)]
        names = [re.sub(r"\s*[(（〈<【]牵头[)）〉>】]$", "", n) for n in names]
        units.notes += notes
        if marked:
            units.lead_marked += [re.sub(r"\s*[(（〈<【]牵头[)）〉>】]$", "", m) for m in marked]
        {"lead": units.leads, "co": units.co, "listed": units.listed}[kind].extend(n for n in names if n)
    return units


# --- tables flattened to one cell per line ------------------------------------


def tables_from_cell_lines(blocks: list[Block]) -> list[Block]:
    """Find tables written one cell per line and make them TableBlocks: a
    run of at least three column names with one naming units, then rows
    that each start with a 序号; lines between rows that are not a number
    are group headings. The table ends at the first line that fits neither."""
    out: list[Block] = []
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if not isinstance(block, TextBlock) or column_kind(block.text) is None:
            out.append(block)
            index += 1
            continue
        run = index
        while run < len(blocks) and isinstance(blocks[run], TextBlock) and column_kind(blocks[run].text):
            run += 1
        header = [b.text for b in blocks[index:run]]  # type: ignore[union-attr]
        kinds = [column_kind(h) for h in header]
        if len(header) < 3 or kinds[0] != "number" or not any(k in ("lead", "co", "listed") for k in kinds):
            out.extend(blocks[index:run])
            index = run
            continue
        width = len(header)
        rows: list[tuple[str, ...]] = [tuple(header)]
        cursor = run
        while cursor < len(blocks):
            current = blocks[cursor]
            if not isinstance(current, TextBlock):
                break
            text = current.text.strip()
            if re.fullmatch(r"\d{1,3}", text):
                cells = [text]
                for extra in blocks[cursor + 1:cursor + width]:
                    if not isinstance(extra, TextBlock):
                        break
                    cells.append(extra.text)
                if len(cells) < width:
                    break
                rows.append(tuple(cells))
                cursor += width
                continue
            if len(text) <= 40 and "。" not in text and re.match(r"^(?:[(（]?[一二三四五六七八九十]+[)）、.．]|第[一二三四五六七八九十]+)", text):
                rows.append((text,) * width)
                cursor += 1
                continue
            break
        if len(rows) > 1:
            out.append(TableBlock(tuple(rows), line=block.line))
            index = cursor
        else:
            out.extend(blocks[index:run])
            index = run
    return out
