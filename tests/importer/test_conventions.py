"""The conventions of plan documents that the corpus does not show, on
short made-up documents: labelled tags with roles and scope, verbs, rules
stated once, inline 一是/二是, deadlines, group names, non-tags."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supervise.importer import parse_plan, plan_to_dict  # noqa: E402
from supervise.importer.dates import find_dates  # noqa: E402
from supervise.importer.tags import parse_tag  # noqa: E402

FRONT = """临江市人民政府办公室关于印发临江市数字经济提升行动方案（2025—2027年）的通知
临政办发〔2025〕8号
各区、县级市人民政府，市政府各部门、各直属单位：
《临江市数字经济提升行动方案（2025—2027年）》已经市政府同意，现印发给你们，请认真贯彻执行。
临江市人民政府办公室
2025年3月10日
临江市数字经济提升行动方案（2025—2027年）
"""

BODY = """一、总体目标
到2027年，全市数字经济核心产业增加值突破1000亿元。
二、重点任务
（一）壮大核心产业。一是培育龙头企业，2025年6月底前认定一批市级数字经济龙头企业（牵头单位：市经信局；配合单位：市发改委、市财政局，各区、县级市）。二是建设产业园区，2024年起每年新建园区2个（市科技局牵头，市自然资源规划局、市住建局参与）。
（二）推进数字政府建设。建设一体化数据平台，2025年底前完成（负责部门：市大数据局、市委网信办；适用范围：市级部门）。
（三）优化创新生态。加强知识产权保护，长期坚持（市市场监管局指导，各区、县级市负责落实）。
（四）完善统计监测。建立数字经济统计制度（市统计局、市发改委等有关部门负责，排在第一位的部门为牵头部门，下同）。以下均需各区、县级市落实，不再列出。
（五）强化人才支撑。实施数字人才引育计划，2026年3月15日前出台办法（市人力社保局、市教育局负责）。
（六）推进试点示范。开展试点（市经信局，各市、县〔市、区〕政府按职责分工负责）。
三、保障措施
（一）加强组织领导。成立领导小组，统筹推进各项工作。
（二）加强督促检查。对工作推进情况开展督查（技术审查由市大数据局负责）。
"""


@pytest.fixture(scope="module")
def plan():
    return parse_plan(FRONT + BODY)


def test_front_matter(plan):
    assert plan.document_number == "临政办发〔2025〕8号"
    assert plan.issuing_office == "临江市人民政府办公室"
    assert plan.issued_on == date(2025, 3, 10)
    assert plan.title == "临江市数字经济提升行动方案（2025—2027年）"
    assert (plan.start_year, plan.end_year) == (2025, 2027)
    assert [t.subject for t in plan.targets] == ["数字经济核心产业增加值"]


def test_only_tagged_items_are_tasks(plan):
    assert [(t.label, t.number) for t in plan.tasks] == [
        ("（一）", 1), ("（一）二是", 1), ("（二）", 2), ("（三）", 3), ("（四）", 4), ("（五）", 5), ("（六）", 6)]
    assert all(t.section == "重点任务" for t in plan.tasks)
    assert not any("领导小组" in t.text or "督查" in t.text for t in plan.tasks)


def test_labelled_tag_with_roles_and_a_group_kept_whole(plan):
    first = plan.tasks[0]
    assert (first.lead, first.co_units) == ("市经信局", ("市发改委", "市财政局", "各区、县级市"))
    assert first.units[0].confirmed
    assert first.deadline == date(2025, 6, 30)
    assert first.title == "壮大核心产业"


def test_second_tag_in_a_measure_closes_the_next_task(plan):
    second = plan.tasks[1]
    assert second.text.startswith("二是建设产业园区")
    assert second.title.startswith("建设产业园区")
    assert (second.lead, second.co_units) == ("市科技局", ("市自然资源规划局", "市住建局"))
    assert second.starts_on == date(2024, 1, 1) and second.deadline is None
    assert not any("完成时限" in w for w in second.warnings)  # 每年: the text says how long


def test_scope_is_not_a_unit_and_an_unstated_lead_is_a_warning(plan):
    task = plan.tasks[2]
    assert (task.lead, task.co_units) == ("市大数据局", ("市委网信办",))
    assert task.deadline == date(2025, 12, 31)
    assert any("未写明牵头单位" in w for w in task.warnings)
    assert not task.units[0].confirmed


def test_guides_and_implements(plan):
    task = plan.tasks[3]
    assert (task.lead, task.co_units) == ("市市场监管局", ("各区、县级市",))
    assert task.deadline is None and not any("完成时限" in w for w in task.warnings)  # 长期坚持


def test_rules_stated_once_hold_for_later_tasks(plan):
    fourth, fifth, sixth = plan.tasks[4:7]
    assert (fourth.lead, fourth.co_units) == ("市统计局", ("市发改委", "有关部门"))
    assert fourth.units[0].confirmed and any("完成时限" in w for w in fourth.warnings)
    # 排在第一位的部门为牵头部门 confirms, 以下均需…落实 adds the group at the end.
    assert (fifth.lead, fifth.co_units) == ("市人力社保局", ("市教育局", "各区、县级市"))
    assert fifth.units[0].confirmed and not fifth.warnings
    assert fifth.deadline == date(2026, 3, 15)
    assert (sixth.lead, sixth.co_units) == ("市经信局", ("各市、县〔市、区〕政府", "各区、县级市"))
    assert any("不再列出" in n for n in plan.notes)
    assert not any("按职责分工负责" in u for t in plan.tasks for u in t.co_units)


def test_json_shape(plan):
    data = plan_to_dict(plan)
    assert set(data) >= {"document_number", "title", "issuer", "issued_on", "start_year", "end_year", "tasks", "warnings"}
    task = data["tasks"][0]
    assert set(task) >= {"number", "section", "title", "text", "lead", "co_units", "deadline", "targets", "warnings"}
    assert task["deadline"] == "2025-06-30" and task["number"] == "1"


def test_paragraphs_one_per_line_or_between_blank_lines_read_the_same(plan):
    blank = parse_plan((FRONT + BODY).replace("\n", "\n\n"))
    assert [(t.lead, t.co_units, t.text) for t in blank.tasks] == [(t.lead, t.co_units, t.text) for t in plan.tasks]


def test_text_copied_from_a_pdf_wrapped_at_a_fixed_width():
    wrapped = []
    for line in (FRONT + BODY).splitlines():
        wrapped.extend(line[i:i + 24] for i in range(0, len(line), 24))
    parsed = parse_plan("\n".join(wrapped))
    assert [(t.lead, t.co_units) for t in parsed.tasks] == [(t.lead, t.co_units) for t in parse_plan(FRONT + BODY).tasks]


def test_numbered_items_nest_and_sections_follow():
    doc = FRONT + """二、主要任务
（一）提升产业能级
1. 建设数据中心。新建数据中心2个（责任单位：市经信局）
2. 培育平台企业。（责任单位：市商务局、市经信局）
（二）优化营商环境
3. 深化改革。推进一网通办（责任单位：市数据局）
11.121人才梯队项目。引进人才（责任单位：市人力社保局）
"""
    parsed = parse_plan(doc)
    assert [(s.number, s.title, [t.number for t in s.tasks]) for s in parsed.sections] == [
        (1, "提升产业能级", [1, 2]), (2, "优化营商环境", [3, 3])]
    # After 3, "11.121…" is no item 11 (a decimal would be read so): its tag
    # closes a second task of item 3. After 10 it is item 11.
    doc = doc.replace("3. 深化改革", "10. 深化改革")
    numbers = [t.number for t in parse_plan(doc).tasks]
    assert numbers == [1, 2, 10, 11]
    assert parse_plan(doc).tasks[-1].title == "121人才梯队项目"


@pytest.mark.parametrize("content,lead,co", [
    ("牵头单位：市经信局，配合单位：市商务局、市财政局，各区、县级市", "市经信局", ["市商务局", "市财政局", "各区、县级市"]),
    ("A局、B局，各省级人民政府按职责分工负责", "A局", ["B局", "各省级人民政府"]),
    ("各有关部门和单位按职责分工负责", "各有关部门和单位", []),
    ("税务总局、财政部、海关总署负责，排在第一位的部门为牵头部门，下同", "税务总局", ["财政部", "海关总署"]),
    ("X部会同有关部门负责", "X部", ["有关部门"]),
    ("X部、Y委等有关部门和单位负责", "X部", ["Y委", "有关部门和单位"]),
    ("X部、Y委等负责", "X部", ["Y委"]),
    ("A部、B部等和各有关省级人民政府负责", "A部", ["B部", "各有关省级人民政府"]),
    ("A部指导，B厅负责落实", "A部", ["B厅"]),
    ("A部、B部牵头负责", "A部", ["B部"]),
    ("A部、B部指导", "A部", ["B部"]),
    ("责任单位：市商务局、市经信局（牵头）", "市经信局", ["市商务局"]),
    ("各有关区、县级市负责", "各有关区、县级市", []),
    ("各省、自治区、直辖市人民政府负责", "各省、自治区、直辖市人民政府", []),
    ("由省财政厅会同省税务局负责", "省财政厅", ["省税务局"]),
    ("省发展改革委（省能源局）、省经信厅负责", "省发展改革委（省能源局）", ["省经信厅"]),
    ("省委改革办牵头，省级有关单位配合", "省委改革办", ["省级有关单位"]),
])
def test_tag_forms(content, lead, co):
    plan = parse_plan(f"（一）一项工作。推进某事（{content}）\n")
    (task,) = plan.tasks
    assert (task.lead, list(task.co_units)) == (lead, co)


@pytest.mark.parametrize("content", [
    "技工院校内由人力资源社会保障行政部门负责",
    "以下简称一致性评价，下同",
    "企业直接向国家发展改革委申报，不需省级发展改革部门转报",
    "2024—2027年",
    "市、县、区",
    "企业负责",
    "具体办法由省财政厅另行制定",
])
def test_explanations_are_not_tags(content):
    assert parse_tag(content) is None
    assert parse_plan(f"（一）一项工作。推进某事（{content}）。\n").tasks == ()


@pytest.mark.parametrize("text,deadline,start", [
    ("2025年6月底前完成", date(2025, 6, 30), None),
    ("2025年底前建成", date(2025, 12, 31), None),
    ("2025年3月15日前报送", date(2025, 3, 15), None),
    ("到2025年建成50所", date(2025, 12, 31), None),
    ("2025年上半年完成试点，2026年底前全面推开", date(2026, 12, 31), None),
    ("2025年第三季度", date(2025, 9, 30), None),
    ("从2019年起推行", None, date(2019, 1, 1)),
    ("2024年起实施", None, date(2024, 1, 1)),
    ("2019年1月1日至12月31日开展", None, None),
    ("5年内完成", None, None),
    ("印发之日起30日内出台", None, None),
    ("长期坚持", None, None),
])
def test_deadlines(text, deadline, start):
    found = find_dates(text)
    assert (found.deadline, found.starts_on) == (deadline, start)


def test_labels_without_brackets_after_the_text_or_on_their_own_line():
    doc = FRONT + """二、主要任务
1. 完善统计制度。建立月度监测。责任单位：市统计局；配合单位：市发改委
2. 推进数据开放。编制开放目录。
责任单位：市数据局、市经信局
3. 加强安全保障。落实等级保护【责任单位：市委网信办】
"""
    parsed = parse_plan(doc)
    assert [(t.number, t.lead, t.co_units) for t in parsed.tasks] == [
        (1, "市统计局", ("市发改委",)), (2, "市数据局", ("市经信局",)), (3, "市委网信办", ())]
    assert parsed.tasks[0].text == "完善统计制度。建立月度监测。"


def test_an_untagged_item_among_tagged_ones_is_a_warning_not_a_task():
    doc = FRONT + """二、主要任务
（一）提升产业能级
1. 建设数据中心。新建数据中心2个（责任单位：市经信局）
2. 培育平台企业。引进平台企业5家。
3. 深化改革。推进一网通办（责任单位：市数据局）
三、保障措施
（一）加强组织领导。成立领导小组。
"""
    parsed = parse_plan(doc)
    assert [t.number for t in parsed.tasks] == [1, 3]
    assert [w for w in parsed.warnings if "未列为任务" in w] == ["（一）之下的2. 没有责任单位括注，未列为任务：“培育平台企业。引进平台企业5家。…”"]


def test_labels_on_lines_of_their_own_after_the_task():
    doc = FRONT + """二、主要任务
1. 完善统计制度。建立月度监测。
牵头单位：市统计局
配合单位：市发改委、市财政局
完成时限：2025年底前
2. 推进数据开放（市数据局负责）。编制开放目录（市经信局负责
"""
    parsed = parse_plan(doc)
    first = parsed.tasks[0]
    assert (first.lead, first.co_units, first.deadline) == ("市统计局", ("市发改委", "市财政局"), date(2025, 12, 31))
    assert first.units[0].confirmed and not first.warnings
    # A bracket never closed does not hide the tags before it.
    assert [(t.number, t.lead) for t in parsed.tasks[1:]] == [(2, "市数据局")]


def test_when_said_inside_a_tag_and_a_lead_marked_in_angle_brackets():
    doc = FRONT + """一、重点任务
（一）推进试点。2025年第二季度启动（责任单位：省商务厅〈牵头〉、省财政厅）
（二）推进监测。加强监测评估，每年开展一次（省统计局负责，2025年起实施）。
（三）推进系统。建成系统（省数据局负责，2026年6月底前完成）。
（四）推进平台。建成平台（责任单位：省发展改革委，各市、县〔市、区〕政府；完成时限：2025年底前）
"""
    tasks = parse_plan(doc).tasks
    assert [(t.lead, t.co_units, t.deadline, t.starts_on) for t in tasks] == [
        ("省商务厅", ("省财政厅",), date(2025, 6, 30), None),
        ("省统计局", (), None, date(2025, 1, 1)),
        ("省数据局", (), date(2026, 6, 30), None),
        ("省发展改革委", ("各市、县〔市、区〕政府",), date(2025, 12, 31), None),
    ]
    assert tasks[0].units[0].confirmed


def test_a_paragraph_starting_like_a_closing_one_inside_an_open_item_stays_in_it():
    doc = FRONT + """二、主要任务
（一）健全机制。建立联席会议制度。
各部门要明确专人负责，定期报送进展（市发改委负责）。
各地各部门要抓好落实。
"""
    (task,) = parse_plan(doc).tasks
    assert (task.number, task.lead) == (1, "市发改委")
    assert "各部门要明确专人负责" in task.text
