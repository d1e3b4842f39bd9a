"""Sending the e-mail and webhook deliveries the scan recorded.

Each delivery is first claimed by one conditional UPDATE (pending or due
for a retry -> sending) in a transaction of its own, so that two processes
never send the same one; then sent outside any transaction; then marked
sent, or failed with the next try after a growing pause, or abandoned after
the last try (coordinators see those on the delivery log). One failure never
holds up the others: each delivery is tried on its own, with a timeout.

A delivery's state is decided here only: the scan records new deliveries
with the columns of `pending_delivery`, or of `delivered_in_app` for the
in-app ones."""
from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..db import declare_write_intent, engine, session, utcnow
from ..models import Channel, Delivery, DeliveryState, User
from . import webhook
from .email import send_email
from .messages import html_for, markdown_for, text_for


@dataclass
class Outcome:
    delivery_id: int
    channel: Channel
    recipient: str
    state: DeliveryState
    error: str | None = None


def _session() -> Session:
    # Not the request's or job's session: this runs after that one committed.
    return Session(bind=engine(), expire_on_commit=False)


def backoff(attempts: int) -> timedelta:
    """The pause before try number attempts + 1: base, 2x, 4x, ... capped."""
    config = current_app.config
    base = int(config.get("DELIVERY_RETRY_BASE_SECONDS", 60))
    cap = int(config.get("DELIVERY_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def _due_ids(now: datetime) -> list[int]:
    stale = now - timedelta(seconds=int(current_app.config.get("DELIVERY_STALE_SECONDS", 600)))
    with _session() as sess:
        return list(
            sess.scalars(
                select(Delivery.id)
                .where(Delivery.channel != Channel.IN_APP, _claimable(now, stale))
                .order_by(Delivery.id)
            )
        )


def _claimable(now: datetime, stale: datetime):
    return or_(
        and_(
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.FAILED]),
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        ),
        # A process that died while sending left it claimed; try it again.
        and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < stale),
    )


def _claim(delivery_id: int, now: datetime) -> bool:
    stale = now - timedelta(seconds=int(current_app.config.get("DELIVERY_STALE_SECONDS", 600)))
    with _session() as sess, sess.begin():
        result = sess.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.channel != Channel.IN_APP, _claimable(now, stale))
            .values(state=DeliveryState.SENDING, claimed_at=now, attempts=Delivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def _send(delivery: Delivery, recipient: User) -> None:
    context = delivery.context
    if delivery.channel is Channel.EMAIL:
        if not recipient.email:
            raise ValueError("收件人没有邮箱地址")
        send_email(recipient.email, delivery.subject, text_for(context), html_for(context))
    elif delivery.channel is Channel.WEBHOOK:
        mobiles = [recipient.phone] if recipient.phone else []
        webhook.post(webhook.robot_message(delivery.subject, markdown_for(context), mobiles))
    else:  # pragma: no cover - in-app deliveries are written by the scan
        raise ValueError(f"channel {delivery.channel} is not sent by the outbox")


def _deliver_one(delivery_id: int) -> Outcome | None:
    now = utcnow()
    if not _claim(delivery_id, now):
        return None  # sent, given up, not yet due, or another process has it
    with _session() as sess:
        delivery = sess.get(Delivery, delivery_id)
        recipient = sess.get(User, delivery.recipient_id)
        sess.expunge_all()
    error = None
    try:
        _send(delivery, recipient)
    except Exception as exc:  # any failure of the channel is recorded, never raised
        error = f"{type(exc).__name__}: {exc}"[:2000]
        current_app.logger.warning("delivery %s (%s) failed: %s", delivery_id, delivery.channel.value, error)
    max_attempts = int(current_app.config.get("DELIVERY_MAX_ATTEMPTS", 5))
    done_at = utcnow()
    if error is None:
        values = dict(state=DeliveryState.SENT, sent_at=done_at, last_error=None, next_attempt_at=None)
    elif delivery.attempts >= max_attempts:
        values = dict(state=DeliveryState.ABANDONED, last_error=error, next_attempt_at=None)
    else:
        values = dict(state=DeliveryState.FAILED, last_error=error, next_attempt_at=done_at + backoff(delivery.attempts))
    with _session() as sess, sess.begin():
        sess.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return Outcome(delivery_id, delivery.channel, recipient.login, values["state"], error)


def deliver(ids: list[int] | None = None) -> list[Outcome]:
    """Send the given deliveries, or every one that is due (new, or due for a
    retry). Returns what this call sent or failed to send. Deliveries go out
    side by side, so a mail server or robot that hangs until its timeout
    does not hold up the others."""
    app = current_app._get_current_object()
    todo = ids if ids is not None else _due_ids(utcnow())
    if not todo:
        return []

    def one(delivery_id: int) -> Outcome | None:
        with app.app_context():
            # Claims and results are writes: take SQLite's write lock at BEGIN.
            declare_write_intent(True)
            return _deliver_one(delivery_id)

    workers = max(1, min(len(todo), int(app.config.get("DELIVERY_WORKERS", 8))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery") as pool:
        # Each worker thread runs in a fresh context: the write intent set
        # there does not leak into the caller.
        results = list(pool.map(lambda i: contextvars.Context().run(one, i), todo))
    return [outcome for outcome in results if outcome is not None]


def pending_delivery(now: datetime) -> dict:
    """The state columns of a new e-mail or webhook delivery: waiting to be
    sent (`deliver`), due at once."""
    return {"state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": now, "sent_at": None,
            "notification_id": None}


def delivered_in_app(notification_id: int, now: datetime) -> dict:
    """The state columns of an in-app delivery: delivered at once, in the
    scan's own transaction, with its notice (the scan inserts it so)."""
    return {"state": DeliveryState.SENT, "attempts": 1, "next_attempt_at": None, "sent_at": now,
            "notification_id": notification_id}


def deliver_after_commit(ids: list[int]) -> Callable[[], None]:
    """The callback the scan registers with `after_commit`."""

    def callback() -> None:
        deliver(ids)

    return callback
