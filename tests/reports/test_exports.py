"""The quarterly report files, opened with python-docx, openpyxl and csv and
checked against the database for the scenario in conftest.py."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt
from openpyxl import load_workbook
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import Section, Task, TaskState, TaskUnit
from supervise.reports.bulletin import zh_punct
from supervise.reports.docx_export import TEXT_WIDTH_MM, render_docx
from supervise.reports.ledger import BASE_COLUMNS, render_csv, render_xlsx
from supervise.reports.supervision import build_supervision

from .conftest import AS_OF, INJECTION


def _share(elapsed_to: date, start: date, end: date) -> float:
    return ((elapsed_to - start).days + 1) / ((end - start).days + 1)


@pytest.fixture
def data(scenario):
    return build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF)


def _task_unit_count(plan) -> int:
    return session().scalar(select(func.count()).select_from(TaskUnit).join(Task).where(Task.plan_id == plan.id))


# --- Word ---------------------------------------------------------------------


def _east_asia(element) -> str | None:
    rpr = element.find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
    return fonts.get(qn("w:eastAsia")) if fonts is not None else None


def test_word_report_has_the_official_page_and_styles(scenario, data):
    doc = Document(io.BytesIO(render_docx(data)))
    section = doc.sections[0]
    # Word keeps lengths in twentieths of a point: equal to the 0.05 mm.
    measured = [section.page_width, section.page_height, section.top_margin, section.bottom_margin,
                section.left_margin, section.right_margin]
    assert [x.mm for x in measured] == pytest.approx([210, 297, 37, 35, 28, 26], abs=0.05)

    styles = doc.styles
    expected = {"Title": ("方正小标宋简体", Pt(22)), "Normal": ("仿宋_GB2312", Pt(16)),
                "Heading 1": ("黑体", Pt(16)), "Heading 2": ("楷体_GB2312", Pt(16))}
    for name, (font, size) in expected.items():
        style = styles[name]
        assert _east_asia(style.element) == font, name
        assert style.font.size == size, name
        fonts = style.element.find(qn("w:rPr")).find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsiaTheme")) is None, name  # a theme font would win over ours

    paragraphs = doc.paragraphs
    title = paragraphs[0]
    assert title.style.name == "Title"
    assert title.alignment == 1 or title.style.paragraph_format.alignment == 1  # centred
    assert "2025年第二季度" in title.text and "督查通报" in title.text
    # Every run names its East Asian font, matching its paragraph's style.
    for p in paragraphs:
        for run in p.runs:
            if run.text.strip():
                assert _east_asia(run._r) == _east_asia(p.style.element), p.text[:20]

    h1 = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert h1 == ["一、总体情况", "二、任务进展情况", "三、目标指标完成情况", "四、逾期、退回及滞后事项",
                  "五、各单位报送及时率", "附件"]  # no 六、下一步工作要求 when none was written
    h2 = [p.text for p in paragraphs if p.style.name == "Heading 2"]
    # Only the actions with approved progress get a heading (task 1's is the one approved report).
    assert h2 == [zh_punct(f"({n}){s.title}") for n, s in zip("一二三四五", data.plan.sections)
                  if s.id == scenario.tasks[1].section_id] + ["（一）逾期事项", "（二）退回修改事项", "（三）滞后事项"]
    body = [p for p in paragraphs if p.style.name == "Normal" and p.text]
    assert any(p.text.startswith("1. ") for p in body)
    assert all(p.text.strip() for p in paragraphs)  # no empty paragraphs

    # The page number is a PAGE field in the footer.
    footer_xml = section.footer._element.xml
    assert "PAGE" in footer_xml and "fldChar" in footer_xml


def test_word_report_figures_match_the_database(scenario, data):
    doc = Document(io.BytesIO(render_docx(data)))
    text = "\n".join(p.text for p in doc.paragraphs)
    tasks = session().scalar(select(func.count()).select_from(Task).where(Task.plan_id == scenario.plan.id))
    assert f"{len(scenario.plan.sections)}项行动、{tasks}项任务" in text
    # 22 lead reports owed: one approved, one submitted, one returned, 19 not filed.
    assert zh_punct("应报送牵头单位报告22份,审核通过1份,已报送待审核1份,退回修改1份,未报送19份") in text
    # The approved summary of task 1 is there; the unapproved one of task 8 is not.
    assert "本季度新增应用主体2000家" in text
    assert "二季度未审核" not in text
    # The tasks with no approved progress are named once, not each with a line.
    assert f"任务2—{tasks}本期暂无审核通过的进展报告。" in text  # a range, not a line per task
    assert text.count("暂无审核通过的进展报告") == 1
    # The returned report, with its reason; the overdue milestone; the lead reports not filed, grouped.
    assert "数据口径与上季度不一致" in text
    assert "开通第一条新航线" in text and "应于2025年6月30日前完成" in text
    t2 = scenario.tasks[2]
    assert zh_punct(f"{t2.lead.unit.short_name}(任务2") in text  # late lead reports by unit, in one line
    assert sum(1 for p in doc.paragraphs if "牵头单位报告应于" in p.text) == 1
    late_contributions = [p.text for p in doc.paragraphs if "配合单位2025年第二季度进展情况" in p.text]
    assert len(late_contributions) == 1 and "明细见台账" in late_contributions[0]
    # No line without data: no "完成—" and no dash as a figure in the prose.
    assert "完成—" not in text and "—," not in text and "—，" not in text

    targets, ranking, annex = doc.tables
    # The annex lists every task with its light, as the dashboard gives it.
    lights = {int(r.cells[0].text): r.cells[4].text for r in annex.rows[1:]}
    assert lights == {row.task.number: row.light.label for row in data.tasks}
    rows = [[c.text for c in r.cells] for r in targets.rows]
    assert rows[0] == ["指标", "目标", "最新值", "完成比例", "序时进度", "评价"]
    by_name = {zh_punct(r[0]): r for r in rows[1:]}
    assert all("—" not in r[2] for r in rows[1:])  # only targets with an approved figure
    plan_start, due = date(2024, 1, 1), date(2027, 12, 31)
    elapsed = f"{_share(date(2025, 6, 30), plan_start, due) * 100:.1f}%"
    # Split target: the included Hangzhou 1200 and Ningbo 800, not Wenzhou's 999.
    assert by_name["1. 跨境电商应用主体"][2:] == ["2000", "40.0%", elapsed, "正常"]
    assert by_name[zh_punct("其中:杭州市政府")][1:4] == ["分解3000家", "1200", "40.0%"]
    assert by_name[zh_punct("其中:宁波市政府")][1:4] == ["分解2000家", "800", "40.0%"]
    assert by_name["1. 龙头企业"][2:4] == ["30", "37.5%"]
    # Task 8: only the approved Q1 figure counts; it trails the time-proportional progress.
    assert by_name["8. 省级跨境电商产业园"][2:] == ["20", "20.0%", elapsed, "滞后"]
    # The targets with no approved figure are named once, below the table.
    no_data = [t for t in data.targets if t.latest is None]
    assert no_data and zh_punct(f"另有{len(no_data)}项指标本期尚无审核通过的数据:") in text
    assert zh_punct(f"指标“8. 省级跨境电商产业园”完成20.0%,低于序时进度{elapsed}。") in text
    # The 滞后 section does not repeat every red task: those with an overdue item are counted, not listed.
    lagging = text[text.index("（三）滞后事项"):text.index("五、各单位报送及时率")]
    assert lagging.count("亮红灯") <= 1

    header, *ranked = [[c.text for c in r.cells] for r in ranking.rows]
    assert header[:4] == ["单位", "本期应报", "本期按时", "本期及时率"]
    by_unit = {r[0]: r for r in ranked}
    jxt = by_unit["省经信厅"]
    owed = session().scalar(
        select(func.count()).select_from(TaskUnit).join(Task)
        .where(Task.plan_id == scenario.plan.id, TaskUnit.unit_id == scenario.tasks[1].lead.unit_id,
               Task.state.notin_([TaskState.CLOSED, TaskState.SUSPENDED]))
    )
    # Submitted at 23:30 on the due day (Asia/Shanghai): on time.
    assert jxt[1:4] == [str(owed), "1", f"{100 / owed:.1f}%"]
    # Ningbo submitted a day late: it never reported on time, so it is named below the table, not a row of zeros.
    assert "宁波市政府" not in by_unit and all(r[4].split("/")[0] != "0" for r in ranked)
    never = next(p.text for p in doc.paragraphs if "尚无按时报送" in p.text)
    assert "宁波市政府" in never
    assert by_unit["杭州市政府"][2] == "1"
    rates = [float(r[5].rstrip("%")) if r[5] != "—" else -1 for r in ranked]
    assert rates == sorted(rates, reverse=True)


def test_word_report_columns_fit_their_text(data):
    """Fixed table layout with widths from the text: the unit names of the
    punctuality table fit on one line, the tables span the text block."""
    doc = Document(io.BytesIO(render_docx(data)))
    for table in doc.tables:
        grid = [int(col.get(qn("w:w"))) for col in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        assert abs(sum(grid) / 56.7 - TEXT_WIDTH_MM) < 2  # twentieths of a point -> mm
        layout = table._tbl.tblPr.find(qn("w:tblLayout"))
        assert layout is not None and layout.get(qn("w:type")) == "fixed"
    ranking = doc.tables[1]
    unit_col = int(ranking._tbl.tblGrid.findall(qn("w:gridCol"))[0].get(qn("w:w"))) / 56.7
    longest = max(len(r.cells[0].text) for r in ranking.rows[1:])
    assert unit_col >= longest * 12 * 0.3528  # every name on one line at 小四


def test_word_report_without_on_time_reports_has_no_ranking(plan):
    # The plan as imported: every unit owes reports, nobody has filed one.
    period = next(p for p in plan.periods if p.code == "2025Q2")
    data = build_supervision(session(), plan, period, as_of=AS_OF)
    assert data.punctuality and all(u.overall_rate == 0 for u in data.punctuality)
    doc = Document(io.BytesIO(render_docx(data)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "均未按时报送" in text and "排名" not in text
    assert all(t.rows[0].cells[0].text != "单位" for t in doc.tables)


def test_word_report_next_steps_are_its_last_section(data):
    doc = Document(io.BytesIO(render_docx(data, "加强统筹调度。\n\n逾期单位限期整改。")))
    paragraphs = [p.text for p in doc.paragraphs]
    i = paragraphs.index("六、下一步工作要求")
    assert doc.paragraphs[i].style.name == "Heading 1"
    assert paragraphs[i + 1:i + 5] == ["加强统筹调度。", "逾期单位限期整改。", "浙江省商务厅", "2025年7月21日"]
    assert paragraphs[i + 5:] == ["附件", "任务落实情况一览表"]


# --- Excel --------------------------------------------------------------------


def test_excel_ledger_has_a_sheet_per_action_and_a_row_per_task_unit(scenario, data):
    wb = load_workbook(io.BytesIO(render_xlsx(data)))
    sections = list(session().scalars(select(Section).where(Section.plan_id == scenario.plan.id)
                                      .order_by(Section.number)))
    assert wb.sheetnames == [f"({n}){s.title}" for n, s in zip("一二三四五", sections)] + ["目标指标"]
    total_rows = 0
    for ws, section in zip(wb.worksheets, sections):
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        header = [c.value for c in ws[1]]
        assert header[: len(BASE_COLUMNS)] == [c.title for c in BASE_COLUMNS]
        assert all(ws.column_dimensions[col].width >= 8 for col in "ABCDEFGHIJK")
        expected = session().scalar(select(func.count()).select_from(TaskUnit).join(Task)
                                    .where(Task.section_id == section.id))
        assert ws.max_row - 1 == expected
        total_rows += expected
    assert total_rows == _task_unit_count(scenario.plan)

    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    col = {name: i for i, name in enumerate(header)}
    rows = {(r[1].value, r[3].value): r for r in ws.iter_rows(min_row=2)}
    lead = rows[(1, "省经信厅")]
    assert lead[col["职责"]].value == "牵头单位"
    assert lead[col["本期报送状态"]].value == "已审核通过"
    assert lead[col["红黄绿灯"]].value == "绿灯"
    last = lead[col["最近报送日期"]]
    assert isinstance(last.value, datetime) and last.value.date() == date(2025, 7, 7) and last.is_date
    assert isinstance(lead[col["本期截止日期"]].value, datetime)
    assert lead[col["1. 龙头企业(家)"]].value == 30 and lead[col["1. 龙头企业(家)"]].data_type == "n"
    assert lead[col["任务序号"]].data_type == "n"
    # User text starting with "=" stays text: never a formula.
    summary = lead[col["本期审核通过的进展"]]
    assert summary.value.endswith(INJECTION) and summary.data_type == "s"
    hz = rows[(1, "杭州市政府")]
    assert hz[col["1. 跨境电商应用主体(家)"]].value == 1200
    assert rows[(1, "温州市政府")][col["1. 跨境电商应用主体(家)"]].value is None  # not included
    t2 = scenario.tasks[2]
    never = rows[(2, t2.lead.unit.short_name)]
    assert never[col["本期报送状态"]].value == "未报送" and never[col["红黄绿灯"]].value == "红灯"
    assert never[col["最近报送日期"]].value is None

    targets = wb["目标指标"]
    trows = {r[0].value: r for r in targets.iter_rows(min_row=2) if not r[1].value}
    parks = trows["8. 省级跨境电商产业园"]
    assert parks[6].value == 20 and parks[8].value == pytest.approx(0.2) and parks[10].value == "是"
    assert parks[8].number_format == "0.0%"


def test_user_text_is_never_a_formula_in_the_workbook(scenario, data):
    from supervise.db import unit_of_work
    from supervise.models import Task

    with unit_of_work():
        session().get(Task, scenario.tasks[4].id).title = "=1+1"
    session().expire_all()
    data = build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF)
    raw = render_xlsx(data)
    wb = load_workbook(io.BytesIO(raw))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value == "=1+1"]
    assert cells and all(c.data_type == "s" for c in cells)
    assert b"<f>" not in raw  # no formula element anywhere


# --- CSV ----------------------------------------------------------------------


def test_csv_is_utf8_with_bom_and_matches_the_ledger(scenario, data):
    raw = render_csv(data)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[: len(BASE_COLUMNS)] == [c.title for c in BASE_COLUMNS]
    assert len(body) == _task_unit_count(scenario.plan)
    col = {name: i for i, name in enumerate(header)}
    by_key = {(r[col["任务序号"]], r[col["单位"]]): r for r in body}
    lead = by_key[("1", "省经信厅")]
    assert lead[col["最近报送日期"]] == "2025-07-07"
    assert lead[col["1. 龙头企业(家)"]] == "30"
    assert by_key[("1", "杭州市政府")][col["1. 跨境电商应用主体(家)"]] == "1200"
    # A formula typed by a user gets the apostrophe guard.
    assert lead[col["本期审核通过的进展"]].endswith(INJECTION)
    assert not lead[col["本期审核通过的进展"]].startswith("=")
    returned = by_key[("3", scenario.tasks[3].lead.unit.short_name)]
    assert returned[col["本期报送状态"]] == "已退回"


def test_csv_guards_cells_that_start_like_a_formula():
    from supervise.reports.ledger import csv_text

    for text in ["=SUM(A1)", "+1", "-1+2", "@cmd", "\t=x"]:
        assert csv_text(text) == "'" + text
    assert csv_text("正常文本") == "正常文本"
    assert csv_text(-5) == "-5"  # numbers are numbers


def test_word_report_keeps_what_units_wrote_as_written(scenario):
    """Chinese punctuation in the report's own sentences; a unit's text (the
    approved summary, a return reason, 下一步工作要求) stays exactly as typed."""
    from supervise.models import Report, ReportState

    report = session().scalar(select(Report).where(Report.state == ReportState.APPROVED))
    report.text = "新增品牌 62 个,名单(见附件)"
    session().flush()
    data = build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF)
    doc = Document(io.BytesIO(render_docx(data, "加强调度,按月报送(含数据)")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "新增品牌 62 个,名单(见附件)" in text and "加强调度,按月报送(含数据)" in text
    assert "（一）逾期事项" in text and "各有关单位：" in text
