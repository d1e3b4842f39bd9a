"""The daily scan: which reminders are due today, to whom, and recording each
once. Recording is an insert that does nothing when the key (recipient,
item, rule, step, channel) is already there, so running the scan twice, or
in two processes at the same moment, records and sends nothing twice.

In-app reminders are written in the same transaction; e-mail and webhook
deliveries go out after it commits (`after_commit`), so a rolled-back scan
notifies nobody."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import selectinload

from ..db import after_commit, session, utcnow
from ..models import (
    Channel,
    Delivery,
    Milestone,
    MilestoneState,
    Notification,
    Plan,
    PlanStatus,
    ReportKind,
    ReportState,
    Task,
    TaskState,
    TaskUnit,
    User,
    UserRole,
)
from ..domain.obligations import Obligation, contribution_due_on, obligations
from ..policy import permissions
from ..domain.workdays import WorkdayCalendar, working_days_overdue
from ..notify.messages import subject_for, text_for
from ..notify.outbox import deliver_after_commit, mark_delivered_in_app
from ..domain.reminder_rules import ReminderRules, rules_for


@dataclass
class Reminder:
    """One reminder of one rule about one item, to a set of people."""

    rule: str
    step: int
    item_key: str
    task: Task
    recipients: list[User]
    context: dict


@dataclass
class ScanLine:
    recipient: User
    channel: Channel
    rule: str
    step: int
    subject: str
    is_new: bool
    delivery_id: int | None = None


@dataclass
class ScanResult:
    as_of: date
    is_workday: bool
    lines: list[ScanLine] = field(default_factory=list)
    outbox: list[int] = field(default_factory=list)  # e-mail / webhook deliveries to send after commit

    @property
    def new_lines(self) -> list[ScanLine]:
        return [line for line in self.lines if line.is_new]




class _People:
    """Active users by who receives what (policy's role map), loaded once per scan."""

    def __init__(self) -> None:
        self.by_unit: dict[tuple[str, int], list[User]] = defaultdict(list)
        self.coordinators: list[User] = []
        users = session().scalars(
            select(User).join(UserRole, UserRole.user_id == User.id).where(User.is_active).distinct().order_by(User.id)
        )
        for user in users:
            perms = permissions(user)
            for receives in ("reminder.receive", "escalation.receive_unit"):
                if receives in perms:
                    self.by_unit[(receives, user.unit_id)].append(user)
            if "escalation.receive_all" in perms:
                self.coordinators.append(user)

    def liaisons(self, unit_id: int | None) -> list[User]:
        return list(self.by_unit.get(("reminder.receive", unit_id), [])) if unit_id else []

    def escalation(self, unit_id: int | None) -> list[User]:
        leaders = self.by_unit.get(("escalation.receive_unit", unit_id), []) if unit_id else []
        seen: dict[int, User] = {u.id: u for u in leaders}
        for user in self.coordinators:
            seen.setdefault(user.id, user)
        return list(seen.values())


def due_reminders(as_of: date, calendar: WorkdayCalendar) -> list[Reminder]:
    """Every reminder the rules call for on `as_of` (before de-duplication)."""
    sess = session()
    people = _People()
    reminders: list[Reminder] = []
    plans = list(sess.scalars(
        select(Plan).options(selectinload(Plan.periods)).where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)
    ))
    for plan in plans:
        rules = rules_for(plan)
        horizon = calendar.add_working_days(as_of, rules.notice_working_days + 1)
        periods = [
            p
            for p in plan.periods
            if contribution_due_on(p, calendar) <= horizon
            and working_days_overdue(p.due_on, as_of, calendar) <= rules.chase_limit_working_days + 1
        ]
        owed = obligations(sess, periods, calendar)
        # Each task's lead unit from the rows just loaded (in position order,
        # as Task.lead takes it): Task.lead would lazy-load every task's units,
        # one statement per task.
        leads: dict[int, TaskUnit] = {}
        for ob in owed:
            if ob.kind is ReportKind.LEAD_REPORT:
                leads.setdefault(ob.task.id, ob.task_unit)
        for ob in owed:
            reminders.extend(_obligation_reminders(ob, as_of, calendar, rules, people, leads))
        reminders.extend(_milestone_reminders(plan, as_of, calendar, rules, people))
    return reminders


def _base_context(task: Task, unit, item_label: str, due_on: date, **extra) -> dict:
    return {
        "plan": task.plan.document_number,
        "task_id": task.id,
        "task_number": task.number,
        "task_title": task.title,
        "item": item_label,
        "unit": unit.short_name if unit is not None else "",
        "due_on": due_on.isoformat(),
        "link": f"/tasks/{task.id}",
        **extra,
    }


def _obligation_reminders(
    ob: Obligation, as_of: date, calendar: WorkdayCalendar, rules: ReminderRules, people: _People,
    leads: dict[int, TaskUnit],
) -> list[Reminder]:
    if ob.is_done:
        return []
    task, unit = ob.task, ob.task_unit.unit
    key = f"report:{task.id}:{ob.period.id}:{unit.id}"
    item = f"{ob.period.label}进展情况({ob.kind.label})"
    context = _base_context(task, unit, item, ob.due_on, period=ob.period.label, kind=ob.kind.value)
    owners = people.liaisons(unit.id)
    if ob.report is not None and ob.report.state is ReportState.RETURNED:
        # A returned item runs on the return's clock, not the period's.
        returned_at = ob.report.returned_at or ob.report.updated_at
        returned_on = returned_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
        step = rules.returned_step(returned_on, as_of, calendar)
        if step is None:
            return []
        ctx = {**context, "rule": "returned", "audience": "owner", "returned_on": returned_on.isoformat(),
               "waited_working_days": calendar.working_days_between(returned_on, as_of)}
        return [Reminder("returned", step, f"{key}:r{int(returned_at.timestamp())}", task, owners, ctx)]
    result = []
    overdue = working_days_overdue(ob.due_on, as_of, calendar)
    for rule, step in rules.timing(ob.due_on, as_of, calendar):
        ctx = {**context, "overdue_working_days": overdue,
               "until_working_days": calendar.working_days_between(as_of, ob.due_on)}
        if rule == "escalation":
            result.append(Reminder(rule, step, key, task, people.escalation(unit.id),
                                   {**ctx, "rule": rule, "audience": "escalation"}))
        elif rule == "overdue" and ob.kind is ReportKind.CONTRIBUTION:
            # A contribution not in by its date (two working days before the
            # lead's report is due) is chased, and the lead unit is told once.
            result.append(Reminder("contribution_late", step, key, task, owners,
                                   {**ctx, "rule": "contribution_late", "audience": "owner"}))
            lead = leads.get(task.id)
            if lead is not None:
                # Step 0 whatever the day: the lead is told once, even when
                # the first scan after a pause finds the chase at a later step.
                result.append(Reminder("contribution_late", 0, key, task, people.liaisons(lead.unit_id),
                                       {**ctx, "rule": "contribution_late", "audience": "lead",
                                        "lead_due_on": ob.period.due_on.isoformat()}))
        else:
            result.append(Reminder(rule, step, key, task, owners, {**ctx, "rule": rule, "audience": "owner"}))
    return result


def _milestone_reminders(
    plan: Plan, as_of: date, calendar: WorkdayCalendar, rules: ReminderRules, people: _People
) -> list[Reminder]:
    milestones = session().scalars(
        select(Milestone)
        .join(Task, Task.id == Milestone.task_id)
        .where(
            Task.plan_id == plan.id,
            Task.state.notin_([TaskState.SUSPENDED, TaskState.CLOSED]),
            Milestone.state == MilestoneState.CONFIRMED,
            Milestone.due_on <= calendar.add_working_days(as_of, rules.notice_working_days + 1),
        )
        .order_by(Milestone.due_on, Milestone.id)
    )
    result = []
    for milestone in milestones:
        task = milestone.task
        lead = task.lead
        if lead is None:
            continue
        # A new due date (an extension) makes a new item: its notices start afresh.
        key = f"milestone:{milestone.id}:{milestone.due_on.isoformat()}"
        context = _base_context(task, lead.unit, f"节点「{milestone.title}」", milestone.due_on, kind="milestone")
        overdue = working_days_overdue(milestone.due_on, as_of, calendar)
        for rule, step in rules.timing(milestone.due_on, as_of, calendar):
            ctx = {**context, "rule": rule, "overdue_working_days": overdue,
                   "until_working_days": calendar.working_days_between(as_of, milestone.due_on)}
            if rule == "escalation":
                result.append(Reminder(rule, step, key, task, people.escalation(lead.unit_id),
                                       {**ctx, "audience": "escalation"}))
            else:
                result.append(Reminder(rule, step, key, task, people.liaisons(lead.unit_id),
                                       {**ctx, "audience": "owner"}))
    return result


def channels_for(user: User) -> list[Channel]:
    """In-app always; e-mail and the group robot if the user wants them and
    the system has them configured."""
    config = current_app.config
    channels = [Channel.IN_APP]
    if user.wants_email and user.email and config.get("SMTP_HOST"):
        channels.append(Channel.EMAIL)
    if user.wants_webhook and config.get("WEBHOOK_URL"):
        channels.append(Channel.WEBHOOK)
    return channels


KEY = ("recipient_id", "item_key", "rule", "step", "channel")
_CHUNK = 500


def _insert_statement():
    """INSERT … ON CONFLICT DO NOTHING on the delivery key: concurrent scans
    inserting one key wait for each other in the database, and all but the
    first do nothing."""
    dialect = session().get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the system runs on SQLite or PostgreSQL
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(Delivery.__table__).on_conflict_do_nothing(index_elements=list(KEY))


def _existing_keys(item_keys: set[str]) -> set[tuple]:
    """The delivery keys already recorded for these items (a few statements
    for the whole scan, not one per delivery)."""
    keys: set[tuple] = set()
    ordered = sorted(item_keys)
    for i in range(0, len(ordered), _CHUNK):
        rows = session().execute(
            select(Delivery.recipient_id, Delivery.item_key, Delivery.rule, Delivery.step, Delivery.channel)
            .where(Delivery.item_key.in_(ordered[i:i + _CHUNK]))
        )
        keys.update((r, k, rule, step, channel) for r, k, rule, step, channel in rows)
    return keys


def run_scan(as_of: date, *, dry_run: bool = False) -> ScanResult:
    """Apply the rules for `as_of` and record each new reminder once (or,
    with dry_run, only say what would be sent). No reminders on days off."""
    sess = session()
    calendar = WorkdayCalendar.load(sess)
    result = ScanResult(as_of=as_of, is_workday=calendar.is_workday(as_of))
    if not result.is_workday:
        return result
    now = utcnow()
    candidates = []  # (row, line, reminder) for every recipient × channel the rules ask for today
    for reminder in due_reminders(as_of, calendar):
        for user in reminder.recipients:
            context = {**reminder.context, "recipient": user.name}
            subject = subject_for(context)
            for channel in channels_for(user):
                row = {
                    "recipient_id": user.id, "item_key": reminder.item_key, "rule": reminder.rule,
                    "step": reminder.step, "channel": channel,
                    "task_id": reminder.task.id, "as_of": as_of.isoformat(), "subject": subject,
                    "context": context, "attempts": 0, "next_attempt_at": now, "created_at": now,
                }
                line = ScanLine(user, channel, reminder.rule, reminder.step, subject, False)
                candidates.append((row, line, reminder))
    existing = _existing_keys({row["item_key"] for row, _line, _r in candidates})
    fresh = []
    for row, line, reminder in candidates:
        line.is_new = tuple(row[k] for k in KEY) not in existing
        result.lines.append(line)
        if line.is_new:
            existing.add(tuple(row[k] for k in KEY))  # a key twice in one scan is one delivery
            fresh.append((row, line, reminder))
    if dry_run or not fresh:
        return result
    sess.execute(_insert_statement(), [row for row, _line, _r in fresh])
    # What this scan inserted carries its own `now`; rows another scan won the
    # race for are not ours and are not sent from here.
    ids = {
        (r, k, rule, step, channel): delivery_id
        for delivery_id, r, k, rule, step, channel in sess.execute(
            select(Delivery.id, Delivery.recipient_id, Delivery.item_key, Delivery.rule, Delivery.step,
                   Delivery.channel).where(Delivery.created_at == now, Delivery.as_of == as_of.isoformat())
        )
    }
    in_app = []
    for row, line, reminder in fresh:
        delivery_id = ids.get(tuple(row[k] for k in KEY))
        line.delivery_id = delivery_id
        if delivery_id is None:
            line.is_new = False
            continue
        if row["channel"] is Channel.IN_APP:
            in_app.append((delivery_id, line.recipient, reminder, row["subject"], row["context"]))
        else:
            result.outbox.append(delivery_id)
    _write_in_app(in_app, now)
    sess.flush()
    if result.outbox:
        after_commit(deliver_after_commit(list(result.outbox)))
    return result


def _write_in_app(items: list, now) -> None:
    """In-app reminders are delivered at once: the notification and the
    delivery's SENT state are written in the scan's own transaction."""
    if not items:
        return
    sess = session()
    # The notices' ids are taken up front, so that all of them go in as a few
    # multi-row INSERTs: with RETURNING in parameter order SQLite would insert
    # them one statement per row (19,000 at province scale).
    note_ids = _allocate_notification_ids(len(items))
    sess.execute(
        insert(Notification.__table__),
        [
            {"id": note_id, "user_id": user.id, "kind": f"reminder.{reminder.rule}", "title": subject[:255],
             "body": text_for(context), "link": context["link"], "task_id": reminder.task.id, "created_at": now}
            for note_id, (_delivery_id, user, reminder, subject, context) in zip(note_ids, items)
        ],
    )
    mark_delivered_in_app([(item[0], note_id) for item, note_id in zip(items, note_ids)], now)


def _allocate_notification_ids(count: int) -> list[int]:
    """`count` new notification ids: from the table's sequence on PostgreSQL;
    on SQLite the next ones after the largest, which no one else can take
    meanwhile (the scan holds SQLite's one write lock: unit_of_work)."""
    sess = session()
    if sess.get_bind().dialect.name == "postgresql":
        return list(sess.scalars(
            text("SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ))
    largest = sess.scalar(select(func.coalesce(func.max(Notification.id), 0)))
    return list(range(largest + 1, largest + 1 + count))
