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
from functools import cached_property
from datetime import date
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import String, delete, func, insert, select, text, type_coerce
from sqlalchemy.orm import defer, selectinload

from ..db import after_commit, session, utcnow
from ..models import (
    Channel,
    Delivery,
    Milestone,
    MilestoneState,
    Notification,
    Plan,
    PlanStatus,
    ReportingPeriod,
    ReportKind,
    ReportState,
    Task,
    TaskState,
    User,
    UserRole,
)
from ..domain.obligations import OwedRow, contribution_due_on, lead_units, outstanding_rows
from ..policy import permissions
from ..domain.workdays import WorkdayCalendar, working_days_overdue
from ..notify.messages import addressed, subject_for, text_body
from ..notify.outbox import deliver_after_commit, delivered_in_app, pending_delivery
from ..domain.reminder_rules import ReminderRules, rules_for


@dataclass
class Reminder:
    """One reminder of one rule about one item, to a set of people."""

    rule: str
    step: int
    item_key: str
    task_id: int
    recipients: list[User]
    context: dict

    @cached_property
    def subject(self) -> str:
        # The same for every recipient: the words name the item, not the reader.
        return subject_for(self.context)

    @cached_property
    def text_body(self) -> str:
        return text_body(self.context)


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
    """Every reminder the rules call for on `as_of` (before de-duplication),
    plan by plan: first what the units owe, then the milestones."""
    sess = session()
    people = _People()
    reminders: list[Reminder] = []
    plans = list(sess.scalars(
        select(Plan).options(selectinload(Plan.periods), defer(Plan.source_text))
        .where(Plan.status == PlanStatus.PUBLISHED).order_by(Plan.id)
    ))
    rules_of: dict[int, ReminderRules] = {}
    horizon_of: dict[int, date] = {}
    periods: list[ReportingPeriod] = []
    for plan in plans:
        rules = rules_of[plan.id] = rules_for(plan)
        horizon = horizon_of[plan.id] = calendar.add_working_days(as_of, rules.notice_working_days + 1)
        periods.extend(
            p
            for p in plan.periods
            if contribution_due_on(p, calendar) <= horizon
            and working_days_overdue(p.due_on, as_of, calendar) <= rules.chase_limit_working_days + 1
        )
    # What is owed and not done in every plan at once, as plain rows (in
    # each plan's order), and the milestones coming due.
    owed_by_plan: dict[int, list[OwedRow]] = defaultdict(list)
    owed = outstanding_rows(sess, periods, calendar)
    for ob in owed:
        owed_by_plan[ob.plan_id].append(ob)
    milestones = _milestones_due(plans, horizon_of)
    # The lead units of the tasks with a contribution or a milestone to chase.
    leads = lead_units(sess, {ob.task_id for ob in owed if ob.kind is ReportKind.CONTRIBUTION}
                       | {row[4] for row in milestones})
    milestones_by_plan: dict[int, list[_MilestoneRow]] = defaultdict(list)
    for plan_id, milestone_id, title, due_on, task_id, number, task_title in milestones:
        lead = leads.get(task_id)
        # A task without a lead has no one to remind of its milestones.
        if lead is not None and due_on <= horizon_of[plan_id]:
            milestones_by_plan[plan_id].append(
                _MilestoneRow(milestone_id, title, due_on, task_id, number, task_title, *lead)
            )
    for plan in plans:
        rules = rules_of[plan.id]
        for ob in owed_by_plan.get(plan.id, ()):
            reminders.extend(_obligation_reminders(plan, ob, as_of, calendar, rules, people, leads))
        reminders.extend(_milestone_reminders(plan, milestones_by_plan.get(plan.id, []), as_of, calendar, rules,
                                              people))
    return reminders


def _base_context(plan: Plan, task_id: int, task_number: str, task_title: str, unit_short_name: str,
                  item_label: str, due_on: date, **extra) -> dict:
    return {
        "plan": plan.document_number,
        "task_id": task_id,
        "task_number": task_number,
        "task_title": task_title,
        "item": item_label,
        "unit": unit_short_name,
        "due_on": due_on.isoformat(),
        "link": f"/tasks/{task_id}",
        **extra,
    }


def _obligation_reminders(
    plan: Plan, ob: OwedRow, as_of: date, calendar: WorkdayCalendar, rules: ReminderRules, people: _People,
    leads: dict[int, tuple[int, str]],
) -> list[Reminder]:
    task_id, unit_id = ob.task_id, ob.unit_id
    key = f"report:{task_id}:{ob.period.id}:{unit_id}"
    item = f"{ob.period.label}进展情况({ob.kind.label})"
    context = _base_context(plan, task_id, ob.task_number, ob.task_title, ob.unit_short_name, item, ob.due_on,
                            period=ob.period.label, kind=ob.kind.value)
    owners = people.liaisons(unit_id)
    if ob.report_state is ReportState.RETURNED:
        # A returned item runs on the return's clock, not the period's.
        returned_at = ob.report_returned_at or ob.report_updated_at
        returned_on = returned_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
        step = rules.returned_step(returned_on, as_of, calendar)
        if step is None:
            return []
        ctx = {**context, "rule": "returned", "audience": "owner", "returned_on": returned_on.isoformat(),
               "waited_working_days": calendar.working_days_between(returned_on, as_of)}
        return [Reminder("returned", step, f"{key}:r{int(returned_at.timestamp())}", task_id, owners, ctx)]
    result = []
    overdue = working_days_overdue(ob.due_on, as_of, calendar)
    for rule, step in rules.timing(ob.due_on, as_of, calendar):
        ctx = {**context, "overdue_working_days": overdue,
               "until_working_days": calendar.working_days_between(as_of, ob.due_on)}
        if rule == "escalation":
            result.append(Reminder(rule, step, key, task_id, people.escalation(unit_id),
                                   {**ctx, "rule": rule, "audience": "escalation"}))
        elif rule == "overdue" and ob.kind is ReportKind.CONTRIBUTION:
            # A contribution not in by its date (two working days before the
            # lead's report is due) is chased, and the lead unit is told once.
            result.append(Reminder("contribution_late", step, key, task_id, owners,
                                   {**ctx, "rule": "contribution_late", "audience": "owner"}))
            lead = leads.get(task_id)
            if lead is not None:
                # Step 0 whatever the day: the lead is told once, even when
                # the first scan after a pause finds the chase at a later step.
                result.append(Reminder("contribution_late", 0, key, task_id, people.liaisons(lead[0]),
                                       {**ctx, "rule": "contribution_late", "audience": "lead",
                                        "lead_due_on": ob.period.due_on.isoformat()}))
        else:
            result.append(Reminder(rule, step, key, task_id, owners, {**ctx, "rule": rule, "audience": "owner"}))
    return result


@dataclass(frozen=True)
class _MilestoneRow:
    id: int
    title: str
    due_on: date
    task_id: int
    task_number: str
    task_title: str
    lead_unit_id: int
    lead_short_name: str


def _milestones_due(plans: list[Plan], horizon_of: dict[int, date]) -> list:
    """The confirmed milestones of live tasks due by the furthest of the
    plans' horizons, as rows (plan id, milestone id, title, due date, task
    id, number, title) in order of date: one statement for all plans."""
    if not plans:
        return []
    return session().execute(
        select(Task.plan_id, Milestone.id, Milestone.title, Milestone.due_on, Task.id, Task.number, Task.title)
        .join(Task, Task.id == Milestone.task_id)
        .where(
            Task.plan_id.in_([plan.id for plan in plans]),
            Task.state.notin_([TaskState.SUSPENDED, TaskState.CLOSED]),
            Milestone.state == MilestoneState.CONFIRMED,
            Milestone.due_on <= max(horizon_of.values()),
        )
        .order_by(Milestone.due_on, Milestone.id)
    ).all()


def _milestone_reminders(
    plan: Plan, milestones: list[_MilestoneRow], as_of: date, calendar: WorkdayCalendar, rules: ReminderRules,
    people: _People,
) -> list[Reminder]:
    result = []
    for milestone in milestones:
        # A new due date (an extension) makes a new item: its notices start afresh.
        key = f"milestone:{milestone.id}:{milestone.due_on.isoformat()}"
        context = _base_context(plan, milestone.task_id, milestone.task_number, milestone.task_title,
                                milestone.lead_short_name, f"节点「{milestone.title}」", milestone.due_on,
                                kind="milestone")
        overdue = working_days_overdue(milestone.due_on, as_of, calendar)
        for rule, step in rules.timing(milestone.due_on, as_of, calendar):
            ctx = {**context, "rule": rule, "overdue_working_days": overdue,
                   "until_working_days": calendar.working_days_between(as_of, milestone.due_on)}
            if rule == "escalation":
                result.append(Reminder(rule, step, key, milestone.task_id, people.escalation(milestone.lead_unit_id),
                                       {**ctx, "audience": "escalation"}))
            else:
                result.append(Reminder(rule, step, key, milestone.task_id, people.liaisons(milestone.lead_unit_id),
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
_IN_APP = Channel.IN_APP.value


def _key_columns() -> list:
    """The delivery key's columns as the scan compares them, the channel as
    its stored text (not converted to a Channel member row by row)."""
    table = Delivery.__table__
    return [table.c.recipient_id, table.c.item_key, table.c.rule, table.c.step,
            type_coerce(table.c.channel, String).label("channel")]


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
        keys.update(map(tuple, session().execute(
            select(*_key_columns()).where(Delivery.__table__.c.item_key.in_(ordered[i:i + _CHUNK]))
        )))
    return keys


def run_scan(as_of: date, *, dry_run: bool = False) -> ScanResult:
    """Apply the rules for `as_of` and record each new reminder once (or,
    with dry_run, only say what would be sent). No reminders on days off."""
    sess = session()
    calendar = WorkdayCalendar.load(sess)
    result = ScanResult(as_of=as_of, is_workday=calendar.is_workday(as_of))
    if not result.is_workday:
        return result
    # Every recipient × channel the rules ask for today, as its delivery key
    # first: what a delivery says is built only for the keys not yet recorded
    # (none, when the scan runs again the same day).
    # (Keys hold the channel's stored value: tens of thousands of lookups
    # hash a str far faster than an Enum member.)
    channels_of: dict[int, list[tuple[Channel, str]]] = {}
    candidates = []  # (key, channel, user, reminder)
    for reminder in due_reminders(as_of, calendar):
        for user in reminder.recipients:
            channels = channels_of.get(user.id)
            if channels is None:
                channels = channels_of[user.id] = [(channel, channel.value) for channel in channels_for(user)]
            for channel, value in channels:
                candidates.append(
                    ((user.id, reminder.item_key, reminder.rule, reminder.step, value), channel, user, reminder)
                )
    existing = _existing_keys({candidate[0][1] for candidate in candidates})
    fresh = []  # (key, line, user, reminder)
    for key, channel, user, reminder in candidates:
        line = ScanLine(user, channel, reminder.rule, reminder.step, reminder.subject, key not in existing)
        result.lines.append(line)
        if line.is_new:
            existing.add(key)  # a key twice in one scan is one delivery
            fresh.append((key, line, user, reminder))
    if dry_run or not fresh:
        return result
    now = utcnow()
    # In-app reminders are delivered at once, in the scan's own transaction:
    # each delivery is written SENT with its notice, so the notices go in
    # first. Their ids are taken up front, so that all of them go in as a few
    # multi-row INSERTs (with RETURNING in parameter order SQLite would
    # insert them one statement per row).
    in_app = [(key, user, reminder) for key, _line, user, reminder in fresh if key[4] == _IN_APP]
    note_ids = _allocate_notification_ids(len(in_app))
    if in_app:
        sess.execute(
            insert(Notification.__table__),
            [
                {"id": note_id, "user_id": user.id, "kind": f"reminder.{reminder.rule}",
                 "title": reminder.subject[:255], "body": addressed(user.name, reminder.text_body),
                 "link": reminder.context["link"], "task_id": reminder.task_id, "created_at": now}
                for note_id, (_key, user, reminder) in zip(note_ids, in_app)
            ],
        )
    note_of = {key: note_id for note_id, (key, _user, _reminder) in zip(note_ids, in_app)}
    rows = []
    as_of_text, pending = as_of.isoformat(), pending_delivery(now)
    for key, line, user, reminder in fresh:
        note_id = note_of.get(key)
        rows.append({
            "recipient_id": user.id, "item_key": reminder.item_key, "rule": reminder.rule,
            "step": reminder.step, "channel": line.channel, "task_id": reminder.task_id, "as_of": as_of_text,
            "subject": reminder.subject, "context": {**reminder.context, "recipient": user.name},
            **(pending if note_id is None else delivered_in_app(note_id, now)),
        })
    # What this scan inserted comes back; rows another scan won the race for
    # are not ours and are not sent from here (nor their notices kept).
    table = Delivery.__table__
    ours = {
        (r, k, rule, step, channel): delivery_id
        for delivery_id, r, k, rule, step, channel in sess.execute(
            _insert_statement().returning(table.c.id, *_key_columns()),
            rows,
        )
    }
    lost_notes = []
    for key, line, _user, _reminder in fresh:
        line.delivery_id = ours.get(key)
        if line.delivery_id is None:
            line.is_new = False
            if key in note_of:
                lost_notes.append(note_of[key])
        elif key[4] != _IN_APP:
            result.outbox.append(line.delivery_id)
    for i in range(0, len(lost_notes), _CHUNK):
        sess.execute(delete(Notification.__table__).where(Notification.__table__.c.id.in_(lost_notes[i:i + _CHUNK])))
    sess.flush()
    if result.outbox:
        after_commit(deliver_after_commit(list(result.outbox)))
    return result


def _allocate_notification_ids(count: int) -> list[int]:
    """`count` new notification ids: from the table's sequence on PostgreSQL;
    on SQLite the next ones after the largest, which no one else can take
    meanwhile (the scan holds SQLite's one write lock: unit_of_work)."""
    if not count:
        return []
    sess = session()
    if sess.get_bind().dialect.name == "postgresql":
        return list(sess.scalars(
            text("SELECT nextval(pg_get_serial_sequence('notifications', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ))
    largest = sess.scalar(select(func.coalesce(func.max(Notification.id), 0)))
    return list(range(largest + 1, largest + 1 + count))
