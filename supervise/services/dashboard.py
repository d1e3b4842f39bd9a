"""The dashboard (督查看板) as one read model for the page and
GET /api/v1/dashboard: built from the same `build_supervision` figures as
the quarterly 通报 (`reports.bulletin.figures`), so the three never differ."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import NamedTuple

from sqlalchemy import select

from ..db import session
from ..domain.lights import Light
from ..domain.periods import resolve_period
from ..errors import NotFound, ValidationError
from ..models import Plan, PlanStatus, ReportingPeriod, User
from ..policy import authorize
from ..reports.bulletin import Figures, figures
from ..reports.supervision import OverdueItem, Supervision, TargetProgress, build_supervision

VIEWS = {
    "summary": "概览",
    "sections": "按行动",
    "tasks": "按任务",
    "units": "按单位",
    "targets": "按指标",
    "late": "逾期与退回",
    "punctuality": "报送及时率",
}
PAGE_SIZE = 20
SUMMARY_ROWS = 6  # rows of each list on the summary screen


@dataclass
class LateCounts:
    lead_reports: int
    contributions: int
    milestones: int
    returned: int
    red_tasks: int


@dataclass
class DashboardView:
    plans: list[PlanChoice]
    plan: Plan
    period: ReportingPeriod
    as_of: date
    data: Supervision
    late: LateCounts

    @cached_property
    def figures(self) -> Figures:
        """The 通报's figures (they count the targets: the views that show them ask)."""
        return figures(self.data)

    @property
    def targets_with_data(self) -> list[TargetProgress]:
        return [t for t in self.data.targets if t.latest is not None]

    @property
    def targets_without_data(self) -> list[TargetProgress]:
        return [t for t in self.data.targets if t.latest is None]

    @property
    def late_items(self) -> list[OverdueItem]:
        """What is late, the most overdue first."""
        return sorted(self.data.overdue, key=lambda i: (-i.working_days, i.task.number))

    @property
    def section_lights(self) -> list[tuple[str, dict[Light, int]]]:
        return [(s.title, c.lights) for s, c in self.data.by_section]


class PlanChoice(NamedTuple):
    """A plan as the selector offers it."""

    id: int
    document_number: str
    title: str


def list_plans(user: User) -> list[PlanChoice]:
    authorize(user, "dashboard.view")
    # Only the selector needs the plans: what it shows, as rows.
    return [PlanChoice(*row) for row in session().execute(
        select(Plan.id, Plan.document_number, Plan.title)
        .where(Plan.status == PlanStatus.PUBLISHED)  # a draft owes nothing yet, and leaders do not see it
        .order_by(Plan.issued_on.desc(), Plan.id.desc())
    )]


def dashboard_view(user: User, as_of: date, *, plan_id: int | None = None,
                   period_code: str | None = None, view: str = "summary") -> DashboardView:
    """The plan (default: the newest) at the end of the period (default: the
    last one ended by `as_of`), lights and lateness judged on `as_of`.

    What every view shows (lights, what is late) is computed here; of the
    parts `Supervision` computes when first read, only those of the `view`
    (the figures and targets, the punctuality table, the counts by unit)."""
    plans = list_plans(user)
    if not plans:
        raise NotFound("尚未导入行动计划")
    plan = plans[0]
    if plan_id is not None:
        plan = next((p for p in plans if p.id == plan_id), None)
        if plan is None:
            raise NotFound("未找到该计划")
    period = resolve_period(session(), plan, period_code, as_of)
    data = build_supervision(session(), plan, period, as_of=as_of)
    kinds = [item.kind for item in data.overdue]
    late = LateCounts(
        lead_reports=sum(1 for k in kinds if k == "牵头单位报告"),
        contributions=sum(1 for k in kinds if k == "配合单位报送"),
        milestones=sum(1 for k in kinds if k == "工作节点"),
        returned=data.returned_count,
        red_tasks=len(data.red_tasks),
    )
    if view == "punctuality":
        data.punctuality  # noqa: B018 - its query, run here rather than while rendering
    elif view == "units":
        data.by_unit  # noqa: B018
    view_model = DashboardView(plans=plans, plan=data.plan, period=period, as_of=as_of, data=data, late=late)
    if view in ("summary", "targets", "late"):
        view_model.figures  # noqa: B018 - the targets, from their two queries, computed here
    return view_model


def parse_view(value: str | None) -> str:
    value = (value or "summary").strip()
    if value not in VIEWS:
        raise ValidationError(f"没有“{value}”这一视图,可选:{'、'.join(VIEWS.values())}",
                              field_errors={"view": "无此视图"})
    return value
