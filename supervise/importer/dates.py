"""Deadlines and starts written in a task's text (stdlib only).

Only dates the text states count:

* ``2025年6月底前`` -> 2025-06-30; ``2025年底前`` / ``2025年年底`` -> 2025-12-31;
  ``2025年3月15日前`` -> 2025-03-15; ``2025年上半年`` -> 2025-06-30;
  ``2025年第三季度`` -> 2025-09-30; ``到2025年`` (a target year) -> 2025-12-31;
  several dates -> the latest;
* starts: ``从2019年起``, ``2024年起``, ``自2025年3月起`` -> the first day;
* not deadlines: windows (``2019年1月1日至12月31日``), relative spans
  (``5年内``, ``印发之日起30日内``), ``长期坚持``, ``每年``.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from .text import chinese_number

_Y = r"(?P<y>\d{4})\s*年"
_M = r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})\s*月"
_D = r"(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"

# A window: both ends are dates, the task runs between them; neither is a deadline.
_WINDOW = re.compile(
    rf"{_Y}(?:\s*{_M})?(?:\s*{_D})?\s*(?:至|到|—|–|－|-|~|～)\s*(?:\d{{4}}\s*年)?(?:\s*\d{{1,2}}\s*月)?(?:\s*\d{{1,2}}\s*日)?"
    r"(?!\s*(?:底|末|前))"
)
_START = re.compile(rf"(?:从|自|于)?\s*{_Y}(?:\s*{_M})?(?:\s*{_D})?\s*(?:起|开始)")
_DAY = re.compile(rf"{_Y}\s*{_M}\s*{_D}\s*(?:前|以前|之前|止|为止|完成|截止)")
_MONTH_END = re.compile(rf"{_Y}\s*{_M}\s*(?:底|末|份)(?:前|以前|之前)?")
_MONTH_BEFORE = re.compile(rf"{_Y}\s*{_M}\s*(?:前|以前|之前)")
_QUARTER = re.compile(rf"{_Y}\s*(?:第)?\s*(?P<q>[一二三四1-4])\s*季度(?:末|底)?(?:前)?")
_HALF = re.compile(rf"{_Y}\s*(?P<h>上半年|下半年)(?:末|底)?(?:前)?")
_YEAR_END = re.compile(rf"{_Y}\s*(?:底|末|年底|年末)(?:前|以前|之前)?")
_YEAR_BEFORE = re.compile(rf"{_Y}\s*(?:前|以前|之前)(?![\u4e00-\u9fff]{{0,2}}(?:的|水平))")
_TARGET_YEAR = re.compile(r"(?:到|至|截至|截止到|力争到|力争)\s*(?P<y>\d{4})\s*年(?!\s*\d{1,2}\s*月)(?!\s*(?:底|末|上半年|下半年|第|[一二三四]季度))")
_IN_YEAR = re.compile(rf"{_Y}\s*(?:内|年内)?\s*(?:全面|基本)?(?:完成|建成|实现|落实到位)")
_ONGOING = re.compile(r"长期坚持|长期推进|持续推进|持续实施|常态化|每年|定期")


@dataclass(frozen=True)
class TaskDates:
    deadline: date | None
    starts_on: date | None
    ongoing: bool  # the text says the work goes on (长期坚持, 每年, ...)


def _month(text: str) -> int | None:
    value = chinese_number(text)
    return value if value and 1 <= value <= 12 else None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def find_dates(text: str, *, latest_year: int | None = None) -> TaskDates:
    """The deadline (latest stated) and start a task's text states."""
    text = re.sub(r"\s+", "", text or "")
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return not any(match.start() < end and start < match.end() for start, end in taken)

    def take(match: re.Match[str]) -> None:
        taken.append((match.start(), match.end()))

    deadlines: list[date] = []
    starts: list[date] = []
    for match in _WINDOW.finditer(text):
        take(match)
    for match in _START.finditer(text):
        if not free(match):
            continue
        take(match)
        month = _month(match["m"]) if match["m"] else 1
        day = chinese_number(match["d"]) if match["d"] else 1
        try:
            starts.append(date(int(match["y"]), month or 1, day or 1))
        except ValueError:
            pass

    def add(match: re.Match[str], make) -> None:
        if not free(match):
            return
        take(match)
        try:
            value = make(match)
        except (ValueError, TypeError):
            return
        if value and 1900 < value.year < 2200:
            deadlines.append(value)

    for match in _DAY.finditer(text):
        add(match, lambda m: date(int(m["y"]), _month(m["m"]), chinese_number(m["d"])))
    for match in _MONTH_END.finditer(text):
        add(match, lambda m: _month_end(int(m["y"]), _month(m["m"])))
    for match in _MONTH_BEFORE.finditer(text):
        add(match, lambda m: date(int(m["y"]), _month(m["m"]), 1).fromordinal(
            date(int(m["y"]), _month(m["m"]), 1).toordinal() - 1))
    for match in _QUARTER.finditer(text):
        add(match, lambda m: _month_end(int(m["y"]), 3 * (chinese_number(m["q"]) or int(m["q"]))))
    for match in _HALF.finditer(text):
        add(match, lambda m: date(int(m["y"]), 6, 30) if m["h"] == "上半年" else date(int(m["y"]), 12, 31))
    for pattern in (_YEAR_END, _YEAR_BEFORE):
        for match in pattern.finditer(text):
            add(match, lambda m: date(int(m["y"]), 12, 31))
    for match in _TARGET_YEAR.finditer(text):
        add(match, lambda m: date(int(m["y"]), 12, 31))
    for match in _IN_YEAR.finditer(text):
        add(match, lambda m: date(int(m["y"]), 12, 31))
    if latest_year:
        deadlines = [d for d in deadlines if d.year <= latest_year + 10]
    return TaskDates(
        deadline=max(deadlines) if deadlines else None,
        starts_on=min(starts) if starts else None,
        ongoing=bool(_ONGOING.search(text)),
    )


def column_deadline(cell: str) -> date | None:
    """A 完成时限 cell: the latest date it names; a bare year is its end;
    "长期坚持" / "持续推进" none."""
    text = re.sub(r"\s+", "", cell or "")
    if not text or _ONGOING.search(text) and not re.search(r"\d{4}", text):
        return None
    found = find_dates(text).deadline
    candidates = [found] if found else []
    for match in re.finditer(r"(?P<y>\d{4})年(?:(?P<m>\d{1,2})月)?(?:(?P<d>\d{1,2})日)?", text):
        try:
            if match["d"]:
                candidates.append(date(int(match["y"]), int(match["m"]), int(match["d"])))
            elif match["m"]:
                candidates.append(_month_end(int(match["y"]), int(match["m"])))
            else:
                candidates.append(date(int(match["y"]), 12, 31))
        except ValueError:
            continue
    return max(candidates) if candidates else None
