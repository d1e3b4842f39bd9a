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
_SOURCE_LINE = re.compile(r"^\s*(?:source|来源|URL|网址)\s*[:：]\s*\S+\s*$", re.I)
# A line starting something new: a number, a heading mark, a label.
_STARTS_ITEM = re.compile(
    r"^\s*(?:[(（]\s*[一二三四五六七八九十\d]+\s*[)）]|[一二三四五六七八九十]+\s*[、是]|\d{1,3}\s*[.．、](?!\d)"
    r"|[①-⑳]|附\s*件|(?:牵头|责任|配合)(?:单位|部门)\s*[:：])"
)
_SENTENCE_END = "。！？!?；;：:"
_CLOSERS = ")）〕]］】》”’」』"


def text_blocks(text: str) -> list[Block]:
    """Paragraphs of a plain or Markdown text (see the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").lstrip("\ufeff")
    raw = text.split("\n")
    lines = [(i + 1, _strip_markdown(line)) for i, line in enumerate(raw)]
    nonblank = [(n, t) for n, t in lines if t]
    if not nonblank:
        return []
    blank_separated = sum(1 for n, t in lines if not t) >= 0.3 * len(nonblank)
    if blank_separated:
        return _blocks_between_blank_lines(lines)
    return _join_wrapped_lines(nonblank)


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
        if _PAGE_NUMBER.match(line) and len(lines) > 20:
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
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        index += 1
        if tag == "p":
            text = _docx_paragraph_text(Paragraph(child, document))
            if text:
                blocks.append(TextBlock(text, index))
        elif tag == "tbl":
            rows = _docx_table_rows(Table(child, document))
            if rows:
                blocks.append(TableBlock(tuple(rows), line=index))
    if not any(isinstance(b, TableBlock) or b.text for b in blocks):
        raise PlanParseError("Word 文件中没有文字（可能只有图片或扫描件）；请上传含文字的 Word 文件")
    return SourceDocument(blocks, "docx")


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
    chars = sum(len(t) for _, t in lines)
    if chars < 20:
        raise PlanParseError(
            "该 PDF 没有文字层（可能是扫描件或图片），无法识别文字；请上传 Word 文件或带文字的 PDF，"
            "或把文字复制粘贴到文本框中导入"
        )
    return SourceDocument(_pdf_paragraphs(lines), "pdf")


def _page_lines(page) -> list[tuple[float, str]]:
    """(left x, text) of each line of a page, top to bottom. Runs are grouped
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
    for group in grouped:
        group.sort(key=lambda r: r.x)
        text = _merge_runs(group)
        if text.strip() and not _PAGE_NUMBER.match(text.strip()):
            lines.append((group[0].x, text))
    return lines


_QUOTES_ONLY = re.compile(r"^[\s“”‘’\"'「」《》]+$")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]) (?=[\u3400-\u9fff\uff00-\uffef\u3000-\u303f])")


def _merge_runs(group: list[_Run]) -> str:
    quotes = [r for r in group if _QUOTES_ONLY.match(r.text)]
    main = [r for r in group if not _QUOTES_ONLY.match(r.text)]
    text = "".join(r.text for r in main)
    marks = [c for r in quotes for c in r.text if not c.isspace()]
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


def _pdf_paragraphs(lines: list[tuple[float, str]]) -> list[Block]:
    """An indented line starts a paragraph; a line at the left margin
    continues the one above (unless that one was short: a heading or the
    last line of a paragraph followed by an unindented one)."""
    if not lines:
        return []
    margin = Counter(round(x) for x, _ in lines).most_common(1)[0][0]
    widths = [display_width(t) for _, t in lines]
    full = max(widths) if widths else 0
    blocks: list[Block] = []
    current: list[str] = []
    previous_width = 0
    for index, ((x, text), width) in enumerate(zip(lines, widths)):
        indented = x > margin + 4
        starts = indented or not current or previous_width < full * 0.8 or bool(_STARTS_ITEM.match(text))
        if starts and current:
            blocks.append(TextBlock(_join_soft(current), index))
            current = []
        current.append(text.strip())
        previous_width = width + (2 * round((x - margin) / 16) if x > margin else 0)
    if current:
        blocks.append(TextBlock(_join_soft(current), len(lines)))
    return [b for b in blocks if b.text]
