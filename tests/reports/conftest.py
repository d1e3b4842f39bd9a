"""A supervision scenario for 2025Q2 of the 27号 plan, built from model rows
(the reporting workflow is another module): an approved lead report with a
split target fed by included contributions, a contribution that was not
included, a returned report, a submitted but unapproved report, a task that
never reported, and an overdue milestone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from supervise.db import session, unit_of_work
from supervise.models import (
    Milestone,
    MilestoneState,
    Plan,
    Report,
    ReportInclusion,
    ReportingPeriod,
    ReportKind,
    ReportState,
    ReportValue,
    Target,
    TargetAllocation,
    Task,
    User,
)
from supervise.services.units import find_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = date(2025, 7, 21)
INJECTION = '=HYPERLINK("http://evil.example/","点此")'


def shanghai(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(timezone.utc)


@dataclass
class Scenario:
    plan: Plan
    period: ReportingPeriod
    q1: ReportingPeriod
    coordinator: User
    tasks: dict[int, Task]
    targets: dict[int, Target]  # by position-independent key: text subject
    as_of: date = AS_OF


def make_report(task, period, unit_name, kind, state, author, *, text="", values=None, first=None,
                submitted=None, returned_at=None, reason=None) -> Report:
    unit = find_unit(unit_name)
    report = Report(
        task_id=task.id, period_id=period.id, unit_id=unit.id, kind=kind, state=state, text=text,
        created_by_id=author.id, first_submitted_at=first, submitted_at=submitted or first,
        returned_at=returned_at, return_reason=reason,
        decided_at=(submitted or first) if state in (ReportState.APPROVED, ReportState.ACCEPTED) else None,
    )
    for target, value in (values or {}).items():
        report.values.append(ReportValue(target_id=target.id, value=Decimal(str(value))))
    session().add(report)
    session().flush()
    return report


@pytest.fixture
def scenario(plan, people) -> Scenario:
    coordinator = people.coordinator
    with unit_of_work():
        sess = session()
        plan = sess.get(Plan, plan.id)
        periods = {p.code: p for p in plan.periods}
        q1, q2 = periods["2025Q1"], periods["2025Q2"]
        tasks = {t.number: t for t in sess.scalars(select(Task).where(Task.plan_id == plan.id))}
        t1, t3, t8, t10 = tasks[1], tasks[3], tasks[8], tasks[10]
        by_subject = {t.subject: t for t in sess.scalars(select(Target).where(Target.plan_id == plan.id))}
        apps, leaders, parks = by_subject["跨境电商应用主体"], by_subject["龙头企业"], by_subject["省级跨境电商产业园"]
        # The 5000 new adopters are split between Hangzhou and Ningbo (目标分解).
        apps.allocations.append(TargetAllocation(unit_id=find_unit("杭州市人民政府").id, value=Decimal(3000)))
        apps.allocations.append(TargetAllocation(unit_id=find_unit("宁波市人民政府").id, value=Decimal(2000)))

        # Task 1: the lead's report is approved; Hangzhou's and Ningbo's
        # contributions are included; Wenzhou's was accepted but not included.
        hz = make_report(t1, q2, "杭州市人民政府", ReportKind.CONTRIBUTION, ReportState.ACCEPTED, coordinator,
                         values={apps: 1200}, first=shanghai(2025, 7, 1))
        nb = make_report(t1, q2, "宁波市人民政府", ReportKind.CONTRIBUTION, ReportState.ACCEPTED, coordinator,
                         values={apps: 800}, first=shanghai(2025, 7, 8))  # late
        make_report(t1, q2, "温州市人民政府", ReportKind.CONTRIBUTION, ReportState.ACCEPTED, coordinator,
                    values={apps: 999}, first=shanghai(2025, 7, 2))
        lead = make_report(t1, q2, "省经信厅", ReportKind.LEAD_REPORT, ReportState.APPROVED, coordinator,
                           text=f"本季度新增应用主体2000家。{INJECTION}", values={leaders: 30},
                           first=shanghai(2025, 7, 7, 23, 30))  # the last evening of the due day: on time
        sess.add_all([ReportInclusion(report_id=lead.id, contribution_id=hz.id),
                      ReportInclusion(report_id=lead.id, contribution_id=nb.id)])
        # Task 3: returned.
        make_report(t3, q2, t3.lead.unit.short_name, ReportKind.LEAD_REPORT, ReportState.RETURNED, coordinator,
                    text="品牌培育情况", first=shanghai(2025, 7, 4), returned_at=shanghai(2025, 7, 9),
                    reason="数据口径与上季度不一致")
        # Task 8: approved in Q1 (20 parks); Q2 submitted but not yet approved (50).
        make_report(t8, q1, tasks[8].lead.unit.short_name, ReportKind.LEAD_REPORT, ReportState.APPROVED,
                    coordinator, text="一季度新认定产业园20个", values={parks: 20}, first=shanghai(2025, 4, 3))
        make_report(t8, q2, tasks[8].lead.unit.short_name, ReportKind.LEAD_REPORT, ReportState.SUBMITTED,
                    coordinator, text="二季度未审核", values={parks: 50}, first=shanghai(2025, 7, 5))
        # Task 10: a confirmed milestone that passed its date.
        sess.add(Milestone(task_id=t10.id, title="开通第一条新航线", due_on=date(2025, 6, 30),
                           state=MilestoneState.CONFIRMED, proposed_by_id=coordinator.id))
        sess.add(Milestone(task_id=t10.id, title="已完成的节点", due_on=date(2025, 5, 30),
                           state=MilestoneState.COMPLETED, proposed_by_id=coordinator.id))
        sess.flush()
        return Scenario(plan=plan, period=q2, q1=q1, coordinator=coordinator, tasks=tasks,
                        targets={"apps": apps, "leaders": leaders, "parks": parks})
