"""The evidence store: content decides the type, the same bytes are stored
once, names are kept exactly and never used as paths."""
from __future__ import annotations

import io
import zipfile

import pytest

from supervise.errors import ValidationError
from supervise.evidence_store import clean_original_name, open_verified, path_for, store, IntegrityError

from ..factories import PDF_BYTES, PNG_BYTES


def _zip(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in names.items():
            zf.writestr(name, data)
    return buf.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"})
PPTX = _zip({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"})
OFD = _zip({"OFD.xml": b"<ofd:OFD/>", "Doc_0/Document.xml": b"<d/>"})
ZIP = _zip({"照片/1.txt": b"hello"})
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40


@pytest.mark.parametrize(
    "name, data, content_type",
    [
        ("报告.pdf", PDF_BYTES, "application/pdf"),
        ("照片.PNG", PNG_BYTES, "image/png"),
        ("现场.jpg", JPEG, "image/jpeg"),
        ("通知.docx", DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("台账.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("汇报.pptx", PPTX, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("公文.ofd", OFD, "application/ofd"),
        ("材料.zip", ZIP, "application/zip"),
        ("旧版.doc", OLE, "application/msword"),
        ("旧表.xls", OLE, "application/vnd.ms-excel"),
    ],
)
def test_allowed_types_by_content(ctx, name, data, content_type):
    stored = store(io.BytesIO(data), name)
    assert stored.content_type == content_type
    assert stored.original_name == name
    assert path_for(stored.sha256).read_bytes() == data


@pytest.mark.parametrize(
    "name, data",
    [
        ("伪装.pdf", b"MZ\x90\x00" + b"\x00" * 64),  # a Windows executable
        ("伪装.png", b"<html><script>alert(1)</script></html>"),
        ("伪装.pdf", b"\x7fELF" + b"\x00" * 64),
        ("图片.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        ("报告.pdf", PNG_BYTES),  # a real PNG under a PDF name
        ("无扩展名", PDF_BYTES),
        ("空.pdf", b""),
    ],
)
def test_refused_by_content(ctx, app, name, data):
    with pytest.raises(ValidationError):
        store(io.BytesIO(data), name)
    root = app.config["EVIDENCE_DIR"]
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_same_content_stored_once(ctx, app):
    a = store(io.BytesIO(PDF_BYTES), "a.pdf")
    b = store(io.BytesIO(PDF_BYTES), "b.pdf")
    assert a.sha256 == b.sha256 and a.is_new and not b.is_new
    assert len([p for p in app.config["EVIDENCE_DIR"].rglob("*") if p.is_file()]) == 1


def test_size_limit(ctx, app):
    app.config["MAX_UPLOAD_MB"] = 1
    with pytest.raises(ValidationError, match="大小上限"):
        store(io.BytesIO(b"%PDF-" + b"0" * (1024 * 1024)), "大.pdf")
    assert [p for p in app.config["EVIDENCE_DIR"].rglob("*") if p.is_file()] == []


def test_names_are_kept_but_never_paths(ctx, app):
    assert clean_original_name("../../etc/passwd.pdf") == "../../etc/passwd.pdf"
    assert clean_original_name("C:\\Users\\张三\\报告.pdf") == "C:\\Users\\张三\\报告.pdf"
    stored = store(io.BytesIO(PDF_BYTES), "../../../../tmp/evil.pdf")
    assert stored.original_name == "../../../../tmp/evil.pdf"
    assert path_for(stored.sha256).is_relative_to(app.config["EVIDENCE_DIR"])
    assert not (app.config["EVIDENCE_DIR"].parent.parent / "tmp" / "evil.pdf").exists()
    assert clean_original_name("a\x00b.pdf") == "ab.pdf"
    long = "长" * 300 + ".pdf"
    assert len(clean_original_name(long)) == 255 and clean_original_name(long).endswith(".pdf")
    assert clean_original_name("") == "未命名文件"


def test_tampered_file_is_detected(ctx):
    stored = store(io.BytesIO(PDF_BYTES), "a.pdf")
    path = path_for(stored.sha256)
    assert open_verified(stored.sha256) == path
    path.write_bytes(PDF_BYTES + b"tampered")
    with pytest.raises(IntegrityError):
        open_verified(stored.sha256)
