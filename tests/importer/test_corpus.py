"""The importer on real documents it was not written for: the plan corpus
beside the checkout (../shared/plans-corpus), read in place, every copy
(text, Word, PDF, GB18030) scored against its expected parse with the
corpus's own scorer. The corpus is reference data kept outside the
repository: nothing of it is copied here."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supervise.importer import parse_document, plan_to_dict  # noqa: E402

CORPUS = (ROOT / ".." / "shared" / "plans-corpus").resolve()
if not (CORPUS / "expected").is_dir():  # a worktree one level deeper than the checkout
    CORPUS = (ROOT / ".." / ".." / "shared" / "plans-corpus").resolve()

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected").is_dir() or not (CORPUS / "score.py").is_file(),
    reason=f"the plan corpus is not beside the checkout ({ROOT.parent / 'shared' / 'plans-corpus'} is absent)",
)


def _copies() -> list[tuple[str, Path]]:
    if not (CORPUS / "expected").is_dir():
        return []
    found = []
    for expected in sorted((CORPUS / "expected").glob("*.json")):
        name = expected.stem
        for path in [CORPUS / f"{name}.txt", CORPUS / "docx" / f"{name}.docx", CORPUS / "pdf" / f"{name}.pdf",
                     CORPUS / "gbk" / f"{name}.txt"]:
            if path.is_file():
                found.append((name, path))
    return found


@pytest.fixture(scope="module")
def scorer():
    spec = importlib.util.spec_from_file_location("plans_corpus_score", CORPUS / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name,path", _copies(), ids=lambda v: v if isinstance(v, str) else f"{v.parent.name}/{v.name}")
def test_every_copy_parses_to_its_expected_tasks(scorer, tmp_path, name, path):
    parsed = parse_document(path.read_bytes(), path.name)
    out = tmp_path / f"{name}.json"
    out.write_text(json.dumps(plan_to_dict(parsed), ensure_ascii=False), encoding="utf-8")
    report: list[str] = []
    right, expected, extras, _, _, pct = scorer.score(str(out), str(CORPUS / "expected" / f"{name}.json"),
                                                      out=lambda *a: report.append(" ".join(map(str, a))))
    assert pct == 100.0 and extras == 0, "\n".join(report)
    exp = json.loads((CORPUS / "expected" / f"{name}.json").read_text(encoding="utf-8"))
    assert parsed.document_number == exp["document_number"]
    assert len(parsed.tasks) == expected


def test_a_document_without_tags_has_no_tasks_and_says_so():
    path = CORPUS / "gwy-zhijiao-2019.txt"
    parsed = parse_document(path.read_bytes(), path.name)
    assert parsed.tasks == ()
    assert any("没有带责任单位的任务" in w for w in parsed.warnings)
    # The mid-sentence "（技工院校内由人力资源社会保障行政部门负责）" is no tag.
    assert "人力资源社会保障行政部门" not in json.dumps(plan_to_dict(parsed), ensure_ascii=False).split('"tasks"')[1]


def test_word_pdf_and_gbk_copies_read_like_the_text():
    for name, other in [("gwy-nongji-2018", CORPUS / "docx" / "gwy-nongji-2018.docx"),
                        ("gwy-nongji-2018", CORPUS / "pdf" / "gwy-nongji-2018.pdf"),
                        ("gwy-tiyu-saishi-2018", CORPUS / "gbk" / "gwy-tiyu-saishi-2018.txt")]:
        text = parse_document((CORPUS / f"{name}.txt").read_bytes(), f"{name}.txt")
        copy = parse_document(other.read_bytes(), other.name)
        assert [(t.number, t.lead, t.co_units) for t in copy.tasks] == [(t.number, t.lead, t.co_units) for t in text.tasks]
        assert copy.issued_on == text.issued_on and copy.title == text.title
        # PDF lines wrap inside paragraphs; the task texts still come out whole.
        assert [t.text.replace("\n", "") for t in copy.tasks] == [t.text.replace("\n", "") for t in text.tasks]


def test_nongji_rule_in_the_first_tag_confirms_every_later_lead():
    path = CORPUS / "gwy-nongji-2018.txt"
    parsed = parse_document(path.read_bytes(), path.name)
    assert [t.number for t in parsed.tasks] == list(range(3, 21))
    assert all(u.confirmed for t in parsed.tasks for u in t.units)
    assert parsed.tasks[0].section == "加快推动农机装备产业高质量发展"
    assert parsed.tasks[0].title == "完善农机装备创新体系"
    assert parsed.notes[0] == "列第一位者为牵头单位，下同"
    group_only = next(t for t in parsed.tasks if t.number == 19)
    assert (group_only.lead, group_only.co_units) == ("各省级人民政府", ())


def test_tiyu_several_tags_in_one_measure_are_several_tasks():
    path = CORPUS / "gwy-tiyu-saishi-2018.txt"
    parsed = parse_document(path.read_bytes(), path.name)
    thirteen = [t for t in parsed.tasks if t.number == 13]
    assert [t.lead for t in thirteen] == ["体育总局", "体育总局", "银保监会"]
    assert thirteen[0].title == "改善消费条件"
    assert thirteen[1].text.startswith("完善公共安全服务体系")
    assert "（体育总局、教育部、住房城乡建设部负责）" in thirteen[0].source_text
    assert len({t.position for t in parsed.tasks}) == len(parsed.tasks)


def test_chuangxin_table_rows_are_the_tasks_and_the_scope_is_no_unit():
    for path in (CORPUS / "gwy-chuangxin-tuiguang-2018.txt", CORPUS / "docx" / "gwy-chuangxin-tuiguang-2018.docx"):
        parsed = parse_document(path.read_bytes(), path.name)
        assert [t.number for t in parsed.tasks] == list(range(1, 15)) + [21, 22, 23]
        first = parsed.tasks[0]
        assert first.title == "知识产权民事、刑事、行政案件“三合一”审判"
        assert first.section == "知识产权保护方面"
        assert all("全国" not in t.co_units and "8个改革试验区域" not in t.co_units for t in parsed.tasks)
