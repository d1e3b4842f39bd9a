"""三权分立 and the audit trail: admin, auditor and working roles on separate
accounts, no self-granting, the admin kept out of the audit log and of
reviewing, the auditor read-only; `audit verify` finds an edited or deleted
row; `audit prune` never touches rows younger than 180 days."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from supervise.db import session, unit_of_work
from supervise.errors import PermissionDenied, ValidationError
from supervise.models import AuditEntry, Role, Task, User
from supervise.policy import ROLE_PERMISSIONS, SYSTEM, can
from supervise.services import audit
from supervise.services import users as user_service


def _fresh(user) -> User:
    session().rollback()
    session().expire_all()
    return session().get(User, user.id)


@pytest.mark.parametrize(
    "roles",
    [("admin", "coordinator"), ("admin", "auditor"), ("auditor", "leader"), ("auditor", "liaison"), ("admin", "liaison")],
)
def test_admin_auditor_and_working_roles_need_separate_accounts(make_user, roles):
    with pytest.raises(ValidationError, match="三权分立"):
        make_user(*roles)
    assert session().scalar(select(func.count(User.id))) == 0


def test_working_roles_may_be_combined(make_user):
    # Except those that check each other's work (tests/security/test_maker_checker.py).
    user = make_user("coordinator", "leader")
    assert user.roles == {Role.COORDINATOR, Role.LEADER}


def test_granting_roles(make_user):
    admin, other_admin = make_user("admin"), make_user("admin")
    liaison = make_user("liaison", unit="省经信厅")
    coordinator = make_user("coordinator")
    leader = make_user("leader")
    with unit_of_work():
        user_service.grant_role(_fresh(liaison), Role.LEADER, actor=_fresh(admin))
    assert _fresh(liaison).roles == {Role.LIAISON, Role.LEADER}
    refusals = [
        (liaison, Role.AUDITOR, admin, ValidationError),  # would mix duties
        (liaison, Role.ADMIN, admin, ValidationError),
        (admin, Role.COORDINATOR, other_admin, ValidationError),
        (liaison, Role.AUDITOR, None, ValidationError),  # on the server too
        (leader, Role.COORDINATOR, admin, PermissionDenied),  # privileged: only on the server (issue 9)
        (admin, Role.AUDITOR, admin, ValidationError),  # to oneself
        (coordinator, Role.LEADER, coordinator, PermissionDenied),  # to oneself, and not an admin
        (liaison, Role.COORDINATOR, coordinator, PermissionDenied),  # only admins grant
    ]
    for target, role, actor, error in refusals:
        with pytest.raises(error):
            with unit_of_work():
                user_service.grant_role(_fresh(target), role, actor=_fresh(actor) if actor else SYSTEM)
    assert _fresh(liaison).roles == {Role.LIAISON, Role.LEADER}
    assert _fresh(admin).roles == {Role.ADMIN}
    with unit_of_work():
        user_service.revoke_role(_fresh(liaison), Role.LEADER, actor=_fresh(other_admin))
    assert _fresh(liaison).roles == {Role.LIAISON}
    grants = session().scalars(select(AuditEntry.action).where(AuditEntry.action.like("role.%"))).all()
    assert grants == ["role.grant", "role.revoke"]


def test_admin_cannot_reset_their_own_password_through_the_admin_path(make_user):
    admin = make_user("admin")
    with pytest.raises(ValidationError):
        with unit_of_work():
            user_service.reset_password(_fresh(admin), "Other@2026x", actor=_fresh(admin))


def test_the_role_map_keeps_duties_apart():
    admin, auditor = ROLE_PERMISSIONS[Role.ADMIN], ROLE_PERMISSIONS[Role.AUDITOR]
    assert not admin & {"audit.view", "report.review", "report.view_all", "report.file", "task.assign_units"}
    # The auditor reads: the audit log, and the archive's list of issued 通报
    # with their hashes (to check the files, not to read them).
    assert auditor == {"audit.view", "report.archive"}
    for role in (Role.COORDINATOR, Role.LIAISON, Role.LEADER):
        assert not ROLE_PERMISSIONS[role] & {"audit.view", "user.manage"}


def test_admin_cannot_read_the_audit_log_nor_review(login_as, plan):
    client, admin = login_as("admin")
    assert client.get("/audit/").status_code == 403
    assert not can(admin, "report.review")
    task = session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == 1))
    lead = task.lead.unit_id
    assert client.post(f"/tasks/{task.id}", data={"action": "set_lead", "unit_id": lead + 1}).status_code == 403


def test_auditor_only_reads(login_as, plan):
    client, _ = login_as("auditor")
    assert client.get("/audit/").status_code == 200
    task = session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == 1))
    for method, url in [("get", "/admin/users"), ("get", f"/tasks/{task.id}"), ("post", f"/tasks/{task.id}")]:
        assert getattr(client, method)(url).status_code in (403, 404), url


def _some_history(make_user, n=5):
    user = _fresh(make_user("leader"))
    with unit_of_work():
        for i in range(n):
            audit.record(user, "test.event", reason=f"第{i}次", detail={"n": i, "text": "中文"})
    return list(session().scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def test_audit_verify_passes_on_an_intact_chain(app, make_user):
    ids = _some_history(make_user)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"共 {len(ids)} 条" in result.output


def _raw(sql: str, **params) -> None:
    from supervise.db import engine

    with engine().begin() as conn:
        if conn.dialect.name == "postgresql":
            # A superuser who switches the append-only trigger off: what
            # `audit verify` must still catch.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql), params)
    session().rollback()  # the CLI below runs in this test's app context: drop its snapshot


def test_audit_verify_finds_an_edited_row(app, make_user):
    ids = _some_history(make_user)
    _raw("UPDATE audit_entries SET reason = :r WHERE id = :id", r="改过了", id=ids[2])
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"#{ids[2]}: 记录内容被改动" in result.output


def test_audit_verify_finds_a_deleted_row(app, make_user):
    ids = _some_history(make_user)
    _raw("DELETE FROM audit_entries WHERE id = :id", id=ids[3])
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"#{ids[4]}: 前一条记录缺失" in result.output


def test_audit_verify_finds_a_row_rewritten_with_a_fresh_hash(app, make_user):
    # Editing a row and recomputing its own hash still breaks the next link.
    ids = _some_history(make_user)
    entry = session().get(AuditEntry, ids[1])
    entry_detail = dict(entry.detail)
    session().expunge(entry)
    entry.reason = "伪造"
    forged = audit._row_digest(entry)
    _raw("UPDATE audit_entries SET reason = '伪造', row_hash = :h WHERE id = :id", h=forged, id=ids[1])
    assert entry_detail["text"] == "中文"
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0 and f"#{ids[2]}: 前一条记录缺失" in result.output


def test_the_orm_refuses_to_change_audit_rows(make_user):
    ids = _some_history(make_user, 1)
    entry = session().get(AuditEntry, ids[-1])
    entry.reason = "changed"
    with pytest.raises(RuntimeError, match="append-only"):
        session().flush()
    session().rollback()


def test_prune_refuses_rows_younger_than_180_days(app, make_user):
    ids = _some_history(make_user)
    runner = app.test_cli_runner()
    for days in (0, 179):
        # --before is a date in Beijing time: from 16:00 UTC on, Beijing's
        # date is a day ahead of UTC's (counting in UTC made 179 days 180).
        day = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=days)).date().isoformat()
        result = runner.invoke(args=["audit", "prune", "--before", day])
        assert result.exit_code != 0 and "至少保留 180 天" in result.output
    app.config["AUDIT_RETENTION_DAYS"] = 30  # cannot be configured below 180
    result = runner.invoke(args=["audit", "prune", "--before", (datetime.now(timezone.utc) - timedelta(days=40)).date().isoformat()])
    assert result.exit_code != 0
    assert session().scalar(select(func.count(AuditEntry.id))) == len(ids)


def test_prune_archives_old_rows_and_the_chain_still_verifies(app, make_user, monkeypatch, tmp_path):
    long_ago = datetime.now(timezone.utc) - timedelta(days=400)
    monkeypatch.setattr(audit, "utcnow", lambda: long_ago)
    old = _some_history(make_user, 4)
    monkeypatch.undo()
    user = session().scalars(select(User)).first()
    with unit_of_work():
        audit.record(user, "test.recent")
    runner = app.test_cli_runner()
    cutoff = (datetime.now(timezone.utc) - timedelta(days=200)).date().isoformat()
    result = runner.invoke(args=["audit", "prune", "--before", cutoff])
    assert result.exit_code == 0, result.output
    session().rollback()
    remaining = session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert remaining == ["test.recent", "audit.prune"]
    archives = list((tmp_path / "archive").glob("audit-*.jsonl"))
    assert len(archives) == 1 and len(archives[0].read_text(encoding="utf-8").splitlines()) == len(old)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    # Removing the first remaining row is still found.
    first = session().scalar(select(func.min(AuditEntry.id)))
    _raw("DELETE FROM audit_entries WHERE id = :id", id=first)
    assert runner.invoke(args=["audit", "verify"]).exit_code != 0
