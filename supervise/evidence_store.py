"""The evidence store: uploaded files kept outside the web root, under names
the system makes (their SHA-256), each content stored once.

What a file is, is decided by its bytes, never by the name it came with; the
name must agree with the content, so an executable or a web page renamed to
.pdf is refused.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from .errors import PayloadTooLarge, ValidationError

# kind -> (MIME type, the name endings that may carry it)
ALLOWED_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("application/pdf", (".pdf",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (".docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (".xlsx",)),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", (".pptx",)),
    "ole": ("application/x-ole-storage", (".doc", ".xls", ".ppt", ".wps", ".et", ".dps")),
    "ofd": ("application/ofd", (".ofd",)),
    "jpeg": ("image/jpeg", (".jpg", ".jpeg")),
    "png": ("image/png", (".png",)),
    "zip": ("application/zip", (".zip",)),
}
OLE_TYPES = {".doc": "application/msword", ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint"}
ACCEPT_LABEL = "PDF、Word、Excel、PowerPoint、OFD、JPEG、PNG、ZIP"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    original_name: str
    is_new: bool  # this upload created the stored bytes


def sniff(head: bytes, path: Path) -> str | None:
    """The kind of file the bytes are, or None if not an allowed kind."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if "OFD.xml" in names:
            return "ofd"
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
            if any(n.startswith("ppt/") for n in names):
                return "pptx"
        return "zip"
    return None


def clean_original_name(name: str | None) -> str:
    """The name as the user gave it, kept exactly for display and download
    ("../", backslashes and Chinese included: it is never used as a path),
    minus what no file name can hold (control characters, bidi overrides
    that would make "x\u202egpj.exe" read as "xexe.jpg") and cut to 255
    characters, keeping the extension."""
    from .domain.text import clean_text

    name = clean_text(name or "", multiline=False)
    name = name.strip() or "未命名文件"
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 255 - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else name[:255]
    return name


def _root() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"])


def path_for(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256")
    return _root() / sha256[:2] / sha256[2:4] / sha256


def store(stream: BinaryIO, original_name: str | None, *, max_bytes: int | None = None) -> StoredFile:
    """Copy the upload to a temporary file while hashing it, check its kind
    and size, then move it into place under its hash."""
    name = clean_original_name(original_name)
    ext = os.path.splitext(name)[1].lower()
    if max_bytes is None:
        max_bytes = int(current_app.config.get("MAX_UPLOAD_MB", 50)) * 1024 * 1024
    root = _root()
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=root / "tmp", prefix="upload-")
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"文件超过大小上限 {max_bytes // (1024 * 1024)} MB", field_errors={"file": "文件过大"}
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError("文件是空的", field_errors={"file": "文件是空的"})
        with open(tmp_path, "rb") as f:
            head = f.read(16)
        kind = sniff(head, tmp_path)
        if kind is None:
            raise ValidationError(
                f"不支持的文件类型,仅可上传 {ACCEPT_LABEL} 文件", field_errors={"file": "不支持的文件类型"}
            )
        content_type, endings = ALLOWED_KINDS[kind]
        if ext not in endings:
            raise ValidationError(
                f"文件内容与扩展名“{ext or '(无)'}”不符,请检查文件", field_errors={"file": "文件内容与扩展名不符"}
            )
        if kind == "ole":
            content_type = OLE_TYPES.get(ext, content_type)
        sha = digest.hexdigest()
        final = path_for(sha)
        is_new = not final.exists()
        if is_new:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, final)
        return StoredFile(sha, size, content_type, name, is_new)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def discard(stored: StoredFile) -> None:
    """Remove bytes this upload created (its record was rolled back)."""
    if stored.is_new:
        try:
            path_for(stored.sha256).unlink()
        except FileNotFoundError:
            pass


def open_verified(sha256: str) -> Path:
    """The stored file's path, after checking its bytes still match the hash."""
    path = path_for(sha256)
    if not path.exists():
        raise FileNotFoundError(sha256)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise IntegrityError(sha256)
    return path


class IntegrityError(Exception):
    """The stored bytes no longer match their hash."""
