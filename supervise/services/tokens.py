"""A user's own API tokens: list, issue, revoke (profile page and API)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..db import session
from ..errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from ..models import ApiToken, User
from ..policy import authorize
from .users import _token_digest, issue_api_token, revoke_api_token


BY_TOKEN_REFUSED = "API 令牌不能用来查看或创建令牌:请登录系统,在“个人设置”页面管理令牌"


def _refuse_token_authenticated(by_token: bool) -> None:
    # A stolen token must not be able to mint a longer-lived successor, nor
    # to list the others: only someone who logged in (password, and TOTP
    # where required) manages tokens.
    if by_token:
        raise PermissionDenied(BY_TOKEN_REFUSED)


def list_own_tokens(actor: User, *, by_token: bool = False) -> list[ApiToken]:
    authorize(actor, "token.manage")
    _refuse_token_authenticated(by_token)
    return list(session().scalars(select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id.desc())))


def issue_own_token(actor: User, label: Any = "", *, by_token: bool = False) -> tuple[ApiToken, str]:
    """A new token for the caller; the secret is returned once and only its
    hash is kept."""
    authorize(actor, "token.manage")
    _refuse_token_authenticated(by_token)
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
