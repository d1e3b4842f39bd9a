"""A user's own API tokens: list, issue, revoke (profile page and API)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import session
from ..errors import InvalidTransition, NotFound, ValidationError
from ..models import ApiToken, User
from ..policy import authorize
from .users import _token_digest, issue_api_token, revoke_api_token


def list_own_tokens(actor: User) -> list[ApiToken]:
    authorize(actor, "token.manage")
    return list(session().scalars(select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())))


def issue_own_token(actor: User, label: Any = "") -> tuple[ApiToken, str]:
    """A new token for the caller; the secret is returned once and only its
    hash is kept."""
    authorize(actor, "token.manage")
    if label is None:
        label = ""
    if not isinstance(label, str):
        raise ValidationError("令牌名称必须是文字", field_errors={"label": "必须是文字"})
    label = label.strip()
    if len(label) > 64:
        raise ValidationError("令牌名称不能超过 64 个字符", field_errors={"label": "内容过长"})
    secret = issue_api_token(actor, label=label, actor=actor)
    row = session().scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(secret)))
    assert row is not None
    return row, secret


def get_own_token(actor: User, token_id: int) -> ApiToken:
    token = session().get(ApiToken, token_id)
    if token is None:
        raise NotFound("未找到该令牌")
    # Whether another user's token exists is private: 404, not 403.
    authorize(actor, "token.manage", token, hide=True)
    return token


def revoke_own_token(actor: User, token_id: int) -> ApiToken:
    token = get_own_token(actor, token_id)
    if token.revoked_at is not None:
        raise InvalidTransition("该令牌已撤销")
    revoke_api_token(token, actor=actor)
    session().flush()
    return token
