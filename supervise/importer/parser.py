"""Parse a Chinese provincial action-plan document into a structured plan.

Pure and stdlib only: text in, frozen dataclasses out; the service layer
decides what to store. The parser reads the words of the document, never
its Markdown heading levels, which the PDF/Word conversion sets at random:

* ``浙政办发〔2024〕27号``                    -> the document number
* ``关于印发…行动计划（2024—2027年）的通知``    -> title and plan period
* ``浙江省人民政府办公厅`` / ``2024年8月23日``  -> issuing office and date
* ``一、总体要求``                            -> the overall targets
* ``（一）实施主体引育壮大行动``               -> a section (an action)
* ``1. 标题。正文……（责任单位：A、B）``         -> a task with its units
* ``附件`` … ``一、组名`` / ``1. 措施``        -> the annex's measures

Titles are given with full-width brackets （） throughout: the form of the
official typesetting standard (GB/T 9704), whatever the conversion produced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .errors import PlanParseError
from .targets import ParsedTarget, extract_targets
from .text import (
    Paragraph,
    chinese_number,
    clean_inline,
    ends_sentence,
    join_pieces,
    remove_spaces,
    split_paragraphs,
    top_level_positions,
)
from .unit_lists import FIRST_LISTED_LEADS, UNIT_BLOCK_START, ParsedUnitRef, find_unit_block, parse_unit_list


@dataclass(frozen=True)
class ParsedTask:
    """One task: a unit of work with its own responsibility tag.

    ``number`` is the printed number in arabic (（十五） -> 15, 十五、 -> 15,
    a table's 序号); tasks closed by several tags inside one numbered
    measure share it, so it is not unique: ``position`` (1.. in document
    order) is. ``label`` is the number as printed ("（十五）", "1.", "一是").
    ``lead`` and ``co_units`` are the names as written (the lead is never
    repeated among the co-units); ``units`` says the same with roles and
    whether the document itself states who leads. ``lead`` is None when the
    tag names nobody who could lead; a warning then says so. ``deadline`` is
    a date the task's own text states ("2025年6月底前" -> 2025-06-30),
    ``starts_on`` a start it states ("2024年起"); both None otherwise.
    ``source_text`` is the task's stretch of the document as written, tag
    included, for the review page.
    """

    number: int
    title: str  # the first sentence, without "。"
    text: str  # the whole task without its number and unit list
    units: tuple[ParsedUnitRef, ...]
    targets: tuple[ParsedTarget, ...]
    section: str = ""  # the heading the task stands under ("" if none)
    lead: str | None = None
    co_units: tuple[str, ...] = ()
    deadline: date | None = None
    starts_on: date | None = None
    warnings: tuple[str, ...] = ()
    label: str = ""
    position: int = 0
    source_text: str = ""


@dataclass(frozen=True)
class ParsedSection:
    number: int  # 1.. from （一）..; 0 for tasks under no （一） heading
    title: str  # "实施主体引育壮大行动"
    tasks: tuple[ParsedTask, ...]


@dataclass(frozen=True)
class ParsedMeasure:
    group_number: int  # 1.. from 一、..; 0 if the annex has no groups
    group: str  # "加强跨境电商主体引育"
    number: int
    title: str
    text: str
    cap_amount: Decimal | None  # 万元
    subsidy_rate: Decimal | None  # percent


@dataclass(frozen=True)
class ParsedPlan:
    """A parsed plan document. What the document does not say is None with
    a Chinese warning in ``warnings`` (never a guess): ``document_number``,
    ``issuing_office``, ``issued_on``, ``period_start`` / ``period_end``
    (from a period in the title, "（2024—2027年）"). A document without
    tagged tasks parses to no sections and a warning.

    ``title`` is the plan's own title (X of "关于印发X的通知"), and
    ``document_title`` the heading as printed. ``tasks`` lists every task
    in document order; ``sections`` groups them under their headings.
    """

    document_number: str | None
    title: str
    issuing_office: str | None
    issued_on: date | None
    period_start: date | None
    period_end: date | None
    targets: tuple[ParsedTarget, ...]
    sections: tuple[ParsedSection, ...]
    measures: tuple[ParsedMeasure, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    document_title: str = ""
    source_format: str = "text"

    @property
    def tasks(self) -> tuple[ParsedTask, ...]:
        return tuple(task for section in self.sections for task in section.tasks)

    @property
    def start_year(self) -> int | None:
        return self.period_start.year if self.period_start else None

    @property
    def end_year(self) -> int | None:
        return self.period_end.year if self.period_end else None


# --- the patterns, one per kind of line ------------------------------------

_CN_NUMERAL = "[一二三四五六七八九十]+"

# A document number standing on its own: "浙政办发〔2024〕27号". The year may be
# in 〔〕, [] or () of either width, and the result always uses 〔〕.
_DOCUMENT_NUMBER = re.compile(
    r"(?P<prefix>[\u4e00-\u9fff]{1,10})\s*[〔\[［【(（]\s*(?P<year>\d{4})\s*[〕\]］】)）]\s*(?P<seq>\d{1,4})\s*号"
)

# A date standing on its own, in digits or Chinese numerals: "2024年8月23日",
# "二〇二四年八月二十三日"; "…日印发" is the printing date at the very end.
_DATE = re.compile(
    r"^(?P<y>\d{4}|[〇○零一二三四五六七八九]{4})\s*年\s*(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})\s*月"
    r"\s*(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日(?P<printed>\s*印发)?$"
)

# The name of an issuing organ: ends like one.
_ORGAN = re.compile(r"^[\u4e00-\u9fff（）()]{2,40}(?:办公厅|办公室|人民政府|委员会|政府|厅|局|委|办|院|部)$")

# The notice that carries the plan: "<office>关于印发<title>的通知".
_NOTICE = re.compile(r"^(?P<office>.*?)关于印发\s*《?(?P<title>.+?)》?\s*的\s*通\s*知$")

# The plan period in a title: "(2024—2027年)", "（2024-2027 年）".
_PERIOD = re.compile(r"[(（]\s*(?P<start>\d{4})\s*年?\s*[—–\-－~～至到]+\s*(?P<end>\d{4})\s*年?\s*[)）]")

# A top-level heading: "一、总体要求", "三、加快基础设施提升" (short, one line).
_TOP_HEADING = re.compile(rf"^(?P<num>{_CN_NUMERAL})\s*、\s*(?P<title>[^。]{{1,30}}?)\s*。?$")

# A section heading: "（一）实施主体引育壮大行动。", "(二) 实施…行动" (short, one line).
_SECTION_HEADING = re.compile(rf"^[(（]\s*(?P<num>{_CN_NUMERAL})\s*[)）]\s*(?P<title>[^。]{{1,40}}?)\s*[。.]?$")

# A numbered item (task or measure): "1. ", "12．", "3、". The look-ahead keeps
# "2.0 战略" at the start of a continued line from reading as item 2.
_ITEM = re.compile(r"^(?P<num>\d{1,3})\s*[.．、]\s*(?!\d)(?P<rest>\S.*)$", re.S)

# The start of the annex: "附件", "附件2", "附件:若干措施" (the reference line
# that closes the main text). The annex itself follows a line "附件" or "附件N".
_ANNEX_REFERENCE = re.compile(r"^附\s*件\s*\d*\s*(?:[:：].*)?$", re.S)
_ANNEX_START = re.compile(r"^附\s*件\s*\d*$")

# Paragraphs that close a list of tasks or measures and belong to the plan as
# a whole: "各地各部门要……", "以上措施根据……", "本方案自……".
_CLOSING = re.compile(r"^(?:各地各部门|各地、各部门|各地区各部门|各有关单位|各有关部门|(?:以上|上述)(?:措施|政策|任务)|本(?:措施|政策|方案|计划|意见|通知))")

# The back matter of an official document: rules, 抄送 line, 印发 line.
_END_MATTER = re.compile(r"^(?:-{3,}|_{3,}|\*{3,}|抄送|抄\s*送|（此件|\(此件)")

# Top-level parts that hold no tasks, and those that hold the overall targets.
_NOT_TASKS = re.compile(r"总体要求|总体目标|指导思想|基本原则|工作原则|发展目标|主要目标|工作目标|保障措施|保障机制|组织实施|组织保障|工作要求")
_OVERALL = re.compile(r"总体要求|总体目标|发展目标|主要目标|工作目标")

# Money caps of a measure, converted to 万元: "最高不超过200万元", "单家不超过 500 万元".
_CAP = re.compile(r"(?:不超过|不高于|最高|上限为?)\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>亿元|万元|元)")
_TO_WAN = {"亿元": Decimal(10_000), "万元": Decimal(1), "元": Decimal("0.0001")}

# A subsidy rate: "保费予以 60% 补助", "按 30% 给予补贴", "补助比例不超过50%".
_RATE = re.compile(
    r"(?:予以|给予|按)\s*(?:不超过|最高)?\s*(?P<a>\d+(?:\.\d+)?)\s*[%％]\s*(?:的)?(?:比例)?(?:给予|予以)?\s*(?:补助|补贴|资助|奖励)"
    r"|(?:补助|补贴|资助)比例\s*(?:为|不超过|最高)?\s*(?P<b>\d+(?:\.\d+)?)\s*[%％]"
)


def parse_plan(text: str, *, plan_end_year: int | None = None) -> ParsedPlan:
    """Parse a plan document (Markdown converted from the official PDF/Word).

    ``plan_end_year`` is the year the plan's targets are due when a target
    does not say ("到 2027 年" in the text wins); without it the end year of
    the period in the title is used. A document without a period in its
    title needs it.

    Raises PlanParseError when the text has no document number, date, title,
    period or tasks.
    """
    if not text or not text.lstrip("\ufeff").strip():
        raise PlanParseError("文档为空 / the document is empty")
    paragraphs = split_paragraphs(text)
    body, annex = _split_annex(paragraphs)

    document_number = _document_number(body)
    issued_on, issuing_office = _issue(body)
    title = _title(body)
    period_start, period_end = _period(title, issued_on, plan_end_year)
    due_year = plan_end_year or period_end.year

    first_listed_leads = bool(FIRST_LISTED_LEADS.search(remove_spaces(text)))
    parts = _top_level_parts(body)
    overall = [p for p in parts if p.title and _OVERALL.search(p.title)]
    targets = tuple(t for part in overall for p in part.paragraphs for t in extract_targets(p.text, due_year=due_year))

    builder = _TaskBuilder(first_listed_leads=first_listed_leads, due_year=due_year)
    task_parts = [p for p in parts if not (p.title and _NOT_TASKS.search(p.title))]
    if len(parts) > 1:
        task_parts = [p for p in task_parts if p.title is not None]  # not the preamble
    sections = builder.sections(task_parts)
    if not any(section.tasks for section in sections):
        raise PlanParseError(
            "未找到任何编号任务（如“1. 标题。正文……（责任单位：……）”）"
            " / no numbered tasks found (expected paragraphs like '1. title. text (责任单位: ...)')"
        )
    sections = _finalise(sections)
    return ParsedPlan(
        document_number=document_number,
        title=title,
        issuing_office=issuing_office,
        issued_on=issued_on,
        period_start=period_start,
        period_end=period_end,
        targets=targets,
        sections=sections,
        measures=_measures(annex),
        notes=tuple(dict.fromkeys(builder.notes)),
    )


def _finalise(sections: tuple[ParsedSection, ...]) -> tuple[ParsedSection, ...]:
    """Fill the fields derived from units and place: lead, co-units, section, position."""
    from dataclasses import replace

    position = 0
    result = []
    for section in sections:
        tasks = []
        for task in section.tasks:
            position += 1
            lead = next((u.name for u in task.units if u.role == "lead"), None)
            co = tuple(u.name for u in task.units if u.name != lead)
            tasks.append(replace(task, lead=lead, co_units=co, section=section.title, position=position,
                                 label=task.label or f"{task.number}."))
        result.append(replace(section, tasks=tuple(tasks)))
    return tuple(result)


# --- front matter ----------------------------------------------------------


def _split_annex(paragraphs: list[Paragraph]) -> tuple[list[Paragraph], list[Paragraph]]:
    """The main text, and the annex (empty if there is none).

    The main text ends at the first "附件…" line; the annex starts after a
    line that is only "附件" (or "附件1"), which heads the annex page.
    """
    texts = [p.text for p in paragraphs]
    end = next((i for i, t in enumerate(texts) if _ANNEX_REFERENCE.match(t)), len(texts))
    start = next((i for i in range(end, len(texts)) if _ANNEX_START.match(texts[i])), end)
    return paragraphs[:end], paragraphs[start + 1:] if start < len(texts) else []


def _document_number(body: list[Paragraph]) -> str:
    for paragraph in body:
        match = _DOCUMENT_NUMBER.fullmatch(remove_spaces(paragraph.text))
        if match:
            return f"{match['prefix']}〔{match['year']}〕{match['seq']}号"
    for paragraph in body[:10]:  # the number may share a line with the header
        match = _DOCUMENT_NUMBER.search(remove_spaces(paragraph.text))
        if match:
            return f"{match['prefix']}〔{match['year']}〕{match['seq']}号"
    raise PlanParseError("未找到文号（如“浙政办发〔2024〕27号”） / no document number found (e.g. 浙政办发〔2024〕27号)")


def _issue(body: list[Paragraph]) -> tuple[date, str]:
    """The date the document was signed and the organ that signed it: the
    first date standing on its own line and the line before it. The 印发
    date of the back matter is the fallback."""
    dated = [(i, m) for i, p in enumerate(body) if (m := _DATE.match(remove_spaces(p.text)))]
    signed = [(i, m) for i, m in dated if not m["printed"]] or dated
    if not signed:
        raise PlanParseError("未找到成文日期（如“2024年8月23日”） / no issue date found (e.g. 2024年8月23日)")
    index, match = signed[0]
    issued_on = _date(match)
    before = remove_spaces(body[index - 1].text) if index > 0 else ""
    if _ORGAN.match(before):
        return issued_on, before
    for paragraph in body:
        notice = _NOTICE.match(remove_spaces(paragraph.text))
        if notice and _ORGAN.match(notice["office"]):
            return issued_on, notice["office"]
        header = re.fullmatch(r"(.{2,40})文件", remove_spaces(paragraph.text))
        if header and _ORGAN.match(header[1]):
            return issued_on, header[1]
    raise PlanParseError("未找到发文机关（日期前一行） / no issuing office found (the line before the date)")


def _date(match: re.Match[str]) -> date:
    year, month, day = (chinese_number(match[g]) for g in ("y", "m", "d"))
    try:
        return date(year or 0, month or 0, day or 0)
    except ValueError as error:
        raise PlanParseError(f"日期无效：{match.group()} / invalid date: {match.group()}") from error


def _title(body: list[Paragraph]) -> str:
    """The plan's title: from the notice that carries it ("关于印发X的通知"),
    else from a quoted 《X》, else the first heading-like line naming a plan."""
    for paragraph in body:
        notice = _NOTICE.match(remove_spaces(paragraph.text))
        if notice:
            return _normalise_title(notice["title"])
    for paragraph in body:
        quoted = re.search(r"《([^》]*(?:计划|方案|措施|意见)[^》]*)》", paragraph.text)
        if quoted:
            return _normalise_title(quoted[1])
    for paragraph in body:
        line = remove_spaces(paragraph.text)
        if len(line) <= 60 and "。" not in line and re.search(r"(?:计划|方案|措施|意见)(?:[(（].*[)）])?$", line):
            return _normalise_title(line)
    raise PlanParseError("未找到计划标题 / no plan title found")


def _normalise_title(title: str) -> str:
    # Conversion spaces go; brackets become full-width, as in the official text.
    return remove_spaces(title).replace("(", "（").replace(")", "）")


def _period(title: str, issued_on: date, plan_end_year: int | None) -> tuple[date, date]:
    match = _PERIOD.search(title)
    if match:
        return date(int(match["start"]), 1, 1), date(int(match["end"]), 12, 31)
    if plan_end_year:
        return date(issued_on.year, 1, 1), date(plan_end_year, 12, 31)
    raise PlanParseError(
        "标题中没有计划期（如“（2024—2027年）”），请指定计划截止年份"
        " / no plan period in the title (e.g. (2024—2027年)); pass plan_end_year"
    )


# --- the main text ---------------------------------------------------------


@dataclass
class _Part:
    """A top-level part of the main text ("二、主要任务"); title None for the
    text before the first top-level heading."""

    number: int
    title: str | None
    paragraphs: list[Paragraph] = field(default_factory=list)


def _top_level_parts(body: list[Paragraph]) -> list[_Part]:
    parts = [_Part(0, None)]
    for paragraph in body:
        heading = _TOP_HEADING.match(paragraph.text)
        if heading:
            parts.append(_Part(chinese_number(heading["num"]) or 0, remove_spaces(heading["title"])))
        else:
            parts[-1].paragraphs.append(paragraph)
    return parts


@dataclass
class _SectionDraft:
    number: int
    title: str
    from_heading: bool  # a （一） heading or a top-level part, not the catch-all
    tasks: list[ParsedTask] = field(default_factory=list)


class _TaskBuilder:
    """Walks the paragraphs of the task parts and collects sections and tasks.

    A task starts at its number and runs until its unit list closes it, or
    until the next task, the next heading, or a paragraph that closes the
    list. Between those, every paragraph is part of it: a page break
    ("专精特" | "新企业") or a real second paragraph (task 7 of 27号).
    Paragraphs after a closed task and before the next one belong to no task.
    """

    def __init__(self, *, first_listed_leads: bool, due_year: int | None) -> None:
        self.first_listed_leads = first_listed_leads
        self.due_year = due_year
        self.notes: list[str] = []
        self._sections: list[_SectionDraft] = []

    def sections(self, parts: list[_Part]) -> tuple[ParsedSection, ...]:
        has_action_headings = any(_SECTION_HEADING.match(p.text) for part in parts for p in part.paragraphs)
        for part in parts:
            current: _SectionDraft | None = None
            if not has_action_headings and part.title is not None:
                # No （一） headings: the top-level parts are the actions.
                current = self._open(part.number, part.title, from_heading=True)
            pieces: list[str] = []
            number = 0
            closed = True  # no task open: paragraphs without a number are dropped
            block_from: int | None = None  # the piece where the task's unit list starts
            for paragraph in part.paragraphs:
                text = paragraph.text
                heading = _SECTION_HEADING.match(text) if has_action_headings else None
                item = _ITEM.match(text)
                if heading or _CLOSING.match(text) or _END_MATTER.match(text):
                    current = self._finish(current, number, pieces, part)
                    closed = True
                    if heading:
                        current = self._open(chinese_number(heading["num"]) or 0, remove_spaces(heading["title"]),
                                             from_heading=True)
                    continue
                if item and self._starts_item(int(item["num"]), number, pieces, closed):
                    current = self._finish(current, number, pieces, part)
                    number, closed, block_from = int(item["num"]), False, None
                    pieces.append(item["rest"])
                elif not closed:
                    pieces.append(text)
                else:
                    continue
                # Its unit list ends the task. Only the pieces from where the
                # list starts are looked at, so a long task stays linear; the
                # piece before is included for a label cut by a page break.
                if block_from is None:
                    recent = join_pieces(pieces[-2:])
                    if UNIT_BLOCK_START.search(recent):
                        block_from = max(len(pieces) - 2, 0)
                if block_from is not None and find_unit_block(join_pieces(pieces[block_from:])):
                    closed = True
            self._finish(current, number, pieces, part)
        return tuple(
            ParsedSection(s.number, s.title, tuple(s.tasks)) for s in self._sections if s.tasks or s.from_heading
        )

    def _open(self, number: int, title: str, *, from_heading: bool) -> _SectionDraft:
        section = _SectionDraft(number, title, from_heading)
        self._sections.append(section)
        return section

    @staticmethod
    def _starts_item(found: int, last: int, pieces: list[str], closed: bool) -> bool:
        # A number at the start of a paragraph begins a new task when it is
        # the next number, a restart at 1, or follows a finished sentence;
        # otherwise it is a page break inside a sentence ("…增至\n\n3. 5 倍").
        return closed or not pieces or found in (last + 1, 1) or ends_sentence(pieces[-1])

    def _finish(
        self, current: _SectionDraft | None, number: int, pieces: list[str], part: _Part
    ) -> _SectionDraft | None:
        """Build the task gathered in pieces (if any) into the current section."""
        if not pieces:
            return current
        if current is None:  # tasks before any （一） heading
            current = self._open(0, part.title or "", from_heading=False)
        current.tasks.append(self._task(number, pieces))
        pieces.clear()
        return current

    def _task(self, number: int, pieces: list[str]) -> ParsedTask:
        full = join_pieces(pieces)
        units: tuple[ParsedUnitRef, ...] = ()
        block = find_unit_block(full)
        if block:
            start, end = block
            units, notes = parse_unit_list(full[start + 1:end - 1], first_listed_leads=self.first_listed_leads)
            self.notes.extend(notes)
            full = full[:start].rstrip()  # what follows the unit list is not the task's
        return ParsedTask(
            number=number,
            title=_first_sentence(full),
            text=full,
            units=units,
            targets=extract_targets(full, due_year=self.due_year),
        )


def _first_sentence(text: str) -> str:
    stops = top_level_positions(text, "。\n")
    return clean_inline(text[:stops[0]] if stops else text).strip()


# --- the annex -------------------------------------------------------------


def _measures(annex: list[Paragraph]) -> tuple[ParsedMeasure, ...]:
    """The numbered measures of the annex, under their "一、" groups."""
    measures: list[ParsedMeasure] = []
    group_number, group = 0, ""
    number, pieces = 0, []

    def finish() -> None:
        if pieces:
            measures.append(_measure(group_number, group, number, join_pieces(pieces)))
            pieces.clear()

    for paragraph in annex:
        text = paragraph.text
        heading = _TOP_HEADING.match(text)
        item = _ITEM.match(text)
        if _CLOSING.match(text) or _END_MATTER.match(text):
            finish()
            number = 0
        elif heading:
            finish()
            group_number, group = chinese_number(heading["num"]) or 0, remove_spaces(heading["title"])
        elif item and (not pieces or int(item["num"]) in (number + 1, 1) or ends_sentence(pieces[-1])):
            finish()
            number, pieces = int(item["num"]), [item["rest"]]
        elif pieces:
            pieces.append(text)
    finish()
    return tuple(measures)


def _measure(group_number: int, group: str, number: int, text: str) -> ParsedMeasure:
    cap = _CAP.search(text)
    rate = _RATE.search(text)
    return ParsedMeasure(
        group_number=group_number,
        group=group,
        number=number,
        title=_first_sentence(text),
        text=text,
        cap_amount=Decimal(cap["num"]) * _TO_WAN[cap["unit"]] if cap else None,
        subsidy_rate=Decimal(rate["a"] or rate["b"]) if rate else None,
    )
