"""The read model of one report (a lead unit's report or a co-unit's
contribution), as one user sees it: its due date, values, versions, the
contributions it cites, its history, and what this user may do to it now.

Built once here and rendered twice: by the report page (web/reports.py,
templates/reports/report.html) and by the JSON API (/api/v1/reports/{id} and
every answer that returns a report). The views only format it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..db import session
from ..domain.obligations import contribution_due_on
from ..domain.workdays import WorkdayCalendar
from ..models import AuditEntry, Evidence, Report, ReportKind, ReportState, ReportVersion, Task, User
from ..policy import MAKER_CHECKER_DENIED, can, review_action, visible_reports, why_not
from ..workflow import allowed_actions
from .reports import get_report, included_contributions, lead_report_for, suggested_values
from .task_view import WITH_UPLOADER, load_people

# What a user may do to a report, as the view names them (workflow actions).
REPORT_ACTIONS = ("edit", "submit", "accept", "approve", "return", "reopen")


@dataclass(frozen=True)
class ReportView:
    report: Report
    task: Task
    due_on: date  # the lead's report: the period's due date; a contribution: earlier
    actions: frozenset[str]  # of REPORT_ACTIONS, what this user may do now
    may_edit: bool  # the user's unit files it and it is open for editing
    may_review: bool  # the user decides on it (督办员 for reports, the lead unit for contributions)
    values: dict[int, Decimal]  # target id -> value
    versions: tuple[ReportVersion, ...]
    submitted_evidence: frozenset[int]  # files that went out with a submitted version
    history: tuple[AuditEntry, ...]
    contributions: tuple[Report, ...]  # a lead report: the co-units' contributions this user may see
    included: tuple[Report, ...]  # a lead report: the contributions it cites
    suggestions: Any  # a lead report: what the co-units reported per target (services.reports.suggested_values)
    cited_evidence: tuple[tuple[Report, tuple[Evidence, ...]], ...]
    lead_report: Report | None  # a contribution, for whoever reviews it: the lead's report of the period
    # Why a user who would decide on it may not: they made it (maker-checker).
    review_note: str | None = None

    @property
    def is_lead_report(self) -> bool:
        return self.report.kind is ReportKind.LEAD_REPORT

    @property
    def workflow_actions(self) -> list[str]:
        return allowed_actions(self.report)


def report_view(user: User, report_id: int, *, calendar: WorkdayCalendar | None = None) -> ReportView:
    """The report `report_id` as `user` sees it (404 if they may not)."""
    report = get_report(user, report_id)
    sess = session()
    # The versions and files with who submitted or uploaded them, who
    # decided, and the report's unit: loaded together rather than each on
    # first mention (then whether a unit or person is already in the
    # session would change the number of statements).
    sess.execute(select(Report).where(Report.id == report.id).options(
        selectinload(Report.versions).options(joinedload(ReportVersion.submitted_by).lazyload(User.role_grants)),
        selectinload(Report.evidence).options(WITH_UPLOADER),
        joinedload(Report.decided_by).lazyload(User.role_grants),
        joinedload(Report.unit),
    )).all()
    calendar = calendar or WorkdayCalendar.load(sess)
    is_lead_report = report.kind is ReportKind.LEAD_REPORT
    due_on = report.period.due_on if is_lead_report else contribution_due_on(report.period, calendar)
    workflow_actions = set(allowed_actions(report))
    may_edit = can(user, "report.file", report) and "edit" in workflow_actions
    review_refused = why_not(user, review_action(report, "return"), report)
    may_review = review_refused is None
    actions = set()
    if can(user, "report.file", report):
        actions |= workflow_actions & {"edit", "submit"}
    if may_review:
        actions |= workflow_actions & {"accept", "approve", "return", "reopen"}

    contributions: tuple[Report, ...] = ()
    included: tuple[Report, ...] = ()
    suggestions = None
    cited_evidence: tuple = ()
    lead_report = None
    if is_lead_report:
        contributions = tuple(sess.scalars(
            select(Report)
            .where(Report.task_id == report.task_id, Report.period_id == report.period_id,
                   Report.kind == ReportKind.CONTRIBUTION, visible_reports(user))
            .order_by(Report.unit_id)
        ))
        included = tuple(included_contributions(report))
        # What the co-units reported, per target, and their sum: offered to
        # the lead as a suggestion (the lead decides the figure).
        suggestions = suggested_values(report, list(included) or [
            c for c in contributions if c.state is ReportState.ACCEPTED])
        cited_evidence = tuple((c, tuple(c.evidence)) for c in included if c.evidence)
    elif may_review:
        lead_report = lead_report_for(report)

    return ReportView(
        report=report,
        task=report.task,
        due_on=due_on,
        actions=frozenset(actions),
        may_edit=may_edit,
        may_review=may_review,
        review_note=review_refused if review_refused == MAKER_CHECKER_DENIED else None,
        values={v.target_id: v.value for v in report.values},
        versions=tuple(report.versions),
        submitted_evidence=frozenset(i for v in report.versions for i in v.snapshot.get("evidence", [])),
        history=tuple(load_people(sess.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "reports", AuditEntry.object_id == report.id)
            .order_by(AuditEntry.id)
        ).all())),
        contributions=contributions,
        included=included,
        suggestions=suggestions,
        cited_evidence=cited_evidence,
        lead_report=lead_report,
    )
