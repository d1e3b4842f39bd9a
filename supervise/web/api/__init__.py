"""The JSON API under /api/v1, on the same services and policy as the pages.
Authenticated with `Authorization: Bearer <token>`.

Each view is thin: load (404) -> authorize (403) -> validate (400) -> call a
service -> respond with a dict from `supervise.serialize`. Errors come back as
`{"error", "message"[, "fields"]}` from the handlers in `supervise.web`.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_login import current_user

from ...errors import ValidationError
from .. import MAX_INT

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _readable_chinese(state) -> None:
    # JSON is UTF-8: send Chinese as itself, not as \uXXXX escapes.
    state.app.json.ensure_ascii = False

# Endpoints anyone may read: the description of the API itself.
PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def _require_token():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return jsonify(error="unauthorized", message="需要有效的 API 令牌 (Authorization: Bearer …)"), 401
    return None


def json_body(*fields: str) -> dict[str, Any]:
    """The request's JSON object (an empty body counts as {}), with no field
    but `fields`: a misspelt field is refused rather than silently ignored."""
    if not request.get_data(cache=True):
        return {}
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ValidationError("请求体必须是 JSON 对象")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValidationError(
            f"未知字段:{'、'.join(unknown)};可用字段:{'、'.join(fields) or '(无)'}",
            field_errors={name: "未知字段" for name in unknown},
        )
    return data


def expected_version(body: dict[str, Any]) -> int | None:
    """The optional "version" the caller last saw, for the optimistic check."""
    value = body.get("version")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise ValidationError("version 必须是整数", field_errors={"version": "必须是整数"})
    return value


def int_field(body: dict[str, Any], name: str, label: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{label}({name})必须是整数", field_errors={name: "必须是整数"})
    if not -MAX_INT <= value <= MAX_INT:
        raise ValidationError(f"{label}({name})超出范围", field_errors={name: "超出范围"})
    return value


def int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"参数 {name} 必须是整数", field_errors={name: "必须是整数"}) from None
    if not -MAX_INT <= value <= MAX_INT:
        raise ValidationError(f"参数 {name} 超出范围", field_errors={name: "超出范围"})
    return value


from . import dashboard, lifecycle, me, openapi, reports, tasks  # noqa: E402,F401  (routes register on bp)
