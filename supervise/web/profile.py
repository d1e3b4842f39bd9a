"""The user's own page (个人设置): reminder channels and API tokens."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select

from .. import db
from ..serialize import token_state
from ..errors import ValidationError
from ..models import ApiToken
from ..policy import authorize, can
from ..services import tokens as token_service
from ..services import users as user_service
from . import acting_user
from .forms import PlainForm, PreferencesForm, TokenForm

bp = Blueprint("profile", __name__)


def _page(*, status: int = 200, new_token: str | None = None, token_form: TokenForm | None = None,
          preferences_form: PreferencesForm | None = None):
    user = acting_user()
    tokens = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))
    return render_template(
        "profile/index.html",
        user=user,
        tokens=tokens,
        token_states={t.id: token_state(t) for t in tokens},
        token_days=user_service.token_days(),
        new_token=new_token,
        may_manage_tokens=can(user, "token.manage"),
        token_form=token_form or TokenForm(formdata=None),
        preferences_form=preferences_form
        or PreferencesForm(formdata=None, data={"wants_email": user.wants_email, "wants_webhook": user.wants_webhook}),
        revoke_form=PlainForm(formdata=None),
    ), status


@bp.get("/profile")
def index():
    return _page()


@bp.post("/profile/preferences")
def preferences():
    user = acting_user()
    form = PreferencesForm()
    if not form.validate_on_submit():
        return _page(status=400, preferences_form=form)
    user_service.set_channel_preferences(user, wants_email=form.wants_email.data, wants_webhook=form.wants_webhook.data)
    flash("提醒方式已保存", "success")
    return redirect(url_for(".index"))


@bp.post("/profile/tokens")
def create_token():
    user = acting_user()
    authorize(user, "token.manage")
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(status=400, token_form=form)
    token = user_service.issue_api_token(user, label=form.label.data.strip())
    # Only its hash is stored: this page is the one chance to copy it.
    return _page(new_token=token)


@bp.post("/profile/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    user = acting_user()
    row = token_service.get_own_token(user, token_id)
    if not PlainForm().validate_on_submit():
        raise ValidationError("页面已过期,请刷新后重试")
    user_service.revoke_api_token(row, actor=user)
    flash(f"令牌“{row.label}”已吊销", "success")
    return redirect(url_for(".index"))
