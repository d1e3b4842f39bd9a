"""The working-day calendar as data: filled from the chinese-calendar package
for the years it knows, extended or corrected by an admin (a CSV file or the
calendar page) for the years it does not know yet. After every change the
plans' report due dates are recomputed, so that one calendar decides them."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select

from ..db import session
from ..errors import ValidationError
from ..models import CalendarDay, Plan, User
from ..policy import Operator, authorize
from ..domain.workdays import WorkdayCalendar
from . import audit

SOURCE_PACKAGE = "chinese_calendar"
SOURCE_ADMIN = "admin"

# The package names holidays in English; users read Chinese.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

# The years the calendar holds: a plan runs a few years; a year outside this
# range is a typing error (or a probe), not a plan.
MIN_YEAR, MAX_YEAR = 2000, 2100


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间", field_errors={"year": "年份超出范围"})
    return year


WORKDAY_WORDS = {"1", "true", "yes", "workday", "班", "上班", "工作日", "补班", "调休上班"}
HOLIDAY_WORDS = {"0", "false", "no", "holiday", "休", "休息", "放假", "节假日", "假日"}


@dataclass
class CalendarChange:
    years: list[int]
    days: int
    plans_rebuilt: int


def package_years() -> list[int]:
    from chinese_calendar import constants

    return sorted({d.year for d in constants.holidays})


def package_days(years: list[int] | None = None) -> dict[date, tuple[bool, str]]:
    """The days the package lists for `years` (all it knows by default):
    every public holiday (weekends within a holiday too, so the calendar page
    can name them) and every weekend day made into a working day (调休)."""
    from chinese_calendar import constants

    wanted = set(years) if years else None
    days: dict[date, tuple[bool, str]] = {}
    for day, holiday in constants.holidays.items():
        if wanted is None or day.year in wanted:
            days[day] = (False, _holiday_name(holiday))
    for day, holiday in constants.workdays.items():
        if (wanted is None or day.year in wanted) and day.weekday() >= 5:
            days[day] = (True, _holiday_name(holiday) + "调休上班")
    return days


def _holiday_name(holiday: str) -> str:
    return HOLIDAY_NAMES.get(holiday, holiday)


def sync_from_package(years: list[int] | None = None) -> CalendarChange:
    """Fill the calendar from the package. Days an admin entered are kept:
    a correction wins over the package."""
    sess = session()
    days = package_days(years)
    admin_days = set(sess.scalars(select(CalendarDay.day).where(CalendarDay.source == SOURCE_ADMIN)))
    existing = {row.day: row for row in sess.scalars(select(CalendarDay).where(CalendarDay.source == SOURCE_PACKAGE))}
    changed = 0
    for day, (is_workday, name) in sorted(days.items()):
        if day in admin_days:
            continue
        row = existing.get(day)
        if row is None:
            sess.add(CalendarDay(day=day, is_workday=is_workday, name=name, source=SOURCE_PACKAGE))
            changed += 1
        elif (row.is_workday, row.name) != (is_workday, name):
            row.is_workday, row.name = is_workday, name
            changed += 1
    sess.flush()
    covered = sorted({d.year for d in days})
    rebuilt = rebuild_all_periods() if changed else 0
    return CalendarChange(years=covered, days=changed, plans_rebuilt=rebuilt)


def parse_calendar_csv(text: str) -> dict[date, tuple[bool, str]]:
    """Rows of `date,is_workday[,name]` (a header line is allowed). The second
    column says 休 / holiday / 0 for a day off, 班 / workday / 1 for a working
    day. Raises ValidationError naming the first bad line."""
    text = text.lstrip("\ufeff")
    days: dict[date, tuple[bool, str]] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        try:
            day = datetime.strptime(cells[0], "%Y-%m-%d").date()
        except ValueError:
            if number == 1:
                continue  # the header
            raise ValidationError(f"第 {number} 行:日期“{cells[0]}”应写作 2027-01-01") from None
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValidationError(f"第 {number} 行:年份应在 {MIN_YEAR}–{MAX_YEAR} 之间")
        if len(cells) < 2 or not cells[1]:
            raise ValidationError(f"第 {number} 行:缺少第二列(休 或 班)")
        kind = cells[1].lower()
        if kind in WORKDAY_WORDS:
            is_workday = True
        elif kind in HOLIDAY_WORDS:
            is_workday = False
        else:
            raise ValidationError(f"第 {number} 行:第二列“{cells[1]}”应为 休 或 班")
        if day in days:
            raise ValidationError(f"第 {number} 行:日期 {day} 重复")
        days[day] = (is_workday, (cells[2] if len(cells) > 2 else "")[:60])
    if not days:
        raise ValidationError("文件中没有日期")
    return days


def import_days(actor: User | Operator, days: dict[date, tuple[bool, str]], *, source_name: str = "") -> CalendarChange:
    """Replace the calendar of each year the file covers with the file: the
    file is that year's list of holidays and make-up working days. `actor`
    is an administrator, or policy.SYSTEM for the command line."""
    authorize(actor, "calendar.manage")
    sess = session()
    years = sorted({d.year for d in days})
    for year in years:
        sess.execute(
            delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        )
    for day, (is_workday, name) in sorted(days.items()):
        sess.add(CalendarDay(day=day, is_workday=is_workday, name=name, source=SOURCE_ADMIN))
    sess.flush()
    rebuilt = rebuild_all_periods()
    audit.record(
        actor,
        "calendar.import",
        object_type="calendar_days",
        detail={"years": years, "days": len(days), "file": source_name},
        actor_login=None if actor else "cli",
    )
    return CalendarChange(years=years, days=len(days), plans_rebuilt=rebuilt)


def set_day(actor: User, day: date, kind: str, name: str = "") -> None:
    """Correct one day: "holiday", "workday", or "normal" (follow the week)."""
    authorize(actor, "calendar.manage")
    check_year(day.year)
    sess = session()
    row = sess.get(CalendarDay, day)
    before = None if row is None else ("workday" if row.is_workday else "holiday")
    if kind == "normal":
        if row is not None:
            sess.delete(row)
    elif kind in ("holiday", "workday"):
        if row is None:
            row = CalendarDay(day=day)
            sess.add(row)
        row.is_workday = kind == "workday"
        row.name = (name or "").strip()[:60]
        row.source = SOURCE_ADMIN
    else:
        raise ValidationError("类型应为 放假、调休上班 或 按周末规则", field_errors={"kind": "类型无效"})
    sess.flush()
    rebuild_all_periods()
    audit.record(
        actor, "calendar.set_day", object_type="calendar_days", from_state=before, to_state=kind,
        detail={"day": day.isoformat(), "name": name},
    )


def days_of_year(year: int) -> list[CalendarDay]:
    check_year(year)
    return list(
        session().scalars(
            select(CalendarDay)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
            .order_by(CalendarDay.day)
        )
    )


def years_held() -> list[int]:
    return sorted({d.year for d in session().scalars(select(CalendarDay.day))})


def rebuild_all_periods() -> int:
    """Recompute every plan's report due dates from the calendar as it now is."""
    from .plans import rebuild_periods

    sess = session()
    calendar = WorkdayCalendar.load(sess)
    plans = list(sess.scalars(select(Plan)))
    for plan in plans:
        rebuild_periods(plan, calendar)
    return len(plans)
