"""Small helpers shared by the page blueprints: today's date, service errors
shown next to form fields, and the download header."""
from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask_wtf import FlaskForm

from .. import db
from ..errors import DomainError


def show_errors(form: FlaskForm, exc: DomainError) -> None:
    """Put a service's error next to the field it concerns, or above the form.
    Rolls back first: whatever the failed action did is not kept, and the
    page is drawn from what is stored."""
    db.session.rollback()
    placed = False
    for key, message in exc.field_errors.items():
        field = form._fields.get(key)
        if field is not None:
            # One field at fault: the full message says more than the short one.
            field.errors = [*field.errors, exc.message if len(exc.field_errors) == 1 else message]
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


def content_disposition(name: str, fallback: str) -> str:
    """`attachment` with the original name as RFC 5987 `filename*` (UTF-8,
    Chinese kept exactly) and a plain-ASCII `filename` for old clients."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    plain = "".join(ch for ch in plain if ch.isalnum() or ch in "_-()").strip("_-") or fallback
    ext = "".join(ch for ch in ext if ch.isascii() and ch.isalnum())
    ascii_name = f"{plain}.{ext}" if ext else plain
    quoted = quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"
