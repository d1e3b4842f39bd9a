"""The aggregate queries behind the dashboard and the report."""
from __future__ import annotations

from datetime import date

from supervise.db import session
from supervise.domain.obligations import obligations
from supervise.reports.supervision import build_supervision, chinese_number, end_of_day_utc, is_on_time, target_window
from supervise.domain.workdays import WorkdayCalendar

from .conftest import AS_OF, shanghai


def test_obligations_from_loaded_tasks_equal_the_query(scenario):
    plan, period = scenario.plan, scenario.period
    tasks = sorted(scenario.tasks.values(), key=lambda t: t.number)
    calendar = WorkdayCalendar.load(session())
    queried = obligations(session(), [period], calendar, task_ids=[t.id for t in tasks])
    given = obligations(session(), [period], calendar, tasks=tasks)

    def key(o):
        return (o.task.id, o.task_unit.unit_id, o.kind, o.due_on, o.report.id if o.report else None)

    assert [key(o) for o in given] == [key(o) for o in queried] and len(given) > 200
    hz = scenario.tasks[1].units[3].unit_id
    only = obligations(session(), [period], calendar, tasks=tasks, unit_ids=[hz])
    assert [key(o) for o in only] == [key(o) for o in queried if o.task_unit.unit_id == hz]


def test_on_time_is_judged_on_the_day_in_shanghai():
    due = date(2025, 7, 7)
    assert end_of_day_utc(due).isoformat() == "2025-07-07T16:00:00+00:00"
    assert is_on_time(shanghai(2025, 7, 7, 23, 59), due)
    assert not is_on_time(shanghai(2025, 7, 8, 0, 0), due)
    assert not is_on_time(None, due)


def test_time_windows_of_targets(scenario):
    targets = build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF).targets
    by_subject = {t.target.subject: t for t in targets}
    plan = scenario.plan
    progress = date(2025, 6, 30)
    # 较2024年翻一番 by 2027: from 2025; 每年 500 场: within 2025; 较2027年再翻一番: not begun.
    windows = {s: target_window(t.target, plan, progress) for s, t in by_subject.items()}
    assert windows["服务对接活动"] == (date(2025, 1, 1), date(2025, 12, 31))
    assert windows["跨境电商技能培训"] == (date(2024, 1, 1), date(2027, 12, 31))
    ratio_targets = [t for t in targets if t.target.kind.value == "ratio"]
    assert {target_window(t.target, plan, progress) for t in ratio_targets} == {
        (date(2025, 1, 1), date(2027, 12, 31)), (date(2028, 1, 1), date(2030, 12, 31))}
    later = [t for t in ratio_targets if t.target.due_year == 2030][0]
    assert later.time_share == 0 and not later.is_behind


def test_chinese_numbers():
    assert [chinese_number(n) for n in (1, 5, 10, 11, 20, 23)] == ["一", "五", "十", "十一", "二十", "二十三"]


def test_units_latest_shares_in_the_window(scenario):
    """A unit's share is its latest included value in the target's window:
    Q2's where it gave one, else Q1's (the database picks it; the data as it
    stood then, in test_as_of, picks it from the included values)."""
    from decimal import Decimal

    from supervise.db import unit_of_work
    from supervise.models import ReportInclusion, ReportKind, ReportState, TargetAllocation
    from supervise.services.units import find_unit

    from .conftest import make_report

    t1, apps, q1 = scenario.tasks[1], scenario.targets["apps"], scenario.q1
    with unit_of_work():
        sess = session()
        sess.add(TargetAllocation(target_id=apps.id, unit_id=find_unit("温州市人民政府").id, value=Decimal(500)))
        hz = make_report(t1, q1, "杭州市人民政府", ReportKind.CONTRIBUTION, ReportState.ACCEPTED,
                         scenario.coordinator, values={apps: 700}, first=shanghai(2025, 4, 1))
        wz = make_report(t1, q1, "温州市人民政府", ReportKind.CONTRIBUTION, ReportState.ACCEPTED,
                         scenario.coordinator, values={apps: 100}, first=shanghai(2025, 4, 1))
        lead = make_report(t1, q1, "省经信厅", ReportKind.LEAD_REPORT, ReportState.APPROVED, scenario.coordinator,
                           text="一季度", first=shanghai(2025, 4, 2))
        sess.add_all([ReportInclusion(report_id=lead.id, contribution_id=hz.id),
                      ReportInclusion(report_id=lead.id, contribution_id=wz.id)])
    targets = build_supervision(session(), scenario.plan, scenario.period, as_of=AS_OF).targets
    split = next(t for t in targets if t.target.id == apps.id)
    # 温州's Q2 contribution (999) was not included: its Q1 share stands.
    assert {a.unit.short_name: a.actual for a in split.allocations} == {
        "杭州市政府": 1200, "宁波市政府": 800, "温州市政府": 100}
    # Q1 alone: Q2 is outside the periods up to the chosen one.
    targets = build_supervision(session(), scenario.plan, q1, as_of=AS_OF).targets
    split = next(t for t in targets if t.target.id == apps.id)
    # The lead report gave no figure of its own: the target's value is the
    # units' included shares summed.
    assert split.latest == 800 and split.latest_period == "2025Q1"
    assert {a.unit.short_name: a.actual for a in split.allocations} == {
        "杭州市政府": 700, "宁波市政府": None, "温州市政府": 100}
