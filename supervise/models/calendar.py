"""The statutory working-day calendar: days that differ from Monday–Friday."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class CalendarDay(Base):
    """A public holiday on a weekday (is_workday False) or a weekend day made
    into a working day (调休, is_workday True). Days not listed follow the week."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(60), default="")
    source: Mapped[str] = mapped_column(String(32), default="chinese_calendar")
