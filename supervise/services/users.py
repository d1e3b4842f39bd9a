"""Accounts, roles, passwords, API tokens and login (等保 身份鉴别 and 三权分立).

The rules of login security live here: the password policy, the password
history, lockout after repeated failures, the per-address limit on failed
logins, the TOTP second factor, and the separation of duties between the
administrator, the auditor and the working roles. Every session of a user
ends when their password, roles or lock change (`User.session_epoch`).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.passwords import is_common_password
from ..db import after_commit, has_write_intent, separate_write, session, utcnow
from ..errors import NotFound, ValidationError
from ..models import ApiToken, AuditEntry, PasswordHistory, Role, User, UserRole
from ..policy import Operator, authorize, authorize_account_roles, is_privileged, role_conflicts
from . import audit, notifications
from .units import find_unit

# One message for an unknown login, a wrong password, a locked or a disabled
# account: the answer must not tell an attacker which logins exist.
LOGIN_FAILED = "用户名或密码错误"

# An actor is a user account, or `policy.SYSTEM` for the operator at the
# server's shell (`flask user …`), which must be passed explicitly.
# 三权分立 and the exclusive roles are data beside the role map (policy).
Actor = User | Operator


def _tell_auditors(user: User, what: str, actor: Actor) -> None:
    """An in-app notice to every active auditor about a change of a
    privileged account."""
    auditors = session().scalars(
        select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == Role.AUDITOR, User.is_active)
    ).all()
    by = "服务器命令行" if isinstance(actor, Operator) else actor.login
    roles = "、".join(r.label for r in sorted(user.roles, key=lambda r: r.value)) or "无"
    notifications.notify(
        auditors, "security", f"特权账号变更:{user.login} {what}",
        body=f"账号 {user.login}({user.name},{user.unit.canonical_name},角色:{roles}){what};办理人:{by}。详见审计日志。",
        link="/audit/",
    )


@dataclass(frozen=True)
class LoginPolicy:
    password_min_length: int = 8
    password_history: int = 5
    max_failures: int = 5
    lock_minutes: int = 15
    rate_limit: int = 20
    rate_window_minutes: int = 10
    totp_enabled: bool = False
    totp_required_roles: frozenset[Role] = frozenset({Role.ADMIN, Role.COORDINATOR})
    totp_issuer: str = "督查督办系统"

    @classmethod
    def current(cls) -> LoginPolicy:
        """The policy configured for the running application."""
        from flask import current_app, has_app_context

        if not has_app_context():
            return cls()
        c = current_app.config
        return cls(
            password_min_length=c.get("PASSWORD_MIN_LENGTH", 8),
            password_history=c.get("PASSWORD_HISTORY", 5),
            max_failures=c.get("LOGIN_MAX_FAILURES", 5),
            lock_minutes=c.get("LOGIN_LOCK_MINUTES", 15),
            rate_limit=c.get("LOGIN_RATE_LIMIT", 20),
            rate_window_minutes=c.get("LOGIN_RATE_WINDOW_MINUTES", 10),
            totp_enabled=bool(c.get("TOTP_ENABLED", False)),
            totp_required_roles=frozenset(Role(r) for r in c.get("TOTP_REQUIRED_ROLES", ("admin", "coordinator"))),
            totp_issuer=c.get("TOTP_ISSUER", "督查督办系统"),
        )


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


# -- passwords --------------------------------------------------------------

def check_password_strength(password: str, login: str = "", policy: LoginPolicy | None = None) -> None:
    """At least 8 characters of three of the four classes (lower case, upper
    case, digits, other), and not the login itself."""
    policy = policy or LoginPolicy.current()
    password = password or ""

    def refuse(message: str) -> None:
        raise ValidationError(message, field_errors={"password": message})

    if len(password) < policy.password_min_length:
        refuse(f"密码至少 {policy.password_min_length} 位")
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        refuse("密码须包含大写字母、小写字母、数字、特殊字符中的至少三类")
    login = (login or "").strip().lower()
    if login and (login in password.lower() or password.lower() in login):
        refuse("密码不能包含登录名")
    if is_common_password(password):
        refuse("该密码属于常见弱口令,容易被猜中,请换一个")


def _recent_hashes(user: User, policy: LoginPolicy) -> list[str]:
    if user.id is None:
        return []
    rows = session().scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(policy.password_history)
    )
    return list(dict.fromkeys([user.password_hash, *rows]))


def _hash(password: str) -> str:
    from flask import current_app, has_app_context

    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


def _set_password(user: User, password: str, policy: LoginPolicy) -> None:
    check_password_strength(password, user.login, policy)
    if any(check_password_hash(h, password) for h in _recent_hashes(user, policy) if h):
        message = f"不能使用最近 {policy.password_history} 次用过的密码"
        raise ValidationError(message, field_errors={"new_password": message, "password": message})
    user.password_hash = _hash(password)
    user.password_changed_at = utcnow()
    sess = session()
    if user.id is None:
        sess.add(user)
        sess.flush()
    sess.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    sess.flush()
    # Only the last few are needed; older hashes are one more thing to leak.
    keep = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id).order_by(
        PasswordHistory.id.desc()
    ).limit(policy.password_history)
    sess.execute(
        delete(PasswordHistory).where(PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(keep.scalar_subquery()))
    )


def end_sessions(user: User) -> None:
    """Every session of the user ends at its next request, copied cookies too."""
    user.session_epoch = (user.session_epoch or 0) + 1


def change_password(user: User, current_password: str, new_password: str, policy: LoginPolicy | None = None) -> None:
    """The user changes their own password (and ends their other sessions)."""
    policy = policy or LoginPolicy.current()
    if not check_password_hash(user.password_hash, current_password or ""):
        raise ValidationError("当前密码不正确", field_errors={"current_password": "当前密码不正确"})
    try:
        _set_password(user, new_password, policy)
    except ValidationError as exc:
        raise ValidationError(exc.message, field_errors={"new_password": exc.message}) from None
    was_forced = user.must_change_password
    user.must_change_password = False
    end_sessions(user)
    audit.record(user, "password.change", obj=user, detail={"forced": was_forced})
    revoke_all_tokens(user, reason="password.change", actor=user)


def reset_password(user: User, new_password: str, *, actor: Actor) -> None:
    """An administrator sets a password; the user must change it at next login.
    `actor` SYSTEM is the command line on the server."""
    _check_admin_acts_on_other(actor, user)
    authorize_account_roles(actor, user.roles)
    _set_password(user, new_password, LoginPolicy.current())
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    end_sessions(user)
    audit.record(actor, "password.reset", obj=user, actor_login="cli", detail={"user": user.login})
    revoke_all_tokens(user, reason="password.reset", actor=actor)
    if is_privileged(user.roles):
        _tell_auditors(user, "的密码已被重置", actor)


# -- accounts and roles -----------------------------------------------------

def _check_duties(roles: Iterable[Role], field: str = "role") -> None:
    """三权分立, and roles that check each other's work on separate accounts
    (`policy.role_conflicts`)."""
    problems = role_conflicts(roles)
    if problems:
        message = ";".join(problems)
        raise ValidationError(message, field_errors={field: message})


def _check_admin_acts_on_other(actor: Actor, user: User | None) -> None:
    # None is refused here like any unauthorised caller: the command line
    # passes policy.SYSTEM, and says so.
    authorize(actor, "user.manage")
    if user is not None and user.id is not None and actor.id == user.id:
        raise ValidationError("不能为自己授予角色或重置密码,请由另一名系统管理员办理")


def create_user(
    login: str,
    *,
    unit_name: str,
    roles: Iterable[Role],
    password: str,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    actor: Actor,
    must_change_password: bool = False,
) -> User:
    """Create an account. A password an administrator sets is temporary: pass
    must_change_password=True (the web form and `flask user create` do)."""
    sess = session()
    _check_admin_acts_on_other(actor, None)
    login = (login or "").strip()
    if not login:
        raise ValidationError("登录名不能为空", field_errors={"login": "登录名不能为空"})
    if sess.scalar(select(User).where(User.login == login)):
        raise ValidationError(f"登录名“{login}”已存在", field_errors={"login": "登录名已存在"})
    unit = find_unit(unit_name)
    if unit is None:
        raise ValidationError(f"未找到单位“{unit_name}”", field_errors={"unit": "未找到该单位"})
    roles = list(dict.fromkeys(roles))
    _check_duties(roles, field="roles")
    authorize_account_roles(actor, roles)
    policy = LoginPolicy.current()
    check_password_strength(password, login, policy)
    user = User(
        login=login,
        name=name or login,
        unit=unit,
        email=email,
        phone=(phone or "").strip() or None,
        password_hash="",
        must_change_password=must_change_password,
    )
    for role in roles:
        user.role_grants.append(UserRole(role=role, granted_by_id=actor.id if actor else None))
    _set_password(user, password, policy)
    audit.record(
        actor,
        "user.create",
        obj=user,
        actor_login="" if actor else "cli",
        detail={"login": login, "unit": unit.canonical_name, "roles": sorted(r.value for r in user.roles)},
    )
    if is_privileged(user.roles):
        _tell_auditors(user, "已创建", actor)
    return user


def grant_role(user: User, role: Role, *, actor: Actor) -> None:
    """Give `user` a role. Nobody grants themselves one, and the result must
    keep administration, audit and the working roles apart."""
    _check_admin_acts_on_other(actor, user)
    if role in user.roles:
        return
    _check_duties([*user.roles, role])
    authorize_account_roles(actor, [*user.roles, role])
    user.role_grants.append(UserRole(role=role, granted_by_id=actor.id if actor else None))
    end_sessions(user)
    session().flush()
    audit.record(actor, "role.grant", obj=user, actor_login="cli", detail={"user": user.login, "role": role.value})
    revoke_all_tokens(user, reason="role.grant", actor=actor)
    if is_privileged([*user.roles, role]):
        _tell_auditors(user, f"被授予角色“{role.label}”", actor)


def revoke_role(user: User, role: Role, *, actor: Actor) -> None:
    _check_admin_acts_on_other(actor, user)
    grant = next((g for g in user.role_grants if g.role is role), None)
    if grant is None:
        return
    authorize_account_roles(actor, user.roles)
    if len(user.role_grants) == 1:
        raise ValidationError("每个账号至少保留一个角色;如需停用账号,请停用", field_errors={"role": "至少保留一个角色"})
    user.role_grants.remove(grant)
    end_sessions(user)
    session().flush()
    audit.record(actor, "role.revoke", obj=user, actor_login="cli", detail={"user": user.login, "role": role.value})
    revoke_all_tokens(user, reason="role.revoke", actor=actor)
    if is_privileged([*user.roles, role]):
        _tell_auditors(user, f"被收回角色“{role.label}”", actor)


def unlock_user(user: User, *, actor: Actor) -> None:
    _check_admin_acts_on_other(actor, user)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(actor, "user.unlock", obj=user, actor_login="cli", detail={"user": user.login})


def set_active(user: User, active: bool, *, actor: Actor) -> None:
    """停用 or 启用 an account. A disabled account cannot log in and its
    sessions and tokens stop working; its history stays."""
    _check_admin_acts_on_other(actor, user)
    if user.is_active == active:
        return
    user.is_active = active
    end_sessions(user)
    audit.record(actor, "user.enable" if active else "user.disable", obj=user, actor_login="cli",
                 detail={"user": user.login})
    if not active:
        revoke_all_tokens(user, reason="user.disable", actor=actor)
    if is_privileged(user.roles):
        _tell_auditors(user, "已启用" if active else "已停用", actor)


def update_profile(user: User, *, actor: Actor, name: str, unit_name: str | None, email: str | None,
                   phone: str | None) -> dict[str, tuple[Any, Any]]:
    """An administrator corrects a user's name, unit or contact details. An
    empty unit keeps the current one: the account moves only when a unit is
    chosen. Returns what changed, {field: (before, after)}; the audit row
    user.update carries the same before and after."""
    _check_admin_acts_on_other(actor, None)
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValidationError("请填写姓名(不超过 64 字)", field_errors={"name": "请填写姓名"})
    unit = find_unit(unit_name) if (unit_name or "").strip() else user.unit
    if unit is None:
        raise ValidationError(f"未找到单位“{unit_name}”", field_errors={"unit": "未找到该单位"})
    email = (email or "").strip() or None
    if email and ("@" not in email or len(email) > 255):
        raise ValidationError("电子邮箱格式不正确", field_errors={"email": "电子邮箱格式不正确"})
    phone = (phone or "").strip() or None
    before = {"name": user.name, "unit": user.unit.canonical_name, "email": user.email, "phone": user.phone}
    user.name, user.unit, user.email, user.phone = name, unit, email, phone
    after = {"name": name, "unit": unit.canonical_name, "email": email, "phone": phone}
    if before != after:
        if before["unit"] != after["unit"]:
            end_sessions(user)  # what the user may see depends on the unit
        audit.record(actor, "user.update", obj=user, actor_login="cli", detail={"before": before, "after": after})
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


def set_roles(user: User, roles: Iterable[Role], *, actor: Actor) -> tuple[list[Role], list[Role]]:
    """Give `user` exactly these roles (the checkboxes of 用户管理): grant the
    new ones, revoke the others, each audited as role.grant / role.revoke.
    Returns (granted, revoked)."""
    _check_admin_acts_on_other(actor, user)
    wanted = list(dict.fromkeys(roles))
    if not wanted:
        raise ValidationError("每个账号至少保留一个角色;如需停用账号,请停用", field_errors={"roles": "至少选择一个角色"})
    current = set(user.roles)
    _check_duties(wanted, field="roles")
    if set(wanted) != current:
        authorize_account_roles(actor, [*current, *wanted])
    granted = [r for r in wanted if r not in current]
    revoked = [r for r in Role if r in current and r not in wanted]
    for role in granted:
        user.role_grants.append(UserRole(role=role, granted_by_id=actor.id if actor else None))
    for role in revoked:
        user.role_grants.remove(next(g for g in user.role_grants if g.role is role))
    if granted or revoked:
        end_sessions(user)
        session().flush()
    for role in granted:
        audit.record(actor, "role.grant", obj=user, actor_login="cli", detail={"user": user.login, "role": role.value})
    for role in revoked:
        audit.record(actor, "role.revoke", obj=user, actor_login="cli", detail={"user": user.login, "role": role.value})
    if granted or revoked:
        revoke_all_tokens(user, reason="role.change", actor=actor)
        if is_privileged([*current, *wanted]):
            _tell_auditors(user, "的角色已变更", actor)
    return granted, revoked


def role_rule_breaches() -> list[tuple[User, list[str]]]:
    """Existing accounts whose roles break the separation rules (made
    before the rules, or by hand in the database), for `flask user check-roles`."""
    users = session().scalars(select(User).order_by(User.login))
    return [(user, problems) for user in users if (problems := role_conflicts(user.roles))]


def get_user(actor: Actor, user_id: int) -> User:
    """An account, for those who manage accounts."""
    authorize(actor, "user.manage")
    user = session().get(User, user_id)
    if user is None:
        raise NotFound("未找到该用户")
    return user


def get_user_by_login(login: str) -> User:
    user = session().scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFound(f"未找到用户“{login}”")
    return user


# -- login ------------------------------------------------------------------

_DUMMY_HASH: list[str] = []


def _burn_hash_time(password: str) -> None:
    # An unknown login costs as much time as a known one, so timing does not
    # reveal which logins exist.
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_hash(secrets.token_hex(8)))
    check_password_hash(_DUMMY_HASH[0], password or "")


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def login_throttled(ip: str | None, policy: LoginPolicy | None = None) -> bool:
    """Too many failed logins from this address lately (over all accounts).

    Counted from the audit trail rather than in process memory: every failure
    is audited anyway, the count holds across all gunicorn workers and
    restarts, and it costs one indexed query per login attempt."""
    policy = policy or LoginPolicy.current()
    if not ip or policy.rate_limit <= 0:
        return False
    since = utcnow() - timedelta(minutes=policy.rate_window_minutes)
    failures = session().scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "login.failed", AuditEntry.at >= since, AuditEntry.ip == ip
        )
    )
    return (failures or 0) >= policy.rate_limit


def record_throttled(login: str) -> None:
    audit.record(None, "login.throttled", actor_login=(login or "")[:64], detail={"login": (login or "")[:64]})


def _fail(user: User | None, login: str, reason: str, policy: LoginPolicy) -> None:
    audit.record(user, "login.failed", actor_login=(login or "")[:64], detail={"login": (login or "")[:64], "reason": reason})
    if user is None or reason in ("locked", "inactive"):
        return
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= policy.max_failures:
        user.failed_logins = 0
        user.locked_until = utcnow() + timedelta(minutes=policy.lock_minutes)
        end_sessions(user)
        audit.record(user, "login.locked", obj=user, detail={"minutes": policy.lock_minutes})
        revoke_all_tokens(user, reason="login.locked")


def check_credentials(login: str, password: str, policy: LoginPolicy | None = None) -> User | None:
    """The user if the password is right and the account open; None (and an
    audited failure) otherwise. The caller must commit either way."""
    policy = policy or LoginPolicy.current()
    login = (login or "").strip()
    # Lock the row: parallel wrong guesses must each count (PostgreSQL;
    # SQLite's BEGIN IMMEDIATE already serialises them).
    user = session().scalar(select(User).where(User.login == login).with_for_update(of=User))
    if user is None:
        _burn_hash_time(password)
        _fail(None, login, "unknown", policy)
        return None
    if not check_password_hash(user.password_hash, password or ""):
        _fail(user, login, "locked" if is_locked(user) else "password", policy)
        return None
    if is_locked(user):
        _fail(user, login, "locked", policy)
        return None
    if not user.is_active:
        _fail(user, login, "inactive", policy)
        return None
    return user


def record_login(user: User, *, second_factor: bool = False) -> None:
    user.failed_logins = 0
    user.last_login_at = utcnow()
    audit.record(user, "login", obj=user, detail={"totp": second_factor} if second_factor else None)


def authenticate(login: str, password: str) -> User | None:
    """Password-only login: the user, recorded as logged in, or None."""
    user = check_credentials(login, password)
    if user is not None:
        record_login(user)
    return user


def log_out(user: User) -> None:
    audit.record(user, "logout", obj=user)
    # Ends this session and any copy of its cookie.
    end_sessions(user)


# -- the TOTP second factor ---------------------------------------------------

def second_factor_step(user: User, policy: LoginPolicy | None = None) -> str | None:
    """"verify" when the user must give a code, "enrol" when they must first
    set up an authenticator, None when the password is enough."""
    policy = policy or LoginPolicy.current()
    if not policy.totp_enabled:
        return None
    if user.totp_secret:
        return "verify"
    if user.roles & policy.totp_required_roles:
        return "enrol"
    return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str, policy: LoginPolicy | None = None) -> str:
    policy = policy or LoginPolicy.current()
    return pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=policy.totp_issuer)


def _accepted_step(secret: str, code: str, after: int | None) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    # One step either side for clock drift; never a step already used.
    for step in (now_step - 1, now_step, now_step + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_second_factor(user: User, code: str, policy: LoginPolicy | None = None) -> bool:
    """Check a TOTP code at login; a wrong code counts as a failed login."""
    policy = policy or LoginPolicy.current()
    if is_locked(user) or not user.is_active or not user.totp_secret:
        _fail(user, user.login, "locked" if is_locked(user) else "totp", policy)
        return False
    step = _accepted_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        _fail(user, user.login, "totp", policy)
        return False
    user.totp_last_step = step
    return True


def enrol_totp(user: User, secret: str, code: str, policy: LoginPolicy | None = None) -> bool:
    """Store the authenticator's secret once the user proves it works."""
    policy = policy or LoginPolicy.current()
    step = _accepted_step(secret, code, None)
    if step is None or is_locked(user) or not user.is_active:
        _fail(user, user.login, "totp", policy)
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    end_sessions(user)
    audit.record(user, "totp.enrol", obj=user)
    return True


# -- API tokens -----------------------------------------------------------------

def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_api_token(user: User, *, label: str = "", actor: User | None = None) -> str:
    """A new bearer token; only its hash is stored, so it is shown once."""
    token = "sv_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user=user, token_hash=_token_digest(token), label=label[:64], created_at=now,
                   expires_at=now + timedelta(days=token_days()))
    session().add(row)
    session().flush()
    audit.record(actor or user, "token.issue", obj=row,
                 detail={"user": user.login, "label": label, "expires_at": row.expires_at.isoformat()})
    return token


def token_days() -> int:
    from flask import current_app, has_app_context

    return int(current_app.config.get("TOKEN_DAYS", 90)) if has_app_context() else 90


def revoke_all_tokens(user: User, *, reason: str, actor: Actor | None = None) -> int:
    """Every live token of the user stops working: their password, lock,
    status or roles changed, so what a token was issued under no longer
    holds. Returns how many were revoked (audited when any)."""
    now = utcnow()
    live = list(session().scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    )) if user.id is not None else []
    for row in live:
        row.revoked_at = now
    if live:
        audit.record(actor, "token.revoke_all", obj=user,
                     actor_login="cli" if isinstance(actor, Operator) else "system",
                     detail={"user": user.login, "reason": reason, "tokens": [row.id for row in live]})
    return len(live)


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


TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


# Every API call loads its token: with its user, the user's unit and roles in
# one statement (rather than three: the token, the user, the roles), prebuilt.
_TOKEN_WITH_USER = (
    select(ApiToken)
    .options(joinedload(ApiToken.user).joinedload(User.role_grants))
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)


def user_for_token(token: str) -> User | None:
    row = session().execute(_TOKEN_WITH_USER, {"digest": _token_digest(token)}).unique().scalar_one_or_none()
    now = utcnow()
    if row is None or not row.is_usable(now) or not row.user.is_active or is_locked(row.user):
        return None
    last = row.last_used_at
    if last is None or now - last > TOKEN_TOUCH_INTERVAL:
        # Recorded at most once a minute, and only for a request that
        # succeeds. A reading request (a GET) runs in a read transaction,
        # which must not become a writer half-way (on SQLite that upgrade
        # fails with "database is locked" under concurrent writers): it
        # records the use in a short transaction of its own once it committed.
        if has_write_intent():
            row.last_used_at = now
        else:
            token_id = row.id

            def touch() -> None:
                with separate_write() as sess:
                    sess.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))

            after_commit(touch)
    return row.user
