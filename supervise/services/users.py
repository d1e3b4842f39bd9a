"""Accounts, roles, passwords, API tokens and login."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..db import session, utcnow
from ..errors import NotFound, ValidationError
from ..models import ApiToken, Role, User, UserRole
from . import audit
from .units import find_unit

LOGIN_FAILED = "用户名或密码错误"


def parse_roles(names: Iterable[str]) -> list[Role]:
    roles = []
    for name in names:
        try:
            roles.append(Role(name.strip().lower()))
        except ValueError:
            valid = "、".join(r.value for r in Role)
            raise ValidationError(f"未知角色“{name}”,可选:{valid}", field_errors={"role": "未知角色"}) from None
    if not roles:
        raise ValidationError("至少需要一个角色", field_errors={"role": "至少需要一个角色"})
    return roles


def check_password_strength(password: str, login: str = "") -> None:
    if len(password) < 8:
        raise ValidationError("密码至少 8 位", field_errors={"password": "密码至少 8 位"})


def create_user(
    login: str,
    *,
    unit_name: str,
    roles: Iterable[Role],
    password: str,
    name: str | None = None,
    email: str | None = None,
    actor: User | None = None,
    must_change_password: bool = False,
) -> User:
    sess = session()
    login = (login or "").strip()
    if not login:
        raise ValidationError("登录名不能为空", field_errors={"login": "登录名不能为空"})
    if sess.scalar(select(User).where(User.login == login)):
        raise ValidationError(f"登录名“{login}”已存在", field_errors={"login": "登录名已存在"})
    unit = find_unit(unit_name)
    if unit is None:
        raise ValidationError(f"未找到单位“{unit_name}”", field_errors={"unit": "未找到该单位"})
    check_password_strength(password, login)
    user = User(
        login=login,
        name=name or login,
        unit=unit,
        email=email,
        password_hash=generate_password_hash(password),
        password_changed_at=utcnow(),
        must_change_password=must_change_password,
    )
    for role in dict.fromkeys(roles):
        user.role_grants.append(UserRole(role=role, granted_by_id=actor.id if actor else None))
    sess.add(user)
    sess.flush()
    audit.record(
        actor,
        "user.create",
        obj=user,
        detail={"login": login, "unit": unit.canonical_name, "roles": sorted(r.value for r in user.roles)},
    )
    return user


def get_user_by_login(login: str) -> User:
    user = session().scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFound(f"未找到用户“{login}”")
    return user


def authenticate(login: str, password: str) -> User | None:
    """The user if login and password match an active account; audited."""
    user = session().scalar(select(User).where(User.login == (login or "").strip()))
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password or ""):
        audit.record(user if user else None, "login.failed", actor_login=(login or "")[:64],
                     detail={"login": (login or "")[:64]})
        return None
    user.last_login_at = utcnow()
    audit.record(user, "login", obj=user)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_api_token(user: User, *, label: str = "", actor: User | None = None) -> str:
    """A new bearer token; only its hash is stored, so it is shown once."""
    token = "sv_" + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=_token_digest(token), label=label[:64])
    session().add(row)
    session().flush()
    audit.record(actor or user, "token.issue", obj=row, detail={"user": user.login, "label": label})
    return token


def revoke_api_token(token_row: ApiToken, *, actor: User) -> None:
    if token_row.revoked_at is not None:
        return  # revoked once is revoked; the first time stays on record
    token_row.revoked_at = utcnow()
    audit.record(actor, "token.revoke", obj=token_row, detail={"user": token_row.user.login})


def set_channel_preferences(user: User, *, wants_email: bool, wants_webhook: bool) -> None:
    """The channels besides in-app on which the user wants reminders."""
    before = {"wants_email": user.wants_email, "wants_webhook": user.wants_webhook}
    after = {"wants_email": bool(wants_email), "wants_webhook": bool(wants_webhook)}
    if before == after:
        return
    user.wants_email, user.wants_webhook = after["wants_email"], after["wants_webhook"]
    session().flush()
    audit.record(user, "user.preferences", obj=user, detail={"before": before, "after": after})


def user_for_token(token: str) -> User | None:
    row = session().scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = utcnow()
    return row.user
