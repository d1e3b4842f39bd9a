"""Importing 浙政办发〔2024〕27号 into the database, checked task by task
through `flask plan show --json`."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from supervise.db import session, unit_of_work
from supervise.models import AuditEntry, Target, Task, TaskUnit
from supervise.policy import SYSTEM
from supervise.services.plans import import_plan_document
from supervise.services.units import find_unit

from .conftest import SOURCE_DOC

ALL_LOCAL = "各市、县〔市、区〕政府"
CITIES = ["杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水"]

# The units of each task as the document lists them (short names).
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
    11: ["省发展改革委", "省交通运输厅", "省海洋经济厅", "省商务厅", "杭州海关", "宁波海关", "省邮政管理局", "省机场集团", "省海港集团"],
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

TASK_TITLES = {
    1: "开展跨境电商企业梯度引育",
    5: "扩大线上平台优势",
    10: "大力发展航空物流",
    13: "深化综合服务体系建设",
    22: "创新治理机制",
}

# (task, value, measure, comparator, kind, year)
TASK_TARGETS = {
    1: [(5000, "家", "以上", "cumulative", 2027), (80, "家", "以上", "cumulative", 2027), (1000, "家", "以上", "cumulative", 2027)],
    3: [(400, "个", "以上", "cumulative", 2027)],
    8: [(100, "个", "以上", "cumulative", 2027)],
    10: [(11, "条", "以上", "cumulative", 2027), (3, "家", "以上", "cumulative", 2027)],
    13: [(500, "场", "以上", "annual", None), (20000, "家", "以上", "annual", None)],
    15: [(100000, "人次", "以上", "cumulative", 2027)],
}


def _expected_names(short_names: list[str]) -> list[str]:
    names = []
    for short in short_names:
        if short == ALL_LOCAL:
            names += [find_unit(f"{city}市人民政府").canonical_name for city in CITIES]
        else:
            unit = find_unit(short)
            assert unit is not None, f"{short} is not in the unit directory"
            names.append(unit.canonical_name)
    return names


@pytest.fixture
def shown(app, plan):
    result = app.test_cli_runner().invoke(args=["plan", "show", "--json"])
    assert result.exit_code == 0, result.output
    plans = json.loads(result.output)
    assert len(plans) == 1
    return plans[0]


def test_plan_header(shown):
    assert shown["document_number"] == "浙政办发〔2024〕27号"
    assert "跨境电商高质量发展行动计划" in shown["title"]
    assert shown["issuing_office"] == "浙江省人民政府办公厅"
    assert shown["issued_on"] == "2024-08-23"
    assert (shown["period_start"], shown["period_end"]) == ("2024-01-01", "2027-12-31")


def test_five_actions_with_their_tasks(shown):
    sections = shown["sections"]
    assert [s["number"] for s in sections] == [1, 2, 3, 4, 5]
    assert [s["title"] for s in sections] == [
        "实施主体引育壮大行动", "实施平台提质增效行动", "实施基础设施提能行动", "实施生态体系赋能行动", "实施服务保障提升行动",
    ]
    assert [len(s["tasks"]) for s in sections] == [4, 5, 3, 6, 4]
    assert [t["number"] for s in sections for t in s["tasks"]] == list(range(1, 23))


def test_task_titles_and_joined_text(shown):
    tasks = {t["number"]: t for s in shown["sections"] for t in s["tasks"]}
    for number, title in TASK_TITLES.items():
        assert tasks[number]["title"] == title
    assert "专精特新企业" in tasks[1]["text"]
    assert "\n" not in tasks[1]["text"]
    assert "符合条件的商品" in tasks[4]["text"]
    assert "细分行业和细分市场" in tasks[5]["text"]
    assert "责任单位" not in tasks[1]["text"]
    assert "各地各部门要主动适应新形势" not in tasks[22]["text"]


@pytest.mark.parametrize("number", sorted(TASK_UNITS))
def test_each_tasks_units_in_order(shown, number):
    tasks = {t["number"]: t for s in shown["sections"] for t in s["tasks"]}
    units = tasks[number]["units"]
    assert [u["name"] for u in units] == _expected_names(TASK_UNITS[number])
    # The document names no lead: the first listed is proposed, not confirmed.
    assert units[0]["role"] == "lead" and units[0]["confirmed"] is False
    assert all(u["role"] == "co" for u in units[1:])


def test_the_collective_is_the_eleven_cities_and_the_note_is_no_unit(shown):
    tasks = {t["number"]: t for s in shown["sections"] for t in s["tasks"]}
    names = [u["name"] for u in tasks[1]["units"]]
    assert len(names) == 4 + 11
    assert not any("各单位" in n or "下同" in n for n in names)
    assert "各单位按职责分工负责" in shown["notes"]


@pytest.mark.parametrize("number", sorted(TASK_TARGETS))
def test_task_targets(shown, number):
    tasks = {t["number"]: t for s in shown["sections"] for t in s["tasks"]}
    got = [(t["value"], t["measure"], t["comparator"], t["kind"], t["year"]) for t in tasks[number]["targets"]]
    assert got == TASK_TARGETS[number]


def test_tasks_without_targets_have_none(shown):
    tasks = {t["number"]: t for s in shown["sections"] for t in s["tasks"]}
    for number, task in tasks.items():
        if number not in TASK_TARGETS:
            assert task["targets"] == [], number


def test_overall_targets(shown):
    got = [(t["value"], t["measure"], t["comparator"], t["kind"], t["year"]) for t in shown["targets"]]
    assert (2, "倍", "翻一番", "ratio", 2027) in got
    assert (15, "个", "以上", "cumulative", 2027) in got
    assert (10, "家", "以上", "cumulative", 2027) in got
    assert (50, "万吨", "突破", "annual", 2027) in got
    assert (2, "倍", "翻一番", "ratio", 2030) in got
    assert len(got) == 5
    doubled = [t for t in shown["targets"] if t["comparator"] == "翻一番"]
    assert sorted(t["baseline_year"] for t in doubled) == [2024, 2027]
    for t in shown["targets"]:
        assert set(t) >= {"text", "value", "measure", "comparator", "kind", "year"}


def test_fiscal_measures(shown):
    measures = shown["measures"]
    assert [m["number"] for m in measures] == list(range(1, 16))
    assert [len([m for m in measures if m["group_number"] == g]) for g in (1, 2, 3, 4)] == [3, 5, 3, 4]
    by_number = {m["number"]: m for m in measures}
    assert by_number[1]["cap_amount"] == 200
    assert by_number[6]["cap_amount"] == 300
    assert (by_number[15]["subsidy_rate"], by_number[15]["cap_amount"]) == (60, 500)
    assert by_number[1]["group"] == "加强跨境电商主体引育"
    assert all(set(m) >= {"group", "number", "title", "text"} for m in measures)


def test_importing_the_same_document_twice_changes_nothing(app, plan):
    def counts():
        return [session().scalar(select(func.count()).select_from(m)) for m in (Task, TaskUnit, Target, AuditEntry)]

    before = counts()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["plan", "import", str(SOURCE_DOC)])
    assert result.exit_code == 0, result.output
    assert "未改动" in result.output
    session().rollback()  # end the read snapshot; see what requests committed
    assert counts() == before


def test_a_different_document_under_the_same_number_is_refused(app, plan):
    from supervise.errors import ValidationError

    text = SOURCE_DOC.read_text(encoding="utf-8").replace("5000 家", "6000 家")
    with pytest.raises(ValidationError, match="已导入"):
        with unit_of_work():
            import_plan_document(text, actor=SYSTEM)


def test_counties_expand_where_configured(ctx, units):
    with unit_of_work():
        plan = import_plan_document(SOURCE_DOC.read_text(encoding="utf-8"), actor=SYSTEM, expand_counties=True).plan
    task1 = next(t for t in plan.tasks if t.number == 1)
    kinds = [tu.unit.kind.value for tu in task1.units]
    assert kinds.count("city_government") == 11
    assert kinds.count("county_government") == 90


def test_reporting_periods_quarterly_with_due_dates(plan):
    codes = [p.code for p in plan.periods]
    assert codes[0] == "2024Q1" and codes[-1] == "2027Q4" and len(codes) == 16
    q2 = next(p for p in plan.periods if p.code == "2025Q2")
    # The 5th working day after 30 June 2025 (a Monday).
    assert q2.due_on.isoformat() == "2025-07-07"
