"""Read a plan document file into blocks of text: paragraphs and tables.

Formats read: .docx (python-docx: paragraphs and tables in body order),
.pdf with a text layer (pypdf), .xlsx (openpyxl: each sheet a table),
.txt / .md in UTF-8 or GB18030 (detected), and pasted text. The format is
told by the file's content first and its name second, so a .txt that is
really a Word file is read as Word.

Every file that cannot be read raises ``PlanParseError`` with a Chinese
message saying what to do: empty, too large, binary, an unreadable encoding,
an old .doc / .wps / .xls, an .ofd, an encrypted PDF, a scanned PDF without
text.

Paragraphs come out one per block however the source wrapped them:

* Markdown and text with blank lines between paragraphs: a block is the
  lines between blank lines (a single newline is a soft wrap);
* text with one paragraph per line (copied from a web page or Word): a
  block is a line;
* text copied from a PDF, where every line of a paragraph has the same
  width: lines of the full width are joined to the next one;
* PDF files: a line that starts at the left margin continues the
  paragraph above; an indented line starts a new one. Page numbers
  ("— 3 —") are dropped.
"""
from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

from .errors import PlanParseError
from .text import clean_inline

MAX_BYTES = 20 * 1024 * 1024  # a plan with its annexes is well under 5 MB
MAX_CHARS = 2_000_000

SUPPORTED = "支持的格式：Word（.docx）、带文字的 PDF、Excel 任务分工表（.xlsx）、文本（.txt/.md，UTF-8 或 GBK 编码）"


@dataclass(frozen=True)
class TextBlock:
    """One paragraph as written (soft wraps joined, no Markdown marks)."""

    text: str
    line: int = 0  # 1-based line / paragraph index in the source, for messages


@dataclass(frozen=True)
class TableBlock:
    """A table: rows of cell texts (merged cells repeat their text)."""

    rows: tuple[tuple[str, ...], ...]
    name: str = ""  # the sheet's name for .xlsx
    line: int = 0


Block = TextBlock | TableBlock


@dataclass
class SourceDocument:
    blocks: list[Block]
    format: str  # "docx" "pdf" "xlsx" "text"
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The document as plain text, one paragraph (or table cell) per line."""
        lines: list[str] = []
        for block in self.blocks:
            if isinstance(block, TextBlock):
                lines.append(block.text)
            else:
                for row in block.rows:
                    lines.extend(cell for cell in row if cell)
        return "\n\n".join(lines)


def read_document(data: bytes, filename: str = "") -> SourceDocument:
    """Blocks of a document file. Raises PlanParseError for what cannot be read."""
    if data is None or len(data) == 0:
        raise PlanParseError("文件为空，请选择要导入的计划文件")
    if len(data) > MAX_BYTES:
        raise PlanParseError(
            f"文件过大（{len(data) / 1024 / 1024:.1f} MB），上限为 {MAX_BYTES // 1024 // 1024} MB；"
            "请去掉图片或附件后再导入"
        )
    suffix = PurePath(filename or "").suffix.lower()
    if data[:4] == b"%PDF" or (suffix == ".pdf" and b"%PDF" in data[:1024]):
        return _read_pdf(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: .doc, .wps, .xls, .et
        if suffix in (".xls", ".et"):
            raise PlanParseError("这是旧版 Excel 文件（.xls），无法直接读取；请在 Excel 或 WPS 中“另存为” .xlsx 后再导入")
        raise PlanParseError(
            "这是旧版 Word 或 WPS 文件（.doc/.wps），无法直接读取；请在 Word 或 WPS 中“另存为” .docx，"
            "或导出为带文字的 PDF 后再导入"
        )
    if data[:4] == b"PK\x03\x04":
        return _read_zip(data, suffix)
    if suffix in (".docx", ".xlsx", ".pdf", ".doc", ".wps", ".ofd", ".xls"):
        raise PlanParseError(f"文件扩展名为 {suffix}，但内容不是该格式，文件可能已损坏；请重新导出后再导入")
    return SourceDocument(text_blocks(decode_text(data)), "text")


def decode_text(data: bytes) -> str:
    """Text of a .txt / .md file: UTF-8 (with or without BOM), UTF-16 with a
    BOM, else GB18030 (which includes GBK and GB2312)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return _check_text(data.decode("utf-16"))
        except UnicodeDecodeError:
            raise PlanParseError("文件编码无法识别（UTF-16 内容有误）；请另存为 UTF-8 编码的文本后再导入") from None
    if b"\x00" in data[:4096]:
        raise PlanParseError("这不是文本文件，也不是可识别的文档格式。" + SUPPORTED)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _check_text(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise PlanParseError("文件编码无法识别（既不是 UTF-8 也不是 GBK/GB18030）；请用记事本或 WPS 另存为 UTF-8 编码后再导入")


def _check_text(text: str) -> str:
    text = text.lstrip("\ufeff")
    if len(text) > MAX_CHARS:
        raise PlanParseError(f"文本过长（{len(text)} 字），上限为 {MAX_CHARS} 字")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\n\r\t\f")
    if controls > max(8, len(text) // 200):
        raise PlanParseError("这不是文本文件，也不是可识别的文档格式。" + SUPPORTED)
    if not text.strip():
        raise PlanParseError("文件中没有文字内容")
    return text


# --- plain text --------------------------------------------------------------

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_MD_EMPHASIS = re.compile(r"(\*\*|__)")
_MD_QUOTE = re.compile(r"^\s*>\s?")
_MD_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_PAGE_NUMBER = re.compile(r"^[\s\-—–－~～·]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*/\s*\d{1,4})?[\s\-—–－~～·]*$")
# In text, only a number between dashes is surely a page number ("— 3 —"):
# a bare "3" may be a table cell.
_DASHED_PAGE_NUMBER = re.compile(r"^\s*[\-—–－~～]+\s*\d{1,4}\s*[\-—–－~～]+\s*$")
_SOURCE_LINE = re.compile(r"^\s*(?:source|来源|URL|网址)\s*[:：]\s*\S+\s*$", re.I)
# A line starting something new: a number, a heading mark, a label.
_STARTS_ITEM = re.compile(
    r"^\s*(?:[(（]\s*[一二三四五六七八九十\d]+\s*[)）]|[一二三四五六七八九十]+\s*[、是]|\d{1,3}\s*[.．、](?!\d)"
    r"|[①-⑳]|附\s*件|(?:牵头|责任|配合)(?:单位|部门)\s*[:：])"
)
_SENTENCE_END = "。！？!?；;：:"
_CLOSERS = ")）〕]］】》”’」』"


_MD_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _table_cells(line: str) -> list[str] | None:
    """The cells of a table row pasted as text: Markdown "| a | b |" or
    tab-separated (from Excel or a Word table); None for other lines."""
    if _MD_TABLE_ROW.match(line):
        return [clean_inline(c.strip()) for c in line.strip().strip("|").split("|")]
    if line.count("\t") >= 2:
        return [clean_inline(c.strip()) for c in line.rstrip("\n").split("\t")]
    return None


def text_blocks(text: str) -> list[Block]:
    """Paragraphs and tables of a plain or Markdown text (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").lstrip("\ufeff")
    raw = text.split("\n")
    # Runs of table rows become tables; the rest is text.
    chunks: list[tuple[str, list[tuple[int, str]]]] = []
    for number, line in enumerate(raw, start=1):
        kind = "table" if _table_cells(line) is not None or (_MD_TABLE_RULE.match(line) and "|" in line) else "text"
        if chunks and chunks[-1][0] == kind:
            chunks[-1][1].append((number, line))
        else:
            chunks.append((kind, [(number, line)]))
    text_lines = [(n, _strip_markdown(line)) for kind, lines in chunks if kind == "text" or len(lines) < 2
                  for n, line in lines]
    nonblank = sum(1 for _, t in text_lines if t)
    blank_separated = sum(1 for _, t in text_lines if not t) >= 0.3 * max(nonblank, 1)
    blocks: list[Block] = []
    for kind, lines in chunks:
        if kind == "table" and len(lines) >= 2:
            rows = [tuple(cells) for _, line in lines if not _MD_TABLE_RULE.match(line)
                    and (cells := _table_cells(line)) is not None]
            width = max(len(r) for r in rows)
            blocks.append(TableBlock(tuple(r + ("",) * (width - len(r)) for r in rows), line=lines[0][0]))
            continue
        stripped = [(n, _strip_markdown(line)) for n, line in lines]
        if blank_separated:
            blocks.extend(_blocks_between_blank_lines(stripped))
        else:
            blocks.extend(_join_wrapped_lines([(n, t) for n, t in stripped if t]))
    return blocks


def _strip_markdown(line: str) -> str:
    if _MD_RULE.match(line):
        return ""
    line = _MD_QUOTE.sub("", line)
    line = _MD_HEADING.sub("", line)
    return _MD_EMPHASIS.sub("", line).strip()


def _blocks_between_blank_lines(lines: list[tuple[int, str]]) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []
    start = 0
    for number, line in lines + [(0, "")]:
        if line:
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append(TextBlock(_join_soft(current), start))
            current = []
    return [b for b in blocks if b.text]


def _join_soft(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        if re.search(r"[A-Za-z0-9]$", text) and re.match(r"[A-Za-z0-9]", line):
            text += " " + line
        else:
            text += line
    return clean_inline(text.strip())


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _join_wrapped_lines(lines: list[tuple[int, str]]) -> list[Block]:
    """One paragraph per line, except where the text was wrapped at a fixed
    width (copied from a PDF): then the lines of the full width run on."""
    widths = [display_width(t) for _, t in lines]
    full = _wrap_width(widths)
    blocks: list[Block] = []
    current: list[str] = []
    start = 0
    for (number, line), width in zip(lines, widths):
        if _DASHED_PAGE_NUMBER.match(line):
            continue
        if current and not _continues(current[-1], line, full):
            blocks.append(TextBlock(_join_soft(current), start))
            current = []
        if not current:
            start = number
        current.append(line)
    if current:
        blocks.append(TextBlock(_join_soft(current), start))
    return [b for b in blocks if b.text]


def _wrap_width(widths: list[int]) -> int | None:
    """The width at which the text was wrapped, if it was: most long lines
    share (within a few columns) one width that no line exceeds by much."""
    long = [w for w in widths if w >= 30]
    if len(long) < 8:
        return None
    top = max(long)
    near = sum(1 for w in long if w >= top - 6)
    if near >= 0.4 * len(widths) and near >= 6:
        return top
    return None


def _continues(previous: str, line: str, full: int | None) -> bool:
    if full is None:
        return False
    if display_width(previous) < full - 6:
        return False
    if _STARTS_ITEM.match(line):
        return False
    return True


# --- Word --------------------------------------------------------------------


def _read_zip(data: bytes, suffix: str) -> SourceDocument:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise PlanParseError("文件已损坏，无法打开；请重新导出后再导入") from None
    if "word/document.xml" in names:
        return _read_docx(data)
    if "xl/workbook.xml" in names:
        return _read_xlsx(data)
    if "OFD.xml" in names or suffix == ".ofd":
        raise PlanParseError("这是 OFD 版式文件，无法直接读取；请用 OFD 阅读器导出为带文字的 PDF，或向发文单位索取 Word 版后再导入")
    if any(n.startswith("ppt/") for n in names):
        raise PlanParseError("这是 PowerPoint 文件，不是计划文件。" + SUPPORTED)
    raise PlanParseError("无法识别的压缩文件格式。" + SUPPORTED)


def _read_docx(data: bytes) -> SourceDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises many kinds on a broken package
        raise PlanParseError("Word 文件已损坏，无法打开；请在 Word 或 WPS 中重新“另存为” .docx 后再导入") from None
    blocks: list[Block] = []
    index = 0
    body = document.element.body
    numbering = _WordNumbering(document)
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        index += 1
        if tag == "p":
            paragraph = Paragraph(child, document)
            text = _docx_paragraph_text(paragraph)
            if text:
                # Numbers Word draws itself ("（一）", "1.") are not in the text.
                blocks.append(TextBlock(numbering.label(paragraph) + text, index))
        elif tag == "tbl":
            rows = _docx_table_rows(Table(child, document))
            if rows:
                blocks.append(TableBlock(tuple(rows), line=index))
    if not any(isinstance(b, TableBlock) or b.text for b in blocks):
        raise PlanParseError("Word 文件中没有文字（可能只有图片或扫描件）；请上传含文字的 Word 文件")
    return SourceDocument(blocks, "docx")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CN_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 105 -> 一百零五."""
    if n <= 0:
        return str(n)
    if n < 10:
        return _CN_DIGITS[n]
    if n < 20:
        return "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_DIGITS[n // 10] + "十" + (_CN_DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    return _CN_DIGITS[n // 100] + "百" + ("" if not rest else ("零" + _CN_DIGITS[rest] if rest < 10 else chinese_numeral(rest)))


class _WordNumbering:
    """The labels of Word's automatic numbering (w:numPr), counted as Word
    counts them: per list and level, deeper levels restarting."""

    def __init__(self, document) -> None:
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}  # (numId, ilvl) -> (format, text, start)
        self.abstract_of: dict[str, str] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except Exception:  # no numbering part: nothing is numbered by Word
            return
        abstracts: dict[str, dict[int, tuple[str, str, int]]] = {}
        for abstract in root.findall(f"{_W}abstractNum"):
            levels = {}
            for level in abstract.findall(f"{_W}lvl"):
                fmt = level.find(f"{_W}numFmt")
                text = level.find(f"{_W}lvlText")
                start = level.find(f"{_W}start")
                levels[int(level.get(f"{_W}ilvl", "0"))] = (
                    fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
                    text.get(f"{_W}val", "") if text is not None else "",
                    int(start.get(f"{_W}val", "1")) if start is not None else 1,
                )
            abstracts[abstract.get(f"{_W}abstractNumId")] = levels
        for num in root.findall(f"{_W}num"):
            num_id = num.get(f"{_W}numId")
            ref = num.find(f"{_W}abstractNumId")
            if ref is None:
                continue
            abstract_id = ref.get(f"{_W}val")
            self.abstract_of[num_id] = abstract_id
            for ilvl, spec in abstracts.get(abstract_id, {}).items():
                self.levels[(num_id, ilvl)] = spec

    def label(self, paragraph) -> str:
        try:
            num_pr = paragraph._p.pPr.numPr if paragraph._p.pPr is not None else None
            if num_pr is None and paragraph.style is not None and paragraph.style.element.pPr is not None:
                num_pr = paragraph.style.element.pPr.numPr
            if num_pr is None or num_pr.numId is None:
                return ""
            num_id = str(num_pr.numId.val)
            ilvl = int(num_pr.ilvl.val) if num_pr.ilvl is not None else 0
        except (AttributeError, ValueError):
            return ""
        spec = self.levels.get((num_id, ilvl))
        if spec is None or num_id == "0":
            return ""
        fmt, text, start = spec
        key = self.abstract_of.get(num_id, num_id)
        counters = self.counters.setdefault(key, [])
        while len(counters) <= ilvl:
            level_spec = self.levels.get((num_id, len(counters)), ("decimal", "", 1))
            counters.append(level_spec[2] - 1)
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, len(counters)):
            counters[deeper] = self.levels.get((num_id, deeper), ("decimal", "", 1))[2] - 1
        if fmt in ("bullet", "none"):
            return ""

        def render(match: re.Match[str]) -> str:
            level = int(match.group(1)) - 1
            value = counters[level] if level < len(counters) else 1
            level_fmt = self.levels.get((num_id, level), (fmt, "", 1))[0]
            return _format_number(value, level_fmt)

        return re.sub(r"%(\d)", render, text)


def _format_number(value: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "ideographTraditional", "taiwaneseCounting",
               "japaneseCounting", "chineseLegalSimplified", "ideographLegalTraditional", "taiwaneseCountingThousand"):
        return chinese_numeral(value)
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"[value - 1] if 1 <= value <= 20 else str(value)
    if fmt == "decimalEnclosedParen":
        return f"（{value}）"
    if fmt == "lowerLetter":
        return chr(ord("a") + (value - 1) % 26)
    if fmt == "upperLetter":
        return chr(ord("A") + (value - 1) % 26)
    return str(value)


def _docx_paragraph_text(paragraph) -> str:
    # Soft line breaks inside a Word paragraph are wraps, not paragraphs.
    text = paragraph.text.replace("\n", "").replace("\r", "").replace("\t", " ")
    return clean_inline(text.strip())


def _docx_table_rows(table) -> list[tuple[str, ...]]:
    rows = []
    for row in table.rows:
        cells = []
        for cell in row.cells:
            paragraphs = [clean_inline(p.text.strip()) for p in cell.paragraphs]
            cells.append("\n".join(p for p in paragraphs if p))
        if any(cells):
            rows.append(tuple(cells))
    return rows


# --- Excel -------------------------------------------------------------------


def _read_xlsx(data: bytes) -> SourceDocument:
    import datetime as dt

    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise PlanParseError("Excel 文件已损坏，无法打开；请重新“另存为” .xlsx 后再导入") from None
    blocks: list[Block] = []
    try:
        for sheet in workbook.worksheets:
            rows = []
            for row in sheet.iter_rows(values_only=True):
                cells = []
                for value in row:
                    if value is None:
                        cells.append("")
                    elif isinstance(value, dt.datetime | dt.date):
                        cells.append(f"{value.year}年{value.month}月{value.day}日")
                    elif isinstance(value, float) and value.is_integer():
                        cells.append(str(int(value)))
                    else:
                        cells.append(clean_inline(str(value).strip()))
                if any(cells):
                    rows.append(tuple(cells))
            if rows:
                width = max(len(r) for r in rows)
                blocks.append(TableBlock(tuple(r + ("",) * (width - len(r)) for r in rows), name=sheet.title))
    finally:
        workbook.close()
    if not blocks:
        raise PlanParseError("Excel 文件中没有内容")
    return SourceDocument(blocks, "xlsx")


# --- PDF ---------------------------------------------------------------------


@dataclass
class _Run:
    x: float
    y: float
    size: float
    text: str


def _read_pdf(data: bytes) -> SourceDocument:
    import logging

    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise PlanParseError("PDF 文件设有密码，无法读取；请去掉密码保护后再导入")
            except PlanParseError:
                raise
            except Exception:
                raise PlanParseError("PDF 文件设有密码，无法读取；请去掉密码保护后再导入") from None
        pages = [_page_lines(page) for page in reader.pages]
    except PlanParseError:
        raise
    except Exception:
        raise PlanParseError("PDF 文件已损坏，无法读取；请重新导出 PDF，或改用 Word 文件导入") from None
    lines = [line for page in pages for line in page]
    chars = sum(len(t) for _, t, _, _ in lines)
    if chars < 20:
        raise PlanParseError(
            "该 PDF 没有文字层（可能是扫描件或图片），无法识别文字；请上传 Word 文件或带文字的 PDF，"
            "或把文字复制粘贴到文本框中导入"
        )
    return SourceDocument(_pdf_paragraphs(lines), "pdf")


def _page_lines(page) -> list[tuple[float, str, float, float]]:
    """(left x, text, right x, font size) of each line of a page, top to bottom. Runs are grouped
    into lines by their baseline; quote marks drawn by a second font are put
    back into the gaps left for them."""
    runs: list[_Run] = []

    def visit(text, cm, tm, _font, size):
        if not text or not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        runs.append(_Run(x, y, float(size or 10) * abs(cm[3] or 1), text.replace("\n", "")))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:
        return []
    runs.sort(key=lambda r: (-r.y, r.x))
    grouped: list[list[_Run]] = []
    for run in runs:
        if grouped and abs(grouped[-1][0].y - run.y) <= max(2.0, 0.3 * run.size):
            grouped[-1].append(run)
        else:
            grouped.append([run])
    lines = []
    for index, group in enumerate(grouped):
        group.sort(key=lambda r: r.x)
        text = _merge_runs(group)
        if not text.strip():
            continue
        # A page number stands first or last on its page.
        if (index in (0, len(grouped) - 1) and _PAGE_NUMBER.match(text.strip())) or _DASHED_PAGE_NUMBER.match(text):
            continue
        right = max(r.x + display_width(r.text) * r.size / 2 for r in group)
        lines.append((group[0].x, text, right, max(r.size for r in group)))
    return lines


_QUOTES_ONLY = re.compile(r"^[\s“”‘’\"'「」《》]+$")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]) (?=[\u3400-\u9fff\uff00-\uffef\u3000-\u303f])")


def _merge_runs(group: list[_Run]) -> str:
    """The text of one line. Runs follow each other by x; quote marks that a
    second font draws over gaps left in a longer run ("推进 五位一 体" under
    "“ ”") are put into those gaps, in order."""

    def inside(run: _Run, other: _Run) -> bool:
        end = other.x + display_width(other.text) * other.size / 2
        return other is not run and other.x < run.x - 0.5 and run.x < end - 0.5

    overlays = [r for r in group if _QUOTES_ONLY.match(r.text) and any(inside(r, o) for o in group)]
    main = [r for r in group if r not in overlays]
    text = "".join(r.text for r in main)
    marks = [c for r in overlays for c in r.text if not c.isspace()]
    if marks:
        gaps = list(_CJK_GAP.finditer(text))
        if len(gaps) == len(marks):
            pieces, last = [], 0
            for gap, mark in zip(gaps, marks):
                pieces.append(text[last:gap.start()])
                pieces.append(mark)
                last = gap.end()
            pieces.append(text[last:])
            text = "".join(pieces)
    return text


def _pdf_paragraphs(lines: list[tuple[float, str, float, float]]) -> list[Block]:
    """An indented line starts a paragraph; a line at the left margin
    continues the one above if that one ran to the right margin (a heading,
    a centred line or the last line of a paragraph stops short of it)."""
    if not lines:
        return []
    margin = Counter(round(x) for x, *_ in lines).most_common(1)[0][0]
    rights = sorted(right for _, _, right, _ in lines)
    right_margin = rights[int(0.9 * (len(rights) - 1))]
    blocks: list[Block] = []
    current: list[str] = []
    previous_full = False
    for index, (x, text, right, size) in enumerate(lines):
        indented = x > margin + 4
        starts = indented or not current or not previous_full or bool(_STARTS_ITEM.match(text))
        if starts and current:
            blocks.append(TextBlock(_join_soft(current), index))
            current = []
        current.append(text.strip())
        previous_full = right >= right_margin - 1.5 * size
    if current:
        blocks.append(TextBlock(_join_soft(current), len(lines)))
    return [b for b in blocks if b.text]
