"""Maker-checker (审核与经办分离): nobody decides on what they created, edited
or submitted; a unit's liaison and a coordinator are separate accounts; and
`flask user check-roles` lists the accounts made before the rule that break it.

Such an account can only exist from before the rule (or from SQL by hand), so
the tests make it the way it was made then: a role row added directly."""
from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.errors import PermissionDenied, ValidationError
from supervise.evidence_store import store
from supervise.models import ExtensionState, MilestoneState, ReportState, Role, TaskState, User, UserRole
from supervise.policy import EXCLUSIVE_ROLES, MAKER_CHECKER_DENIED, SYSTEM, can, made_by, role_conflicts
from supervise.services import reports as report_service
from supervise.services import tasks as task_service
from supervise.services import users as user_service

from ..conftest import login
from ..factories import PDF_BYTES, file_report, make_cast, task_by_number


def _fresh(user: User) -> User:
    session().rollback()
    session().expire_all()
    return session().get(User, user.id)


def _legacy_dual(make_user, unit: str = "省经信厅", login_name: str = "dual") -> User:
    """A liaison of `unit` who is also a coordinator, as accounts were made before the rule."""
    user = make_user("liaison", unit=unit, login=login_name)
    with unit_of_work():
        session().add(UserRole(user_id=user.id, role=Role.COORDINATOR))
    return _fresh(user)


# --- exclusive roles -------------------------------------------------------------------


def test_the_exclusive_roles_are_data_beside_the_role_map():
    assert frozenset({Role.LIAISON, Role.COORDINATOR}) in EXCLUSIVE_ROLES
    assert role_conflicts({Role.LIAISON, Role.COORDINATOR})
    assert role_conflicts({Role.LIAISON, Role.LEADER}) == []


def test_working_roles_that_do_not_check_each_other_may_be_combined(make_user):
    user = make_user("liaison", "leader", unit="省经信厅")
    assert user.roles == {Role.LIAISON, Role.LEADER}


def test_a_liaison_cannot_also_be_a_coordinator(make_user):
    with pytest.raises(ValidationError, match="审核与经办分离"):
        make_user("coordinator", "liaison")
    admin = make_user("admin")
    liaison = make_user("liaison", unit="省经信厅")
    coordinator = make_user("coordinator")
    for target, role in ((liaison, Role.COORDINATOR), (coordinator, Role.LIAISON)):
        with pytest.raises(ValidationError, match="审核与经办分离"):
            with unit_of_work():
                user_service.grant_role(_fresh(target), role, actor=_fresh(admin))
        with pytest.raises(ValidationError, match="审核与经办分离"):
            with unit_of_work():
                user_service.grant_role(_fresh(target), role, actor=SYSTEM)
    assert _fresh(liaison).roles == {Role.LIAISON}
    assert _fresh(coordinator).roles == {Role.COORDINATOR}


def test_the_admin_page_refuses_the_combination(login_as, make_user):
    client, _ = login_as("admin")
    liaison = make_user("liaison", unit="省经信厅")
    response = client.post(f"/admin/users/{liaison.id}/roles", data={"roles": ["liaison", "coordinator"]})
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert "审核与经办分离" in response.get_data(as_text=True)
    assert _fresh(liaison).roles == {Role.LIAISON}


def test_check_roles_lists_the_accounts_that_break_the_rule(app, make_user):
    make_user("liaison", unit="省经信厅", login="plain_liaison")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "check-roles"])
    assert result.exit_code == 0, result.output
    assert "所有账号均符合" in result.output
    _legacy_dual(make_user, login_name="old_dual")
    result = runner.invoke(args=["user", "check-roles"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("old_dual")]
    assert len(lines) == 1 and "审核与经办分离" in lines[0] and "plain_liaison" not in result.output


def test_no_demo_account_breaks_the_rule():
    import json
    from pathlib import Path

    accounts = json.loads((Path(__file__).resolve().parents[2] / "seed" / "demo_accounts.json").read_text("utf-8"))
    for account in accounts:
        assert role_conflicts(Role(r) for r in account["roles"]) == [], account["login"]


# --- reports ----------------------------------------------------------------------------


def test_the_submitter_of_a_report_cannot_approve_or_return_it(plan, make_user):
    task = task_by_number(plan, 1)  # 省经信厅 leads
    dual = _legacy_dual(make_user)
    other = make_user("coordinator", login="other_coord")
    report = file_report(dual, task, submit=True)
    for service, args in ((report_service.approve_report, ()), (report_service.return_report, ("请补充",)),):
        with pytest.raises(PermissionDenied) as refused:
            with unit_of_work():
                service(_fresh(dual), session().get(type(report), report.id), *args)
        assert refused.value.message == MAKER_CHECKER_DENIED
    assert session().get(type(report), report.id).state is ReportState.SUBMITTED
    with unit_of_work():
        report_service.approve_report(_fresh(other), session().get(type(report), report.id))
    assert session().get(type(report), report.id).state is ReportState.APPROVED
    # ... nor reopen it afterwards.
    with pytest.raises(PermissionDenied):
        with unit_of_work():
            report_service.reopen_report(_fresh(dual), session().get(type(report), report.id), "再看看")


def test_who_only_edited_a_report_cannot_decide_on_it(plan, make_user):
    task = task_by_number(plan, 1)
    author = make_user("liaison", unit="省经信厅", login="author")
    dual = _legacy_dual(make_user)
    report = file_report(author, task)
    with unit_of_work():
        report_service.update_report(_fresh(dual), session().get(type(report), report.id), text="改了一句")
    with unit_of_work():
        report_service.submit_report(_fresh(author), session().get(type(report), report.id))
    current = session().get(type(report), report.id)
    assert made_by(_fresh(dual), current) and not made_by(make_user("coordinator"), current)
    with pytest.raises(PermissionDenied, match="审核与经办分离"):
        with unit_of_work():
            report_service.approve_report(_fresh(dual), session().get(type(report), report.id))


def test_who_uploaded_evidence_to_a_report_cannot_decide_on_it(plan, make_user):
    task = task_by_number(plan, 1)
    author = make_user("liaison", unit="省经信厅", login="author")
    dual = _legacy_dual(make_user)
    report = file_report(author, task)
    with unit_of_work():
        report_service.attach_evidence(_fresh(dual), session().get(type(report), report.id),
                                       store(io.BytesIO(PDF_BYTES), "台账.pdf"))
    with unit_of_work():
        report_service.submit_report(_fresh(author), session().get(type(report), report.id))
    assert not can(_fresh(dual), "report.review", session().get(type(report), report.id))


def test_a_contribution_cannot_be_accepted_by_who_filed_it(plan, people):
    """A liaison moved from a co-unit to the lead unit meets their own contribution."""
    cast = make_cast(plan, people)
    contribution = file_report(cast.co, cast.task, submit=True)
    admin = cast.admin
    with unit_of_work():
        user_service.update_profile(_fresh(cast.co), actor=_fresh(admin), name="调任", unit_name="省经信厅",
                                    email=None, phone=None)
    moved = _fresh(cast.co)
    for service, args in ((report_service.accept_contribution, ()), (report_service.return_report, ("请补充",))):
        with pytest.raises(PermissionDenied, match="审核与经办分离"):
            with unit_of_work():
                service(_fresh(moved), session().get(type(contribution), contribution.id), *args)
    with unit_of_work():
        report_service.accept_contribution(_fresh(cast.lead), session().get(type(contribution), contribution.id))
    assert session().get(type(contribution), contribution.id).state is ReportState.ACCEPTED


def test_the_report_page_says_why_and_the_action_is_refused(app, plan, make_user):
    task = task_by_number(plan, 1)
    dual = _legacy_dual(make_user)
    report = file_report(dual, task, submit=True)
    client = app.test_client()
    login(client, dual)
    html = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert MAKER_CHECKER_DENIED in html and f'/reports/{report.id}/approve' not in html
    response = client.post(f"/reports/{report.id}/approve", data={"version": report.version})
    assert response.status_code == 403
    assert MAKER_CHECKER_DENIED in response.get_data(as_text=True)
    response = client.post(f"/reports/{report.id}/return", data={"return-version": report.version,
                                                                 "return-reason": "不行"})
    assert response.status_code == 403
    assert session().get(type(report), report.id).state is ReportState.SUBMITTED


def test_the_api_refuses_with_a_json_error(app, plan, make_user):
    from supervise.services.users import issue_api_token

    task = task_by_number(plan, 1)
    dual = _legacy_dual(make_user)
    report = file_report(dual, task, submit=True)
    with unit_of_work():
        token = issue_api_token(_fresh(dual))
    response = app.test_client().post(f"/api/v1/reports/{report.id}/approve", json={"version": report.version},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json() == {"error": "forbidden", "message": MAKER_CHECKER_DENIED}
    assert session().get(type(report), report.id).state is ReportState.SUBMITTED


# --- milestones, closing, extensions --------------------------------------------------------


def _upload_to(actor, target):
    with unit_of_work():
        return report_service.attach_evidence(actor, target, store(io.BytesIO(PDF_BYTES), "节点.pdf"))


def test_milestones_are_confirmed_and_accepted_by_someone_else(plan, make_user):
    task = task_by_number(plan, 1)
    dual = _legacy_dual(make_user)
    coordinator = make_user("coordinator", login="other_coord")
    with unit_of_work():
        milestone = task_service.propose_milestone(_fresh(dual), session().merge(task), "平台上线", date(2027, 6, 30))
    mid = milestone.id

    def fresh_milestone():
        return task_service.get_milestone(_fresh(coordinator), mid)

    with pytest.raises(PermissionDenied, match="审核与经办分离"):
        with unit_of_work():
            task_service.confirm_milestone(_fresh(dual), fresh_milestone())
    with unit_of_work():
        task_service.confirm_milestone(_fresh(coordinator), fresh_milestone())
    # A liaison of the lead unit claims it done; the dual account only uploaded the evidence.
    lead = make_user("liaison", unit="省经信厅", login="lead2")
    _upload_to(_fresh(dual), fresh_milestone())
    with unit_of_work():
        task_service.mark_milestone_done(_fresh(lead), fresh_milestone(), "已完成")
    with pytest.raises(PermissionDenied, match="审核与经办分离"):
        with unit_of_work():
            task_service.decide_milestone(_fresh(dual), fresh_milestone(), True)
    with unit_of_work():
        task_service.decide_milestone(_fresh(coordinator), fresh_milestone(), True)
    assert fresh_milestone().state is MilestoneState.COMPLETED


def test_close_and_extension_are_decided_by_someone_else(app, plan, make_user):
    task = task_by_number(plan, 1)
    dual = _legacy_dual(make_user)
    coordinator = make_user("coordinator", login="other_coord")
    lead = make_user("liaison", unit="省经信厅", login="lead2")
    with unit_of_work():
        extension = task_service.request_extension(_fresh(dual), session().merge(task), date(2028, 6, 30), "受疫情影响",
                                                   today=date(2026, 1, 5))
    client = app.test_client()
    login(client, dual)
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert f"/extensions/{extension.id}/decide" not in html
    response = client.post(f"/extensions/{extension.id}/decide",
                           data={f"ext{extension.id}-version": task.version, f"ext{extension.id}-agree": "y"})
    assert response.status_code == 403 and MAKER_CHECKER_DENIED in response.get_data(as_text=True)
    with pytest.raises(PermissionDenied, match="审核与经办分离"):
        with unit_of_work():
            task_service.decide_extension(_fresh(dual), task_service.get_extension(_fresh(dual), extension.id), True)
    with unit_of_work():
        task_service.decide_extension(_fresh(coordinator), task_service.get_extension(_fresh(coordinator), extension.id),
                                      False, "理由不足")
    assert task_service.get_extension(_fresh(coordinator), extension.id).state is ExtensionState.REFUSED

    # The task must be under way before it can be closed: another liaison's report starts it.
    file_report(lead, task, submit=True)
    current = session().merge(task_by_number(plan, 1))
    _upload_to(_fresh(lead), current)
    with unit_of_work():
        task_service.request_close(_fresh(dual), session().merge(task_by_number(plan, 1)), "已全部完成")
    with pytest.raises(PermissionDenied, match="审核与经办分离"):
        with unit_of_work():
            task_service.decide_close(_fresh(dual), session().merge(task_by_number(plan, 1)), True)
    assert task_by_number(plan, 1).state is TaskState.CLOSING_REQUESTED
    # Uploading the evidence for closing is making the request too.
    assert made_by(_fresh(lead), task_by_number(plan, 1))
    with unit_of_work():
        task_service.decide_close(_fresh(coordinator), session().merge(task_by_number(plan, 1)), True)
    assert task_by_number(plan, 1).state is TaskState.CLOSED
    assert session().scalar(select(User).where(User.login == "dual")).roles == {Role.LIAISON, Role.COORDINATOR}
