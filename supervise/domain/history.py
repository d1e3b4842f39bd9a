"""The data as it stood at a moment (`report export --as-of DATE`): the state
of each report, task and milestone then, and the text and values of the last
version submitted by then. Versions submitted and decisions taken later are
left out.

Read from what is never rewritten: the submitted versions (kept unchanged)
and the append-only audit trail, where every transition leaves a row with
its time and the state it led to. A row made without a transition on record
(data loaded by hand) is taken as it is now, if it existed then."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditEntry,
    Milestone,
    MilestoneState,
    Report,
    ReportKind,
    ReportState,
    ReportVersion,
    Task,
    TaskState,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def end_of_day(day: date) -> datetime:
    """The first instant after `day` ends in Asia/Shanghai, in UTC."""
    return datetime.combine(day + timedelta(days=1), time.min, SHANGHAI).astimezone(timezone.utc)


def _utc(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite hands some timestamps back as text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class ReportThen:
    """A report as it stood at the moment: what the 通报 and the ledger read."""

    id: int
    task_id: int
    period_id: int
    unit_id: int
    kind: ReportKind
    state: ReportState
    text: str
    values: dict[int, Decimal]
    included: list[int]
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    return_reason: str | None
    returned_at: datetime | None


@dataclass
class History:
    moment: datetime  # exclusive: everything strictly before it counts
    reports: dict[int, ReportThen] = field(default_factory=dict)  # existing then, by id
    task_states: dict[int, TaskState] = field(default_factory=dict)  # tasks whose state changed by then

    def report(self, report: Report | None) -> ReportThen | None:
        return None if report is None else self.reports.get(report.id)

    def task_state(self, task: Task) -> TaskState:
        return self.task_states.get(task.id, TaskState.NOT_STARTED)


def _transitions(session: Session, object_type: str, ids: list[int], moment: datetime) -> dict[int, list[AuditEntry]]:
    if not ids:
        return {}
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id.in_(ids),
               AuditEntry.to_state.is_not(None), AuditEntry.at < moment)
        .order_by(AuditEntry.id)
    )
    result: dict[int, list[AuditEntry]] = {}
    for row in rows:
        result.setdefault(row.object_id, []).append(row)
    return result


def _as_it_is(report: Report, moment: datetime) -> ReportThen:
    """A report with no transition on record, taken as it is now."""
    return ReportThen(
        id=report.id, task_id=report.task_id, period_id=report.period_id, unit_id=report.unit_id,
        kind=report.kind, state=report.state, text=report.text, values={v.target_id: v.value for v in report.values},
        included=[], first_submitted_at=_utc(report.first_submitted_at), submitted_at=_utc(report.submitted_at),
        return_reason=report.return_reason, returned_at=_utc(report.returned_at),
    )


def history_at(session: Session, day: date, *, period_ids: list[int], tasks: list[Task]) -> History:
    """The reports of the periods and the states of the tasks as they stood
    at the end of `day` (Asia/Shanghai). A fixed number of statements."""
    moment = end_of_day(day)
    history = History(moment)
    reports = list(session.scalars(select(Report).where(Report.period_id.in_(period_ids))))
    ids = [r.id for r in reports]
    transitions = _transitions(session, "reports", ids, moment)
    versions: dict[int, list[ReportVersion]] = {}
    if ids:
        for version in session.scalars(
            select(ReportVersion).where(ReportVersion.report_id.in_(ids)).order_by(ReportVersion.number)
        ):
            if _utc(version.submitted_at) < moment:
                versions.setdefault(version.report_id, []).append(version)
    for report in reports:
        rows = transitions.get(report.id)
        if not rows:
            if _utc(report.created_at) < moment:
                history.reports[report.id] = _as_it_is(report, moment)
            continue  # else: created after the moment
        submitted = versions.get(report.id, [])
        last = submitted[-1] if submitted else None
        snapshot: dict[str, Any] = last.snapshot if last is not None else {}
        returns = [r for r in rows if r.to_state == ReportState.RETURNED.value]
        history.reports[report.id] = ReportThen(
            id=report.id, task_id=report.task_id, period_id=report.period_id, unit_id=report.unit_id,
            kind=report.kind, state=ReportState(rows[-1].to_state),
            text=last.text if last is not None else "",
            values={int(k): Decimal(str(v)) for k, v in snapshot.get("values", {}).items()},
            included=[int(i) for i in snapshot.get("included", [])],
            first_submitted_at=_utc(submitted[0].submitted_at) if submitted else None,
            submitted_at=_utc(last.submitted_at) if last is not None else None,
            return_reason=returns[-1].reason if returns else None,
            returned_at=_utc(returns[-1].at) if returns else None,
        )
    task_rows = _transitions(session, "tasks", [t.id for t in tasks], moment)
    history.task_states = {task_id: TaskState(rows[-1].to_state) for task_id, rows in task_rows.items()}
    return history


def open_milestones_at(session: Session, task_ids: list[int], day: date) -> list[Milestone]:
    """Milestones that existed and were not yet completed at the end of `day`."""
    moment = end_of_day(day)
    milestones = session.scalars(
        select(Milestone).where(Milestone.task_id.in_(task_ids), Milestone.created_at < moment)
        .order_by(Milestone.due_on, Milestone.id)
    )
    return [
        m for m in milestones
        if not (m.state is MilestoneState.COMPLETED and m.completed_at is not None and _utc(m.completed_at) < moment)
    ]
