"""Reporting periods: codes such as 2025Q2, 2025-05 and 2025H1."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models.plans import Plan, ReportingFrequency, ReportingPeriod

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_HALF = re.compile(r"^(\d{4})H([12])$")


class InvalidPeriod(ValueError):
    pass


class PeriodRow(NamedTuple):
    """A reporting period as plain values, for lists that read hundreds of
    them (我的待办) rather than load them as ReportingPeriod objects."""

    id: int
    plan_id: int
    code: str
    starts_on: date
    ends_on: date
    due_on: date

    @property
    def label(self) -> str:
        return ReportingPeriod.label_of(self.code)

    @staticmethod
    def columns():
        return (ReportingPeriod.id, ReportingPeriod.plan_id, ReportingPeriod.code, ReportingPeriod.starts_on,
                ReportingPeriod.ends_on, ReportingPeriod.due_on)


@dataclass(frozen=True)
class PeriodSpan:
    code: str
    starts_on: date
    ends_on: date
    frequency: ReportingFrequency


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def parse_period(code: str) -> PeriodSpan:
    code = (code or "").strip().upper()
    if m := _QUARTER.match(code):
        year, q = int(m[1]), int(m[2])
        return PeriodSpan(code, date(year, 3 * q - 2, 1), _month_end(year, 3 * q), ReportingFrequency.QUARTERLY)
    if m := _MONTH.match(code):
        year, month = int(m[1]), int(m[2])
        return PeriodSpan(code, date(year, month, 1), _month_end(year, month), ReportingFrequency.MONTHLY)
    if m := _HALF.match(code):
        year, h = int(m[1]), int(m[2])
        return PeriodSpan(code, date(year, 6 * h - 5, 1), _month_end(year, 6 * h), ReportingFrequency.HALF_YEARLY)
    raise InvalidPeriod(f"无法识别的报送期次“{code}”,应写作 2025Q2、2025-05 或 2025H1")


def period_spans(start: date, end: date, frequency: ReportingFrequency) -> list[PeriodSpan]:
    """Every period of the given frequency that overlaps [start, end]."""
    months = {ReportingFrequency.MONTHLY: 1, ReportingFrequency.QUARTERLY: 3, ReportingFrequency.HALF_YEARLY: 6}[
        frequency
    ]
    spans = []
    year, month = start.year, ((start.month - 1) // months) * months + 1
    while date(year, month, 1) <= end:
        if frequency is ReportingFrequency.QUARTERLY:
            code = f"{year}Q{(month - 1) // 3 + 1}"
        elif frequency is ReportingFrequency.HALF_YEARLY:
            code = f"{year}H{(month - 1) // 6 + 1}"
        else:
            code = f"{year}-{month:02d}"
        spans.append(parse_period(code))
        month += months
        if month > 12:
            year, month = year + 1, month - 12
    return spans


def resolve_period(session: Session, plan: Plan, code: str | None, as_of: date | None = None) -> ReportingPeriod:
    """The period `code` of `plan` (2025Q2, 2025-05 or 2025H1, any case), or
    without a code the last one that has ended by `as_of` (the first one if
    none has). The one answer for pages, API, exports and the CLI."""
    periods = list(session.scalars(
        select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id).order_by(ReportingPeriod.starts_on)
    ))
    if not periods:
        raise ValidationError("该计划没有报送期次", field_errors={"period": "没有期次"})
    code = (code or "").strip().upper()
    if not code:
        if as_of is None:
            raise ValidationError("请选择报送期次", field_errors={"period": "请选择期次"})
        ended = [p for p in periods if p.ends_on < as_of]
        return ended[-1] if ended else periods[0]
    hint = ""
    try:
        code = parse_period(code).code
    except InvalidPeriod:
        hint = ";期次应写作 2025Q2、2025-05 或 2025H1"
    for period in periods:
        if period.code == code:
            return period
    raise ValidationError(
        f"计划中没有报送期次 {code}(可选 {periods[0].code} 至 {periods[-1].code}){hint}",
        field_errors={"period": "没有该期次"},
    )


# --- what may happen in a period, by date (pages, API and CLI ask these) ---------


def has_started(period, today: date) -> bool:
    """A report can be created and submitted once its period has begun."""
    return period.starts_on <= today


def has_ended(period, today: date) -> bool:
    """A 通报 describes a period that is over: from the day after it ends."""
    return period.ends_on < today


def not_started_message(period) -> str:
    return (f"报送期次 {period.code}({period.label})自 {period.starts_on.isoformat()} 起,"
            "尚未开始,不能填报或报送")


def not_ended_message(period, on: date) -> str:
    return (f"报送期次 {period.code}({period.label})至 {period.ends_on.isoformat()} 止,"
            f"截至 {on.isoformat()} 尚未结束,不能签发通报")
