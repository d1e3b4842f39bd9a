"""Reporting periods: codes such as 2025Q2, 2025-05 and 2025H1."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from ..models.plans import ReportingFrequency

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_HALF = re.compile(r"^(\d{4})H([12])$")


class InvalidPeriod(ValueError):
    pass


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


def period_label(code: str) -> str:
    span = parse_period(code)
    year = span.starts_on.year
    if span.frequency is ReportingFrequency.QUARTERLY:
        return f"{year}年第{'一二三四'[int(code[-1]) - 1]}季度"
    if span.frequency is ReportingFrequency.HALF_YEARLY:
        return f"{year}年{'上' if code.endswith('1') else '下'}半年"
    return f"{year}年{span.starts_on.month}月"


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


# --- what may happen in a period, by date (pages, API and CLI ask these) ---------


def has_started(period, today: date) -> bool:
    """A report can be created and submitted once its period has begun."""
    return period.starts_on <= today


def has_ended(period, today: date) -> bool:
    """A 通报 describes a period that is over: from the day after it ends."""
    return period.ends_on < today


def not_started_message(period) -> str:
    return (f"报送期次 {period.code}({period_label(period.code)})自 {period.starts_on.isoformat()} 起,"
            "尚未开始,不能填报或报送")


def not_ended_message(period, on: date) -> str:
    return (f"报送期次 {period.code}({period_label(period.code)})至 {period.ends_on.isoformat()} 止,"
            f"截至 {on.isoformat()} 尚未结束,不能签发通报")
