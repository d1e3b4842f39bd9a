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

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from ..domain.lights import Light
from ..models import TaskState
from .supervision import Supervision, chinese_number, format_number, format_share

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

ISSUER = "浙江省商务厅"

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
                     indent=True, spacing=LINE_SPACING):
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
    fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER if center else WD_ALIGN_PARAGRAPH.JUSTIFY
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


class _Writer:
    def __init__(self) -> None:
        doc = Document()
        _set_doc_defaults(doc)
        self.body = _paragraph_style(doc, "Normal", BODY_FONT, BODY_SIZE)
        self.title = _paragraph_style(doc, "Title", TITLE_FONT, TITLE_SIZE, center=True, indent=False,
                                      spacing=Pt(36))
        _paragraph_style(doc, "Heading 1", HEADING1_FONT, BODY_SIZE)
        _paragraph_style(doc, "Heading 2", HEADING2_FONT, BODY_SIZE)
        _paragraph_style(doc, "Table Text", BODY_FONT, TABLE_SIZE, indent=False, spacing=Pt(18))
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
        # All cells in one pass: Table.rows[i].cells recomputes the grid each time.
        cells = table._cells
        for r, values in enumerate([header] + rows):
            for c, text in enumerate(values):
                cell = cells[r * cols + c]
                cell.width = Mm(widths_mm[c])
                self._cell(cell, text, bold=r == 0)
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


def document_title(data: Supervision) -> str:
    return f"关于《{data.plan.title}》{data.period.label}落实情况的督查通报"


def render_docx(data: Supervision) -> bytes:
    w = _Writer()
    plan, period = data.plan, data.period
    core = w.doc.core_properties
    core.title = document_title(data)
    core.author = ISSUER
    core.subject = f"{plan.document_number} {period.code}"

    w.paragraph(document_title(data), "Title")
    w.paragraph(f"(统计截至{_day(period.ends_on)},情况更新至{_day(data.as_of)})", align=WD_ALIGN_PARAGRAPH.CENTER,
                indent=False)
    w.paragraph("各有关单位:", indent=False)
    w.paragraph(
        f"根据《{plan.title}》({plan.document_number})的分工安排,现将{period.label}各项任务落实情况通报如下。"
        "本通报的进展和指标数据均取自经督办员审核通过的牵头单位报告。"
    )

    totals = data.totals
    rc = data.report_counts
    n_behind = len(data.behind_targets)
    n_milestones = sum(1 for item in data.overdue if item.kind == "工作节点")
    w.heading1("一、总体情况")
    states = "、".join(f"{s.label}{totals.states[s]}项" for s in TaskState if totals.states[s])
    w.paragraph(
        f"计划共有{len(data.by_section)}项行动、{totals.total}项任务,其中{states or '暂无任务'}。"
        f"本期应报送牵头单位报告{rc['owed']}份,审核通过{rc['approved']}份,已报送待审核{rc['submitted']}份,"
        f"退回修改{rc['returned']}份,未报送{rc['missing'] + rc['draft']}份。"
        f"按红黄绿灯评价,红灯{totals.lights[Light.RED]}项、黄灯{totals.lights[Light.YELLOW]}项、"
        f"绿灯{totals.lights[Light.GREEN]}项。"
        f"计划实施期已过{format_share(data.plan_time_share)}(序时进度),{len(data.targets)}项目标指标中"
        f"{n_behind}项落后于序时进度;逾期未完成的工作节点{n_milestones}个。"
    )

    w.heading1("二、分行动任务进展情况")
    rows_by_section: dict[int, list] = {}
    for row in data.tasks:
        rows_by_section.setdefault(row.section.id, []).append(row)
    for section, counts in data.by_section:
        w.heading2(f"({chinese_number(section.number)}){section.title}")
        for row in rows_by_section.get(section.id, []):
            task = row.task
            co = "、".join(row.co_names) or "无"
            w.paragraph(
                f"{task.number}. {task.title}(牵头单位:{row.lead_name};配合单位:{co};"
                f"状态:{task.state.label};{row.light.label})。"
            )
            w.paragraph(f"本期进展:{row.approved_summary}" if row.approved_summary
                        else "本期进展:暂无审核通过的进展报告。")

    w.heading1("三、目标指标完成情况")
    w.paragraph(f"序时进度按各指标的实施期计算,统计至{_day(data.progress_date)}。")
    target_rows = []
    for i, t in enumerate(data.targets, start=1):
        target_rows.append([
            str(i), t.name, t.goal_text, format_number(t.latest), format_share(t.share),
            format_share(t.time_share), "是" if t.is_behind else "否",
        ])
        for a in t.allocations:
            target_rows.append([
                "", f"其中:{a.unit.short_name}", f"分解{format_number(a.value)}{t.target.measure}",
                format_number(a.actual), format_share(a.share), format_share(t.time_share),
                "是" if t.time_share > 0 and (a.share is None or a.share < t.time_share) else "否",
            ])
    w.table(["序号", "指标", "目标", "最新值", "完成比例", "序时进度", "滞后"], target_rows,
            [12, 52, 32, 20, 20, 20, 12])

    w.heading1("四、逾期、退回及滞后事项")
    w.heading2("(一)逾期事项")
    overdue_lines = _overdue_lines(data)
    for i, text in enumerate(overdue_lines, start=1):
        w.paragraph(f"{i}. {text}")
    if not overdue_lines:
        w.paragraph("无。")
    w.heading2("(二)退回修改事项")
    if data.returned:
        for i, item in enumerate(data.returned, start=1):
            reason = item.report.return_reason or "未说明"
            w.paragraph(f"{i}. 任务{item.task.number}“{item.task.title}”:{item.unit.short_name}报送的"
                        f"{item.report.kind.label}被退回,退回原因:{reason}。")
    else:
        w.paragraph("无。")
    w.heading2("(三)滞后事项")
    lagging = [f"指标“{t.name}”完成{format_share(t.share)},低于序时进度{format_share(t.time_share)}"
               for t in data.behind_targets]
    lagging += [f"任务{row.task.number}“{row.task.title}”亮红灯(牵头单位:{row.lead_name})" for row in data.red_tasks]
    if lagging:
        for i, text in enumerate(lagging, start=1):
            w.paragraph(f"{i}. {text}。")
    else:
        w.paragraph("无。")

    w.heading1("五、各单位报送及时率")
    judged = [p.code for p in data.reported_periods]
    w.paragraph(
        "按时报送指首次报送时间不晚于该期报送截止日。"
        + (f"统计期次:{judged[0]}至{judged[-1]}。" if judged else "本期报送尚未到截止日。")
    )
    code = data.period.code
    ranking = []
    for i, u in enumerate(data.punctuality, start=1):
        on_time, owed = u.per_period.get(code, (0, 0))
        total_on_time, total_owed = u.total
        ranking.append([str(i), u.unit.short_name, str(owed), str(on_time), format_share(u.rate(code)),
                        f"{total_on_time}/{total_owed}", format_share(u.overall_rate)])
    w.table(["排名", "单位", "本期应报", "本期按时", "本期及时率", "累计按时/应报", "累计及时率"], ranking,
            [12, 46, 18, 18, 22, 26, 22])

    w.paragraph("")
    w.paragraph(ISSUER, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    w.paragraph(_day(data.as_of), align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    return w.save()


def _overdue_lines(data: Supervision) -> list[str]:
    """Overdue milestones and lead reports one by one; the co-units that owe
    a contribution on the same task in one line, as an office would write it."""
    lines = []
    contributions: dict[int, list] = {}
    for item in data.overdue:
        if item.kind == "配合单位报送":
            contributions.setdefault(item.task.id, []).append(item)
            continue
        who = item.unit.short_name if item.unit else "—"
        lines.append(f"任务{item.task.number}“{item.task.title}”:{who}{item.kind}“{item.title}”应于"
                     f"{_day(item.due_on)}前完成,已逾期{item.working_days}个工作日。")
    for items in contributions.values():
        first = items[0]
        names = "、".join(i.unit.short_name for i in items)
        lines.append(f"任务{first.task.number}“{first.task.title}”:{names}共{len(items)}个配合单位的"
                     f"{data.period.label}进展情况应于{_day(first.due_on)}前报送牵头单位,已逾期"
                     f"{first.working_days}个工作日。")
    return lines


def _day(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"
