"""Files in every format the importer reads, built here and read back, and
every kind of file it refuses, each with a message saying what to do."""
from __future__ import annotations

import io
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from supervise.importer import PlanParseError, parse_document  # noqa: E402
from supervise.importer.reader import MAX_BYTES  # noqa: E402

HEADER = ["临江市人民政府办公室关于印发临江市营商环境优化行动计划（2025—2026年）的通知", "临政办发〔2025〕12号",
          "各区、县级市人民政府，市政府各部门：", "现将行动计划印发给你们，请认真贯彻执行。", "临江市人民政府办公室", "2025年4月1日"]
BODY = ["一、主要任务",
        "（一）深化审批改革。推行一网通办，2025年9月底前实现全覆盖（牵头单位：市数据局；配合单位：市政务办）。",
        "（二）加强信用监管。建立信用档案（市发改委、市市场监管局负责）。"]
TABLE = [["序号", "重点任务", "牵头单位", "配合单位", "完成时限"],
         ["一、政务服务", "一、政务服务", "一、政务服务", "一、政务服务", "一、政务服务"],
         ["1", "推行证照电子化", "市数据局", "市公安局、市市场监管局", "2025年12月底前"],
         ["2", "优化企业开办", "市市场监管局", "市税务局，各区、县级市", "长期坚持"]]


def _docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        document.add_paragraph("附件")
        document.add_paragraph("重点任务分工表")
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            if len(set(row)) == 1:
                merged = grid.cell(r, 0).merge(grid.cell(r, len(row) - 1))
                merged.text = row[0]
                continue
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_word_paragraphs_and_a_task_table():
    parsed = parse_document(_docx(HEADER + BODY, TABLE), "计划.docx")
    assert parsed.source_format == "docx"
    assert parsed.document_number == "临政办发〔2025〕12号" and parsed.issued_on == date(2025, 4, 1)
    assert [(t.number, t.lead, t.co_units, t.deadline) for t in parsed.tasks] == [
        (1, "市数据局", ("市政务办",), date(2025, 9, 30)),
        (2, "市发改委", ("市市场监管局",), None),
        (1, "市数据局", ("市公安局", "市市场监管局"), date(2025, 12, 31)),
        (2, "市市场监管局", ("市税务局", "各区、县级市"), None),
    ]
    rows = parsed.tasks[2:]
    assert [t.title for t in rows] == ["推行证照电子化", "优化企业开办"]
    assert {t.section for t in rows} == {"政务服务"}
    assert rows[0].units[0].confirmed  # a 牵头单位 column says who leads
    assert not any("完成时限" in w for w in rows[1].warnings)  # 长期坚持


def test_word_soft_line_breaks_stay_in_the_paragraph():
    import docx

    document = docx.Document()
    for text in HEADER:
        document.add_paragraph(text)
    paragraph = document.add_paragraph("（一）深化审批改革。推行一网通办，")
    paragraph.add_run().add_break()
    paragraph.add_run("实现全覆盖（牵头单位：市数据局）。")
    buffer = io.BytesIO()
    document.save(buffer)
    (task,) = parse_document(buffer.getvalue(), "a.docx").tasks
    assert task.text == "深化审批改革。推行一网通办，实现全覆盖" and task.lead == "市数据局"


def test_excel_task_table():
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["临江市营商环境优化行动任务分工表"] + [None] * 4)
    sheet.merge_cells("A1:E1")
    for row in TABLE:
        sheet.append([int(v) if v.isdigit() else v for v in row])
    sheet.append([3, "清理证明事项", "市司法局（牵头）、市政务办", None, datetime(2025, 6, 30)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_document(buffer.getvalue(), "分工表.xlsx")
    assert parsed.source_format == "xlsx"
    assert parsed.title == "临江市营商环境优化行动任务分工表"
    assert [(t.number, t.title, t.lead, t.co_units, t.deadline) for t in parsed.tasks] == [
        (1, "推行证照电子化", "市数据局", ("市公安局", "市市场监管局"), date(2025, 12, 31)),
        (2, "优化企业开办", "市市场监管局", ("市税务局", "各区、县级市"), None),
        (3, "清理证明事项", "市司法局", ("市政务办",), date(2025, 6, 30)),
    ]
    assert parsed.document_number is None and any("文号" in w for w in parsed.warnings)


def test_gb18030_and_utf8_text_read_alike():
    text = "\n".join(HEADER + BODY)
    utf8 = parse_document(text.encode("utf-8"), "a.txt")
    gbk = parse_document(text.encode("gb18030"), "a.txt")
    bom = parse_document(b"\xef\xbb\xbf" + text.encode("utf-8"), "a.md")
    utf16 = parse_document(text.encode("utf-16"), "a.txt")
    assert len(utf8.tasks) == 2
    for other in (gbk, bom, utf16):
        assert [(t.lead, t.text) for t in other.tasks] == [(t.lead, t.text) for t in utf8.tasks]


def test_tab_separated_table_pasted_from_excel():
    lines = HEADER + ["\t".join(row) for row in TABLE]
    parsed = parse_document("\n".join(lines).encode("utf-8"), "")
    assert [(t.number, t.lead) for t in parsed.tasks] == [(1, "市数据局"), (2, "市市场监管局")]


def test_markdown_table():
    lines = HEADER + ["| " + " | ".join(TABLE[0]) + " |", "|" + "---|" * len(TABLE[0])] + \
        ["| " + " | ".join(row) + " |" for row in TABLE[2:]]
    parsed = parse_document("\n".join(lines).encode("utf-8"), "a.md")
    assert [(t.number, t.lead, t.co_units) for t in parsed.tasks] == [
        (1, "市数据局", ("市公安局", "市市场监管局")), (2, "市市场监管局", ("市税务局", "各区、县级市"))]


def _pdf_without_text() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize("data,filename,message", [
    (b"", "a.txt", "文件为空"),
    (b"   \n\n \r\n", "a.txt", "没有文字"),
    (OLE, "计划.doc", "另存为” .docx"),
    (OLE, "计划.wps", "另存为” .docx"),
    (OLE, "表.xls", ".xlsx"),
    (_zip({"OFD.xml": b"<ofd/>"}), "计划.ofd", "OFD"),
    (_pdf_without_text(), "扫描件.pdf", "没有文字层"),
    (_encrypted_pdf(), "加密.pdf", "密码"),
    (b"%PDF-1.7\n garbage that is no pdf", "坏.pdf", "PDF 文件已损坏"),
    (b"PK\x03\x04 broken zip", "坏.docx", "已损坏"),
    (bytes(range(256)) * 40, "a.bin", "不是文本文件"),
    (b"\x81\x20\x81\x20" * 100, "a.txt", "编码无法识别"),
    (b"plain text", "a.docx", "不是该格式"),
])
def test_unreadable_files_say_what_to_do(data, filename, message):
    with pytest.raises(PlanParseError) as raised:
        parse_document(data, filename)
    assert message in str(raised.value)


def test_too_large_a_file():
    with pytest.raises(PlanParseError, match="文件过大"):
        parse_document(b"a" * (MAX_BYTES + 1), "a.txt")


def test_numbers_drawn_by_word_are_read():
    import docx

    document = docx.Document()
    for text in HEADER + ["一、主要任务"]:
        document.add_paragraph(text)
    document.add_paragraph("推进甲事。正文（责任单位：市商务局）", style="List Number")
    document.add_paragraph("推进乙事。正文（市财政局、市商务局负责）", style="List Number")
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "a.docx")
    assert [(t.label, t.number, t.title, t.lead, t.section) for t in parsed.tasks] == [
        ("1.", 1, "推进甲事", "市商务局", "主要任务"), ("2.", 2, "推进乙事", "市财政局", "主要任务")]


def test_a_two_row_header():
    import docx

    document = docx.Document()
    for text in HEADER:
        document.add_paragraph(text)
    rows = [["序号", "重点任务", "责任单位", "责任单位", "完成时限"],
            ["序号", "重点任务", "牵头单位", "配合单位", "完成时限"],
            ["1", "推行证照电子化", "市数据局", "市公安局", "2025年12月"]]
    grid = document.add_table(rows=3, cols=5)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "a.docx")
    assert [(t.number, t.lead, t.co_units, t.deadline) for t in parsed.tasks] == [
        (1, "市数据局", ("市公安局",), date(2025, 12, 31))]
    assert parsed.tasks[0].units[0].confirmed


def _pdf(lines: list[tuple[float, float, str]]) -> bytes:
    """A one-page PDF whose text layer holds the lines (x, y, text), set in
    the standard font STSong-Light (no font file needed), 12 pt."""
    content = ["BT", "/F1 12 Tf"]
    for x, y, text in lines:
        content.append(f"1 0 0 1 {x} {y} Tm <{text.encode('utf-16-be').hex()}> Tj")
    content.append("ET")
    stream = "\n".join(content).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0"
        b" /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_lines_wrapped_inside_paragraphs_are_joined():
    # 30 characters (360 pt) a line from x=60; a paragraph's first line is
    # indented by two characters; the title and 文号 are centred.
    body = ("（一）深化审批改革。推行一网通办，2025年9月底前实现全覆盖，"
            "提升群众和企业办事便利度（牵头单位：市数据局；配合单位：市政务办）。")
    second = "（二）加强信用监管。建立信用档案，推行信用承诺制（市发改委、市市场监管局负责）。"
    lines = [(150, 800, "临江市人民政府办公室关于印发"), (180, 780, "临江市测试方案的通知"), (200, 750, "临政办发〔2025〕3号"),
             (60, 720, "各区、县级市人民政府，市政府各部门、各直属单位："), (84, 700, "一、主要任务")]
    y = 680
    for paragraph in (body, second):
        first, rest = paragraph[:28], paragraph[28:]
        lines.append((84, y, first))
        y -= 20
        while rest:
            lines.append((60, y, rest[:30]))
            rest, y = rest[30:], y - 20
    lines += [(400, y - 40, "临江市人民政府办公室"), (410, y - 60, "2025年4月1日"), (280, 40, "— 1 —")]
    parsed = parse_document(_pdf(lines), "计划.pdf")
    assert parsed.source_format == "pdf"
    assert parsed.document_number == "临政办发〔2025〕3号" and parsed.issued_on == date(2025, 4, 1)
    assert parsed.document_title == "临江市人民政府办公室关于印发临江市测试方案的通知"
    assert [(t.number, t.lead, t.co_units, t.deadline) for t in parsed.tasks] == [
        (1, "市数据局", ("市政务办",), date(2025, 9, 30)), (2, "市发改委", ("市市场监管局",), None)]
    assert parsed.tasks[0].text == "深化审批改革。推行一网通办，2025年9月底前实现全覆盖，提升群众和企业办事便利度"
