"""我的待办: what the logged-in user has to do next, by role."""
from __future__ import annotations

from flask import Blueprint, render_template

from .. import db
from ..services.work import my_work
from ..domain.workdays import WorkdayCalendar
from . import acting_user
from ..domain import clock

bp = Blueprint("work", __name__)


@bp.get("/work")
def index():
    user = acting_user()
    today = clock.today()
    calendar = WorkdayCalendar.load(db.session)
    work = my_work(user, today, calendar)  # authorizes "work.view"
    return render_template(
        "work/index.html", work=work, today=today,
        waiting_days=lambda moment: calendar.working_days_between(_local_date(moment), today) if moment else None,
    )


def _local_date(moment):
    from ..services.reports import as_local_date

    return as_local_date(moment)
