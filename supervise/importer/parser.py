"""Parse a Chinese government plan document into a structured plan.

Text (or paragraphs and tables read from a file) in, frozen dataclasses
out; the service layer decides what to store. The parser reads the words of
the document, never its Markdown heading levels or fonts:

* ``浙政办发〔2024〕27号``                    -> the document number
* ``关于印发…行动计划（2024—2027年）的通知``    -> title and plan period
* ``浙江省人民政府办公厅`` / ``2024年8月23日``  -> issuing office and date
* ``一、`` ``（一）`` ``1.`` ``（1）`` ``①`` ``一是`` -> numbered items, nested in the
  order the document uses them
* a responsibility tag (``（责任单位：A、B）``, ``（A、B负责）``,
  ``（A牵头，B参与）`` …, see tags.py)    -> closes one task: the text since the
  previous tag or the item's start. Items without a tag are not tasks.
* the rows of a 任务分工表 (see tables.py) -> one task each
* ``一、总体要求`` / ``发展目标``              -> the overall targets
* ``附件`` … ``一、组名`` / ``1. 措施``        -> the annex's measures

What the document does not say (文号, date, who leads, a deadline) is left
None with a Chinese warning, never guessed.

Titles are given with full-width brackets （） throughout: the form of the
official typesetting standard (GB/T 9704), whatever the conversion produced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .errors import PlanParseError
from .dates import column_deadline, find_dates
from .reader import Block, TableBlock, TextBlock, text_blocks
from .tables import read_task_table, tables_from_cell_lines
from .tags import BARE_LABEL_LINE, FIRST_LISTED_LEADS, STANDING_CO_UNITS, FoundTag, find_tags, split_names
from .targets import ParsedTarget, extract_targets
from .text import (
    Paragraph,
    chinese_number,
    clean_inline,
    ends_sentence,
    join_pieces,
    remove_spaces,
    top_level_positions,
)
from .unit_lists import ParsedUnitRef, unit_ref, unit_refs


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

# A numbered item (task or measure): "1. ", "12．", "3、". The look-ahead keeps
# "2.0 战略" at the start of a continued line from reading as item 2.
_ITEM = re.compile(r"^(?P<num>\d{1,3})\s*[.．、]\s*(?!\d)(?P<rest>\S.*)$", re.S)

# The start of the annex: "附件", "附件2", "附件:若干措施" (the reference line
# that closes the main text). The annex itself follows a line "附件" or "附件N".
_ANNEX_REFERENCE = re.compile(r"^附\s*件\s*\d*\s*(?:[:：].*)?$", re.S)
_ANNEX_START = re.compile(r"^附\s*件\s*\d*$")

# Paragraphs that close a list of tasks or measures and belong to the plan as
# a whole: "各地各部门要……", "以上措施根据……", "本方案自……".
_CLOSING = re.compile(
    r"^(?:各地(?:区)?\s*[、，,]?\s*各(?:有关)?部门|各地各部门|各有关(?:部门|单位)|各级各部门|各部门|各单位"
    r"|(?:以上|上述)(?:措施|政策|任务)|本(?:措施|政策|方案|计划|意见|通知))"
)

# The back matter of an official document: rules, 抄送 line, 印发 line.
_END_MATTER = re.compile(r"^(?:-{3,}|_{3,}|\*{3,}|抄送|抄\s*送|（此件|\(此件)")

# Parts that hold no tasks unless tagged: principles, goals, safeguards.
_NOT_TASK_HEADING = re.compile(
    r"总体要求|总体目标|指导思想|基本原则|工作原则|发展目标|主要目标|工作目标|保障措施|保障机制|组织实施|组织保障|工作要求|实施步骤"
)
# Parts that hold the overall targets.
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
    """Parse a plan document given as text (pasted, Markdown, or a .txt).

    Paragraphs may be separated by blank lines (a single newline is then a
    soft wrap) or stand one per line; text copied from a PDF, wrapped at a
    fixed width, is joined back. ``plan_end_year`` is the year the plan's
    targets are due when the title states no period ("（2024—2027年）").

    Raises PlanParseError only for an empty text; whatever else is missing
    is a warning on the result.
    """
    if not text or not text.lstrip("\ufeff").strip():
        raise PlanParseError("文档为空 / the document is empty")
    return parse_blocks(text_blocks(text), plan_end_year=plan_end_year)


def parse_blocks(
    blocks: list[Block], *, plan_end_year: int | None = None, source_format: str = "text"
) -> ParsedPlan:
    """Parse a document read into paragraphs and tables (see reader.py)."""
    blocks = [b for b in blocks if not (isinstance(b, TextBlock) and _SOURCE_LINE.match(b.text))]
    blocks = _merge_open_brackets(blocks)
    blocks = tables_from_cell_lines(blocks)
    paragraphs = [Paragraph(b.text, b.line) for b in blocks if isinstance(b, TextBlock)]
    body, annex = _split_annex(paragraphs)
    front = paragraphs[:len(paragraphs) - len(annex)] if annex else paragraphs
    warnings: list[str] = []

    document_number = _document_number(body)
    if document_number is None:
        warnings.append("未找到文号（如“国发〔2018〕42号”），请在审核时填写")
    issued_on, issuing_office = _issue(front)
    document_title, title = _titles(paragraphs, blocks)
    if issuing_office is None and document_title and "关于" in document_title:
        office = document_title.split("关于", 1)[0]
        issuing_office = office if _ORGAN.match(office) else None
    if issued_on is None:
        warnings.append("未找到成文日期（如“2024年8月23日”），请在审核时填写")
    if issuing_office is None:
        warnings.append("未找到发文机关，请在审核时填写")
    if not title:
        warnings.append("未找到文件标题，请在审核时填写")
    period_start, period_end = _period(title or document_title, issued_on, plan_end_year)
    if period_start is None:
        warnings.append("标题中没有计划期（如“（2024—2027年）”），请在审核时填写计划起止年份")
    due_year = plan_end_year or (period_end.year if period_end else None)

    walker = _Walker(due_year=due_year)
    walker.walk(blocks)
    tasks = walker.tasks
    if not tasks:
        warnings.append(
            "文件中没有带责任单位的任务（任务后应有“（责任单位：……）”“（X、Y负责）”等括注，或任务分工表），"
            "未生成任务；请在审核时手工添加任务"
        )
    warnings.extend(walker.warnings)
    return ParsedPlan(
        document_number=document_number,
        title=title,
        issuing_office=issuing_office,
        issued_on=issued_on,
        period_start=period_start,
        period_end=period_end,
        targets=tuple(walker.targets),
        sections=_sections(tasks),
        measures=_measures(annex),
        notes=tuple(dict.fromkeys(walker.notes)),
        warnings=tuple(dict.fromkeys(warnings)),
        document_title=document_title,
        source_format=source_format,
    )


_SOURCE_LINE = re.compile(r"^\s*source\s*[:：]\s*https?://\S+\s*$", re.I)


def _merge_open_brackets(blocks: list[Block]) -> list[Block]:
    """A paragraph that ends inside a bracket was cut by a page break: the
    next one (up to three) completes it ("（责任单位：省经信厅、" | "省商务厅）")."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (isinstance(block, TextBlock) and isinstance(previous, TextBlock)
                and _open_depth(previous.text) > 0 and not _MARKER.match(block.text)
                and len(previous.text) + len(block.text) < 4000):
            merged[-1] = TextBlock(previous.text + block.text, previous.line)
        else:
            merged.append(block)
    return merged


def _open_depth(text: str) -> int:
    depth = 0
    for char in text:
        if char in "(（〔":
            depth += 1
        elif char in ")）〕" and depth:
            depth -= 1
    return depth


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


def _document_number(body: list[Paragraph]) -> str | None:
    for paragraph in body:
        match = _DOCUMENT_NUMBER.fullmatch(remove_spaces(paragraph.text))
        if match:
            return f"{match['prefix']}〔{match['year']}〕{match['seq']}号"
    for paragraph in body[:10]:  # the number may share a line with the header
        match = _DOCUMENT_NUMBER.search(remove_spaces(paragraph.text))
        if match and len(paragraph.text) < 80:
            return f"{match['prefix']}〔{match['year']}〕{match['seq']}号"
    return None


def _issue(body: list[Paragraph]) -> tuple[date | None, str | None]:
    """The date the document was signed and the organ that signed it: the
    first date standing on its own line and the line before it. The 印发
    date of the back matter is the fallback."""
    dated = [(i, m) for i, p in enumerate(body) if (m := _DATE.match(remove_spaces(p.text)))]
    signed = [(i, m) for i, m in dated if not m["printed"]] or dated
    issued_on = None
    office = None
    if signed:
        index, match = signed[0]
        issued_on = _date(match)
        before = remove_spaces(body[index - 1].text) if index > 0 else ""
        if _ORGAN.match(before):
            office = before
    if office is None:
        for paragraph in body[:40]:
            notice = _NOTICE.match(remove_spaces(paragraph.text))
            if notice and _ORGAN.match(notice["office"]):
                office = notice["office"]
                break
            header = re.fullmatch(r"(.{2,40})文件", remove_spaces(paragraph.text))
            if header and _ORGAN.match(header[1]):
                office = header[1]
                break
    return issued_on, office


def _date(match: re.Match[str]) -> date | None:
    year, month, day = (chinese_number(match[g]) for g in ("y", "m", "d"))
    try:
        return date(year or 0, month or 0, day or 0)
    except ValueError:
        return None


# The end of a document's title: its kind, and a period after it.
_TITLE_END = re.compile(
    r"(?:通知|意见|方案|计划|规划|办法|决定|措施|纲要|要点|细则|清单|批复|函|报告|公告|通报|规定|决议|条例|分工表|任务表|台账)"
    r"(?:\s*[(（][^()（）]{0,20}[)）])?$"
)


def _titles(paragraphs: list[Paragraph], blocks: list[Block]) -> tuple[str, str]:
    """(the document's heading as printed, the plan's own title).

    The heading is the first line near the top naming the document
    ("国务院关于…的指导意见"), joined with the line after it when the
    heading is printed on two or three lines. The plan's title is X of
    "关于印发X的通知", else the heading itself.
    """
    head = [remove_spaces(p.text) for p in paragraphs[:15]]
    heading = ""
    for index, line in enumerate(head):
        if "关于" not in line or "。" in line or len(line) > 100 or line.endswith(("：", ":")):
            continue
        joined = line
        for extra in head[index + 1:index + 3]:
            if _TITLE_END.search(joined) or _DOCUMENT_NUMBER.search(extra) or _DATE.match(extra):
                break
            if len(extra) > 40 or re.search(r"[。，：:；]", extra):
                break
            joined += extra
        if _TITLE_END.search(joined):
            heading = joined
            break
    if not heading:
        for line in head:
            if len(line) <= 60 and not re.search(r"[。，：:；]", line) and _TITLE_END.search(line) \
                    and not _DOCUMENT_NUMBER.search(line):
                heading = line
                break
    if not heading:
        for block in blocks[:3]:  # a task table's title row (.xlsx)
            if isinstance(block, TableBlock) and block.rows:
                first = [c for c in block.rows[0] if c]
                if first and len(set(first)) == 1 and len(first[0]) <= 80:
                    heading = remove_spaces(first[0])
                    break
    heading = _normalise_title(heading) if heading else ""
    notice = _NOTICE.match(heading) if heading else None
    if notice:
        return heading, _normalise_title(notice["title"])
    if heading:
        return heading, heading
    for paragraph in paragraphs:
        quoted = re.search(r"《([^》]*(?:计划|方案|措施|意见)[^》]*)》", paragraph.text)
        if quoted:
            return "", _normalise_title(quoted[1])
    return "", ""


def _normalise_title(title: str) -> str:
    # Conversion spaces go; brackets become full-width, as in the official text.
    return remove_spaces(title).replace("(", "（").replace(")", "）")


def _period(title: str, issued_on: date | None, plan_end_year: int | None) -> tuple[date | None, date | None]:
    match = _PERIOD.search(title or "")
    if match:
        return date(int(match["start"]), 1, 1), date(int(match["end"]), 12, 31)
    if plan_end_year:
        start = issued_on.year if issued_on else plan_end_year
        return date(min(start, plan_end_year), 1, 1), date(plan_end_year, 12, 31)
    return None, None


# --- the main text: numbered items and their tags ----------------------------

# The number that starts an item, one pattern per kind, most specific first.
_MARKERS = (
    ("pcn", re.compile(r"^\s*[(（]\s*(?P<num>[一二三四五六七八九十百]+)\s*[)）]\s*")),
    ("cn", re.compile(r"^\s*(?P<num>[一二三四五六七八九十百]+)\s*[、.．]\s*")),
    ("par", re.compile(r"^\s*[(（]\s*(?P<num>\d{1,3})\s*[)）]\s*")),
    ("ar", re.compile(r"^\s*(?P<num>\d{1,3})\s*(?:[.．、](?!\d)|[)）])\s*")),
    ("ard", re.compile(r"^\s*(?P<num>\d{1,3})\s*[.．](?=\d)")),  # "11.121人才…": item 11 if 11 is due
    ("circ", re.compile(r"^\s*(?P<num>[①-⑳])\s*")),
    ("shi", re.compile(r"^\s*(?P<num>[一二三四五六七八九十]+)\s*是(?=[\u4e00-\u9fff“])")),
)
_MARKER = re.compile("|".join(p.pattern.lstrip("^") for _, p in _MARKERS).replace("(?P<num>", "(?:"))
_MARKER = re.compile("^(?:" + _MARKER.pattern + ")")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _marker(text: str) -> tuple[str, int, str, str] | None:
    """(kind, number, label as printed, rest) of a numbered paragraph."""
    for kind, pattern in _MARKERS:
        match = pattern.match(text)
        if match:
            raw = match["num"]
            number = _CIRCLED.index(raw) + 1 if kind == "circ" else chinese_number(raw)
            if number is None:
                continue
            label = remove_spaces(match.group()) or raw
            return kind, number, label, text[match.end():]
    return None


@dataclass
class _Item:
    kind: str
    number: int
    label: str
    pieces: list[str] = field(default_factory=list)
    parent: _Item | None = None
    title_line: str = ""  # a heading standing on its own line ("一、总体要求", "（三）加强组织领导")
    heading: str = ""  # its first sentence, the section title of its children
    done: bool = False  # its own text was read

    def ancestors(self) -> list[_Item]:
        chain, item = [], self.parent
        while item is not None:
            chain.append(item)
            item = item.parent
        return chain


@dataclass
class _Draft:
    number: int
    label: str
    section_key: object
    section_number: int
    section: str
    title: str
    text: str
    source_text: str
    units: tuple[ParsedUnitRef, ...]
    lead: str | None
    co_units: tuple[str, ...]
    deadline: date | None
    starts_on: date | None
    targets: tuple[ParsedTarget, ...]
    warnings: tuple[str, ...]


class _Walker:
    """Walks the blocks in order, keeping a stack of open numbered items.

    A numbered paragraph opens an item: one of a kind already open closes
    that one and everything inside it; a new kind nests. Other paragraphs
    continue the innermost open item. When an item stops receiving text
    (a child opens, or it closes), its text is read: every tag in it closes
    one task, whose text runs from the previous tag (or the item's start).
    Text after the last tag belongs to no task. Rules stated on the way
    ("列第一位者为牵头单位，下同", "以下均需X落实，不再列出") hold from where
    they stand to the end.
    """

    def __init__(self, *, due_year: int | None) -> None:
        self.due_year = due_year
        self.tasks: list[_Draft] = []
        self.targets: list[ParsedTarget] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.first_listed_leads = False
        self.standing_co: list[str] = []
        self.root = _Item("root", 0, "")
        self.stack: list[_Item] = [self.root]
        self.read_items: list[_Item] = []  # in the order read, to find untagged siblings
        self.tagged: set[int] = set()  # ids of items holding a task, themselves or below

    # -- the walk --

    def _untagged_siblings(self) -> None:
        """Warn of numbered items without a tag among siblings with one: the
        coordinator decides whether they are tasks."""
        for item in self.read_items:
            parent = item.parent
            if item is self.root or id(item) in self.tagged or parent is None or not item.pieces:
                continue
            if any(i.parent is item for i in self.read_items) or _NOT_TASK_HEADING.search(item.heading or ""):
                continue  # a heading over other items, or a part that holds no tasks
            siblings = [i for i in self.read_items if i.parent is parent and i.kind == item.kind and i is not item]
            if any(id(s) in self.tagged for s in siblings):
                where = f"{parent.label}之下的" if parent is not self.root and parent.label else ""
                text = (item.title_line or join_pieces(item.pieces))[:30]
                self.warnings.append(f"{where}{item.label} 没有责任单位括注，未列为任务：“{text}…”")

    def walk(self, blocks: list[Block]) -> None:
        for index, block in enumerate(blocks):
            if isinstance(block, TableBlock):
                self._reset()
                self._table(block, index)
                continue
            text = block.text
            if _END_MATTER.match(text) or _ANNEX_REFERENCE.match(text) or _ANNEX_START.match(text):
                self._reset()
                continue
            if _CLOSING.match(text) and not find_tags(text) and self._closed():
                self._reset()
                self._read_loose(text)
                continue
            marker = _marker(text)
            if marker and self._opens(marker, text):
                self._open(marker)
                continue
            if BARE_LABEL_LINE.match(text):
                text = f"（{text.strip()}）"
            if self.stack[-1] is self.root:
                self._rules(text)
            self.stack[-1].pieces.append(text)
        self._reset()
        self._read(self.root)
        self._untagged_siblings()

    def _closed(self) -> bool:
        """Whether the innermost item ended with a tag (or there is none):
        only then does a closing paragraph ("各地各部门要…") end the list."""
        current = self.stack[-1]
        if current is self.root or not current.pieces:
            return True
        return bool(find_tags(current.pieces[-1]))

    def _opens(self, marker: tuple[str, int, str, str], text: str) -> bool:
        kind, number, _, rest = marker
        if not rest.strip():
            return kind not in ("ar", "ard")  # "3." alone: a page number or a broken line
        same = next((item for item in reversed(self.stack) if item.kind in (kind, "ar" if kind == "ard" else kind)), None)
        if kind == "ard":
            return same is not None and number == same.number + 1 and len(rest) > 1
        if kind in ("ar", "par"):
            current = self.stack[-1]
            if same is not None and same is current and number not in (same.number + 1, 1):
                # A number after a page break inside a sentence ("…增至" | "3. 5 倍").
                last = current.pieces[-1] if current.pieces else ""
                if last and not ends_sentence(last) and not find_tags(last[-60:]):
                    return False
        return True

    def _open(self, marker: tuple[str, int, str, str]) -> None:
        kind, number, label, rest = marker
        kind = "ar" if kind == "ard" else kind
        depth = next((i for i in range(len(self.stack) - 1, 0, -1) if self.stack[i].kind == kind), None)
        if depth is not None:
            for item in reversed(self.stack[depth:]):
                self._read(item)
            del self.stack[depth:]
        else:
            self._read(self.stack[-1])
        item = _Item(kind, number, label, parent=self.stack[-1])
        rest = rest.strip()
        if rest and len(rest) <= 40 and not re.search(r"[。；;！？!?]", rest.rstrip("。")) and not find_tags(rest) \
                and not rest.endswith(("，", ",", "、")):
            item.title_line = rest.rstrip("。.")
        elif rest:
            item.pieces.append(rest)
        self.stack.append(item)

    def _reset(self) -> None:
        for item in reversed(self.stack[1:]):
            self._read(item)
        del self.stack[1:]

    def _read_loose(self, text: str) -> None:
        """A paragraph outside every item (a closing paragraph): its rules count."""
        self._rules(text)

    # -- reading an item's text --

    def _rules(self, text: str) -> None:
        flat = remove_spaces(text)
        if FIRST_LISTED_LEADS.search(flat):
            self.first_listed_leads = True
        for match in STANDING_CO_UNITS.finditer(flat):
            names, _ = split_names(match["units"])
            self.standing_co += [n for n in names if n not in self.standing_co]
            self.notes.append(match.group())

    def _read(self, item: _Item) -> None:
        if item.done:
            return
        item.done = True
        self.read_items.append(item)
        full = join_pieces(item.pieces)
        item.heading = remove_spaces(item.title_line) if item.title_line else _heading(full)
        if not full:
            return
        tags = find_tags(full)
        if not tags:
            if item is not self.root:
                self._rules(full)
            if item is not self.root and any(_OVERALL.search(a.heading or "") for a in [item, *item.ancestors()]):
                self.targets.extend(extract_targets(full, due_year=self.due_year))
            return
        section_item = item.parent if item.parent is not None and item.parent is not self.root else None
        previous = 0
        previous_tasks = len(self.tasks)
        for order, tag in enumerate(tags):
            self._rules(full[previous:tag.start])
            segment = full[previous:tag.start]
            source = full[previous:tag.end]
            previous = tag.end
            text = _clean_segment(segment)
            if not text:
                # Two tags in a row: the second adds to the task the first closed.
                if self.tasks and order > 0:
                    self._extend_last(tag)
                continue
            self._task(item, section_item, text, source.strip(), tag, first=(previous_tasks == len(self.tasks)))
            chain = [item, *item.ancestors()]
            self.tagged.update(id(i) for i in chain)
        self._rules(full[previous:])
        rest = _clean_segment(_RULE_SENTENCE.sub("", full[previous:]))
        if len(rest) >= 15 and re.search(r"[\u4e00-\u9fff]", rest):
            where = item.label or "正文"
            self.warnings.append(f"{where} 末尾一段文字后没有责任单位括注，未列为任务：“{rest[:30]}…”")

    def _task(self, item: _Item, section_item: _Item | None, text: str, source: str, tag: FoundTag, *, first: bool) -> None:
        units = tag.units
        self.notes.extend(units.notes)
        if units.first_listed_leads:
            self.first_listed_leads = True
        refs, lead, co, warnings = unit_refs(units, first_listed_leads=self.first_listed_leads, standing_co=self.standing_co)
        if units.standing_co:
            self.standing_co += [n for n in units.standing_co if n not in self.standing_co]
        dates = find_dates(text + ("，" + units.time_text if units.time_text else ""))
        deadline = column_deadline(units.deadline_text) if units.deadline_text else dates.deadline
        if deadline is None and not dates.ongoing:
            warnings.append("文件未写明完成时限")
        title = item.title_line if first and item.title_line else _title_of(text)
        ordinal = _ORDINAL.match(text)
        label = item.label + (ordinal["ord"] if ordinal and not first else "")
        self.tasks.append(_Draft(
            number=item.number,
            label=label,
            section_key=id(section_item) if section_item else None,
            section_number=section_item.number if section_item else 0,
            section=(section_item.heading if section_item else ""),
            title=title,
            text=text,
            source_text=" ".join(p for p in (item.label if first else "", item.title_line if first else "", source) if p),
            units=refs,
            lead=lead,
            co_units=co,
            deadline=deadline,
            starts_on=dates.starts_on,
            targets=extract_targets(text, due_year=self.due_year),
            warnings=tuple(warnings),
        ))

    def _extend_last(self, tag: FoundTag) -> None:
        from dataclasses import replace as _replace

        last = self.tasks[-1]
        extra = [n for n in tag.units.names if n != last.lead and n not in last.co_units]
        refs = last.units + tuple(unit_ref(n, "co", last.units[0].confirmed if last.units else False) for n in extra)
        deadline = last.deadline
        warnings = last.warnings
        if tag.units.deadline_text and deadline is None:
            deadline = column_deadline(tag.units.deadline_text)
            if deadline is not None or re.search(r"长期|持续|常态", tag.units.deadline_text):
                warnings = tuple(w for w in warnings if "完成时限" not in w)
        self.tasks[-1] = _replace(last, units=refs, co_units=last.co_units + tuple(extra), deadline=deadline,
                                  warnings=warnings)

    # -- tables --

    def _table(self, block: TableBlock, index: int) -> None:
        table = read_task_table(block)
        if table is None:
            return
        for row in table:
            if row.units is None:
                continue
            refs, lead, co, warnings = unit_refs(row.units, first_listed_leads=self.first_listed_leads, standing_co=self.standing_co)
            dates = find_dates(row.text)
            deadline = row.deadline or dates.deadline
            if deadline is None and not dates.ongoing and not row.ongoing:
                warnings.append("文件未写明完成时限")
            if not row.units.names:
                warnings.append("任务分工表中该行没有填写责任单位")
            self.tasks.append(_Draft(
                number=row.number,
                label=str(row.number),
                section_key=("table", index, row.group),
                section_number=row.group_number,
                section=row.group,
                title=row.title,
                text=row.text,
                source_text=" | ".join(c for c in row.cells if c),
                units=refs,
                lead=lead,
                co_units=co,
                deadline=deadline,
                starts_on=dates.starts_on,
                targets=extract_targets(row.text + ("\n" + row.target if row.target else ""), due_year=self.due_year),
                warnings=tuple(warnings),
            ))


# A sentence that only states a rule ("以下均需X落实，不再列出。").
_RULE_SENTENCE = re.compile(
    "(?:" + STANDING_CO_UNITS.pattern + "|" + FIRST_LISTED_LEADS.pattern + r")[^。；;]*[。；;]?"
)
_ORDINAL = re.compile(r"^(?P<ord>[一二三四五六七八九十]+是)")


def _heading(full: str) -> str:
    """An item's first sentence, as the title of what it holds."""
    first = _first_sentence(full)
    first = re.sub(r"[（(][^（）()]*[）)]\s*$", "", first) if len(first) > 60 else first
    return remove_spaces(first).rstrip("。.：:；;")


def _clean_segment(segment: str) -> str:
    text = segment.strip()
    text = re.sub(r"^[。；;，,、：:\s]+", "", text)
    return text.strip()


def _title_of(text: str) -> str:
    first = _ORDINAL.sub("", _first_sentence(text))
    if len(first) > 60:
        clauses = top_level_positions(first, "，,；;：:")
        if clauses and clauses[0] >= 6:
            first = first[:clauses[0]]
    if len(first) > 100:
        first = first[:99] + "…"
    return first.rstrip("。.：:；;，,")


def _first_sentence(text: str) -> str:
    stops = top_level_positions(text, "。\n")
    return clean_inline(text[:stops[0]] if stops else text).strip()


def _sections(drafts: list[_Draft]) -> tuple[ParsedSection, ...]:
    """Consecutive tasks under one heading make a section; tasks become
    ParsedTask with their position."""
    sections: list[tuple[object, int, str, list[ParsedTask]]] = []
    for position, draft in enumerate(drafts, start=1):
        key = (draft.section_key, draft.section_number, draft.section)
        task = ParsedTask(
            number=draft.number, title=draft.title, text=draft.text, units=draft.units, targets=draft.targets,
            section=draft.section, lead=draft.lead, co_units=draft.co_units, deadline=draft.deadline,
            starts_on=draft.starts_on, warnings=draft.warnings, label=draft.label, position=position,
            source_text=draft.source_text,
        )
        if sections and sections[-1][0] == key:
            sections[-1][3].append(task)
        else:
            sections.append((key, draft.section_number, draft.section, [task]))
    return tuple(ParsedSection(number, title, tuple(tasks)) for _, number, title, tasks in sections)


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
