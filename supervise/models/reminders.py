"""Reminders (催办): every message the system sends or tried to send, and the
scheduler's record of its jobs."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow
from .types import UTCDateTime, named_enum
from .users import User


class Channel(enum.Enum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"

    @property
    def label(self) -> str:
        return {"in_app": "站内", "email": "邮件", "webhook": "群机器人"}[self.value]


class DeliveryState(enum.Enum):
    PENDING = "pending"  # stored, not yet tried
    SENDING = "sending"  # claimed by one process, which is sending it now
    SENT = "sent"
    FAILED = "failed"  # the last try failed; it will be tried again
    ABANDONED = "abandoned"  # failed every try; a coordinator must act

    @property
    def label(self) -> str:
        return {
            "pending": "待发送",
            "sending": "发送中",
            "sent": "已发送",
            "failed": "失败待重试",
            "abandoned": "最终失败",
        }[self.value]


class Delivery(Base):
    """One reminder to one recipient on one channel. The unique constraint is
    what makes a reminder go out at most once, whichever process or run
    tries: a second insert of the same key does nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("recipient_id", "item_key", "rule", "step", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What the reminder is about, e.g. "report:12:7:31" (task, period, unit)
    # or "milestone:5:2025-10-09" (a new due date is a new item). Indexed:
    # the daily scan looks up what is recorded for today's items.
    item_key: Mapped[str] = mapped_column(String(120), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    # Which repetition of the rule (0 first; an overdue reminder every two
    # working days counts 0, 1, 2, ...).
    step: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[Channel] = mapped_column(named_enum(Channel, "channel"))
    state: Mapped[DeliveryState] = mapped_column(
        named_enum(DeliveryState, "delivery_state"), default=DeliveryState.PENDING, index=True
    )
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    as_of: Mapped[str] = mapped_column(String(10))  # the scan date (YYYY-MM-DD) that produced it
    subject: Mapped[str] = mapped_column(String(255))
    # What the message says, kept so that a retry sends the same words.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))

    recipient: Mapped[User] = relationship()


class SchedulerJob(Base):
    """What the scheduler process last did with each job of the registry, and
    when it will run it next; read by the admin page, and at start-up to run
    once a job that fell due while the process was down."""

    __tablename__ = "scheduler_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    trigger: Mapped[str] = mapped_column(String(255), default="")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str] = mapped_column(String(16), default="")  # ok | error | missed
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_result: Mapped[str] = mapped_column(Text, default="")
