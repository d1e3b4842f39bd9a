"""The jobs. Each runs in an application context of its own, commits
through `unit_of_work()`, and is idempotent: running it twice, or in two
processes at once, does nothing twice. Each returns a line for the log."""
from __future__ import annotations

from collections import Counter

from ..db import unit_of_work


def scan_reminders() -> str:
    """Today's reminders; e-mail and webhooks go out after the commit."""
    from ..domain import clock
    from ..reminders.scan import run_scan

    today = clock.today()
    with unit_of_work():
        result = run_scan(today)
    if not result.is_workday:
        return f"{today} 非工作日,不发送催办"
    counts = Counter(line.channel.label for line in result.new_lines)
    detail = "、".join(f"{channel} {n} 条" for channel, n in sorted(counts.items())) or "无新提醒"
    return f"{today}: {detail}"


def retry_deliveries() -> str:
    from ..notify.outbox import deliver

    outcomes = deliver()
    if not outcomes:
        return "无待重试的发送"
    counts = Counter(o.state.label for o in outcomes)
    return "、".join(f"{state} {n} 条" for state, n in sorted(counts.items()))


def sync_calendar() -> str:
    from ..services.calendar import sync_from_package

    with unit_of_work():
        change = sync_from_package()
    return f"日历已同步 {change.years[0]}–{change.years[-1]} 年,变更 {change.days} 天" if change.years else "无数据"
