"""The JSON API under /api/v1, on the same services and policy as the pages.
Authenticated with `Authorization: Bearer <token>`."""
from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from ...policy import authorize
from ...serialize import plan_dict
from ...services import plans as plan_service

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _require_token():
    if not current_user.is_authenticated:
        return jsonify(error="unauthorized", message="需要有效的 API 令牌 (Authorization: Bearer …)"), 401
    return None


@bp.get("/plans")
def plans():
    authorize(current_user, "plan.view")
    return jsonify([plan_dict(p) for p in plan_service.list_plans(current_user)])
