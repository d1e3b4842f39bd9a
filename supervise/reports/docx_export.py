"""The quarterly supervision report (季度督查通报) as a Word document in the
style of GB/T 9704 official documents: A4; margins 37 mm top, 35 mm bottom,
28 mm left, 26 mm right; title 方正小标宋简体 二号 (22 pt) centred; body
仿宋_GB2312 三号 (16 pt); first-level headings 黑体, second-level
楷体_GB2312; page numbers at the foot; numbering 一、 (一) 1.

The East Asian font names are set (w:eastAsia) on the styles and the runs,
and theme fonts are removed, because Word prefers a theme font over a named
one; the machines that read the file have these fonts installed.
"""
from __future__ import annotations

import copy
import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import _Cell

from .bulletin import ISSUER, blocks, document_title
from .supervision import Supervision

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"

TITLE_SIZE = Pt(22)  # 二号
BODY_SIZE = Pt(16)  # 三号
TABLE_SIZE = Pt(12)  # 小四: tables would not fit a page at 三号
PAGE_NUMBER_SIZE = Pt(14)  # 四号
LINE_SPACING = Pt(28)  # 22 lines to a page

STYLE_FONTS = {"Normal": BODY_FONT, "Title": TITLE_FONT, "Heading 1": HEADING1_FONT,
               "Heading 2": HEADING2_FONT, "Table Text": BODY_FONT}


def set_run_fonts(target, east_asia: str, *, latin: str = LATIN_FONT) -> None:
    """Name the fonts of a style or a run, East Asian included, and drop theme
    fonts (which Word would otherwise use instead)."""
    target.font.name = latin
    rpr = target.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def _paragraph_style(doc, name: str, font: str, size, *, bold=False, base="Normal", center=False,
                     indent=True, spacing=LINE_SPACING, left=False):
    styles = doc.styles
    style = styles[name] if name in [s.name for s in styles] else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if name != "Normal":
        style.base_style = styles[base]
    set_run_fonts(style, font)
    style.font.size = size
    style.font.bold = bold
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    fmt = style.paragraph_format
    fmt.alignment = (WD_ALIGN_PARAGRAPH.CENTER if center else WD_ALIGN_PARAGRAPH.LEFT if left
                     else WD_ALIGN_PARAGRAPH.JUSTIFY)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = spacing
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    fmt.first_line_indent = Pt(32) if indent else Pt(0)  # two characters of 三号
    fmt.keep_with_next = name.startswith("Heading")
    return style


def _set_doc_defaults(doc) -> None:
    # The document defaults name theme fonts; name ours instead.
    rpr_default = doc.styles.element.find(qn("w:docDefaults"))
    if rpr_default is None:
        return
    for fonts in rpr_default.iter(qn("w:rFonts")):
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
        fonts.set(qn("w:ascii"), LATIN_FONT)
        fonts.set(qn("w:hAnsi"), LATIN_FONT)
        fonts.set(qn("w:eastAsia"), BODY_FONT)


def _page_number_footer(section) -> None:
    """"— 1 —" centred at the foot of every page (a PAGE field)."""
    footer = section.footer
    paragraph = footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.first_line_indent = Pt(0)

    def run(text: str | None = None):
        r = paragraph.add_run(text or "")
        set_run_fonts(r, PAGE_NUMBER_FONT)
        r.font.size = PAGE_NUMBER_SIZE
        return r

    run("— ")
    for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("value", "1"), ("end", None)):
        r = run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            r._r.append(instr)
        elif kind == "value":
            r.text = text
        else:
            fld = OxmlElement("w:fldChar")
            fld.set(qn("w:fldCharType"), kind)
            r._r.append(fld)
    run(" —")


_W_R = qn("w:r")
_W_T = qn("w:t")
_XML_SPACE = qn("xml:space")
_SPECIAL = frozenset("\t\r\n")


def _set_run_text(tc, text: str) -> None:
    """Give the one run of a table cell `text`, as `Run.text = text` would."""
    r = next(tc.iter(_W_R))
    if _SPECIAL.isdisjoint(text):
        if text:
            t = r.makeelement(_W_T)
            t.text = text
            if len(text.strip()) < len(text):
                t.set(_XML_SPACE, "preserve")
            r.append(t)
    else:
        r.text = text  # python-docx turns tabs and line breaks into w:tab and w:cr


class _Writer:
    def __init__(self) -> None:
        doc = Document()
        _set_doc_defaults(doc)
        self.body = _paragraph_style(doc, "Normal", BODY_FONT, BODY_SIZE)
        self.title = _paragraph_style(doc, "Title", TITLE_FONT, TITLE_SIZE, center=True, indent=False,
                                      spacing=Pt(36))
        _paragraph_style(doc, "Heading 1", HEADING1_FONT, BODY_SIZE)
        _paragraph_style(doc, "Heading 2", HEADING2_FONT, BODY_SIZE)
        _paragraph_style(doc, "Table Text", BODY_FONT, TABLE_SIZE, indent=False, spacing=Pt(18), left=True)
        self.styles = {name: doc.styles[name] for name in (*STYLE_FONTS, "Table Grid")}
        section = doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.footer_distance = Mm(28)
        _page_number_footer(section)
        self.doc = doc

    def paragraph(self, text: str, style: str = "Normal", *, align=None, indent: bool | None = None):
        p = self.doc.add_paragraph()
        self._set_style(p, style)
        if align is not None:
            p.alignment = align
        if indent is False:
            p.paragraph_format.first_line_indent = Pt(0)
        r = p.add_run(text)
        set_run_fonts(r, STYLE_FONTS[style])
        return p

    def _set_style(self, paragraph, name: str) -> None:
        # Straight to w:pStyle: python-docx's setter scans every style for the
        # default one on each call, which dominated the time of a long report.
        if name != "Normal":
            paragraph._p.style = self.styles[name].style_id

    def heading1(self, text: str):
        return self.paragraph(text, "Heading 1")

    def heading2(self, text: str):
        return self.paragraph(text, "Heading 2")

    def table(self, header: list[str], rows: list[list[str]], widths_mm: list[float]):
        cols = len(header)
        table = self.doc.add_table(rows=len(rows) + 1, cols=cols)
        table.style = self.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        # Fixed layout on the given widths: Word and LibreOffice would
        # otherwise share the width equally and wrap the unit names.
        table.autofit = False
        tbl_pr = table._tbl.tblPr
        layout = OxmlElement("w:tblLayout")
        layout.set(qn("w:type"), "fixed")
        tbl_pr.append(layout)
        for column, width in zip(table.columns, widths_mm):
            column.width = Mm(width)
        # Every cell of a column looks the same but for its text: style the
        # first header and body cell of each column through python-docx, then
        # copy those cells' XML for the others and put the text in. Going
        # through the high-level API for each of 3,000 cells (each call
        # searches the children of w:tcPr, w:pPr, w:rPr for where to insert)
        # was most of the time of the province report.
        trs = table._tbl.tr_lst
        for r, values in enumerate([header] + rows):
            if r > 1:
                templates = body_templates
            else:
                templates = []
                for c, text in enumerate(values):
                    cell = _Cell(trs[r].tc_lst[c], table)
                    cell.width = Mm(widths_mm[c])
                    self._cell(cell, "", bold=r == 0)
                    templates.append(cell._tc)
                if r == 1:
                    body_templates = [copy.deepcopy(tc) for tc in templates]
            tcs = trs[r].tc_lst
            for c, text in enumerate(values):
                tc = tcs[c]
                if r > 1:
                    fresh = copy.deepcopy(templates[c])
                    tc.getparent().replace(tc, fresh)
                    tc = fresh
                _set_run_text(tc, text)
        # Repeat the header row on every page.
        tr_pr = table.rows[0]._tr.get_or_add_trPr()
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        tr_pr.append(repeat)
        return table

    def _cell(self, cell, text: str, *, bold: bool = False) -> None:
        p = cell.paragraphs[0]
        self._set_style(p, "Table Text")
        r = p.add_run(text)
        set_run_fonts(r, HEADING1_FONT if bold else BODY_FONT)

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.doc.save(buf)
        return buf.getvalue()


def render_docx(data: Supervision, next_steps: str = "") -> bytes:
    """The 通报 as Word: the blocks of `bulletin.blocks`, in official form."""
    w = _Writer()
    plan, period = data.plan, data.period
    core = w.doc.core_properties
    core.title = document_title(data)
    core.author = ISSUER
    core.subject = f"{plan.document_number} {period.code}"
    signed = False
    for block in blocks(data, next_steps):
        if block.kind == "title":
            w.paragraph(block.text, "Title")
        elif block.kind == "subtitle":
            w.paragraph(block.text, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
        elif block.kind == "salutation":
            w.paragraph(block.text, indent=False)
        elif block.kind == "h1":
            w.heading1(block.text)
        elif block.kind == "h2":
            w.heading2(block.text)
        elif block.kind == "table":
            w.table(block.header, block.rows, fitted_widths(block.header, block.rows, block.flexible))
        elif block.kind == "annex":
            p = w.paragraph(block.text, "Heading 1", indent=False)
            p.paragraph_format.page_break_before = True  # 附件 starts a page, 黑体 at the left
        elif block.kind == "annex_title":
            w.paragraph(block.text, "Title")
        elif block.kind == "signature":
            p = w.paragraph(block.text, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
            if not signed:
                p.paragraph_format.space_before = LINE_SPACING  # a line's space above, not an empty paragraph
                signed = True
        else:
            w.paragraph(block.text)
    return w.save()


TEXT_WIDTH_MM = 210 - 28 - 26  # A4 less the left and right margins
CHAR_MM = 12 * 0.3528  # one Chinese character at 小四 (12 pt)
CELL_PADDING_MM = 4.6  # Word's default left and right cell margins (1.9 mm each), and a little air


def _text_width(text: str) -> float:
    """The width of a line of `text` in Chinese characters (Latin letters
    and digits are about half)."""
    return sum(1 if ord(ch) > 0x2E7F else 0.55 for ch in text)


def fitted_widths(header: list[str], rows: list[list[str]], flexible: tuple[int, ...] = ()) -> list[float]:
    """Column widths (mm) that hold each fixed column's longest entry on one
    line (unit names do not wrap), the flexible columns sharing what is left
    in proportion to their text."""
    cols = len(header)
    # A heading may take two lines ("本期" over "及时率"); the entries take one.
    need = [max([-(-_text_width(header[c]) // 2)] + [_text_width(r[c]) for r in rows]) * CHAR_MM + CELL_PADDING_MM
            for c in range(cols)]
    fixed = [c for c in range(cols) if c not in flexible]
    fixed_total = sum(need[c] for c in fixed)
    widths = list(need)
    if flexible:
        left = TEXT_WIDTH_MM - fixed_total
        floor = [min(need[c], 30.0) for c in flexible]  # a flexible column is never squeezed below this
        if left < sum(floor):
            scale = (TEXT_WIDTH_MM - sum(floor)) / fixed_total
            for c in fixed:
                widths[c] = need[c] * scale
            left = sum(floor)
        wanted = sum(need[c] for c in flexible)
        for c in flexible:
            widths[c] = left * need[c] / wanted if wanted else left / len(flexible)
    elif fixed_total > TEXT_WIDTH_MM:
        widths = [w * TEXT_WIDTH_MM / fixed_total for w in widths]
    else:
        # Spread the spare width evenly, so the table spans the text block.
        spare = (TEXT_WIDTH_MM - fixed_total) / cols
        widths = [w + spare for w in widths]
    return [round(w, 1) for w in widths]
