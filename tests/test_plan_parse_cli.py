"""`flask plan parse PATH [--json]`: prints the parse, writes nothing, and a
bad file is one line and a non-zero exit, never a traceback."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import AuditEntry, Plan, Task, Unit

from .conftest import SOURCE_DOC

DOC = """临江市人民政府办公室关于印发临江市营商环境优化行动计划（2025—2026年）的通知
临政办发〔2025〕12号
各区、县级市人民政府，市政府各部门：
临江市人民政府办公室
2025年4月1日
一、主要任务
（一）深化审批改革。推行一网通办，2025年9月底前实现全覆盖（牵头单位：市数据局；配合单位：市政务办，各区、县级市）。
（二）加强信用监管。建立信用档案（市发改委、市新设局负责）。
"""


def _counts():
    return tuple(session().scalar(select(func.count()).select_from(m)) for m in (Plan, Task, Unit, AuditEntry))


def test_parse_prints_the_json_and_writes_nothing(ctx, tmp_path):
    path = tmp_path / "计划.txt"
    path.write_bytes(DOC.encode("gb18030"))
    before = _counts()
    result = ctx.test_cli_runner().invoke(args=["plan", "parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["document_number"] == "临政办发〔2025〕12号"
    assert data["issuer"] == "临江市人民政府办公室" and data["issued_on"] == "2025-04-01"
    assert (data["start_year"], data["end_year"]) == (2025, 2026)
    assert [(t["number"], t["lead"], t["co_units"], t["deadline"]) for t in data["tasks"]] == [
        ("1", "市数据局", ["市政务办", "各区、县级市"], "2025-09-30"),
        ("2", "市发改委", ["市新设局"], None),
    ]
    assert data["tasks"][1]["warnings"] and data["tasks"][0]["section"] == "主要任务"
    session().rollback()
    assert _counts() == before  # 市新设局 is not created, nothing is stored


def test_parse_without_json_is_a_readable_summary(ctx):
    result = ctx.test_cli_runner().invoke(args=["plan", "parse", str(SOURCE_DOC)])
    assert result.exit_code == 0, result.output
    assert "浙政办发〔2024〕27号" in result.output and "任务: 22 项" in result.output


@pytest.mark.parametrize("name,data,words", [
    ("空.txt", b"", "文件为空"),
    ("图片.bin", bytes(range(256)) * 20, "不是文本文件"),
    ("乱码.txt", b"\x81\x20" * 50, "编码无法识别"),
    ("旧版.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".docx"),
])
def test_a_bad_file_is_one_line_and_a_non_zero_exit(ctx, tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    result = ctx.test_cli_runner().invoke(args=["plan", "parse", str(path), "--json"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_missing_file_is_one_line(ctx, tmp_path):
    result = ctx.test_cli_runner().invoke(args=["plan", "parse", str(tmp_path / "无此文件.docx")])
    assert result.exit_code != 0
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert "无法读取文件" in result.output


def test_a_too_large_file_is_refused_before_it_is_read(ctx, tmp_path):
    from supervise.importer.reader import MAX_BYTES

    path = tmp_path / "大.pdf"
    with open(path, "wb") as handle:
        handle.truncate(MAX_BYTES + 1)  # sparse: nothing is written
    result = ctx.test_cli_runner().invoke(args=["plan", "parse", str(path)])
    assert result.exit_code != 0 and "文件过大" in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
