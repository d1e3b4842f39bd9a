"""The unit directory seed files (seed/units.csv, seed/counties.csv) and the
name key used to look units up."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The project root on sys.path, so that these tests run with --noconftest
# and without the package installed.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supervise.importer import build_alias_index, load_unit_seeds, normalise_unit_name, parse_plan  # noqa: E402

SEED = ROOT / "seed"
CITIES = ["杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水"]
# County-level divisions per city (市辖区 + 县级市 + 县), 90 in all.
COUNTIES_PER_CITY = {"杭州": 13, "宁波": 10, "温州": 12, "嘉兴": 7, "湖州": 5, "绍兴": 6,
                     "金华": 9, "衢州": 6, "舟山": 4, "台州": 9, "丽水": 9}
# Named in 27号 outside the unit lists: the issuing office, the 抄送 line.
OTHER_NAMES_IN_27 = ["浙江省人民政府办公厅", "省政府", "省人大常委会", "省政协办公厅", "省军区", "省监委", "省法院", "省检察院"]


@pytest.fixture(scope="module")
def units():
    return load_unit_seeds(SEED / "units.csv")


@pytest.fixture(scope="module")
def counties():
    return load_unit_seeds(SEED / "counties.csv")


@pytest.fixture(scope="module")
def index(units, counties):
    return build_alias_index(units + counties)


def _names_in_27() -> list[str]:
    plan = parse_plan((SEED / "plans" / "zhejiang-cbec-action-plan-2024.md").read_text(encoding="utf-8"))
    listed = [u.name for s in plan.sections for t in s.tasks for u in t.units if u.collective is None]
    return list(dict.fromkeys(listed + OTHER_NAMES_IN_27))


def test_every_unit_named_in_27_resolves_to_exactly_one_row(units, counties):
    names = _names_in_27()
    assert len(names) >= 38
    for name in names:
        key = normalise_unit_name(name)
        owners = [s.canonical_name for s in units + counties if key in {normalise_unit_name(n) for n in s.names}]
        assert len(owners) == 1, f"{name}: {owners}"


@pytest.mark.parametrize(
    "short,canonical,kind",
    [
        ("省经信厅", "浙江省经济和信息化厅", "provincial_department"),
        ("省发展改革委", "浙江省发展和改革委员会", "provincial_department"),
        ("人行浙江省分行", "中国人民银行浙江省分行", "financial_institution"),
        ("杭州海关", "中华人民共和国杭州海关", "customs"),
        ("宁波海关", "中华人民共和国宁波海关", "customs"),
        ("省委网信办", "中共浙江省委网络安全和信息化委员会办公室", "provincial_department"),
        ("省商务厅", "浙江省商务厅", "provincial_department"),
        ("民航浙江安全监管局", "中国民用航空浙江安全监督管理局", "other"),
        ("浙江金融监管局", "国家金融监督管理总局浙江监管局", "financial_institution"),
        ("出口信用保险浙江分公司", "中国出口信用保险公司浙江分公司", "financial_institution"),
        ("省机场集团", "浙江省机场集团有限公司", "state_owned_enterprise"),
        ("省海港集团", "浙江省海港投资运营集团有限公司", "state_owned_enterprise"),
        ("省国贸集团", "浙江省国际贸易集团有限公司", "state_owned_enterprise"),
        ("省经济和信息化厅", "浙江省经济和信息化厅", "provincial_department"),
        ("浙江省经信厅", "浙江省经济和信息化厅", "provincial_department"),
        ("省政府办公厅", "浙江省人民政府办公厅", "other"),
    ],
)
def test_official_names(index, short, canonical, kind):
    seed = index[normalise_unit_name(short)]
    assert (seed.canonical_name, seed.kind) == (canonical, kind)


def test_short_names_are_the_ones_27_uses(units):
    by_short = {s.short_name for s in units}
    assert set(_names_in_27()) <= by_short | {"浙江省人民政府办公厅"}


def test_no_name_means_two_units(units, counties):
    owners: dict[str, str] = {}
    for seed in units + counties:
        for name in seed.names:
            key = normalise_unit_name(name)
            assert owners.setdefault(key, seed.canonical_name) == seed.canonical_name, name
    assert len({s.canonical_name for s in units + counties}) == len(units) + len(counties)


def test_eleven_city_governments_in_official_order(units):
    cities = [s for s in units if s.kind == "city_government"]
    assert [s.canonical_name for s in cities] == [f"{c}市人民政府" for c in CITIES]
    assert [s.short_name for s in cities] == [f"{c}市政府" for c in CITIES]
    assert all(s.aliases == (f"{c}市", c) for s, c in zip(cities, CITIES))


def test_ninety_counties_under_existing_cities(units, counties):
    cities = {s.canonical_name for s in units if s.kind == "city_government"}
    assert len(counties) == 90
    assert all(s.kind == "county_government" for s in counties)
    assert all(s.parent in cities for s in counties)
    per_city = {c: sum(s.parent == f"{c}市人民政府" for s in counties) for c in CITIES}
    assert per_city == COUNTIES_PER_CITY


@pytest.mark.parametrize(
    "name,canonical,short,parent",
    [
        ("上城区", "上城区人民政府", "上城区政府", "杭州市人民政府"),
        ("义乌", "义乌市人民政府", "义乌市政府", "金华市人民政府"),
        ("定海区政府", "定海区人民政府", "定海区政府", "舟山市人民政府"),
        ("景宁县", "景宁畲族自治县人民政府", "景宁县政府", "丽水市人民政府"),
        ("龙港市", "龙港市人民政府", "龙港市政府", "温州市人民政府"),
    ],
)
def test_county_names(index, name, canonical, short, parent):
    seed = index[normalise_unit_name(name)]
    assert (seed.canonical_name, seed.short_name, seed.parent) == (canonical, short, parent)


@pytest.mark.parametrize(
    "a,b",
    [
        ("各市、县(市、区)政府", "各市、县〔市、区〕政府"),
        ("各市、县（市、区）政府", "各市、县〔市、区〕政府"),
        (" 省经信厅 ", "省经信厅"),
        ("省 经信厅", "省经信厅"),
        ("省经信厅\u3000", "省经信厅"),
        ("ＡＢＣ银行", "ABC银行"),
    ],
)
def test_normalise_unit_name(a, b):
    assert normalise_unit_name(a) == normalise_unit_name(b)


def test_loader_rejects_a_wrong_header(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("name,short\n浙江省商务厅,省商务厅\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        load_unit_seeds(path)


def test_loader_rejects_an_unknown_kind(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("canonical_name,short_name,aliases,kind,parent\n浙江省商务厅,省商务厅,,ministry,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kind"):
        load_unit_seeds(path)


def test_loader_reads_aliases_and_empty_parent(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "\ufeffcanonical_name,short_name,aliases,kind,parent\n浙江省商务厅,省商务厅, 商务厅 | |浙江商务厅,provincial_department,\n",
        encoding="utf-8",
    )
    (seed,) = load_unit_seeds(path)
    assert seed.aliases == ("商务厅", "浙江商务厅")
    assert seed.parent is None


def test_alias_index_refuses_a_name_for_two_units(units):
    clash = [units[0], type(units[0])("另一个单位", units[0].short_name, (), "other", None)]
    with pytest.raises(ValueError, match="means both"):
        build_alias_index(clash)
