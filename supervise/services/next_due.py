"""The next report a person's unit owes, for 我的待办 when it is empty: on
the first day of a period nothing is due until its notice window opens, and
the page says what comes next instead of nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..db import session
from ..domain.obligations import next_obligations
from ..domain.workdays import WorkdayCalendar
from ..models import ReportKind, Task, User
from ..policy import can


@dataclass(frozen=True)
class NextDue:
    period_code: str
    period_label: str  # 2026年第四季度
    task: Task  # the first in task order of those due that day
    kind: ReportKind
    due_on: date
    working_days_left: int  # 0: due today
    others_due: int  # more reports the unit owes that same day

    @property
    def kind_label(self) -> str:
        return self.kind.label


def next_due(user: User, today: date, calendar: WorkdayCalendar | None = None) -> NextDue | None:
    """The next report `user`'s unit owes (None for whoever files none)."""
    if not can(user, "report.file"):
        return None
    sess = session()
    calendar = calendar or WorkdayCalendar.load(sess)
    owed = next_obligations(sess, [user.unit_id], today, calendar)
    if not owed:
        return None
    first = owed[0]
    return NextDue(
        period_code=first.period.code, period_label=first.period.label, task=first.task, kind=first.kind,
        due_on=first.due_on, working_days_left=max(calendar.working_days_between(today, first.due_on), 0),
        others_due=len(owed) - 1,
    )
