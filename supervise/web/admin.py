"""Administration of users and units (系统管理员)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from .. import db
from ..models import User
from ..policy import authorize

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
def users():
    authorize(current_user, "user.manage")
    rows = list(db.session.scalars(select(User).order_by(User.unit_id, User.login)))
    return render_template("admin/users.html", users=rows)
