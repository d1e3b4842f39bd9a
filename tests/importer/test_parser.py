"""The plan parser, checked task by task against 浙政办发〔2024〕27号, and on
small synthetic documents for the forms 27号 does not use."""
from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

# The project root on sys.path, so that these tests run with --noconftest
# and without the package installed.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supervise.importer import (  # noqa: E402
    ParsedPlan,
    ParsedTarget,
    ParsedUnitRef,
    PlanParseError,
    extract_targets,
    parse_plan,
    parse_unit_list,
)

SEED_DOC = ROOT / "seed" / "plans" / "zhejiang-cbec-action-plan-2024.md"
SHARED_DOC = Path("/work/shared/source/zhejiang-cbec-action-plan-2024.md")
ALL_LOCAL = "各市、县〔市、区〕政府"


@pytest.fixture(scope="module")
def source() -> str:
    return SEED_DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def plan(source) -> ParsedPlan:
    return parse_plan(source)


@pytest.fixture(scope="module")
def tasks(plan):
    return {task.number: task for section in plan.sections for task in section.tasks}


def test_seed_copy_is_the_source_byte_for_byte():
    if not SHARED_DOC.exists():
        pytest.skip("the shared source document is not available here")
    assert SEED_DOC.read_bytes() == SHARED_DOC.read_bytes()


# --- front matter -------------------------------------------------------------


def test_document_number_office_date(plan):
    assert plan.document_number == "浙政办发〔2024〕27号"
    assert plan.issuing_office == "浙江省人民政府办公厅"
    assert plan.issued_on == date(2024, 8, 23)


def test_title_has_no_conversion_spaces_and_full_width_brackets(plan):
    assert plan.title == "浙江省加力推动跨境电商高质量发展行动计划（2024—2027年）"


def test_period_from_title(plan):
    assert (plan.period_start, plan.period_end) == (date(2024, 1, 1), date(2027, 12, 31))


# --- sections and tasks ---------------------------------------------------------

SECTIONS = [
    (1, "实施主体引育壮大行动", [1, 2, 3, 4]),
    (2, "实施平台提质增效行动", [5, 6, 7, 8, 9]),
    (3, "实施基础设施提能行动", [10, 11, 12]),
    (4, "实施生态体系赋能行动", [13, 14, 15, 16, 17, 18]),
    (5, "实施服务保障提升行动", [19, 20, 21, 22]),
]


def test_five_sections_whatever_the_heading_level(plan):
    # The source marks them with ###, ##, ###, #### and ## in turn.
    assert [(s.number, s.title, [t.number for t in s.tasks]) for s in plan.sections] == SECTIONS


TASK_TITLES = {
    1: "开展跨境电商企业梯度引育",
    2: "加快跨境电商赋能产业带",
    3: "支持品牌建设和推广",
    4: "扩大跨境电商进口优势",
    5: "扩大线上平台优势",
    6: "发展“直播+平台+跨境电商”融合模式",
    7: "推动跨境电商综合试验区提升发展",
    8: "推进跨境电商产业园建设",
    9: "创新产业交流合作渠道",
    10: "大力发展航空物流",
    11: "构建高效畅达的跨境物流网络",
    12: "完善集货仓等仓储物流布局",
    13: "深化综合服务体系建设",
    14: "涵养跨境电商发展生态",
    15: "加强高水平人才队伍建设",
    16: "优化人才服务举措",
    17: "加大金融支持力度",
    18: "引导企业合规经营",
    19: "提升通关便利化水平",
    20: "持续提升财税服务水平",
    21: "优化跨境资金结算",
    22: "创新治理机制",
}


@pytest.mark.parametrize("number,title", TASK_TITLES.items())
def test_task_title_is_its_first_sentence(tasks, number, title):
    task = tasks[number]
    assert task.title == title
    assert task.text.startswith(title + "。")


@pytest.mark.parametrize("number", TASK_TITLES)
def test_task_text_has_no_number_no_unit_list_no_page_break(tasks, number):
    text = tasks[number].text
    assert not text.startswith(f"{number}.")
    assert "责任单位" not in text
    assert "\n\n" not in text
    assert text.endswith("。")


@pytest.mark.parametrize(
    "number,joined",
    [
        (1, "推动传统工贸企业、专精特新企业、商贸流通企业"),
        (4, "对符合条件的商品开展组套"),
        (10, "敏感货空运业务"),
        (13, "完善跨境电商综合试验区线上综合服务平台功能"),
        (16, "购房、就医以及子女就学"),
        (22, "支持地方建设跨境商品质量安全风险监测点"),
    ],
)
def test_page_breaks_inside_a_sentence_are_joined(tasks, number, joined):
    assert joined in tasks[number].text


def test_conversion_artefact_and_is_repaired(tasks):
    assert "鼓励有条件的企业打造服务细分行业和细分市场的专业平台。" in tasks[5].text
    assert " and " not in tasks[5].text


def test_spaces_around_numbers_are_kept_as_written(tasks):
    assert "新增跨境电商应用主体 5000 家以上" in tasks[1].text


def test_a_task_keeps_its_second_paragraph(tasks):
    text = tasks[7].text
    assert text == (
        "推动跨境电商综合试验区提升发展。支持跨境电商综合试验区与自由贸易试验区、境外经贸合作区等开放平台协同发展。\n"
        "探索开展新一轮制度创新,支持杭州实施跨境电商综合试验区 2.0 战略,鼓励宁波、温州、金华等跨境电商综合试验区"
        "各扬所长、争先进位,加快形成全省联动、互补、共促发展态势。"
    )


def test_plan_tail_and_annex_are_not_tasks(plan, tasks):
    assert tasks[22].text.endswith("完善跨境电商全业态分地区统计工作,优化运行监测制度。")
    assert len(tasks) == 22
    for task in tasks.values():
        assert "各地各部门" not in task.text
        assert "附件" not in task.text
        assert "以上措施" not in task.text
    assert all("财政" not in s.title and "生态服务" not in s.title for s in plan.sections)


# --- units ----------------------------------------------------------------------

TASK_UNITS = {
    1: ["省经信厅", "省科技厅", "省商务厅", "省市场监管局", ALL_LOCAL],
    2: ["省经信厅", "省商务厅", ALL_LOCAL],
    3: ["省委网信办", "省商务厅", "省市场监管局"],
    4: ["省商务厅", "杭州海关", "宁波海关", ALL_LOCAL],
    5: ["省委网信办", "省发展改革委", "省商务厅", "省市场监管局", "省数据局", ALL_LOCAL],
    6: ["省委网信办", "省商务厅", "省外办", "省市场监管局"],
    7: ["省商务厅", ALL_LOCAL],
    8: ["省自然资源厅", "省商务厅", "杭州海关", "宁波海关", "省邮政管理局", ALL_LOCAL],
    9: ["省商务厅", "省外办", "省贸促会", ALL_LOCAL],
    10: ["省发展改革委", "省财政厅", "省交通运输厅", "省口岸办", "杭州海关", "宁波海关", "民航浙江安全监管局", "省机场集团"],
    11: ["省发展改革委", "省交通运输厅", "省海洋经济厅", "省商务厅", "杭州海关", "宁波海关", "省邮政管理局",
         "省机场集团", "省海港集团"],
    12: ["省发展改革委", "省自然资源厅", "省交通运输厅", "省商务厅", "省邮政管理局", ALL_LOCAL],
    13: ["省商务厅", "省国资委", "省税务局", "省口岸办", "人行浙江省分行", "杭州海关", "宁波海关", "省国贸集团", ALL_LOCAL],
    14: ["省发展改革委", "省交通运输厅", "省商务厅", "省市场监管局", "人行浙江省分行", ALL_LOCAL],
    15: ["省教育厅", "省人社厅", "省商务厅"],
    16: ["省发展改革委", "省教育厅", "省公安厅", "省人社厅", "省商务厅", ALL_LOCAL],
    17: ["省委金融办", "省商务厅", "人行浙江省分行", "浙江金融监管局", "出口信用保险浙江分公司"],
    18: ["省商务厅", "省税务局", "省市场监管局", "杭州海关", "宁波海关"],
    19: ["杭州海关", "宁波海关"],
    20: ["省财政厅", "省商务厅", "省税务局"],
    21: ["人行浙江省分行"],
    22: ["省商务厅", "省市场监管局", "杭州海关", "宁波海关"],
}


@pytest.mark.parametrize("number,names", TASK_UNITS.items())
def test_units_in_the_order_listed_first_proposed_as_lead(tasks, number, names):
    units = tasks[number].units
    assert [u.name for u in units] == names
    # 27号 does not say who leads: the first is proposed, nothing is confirmed.
    assert [u.role for u in units] == ["lead"] + ["co"] * (len(names) - 1)
    assert not any(u.confirmed for u in units)
    assert [u.collective for u in units] == ["cities_and_counties" if n == ALL_LOCAL else None for n in names]


def test_note_in_a_unit_list_is_a_plan_note_not_a_unit(plan, tasks):
    assert plan.notes == ("各单位按职责分工负责,下同",)
    names = {u.name for t in tasks.values() for u in t.units}
    assert not any("下同" in n or "负责" in n for n in names)


# --- targets --------------------------------------------------------------------


def _summary(target: ParsedTarget) -> tuple:
    return (target.subject, target.value, target.measure, target.comparator, target.kind,
            target.year, target.baseline_year, target.threshold)


OVERALL_TARGETS = [
    ("跨境电商出口规模", Decimal(2), "倍", "翻一番", "ratio", 2027, 2024, None),
    ("重点县(市、区)", Decimal(15), "个", "以上", "cumulative", 2027, None, "年跨境电商交易额超百亿元"),
    ("跨境电商平台", Decimal(10), "家", "以上", "cumulative", 2027, None, "年交易规模超百亿元"),
    ("航空货邮吞吐量", Decimal(50), "万吨", "突破", "annual", 2027, None, None),
    ("跨境电商出口规模", Decimal(2), "倍", "翻一番", "ratio", 2030, 2027, None),
]


@pytest.mark.parametrize("index", range(len(OVERALL_TARGETS)))
def test_overall_targets(plan, index):
    assert len(plan.targets) == len(OVERALL_TARGETS)
    assert _summary(plan.targets[index]) == OVERALL_TARGETS[index]


def test_overall_target_texts(plan):
    assert [t.text for t in plan.targets] == [
        "全省跨境电商出口规模较 2024 年翻一番",
        "年跨境电商交易额超百亿元的重点县(市、区)15 个以上",
        "年交易规模超百亿元的跨境电商平台 10 家以上",
        "国际(地区)航空货邮吞吐量突破 50 万吨",
        "跨境电商出口规模较 2027 年再翻一番",
    ]


TASK_TARGETS = {
    1: [
        ("新增跨境电商应用主体 5000 家以上",
         ("跨境电商应用主体", Decimal(5000), "家", "以上", "cumulative", 2027, None, None)),
        ("引育年交易额超 10 亿元的龙头企业 80 家以上",
         ("龙头企业", Decimal(80), "家", "以上", "cumulative", 2027, None, "年交易额超10亿元")),
        ("年交易额超 1 亿元的卖家 1000 家以上",
         ("卖家", Decimal(1000), "家", "以上", "cumulative", 2027, None, "年交易额超1亿元")),
    ],
    3: [
        ("打造在海外具备较大影响力的省级跨境电商出口知名品牌 400 个以上",
         ("省级跨境电商出口知名品牌", Decimal(400), "个", "以上", "cumulative", 2027, None, None)),
    ],
    8: [
        ("累计培育省级跨境电商产业园 100 个以上",
         ("省级跨境电商产业园", Decimal(100), "个", "以上", "cumulative", 2027, None, None)),
    ],
    10: [
        ("新增 11 条以上国际全货机航线",
         ("国际全货机航线", Decimal(11), "条", "以上", "cumulative", 2027, None, None)),
        ("引进3家以上知名航空货代企业",
         ("航空货代企业", Decimal(3), "家", "以上", "cumulative", 2027, None, None)),
    ],
    13: [
        ("全省每年举办政策宣讲、实操培训、主题沙龙等服务对接活动 500 场以上",
         ("服务对接活动", Decimal(500), "场", "以上", "annual", None, None, None)),
        ("服务企业 2 万家以上",
         ("服务企业", Decimal(20000), "家", "以上", "annual", None, None, None)),
    ],
    15: [
        ("累计开展跨境电商技能培训 10 万人次以上",
         ("跨境电商技能培训", Decimal(100000), "人次", "以上", "cumulative", 2027, None, None)),
    ],
}


@pytest.mark.parametrize("number", TASK_TITLES)
def test_task_targets(tasks, number):
    # Every task is checked: tasks not listed have no target at all, so
    # "2.0 战略", "9610", "9810", "7×24" and years never become targets.
    expected = TASK_TARGETS.get(number, [])
    assert [(t.text, _summary(t)) for t in tasks[number].targets] == expected


# --- the annex ------------------------------------------------------------------

MEASURES = [
    (1, "加强跨境电商主体引育", 1, "支持“跨境电商+产业带”发展", Decimal(200), None),
    (1, "加强跨境电商主体引育", 2, "推动开展跨境电商业务", None, None),
    (1, "加强跨境电商主体引育", 3, "鼓励跨境电商“品牌出海”", None, None),
    (2, "推动平台提质增效", 4, "支持“链主”平台企业引育", None, None),
    (2, "推动平台提质增效", 5, "打造跨境电商综合试验区升级版", None, None),
    (2, "推动平台提质增效", 6, "加大对跨境电商产业园区建设的支持力度", Decimal(300), None),
    (2, "推动平台提质增效", 7, "鼓励“直播+平台+跨境电商”融合发展", None, None),
    (2, "推动平台提质增效", 8, "推动跨境电商产业交流合作", None, None),
    (3, "加快基础设施提升", 9, "支持发展航空物流", None, None),
    (3, "加快基础设施提升", 10, "构建高效畅达的跨境物流网络", None, None),
    (3, "加快基础设施提升", 11, "加大仓储设施建设支持力度", None, None),
    (4, "完善生态服务体系", 12, "支持综合服务体系建设", None, None),
    (4, "完善生态服务体系", 13, "加强专业化人才队伍培育", None, None),
    (4, "完善生态服务体系", 14, "支持提升通关便利化水平", None, None),
    (4, "完善生态服务体系", 15, "加大财金协同力度", Decimal(500), Decimal(60)),
]


def test_annex_measures_by_group(plan):
    assert [(m.group_number, m.group, m.number, m.title, m.cap_amount, m.subsidy_rate)
            for m in plan.measures] == MEASURES


def test_measure_text(plan):
    measures = {m.number: m for m in plan.measures}
    assert "鼓励各地深化与各大平台企业战略合作" in measures[4].text
    assert measures[1].text.startswith("支持“跨境电商+产业带”发展。推动优质产业带")
    assert measures[15].text.endswith("提供汇率避险增信服务。")
    assert all("以上措施" not in m.text and "抄送" not in m.text for m in plan.measures)


# --- synthetic documents ----------------------------------------------------------


def make_doc(body: str, *, title: str = "浙江省测试行动方案（2025—2026年）", preamble: str = "") -> str:
    return (
        "# 浙江省商务厅文件\n\n浙商务发〔2025〕3号\n\n"
        f"## 浙江省商务厅关于印发{title}的通知\n\n{preamble}\n\n浙江省商务厅\n\n2025年3月1日\n\n"
        f"{body}\n"
    )


PLAIN_TASKS = """## 一、主要任务

（一）实施测试行动

1. 第一项任务。正文。(责任单位:省商务厅、省经信厅,各设区市政府)

2. 第二项任务。正文。（责任单位：省财政厅）
"""


def test_synthetic_document_front_matter():
    plan = parse_plan(make_doc(PLAIN_TASKS))
    assert plan.document_number == "浙商务发〔2025〕3号"
    assert plan.issuing_office == "浙江省商务厅"
    assert plan.title == "浙江省测试行动方案（2025—2026年）"
    assert (plan.period_start, plan.period_end) == (date(2025, 1, 1), date(2026, 12, 31))
    assert plan.measures == ()


def test_cities_collective():
    task = parse_plan(make_doc(PLAIN_TASKS)).sections[0].tasks[0]
    assert task.units[-1] == ParsedUnitRef("各设区市政府", "co", False, "cities")


@pytest.mark.parametrize("sentence", ["列第一位的为牵头单位", "排在第一位的部门为牵头部门", "列 第一位 的单位为牵头单位"])
def test_document_saying_first_listed_leads_confirms_the_lead(sentence):
    plan = parse_plan(make_doc(PLAIN_TASKS, preamble=f"各有关单位：现将方案印发给你们，责任单位中{sentence}。"))
    first = plan.sections[0].tasks[0]
    assert [(u.name, u.role, u.confirmed) for u in first.units] == [
        ("省商务厅", "lead", True), ("省经信厅", "co", True), ("各设区市政府", "co", True)]
    assert plan.sections[0].tasks[1].units == (ParsedUnitRef("省财政厅", "lead", True, None),)


def test_first_listed_leads_said_inside_the_first_unit_list():
    body = ("（一）实施测试行动\n\n1. 甲任务。正文。（责任单位：省商务厅、省经信厅，列第一位的为牵头单位，下同）\n\n"
            "2. 乙任务。正文。（责任单位：省财政厅、省商务厅）\n")
    plan = parse_plan(make_doc(body))
    assert plan.notes == ("列第一位的为牵头单位，下同",)
    assert [[(u.name, u.role, u.confirmed) for u in t.units] for t in plan.sections[0].tasks] == [
        [("省商务厅", "lead", True), ("省经信厅", "co", True)],
        [("省财政厅", "lead", True), ("省商务厅", "co", True)],
    ]


@pytest.mark.parametrize(
    "unit_list",
    [
        "(牵头单位：省经信厅；配合单位：省商务厅、省财政厅)",
        "（牵头单位:省经信厅;配合单位:省商务厅,省财政厅）",
        "(牵头单位:省经信厅，配合单位:省商务厅，省财政厅)",
        "（牵头单位： 省经信厅 ； 配合单位： 省商务厅、 省财政厅）",
        "（责任单位：省商务厅、省经信厅（牵头）、省财政厅）",
    ],
)
def test_stated_lead_is_followed_and_confirmed(unit_list):
    body = f"（一）实施测试行动\n\n1. 一项任务。正文。{unit_list}\n"
    task = parse_plan(make_doc(body)).sections[0].tasks[0]
    roles = {u.name: (u.role, u.confirmed) for u in task.units}
    assert roles == {"省经信厅": ("lead", True), "省商务厅": ("co", True), "省财政厅": ("co", True)}


@pytest.mark.parametrize(
    "written,expected",
    [
        ("各市、县(市、区)政府", "各市、县〔市、区〕政府"),
        ("各市、县（市、区）政府", "各市、县〔市、区〕政府"),
        ("各市、县〔市、区〕人民政府", "各市、县〔市、区〕人民政府"),
        ("各市县政府", "各市县政府"),
    ],
)
def test_cities_and_counties_collective_forms(written, expected):
    units, notes = parse_unit_list(f"责任单位:省商务厅,{written},各单位按职责分工负责,下同", first_listed_leads=False)
    assert units == (
        ParsedUnitRef("省商务厅", "lead", False, None),
        ParsedUnitRef(expected, "co", False, "cities_and_counties"),
    )
    assert notes == ("各单位按职责分工负责,下同",)


def test_headings_without_markdown_full_width_and_without_full_stop():
    body = """二、主要任务

（一） 实施甲行动

1. 甲任务。正文。（责任单位：省商务厅）

### (二)实施乙行动。

2. 乙任务。正文，新增示范企业 20 家以上。(责任单位:省财政厅)

三、保障措施

1. 加强组织领导。各地要建立工作机制。

本方案自印发之日起施行。
"""
    plan = parse_plan(make_doc(body))
    assert [(s.number, s.title, [t.title for t in s.tasks]) for s in plan.sections] == [
        (1, "实施甲行动", ["甲任务"]),
        (2, "实施乙行动", ["乙任务"]),
    ]
    assert plan.sections[1].tasks[0].targets[0].value == Decimal(20)


def test_top_level_parts_are_the_sections_when_there_are_no_bracket_headings():
    body = """一、总体要求

到 2026 年，新增示范企业 30 家以上。

二、强化主体培育

1. 甲任务。正文。（责任单位：省商务厅）

三、优化服务保障

2. 乙任务。正文。（责任单位：省财政厅）
"""
    plan = parse_plan(make_doc(body))
    assert [(s.number, s.title, [t.number for t in s.tasks]) for s in plan.sections] == [
        (2, "强化主体培育", [1]),
        (3, "优化服务保障", [2]),
    ]
    assert [(t.subject, t.value, t.year) for t in plan.targets] == [("示范企业", Decimal(30), 2026)]


def test_page_break_before_a_number_is_not_a_new_task():
    body = "（一）实施测试行动\n\n1. 甲任务。出口额增长至\n\n3. 5 倍左右，继续推进。（责任单位：省商务厅）\n"
    tasks = parse_plan(make_doc(body)).sections[0].tasks
    assert [t.number for t in tasks] == [1]
    assert "增长至3. 5 倍左右" in tasks[0].text


def test_plan_end_year_when_the_title_has_no_period():
    body = "（一）实施测试行动\n\n1. 甲任务。新增示范企业 20 家以上。（责任单位：省商务厅）\n"
    # Without a period the plan's years are left open, with a warning.
    open_plan = parse_plan(make_doc(body, title="浙江省测试行动方案"))
    assert (open_plan.period_start, open_plan.period_end) == (None, None)
    assert any("计划期" in w for w in open_plan.warnings)
    plan = parse_plan(make_doc(body, title="浙江省测试行动方案"), plan_end_year=2026)
    assert (plan.period_start, plan.period_end) == (date(2025, 1, 1), date(2026, 12, 31))
    assert plan.sections[0].tasks[0].targets[0].year == 2026


# --- targets on their own --------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("出口额较 2020 年翻两番", (Decimal(4), "倍", "翻一番", "ratio", 2020)),
        ("新增应用主体 2 万家以上", (Decimal(20000), "家", "以上", "cumulative", None)),
        ("货运量突破 50 万吨", (Decimal(50), "万吨", "突破", "annual", None)),
        ("产业基金规模达到 100 亿元", (Decimal(100), "亿元", "达到", "cumulative", None)),
        ("培训不少于 3000 人次", (Decimal(3000), "人次", "以上", "cumulative", None)),
        ("跨境电商占比超过 30%", (Decimal(30), "%", "超过", "annual", None)),
        ("亏损面控制在 5% 以内", (Decimal(5), "%", "以内", "annual", None)),
    ],
)
def test_target_forms(text, expected):
    (target,) = extract_targets(text, due_year=2027)
    assert (target.value, target.measure, target.comparator, target.kind, target.baseline_year) == expected


@pytest.mark.parametrize(
    "text",
    ["支持杭州实施跨境电商综合试验区 2.0 战略", "打通“9610+海铁联运”出口通道", "落实“7×24”通关保障",
     "力争到 2030 年继续推进", "探索“9810”出口退税便利化", "引育年交易额超 10 亿元的企业", "建成 3 个中心"],
)
def test_non_targets(text):
    assert extract_targets(text, due_year=2027) == ()


# --- odd input --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n  ", "\ufeff"])
def test_empty_document(text):
    with pytest.raises(PlanParseError, match="empty"):
        parse_plan(text)


def test_document_without_tasks_parses_to_no_tasks_and_says_so():
    plan = parse_plan(make_doc("## 一、主要任务\n\n各地要抓好落实。"))
    assert plan.tasks == () and plan.sections == ()
    assert any("没有带责任单位的任务" in w for w in plan.warnings)


def test_document_without_number_or_date_is_read_with_warnings():
    plan = parse_plan(PLAIN_TASKS)
    assert plan.document_number is None and plan.issued_on is None
    assert [t.lead for t in plan.tasks] == ["省商务厅", "省财政厅"]
    assert any("文号" in w for w in plan.warnings) and any("成文日期" in w for w in plan.warnings)


def test_truncated_documents_never_crash(source):
    # Whatever is cut off, the parser returns a plan or says what is missing.
    for end in range(0, len(source), 211):
        try:
            parse_plan(source[:end])
        except PlanParseError:
            pass
