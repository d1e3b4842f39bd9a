"""The version page, the compare page and the API's report run as many SQL
statements for a report submitted four times by four people, with files from
three uploaders, as for one submitted twice by one person with one file:
who submitted, uploaded, created and decided is read with the report, not one
person at a time (N+1)."""
from __future__ import annotations

from sqlalchemy import event

from supervise.db import session, unit_of_work
from supervise.services import reports as report_service
from supervise.services.users import issue_api_token

from ..factories import file_report, upload
from .conftest import task_no

LEAD = "省经信厅"  # leads task 1 of 27号


def _statements(app, client, url: str, headers: dict | None = None) -> int:
    engine = app.extensions["supervise.engine"]
    count = 0

    def on_execute(*_args) -> None:
        nonlocal count
        count += 1

    client.get(url, headers=headers)  # per-process caches warm
    # As a request in production starts: nothing of the test's in the
    # session (the test's app context is shared with the requests here).
    session().expunge_all()
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        response = client.get(url, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return count


def _resubmitted(authors, coordinator, task, period: str, files_by) -> int:
    """A lead report submitted once by each of `authors` (returned by the
    coordinator in between), approved; a file uploaded by each of `files_by`."""
    report = file_report(authors[0], task, period, text="第1稿")
    for uploader in files_by:
        upload(uploader, report, name=f"{uploader.login}.pdf")
    for number, author in enumerate(authors, start=1):
        with unit_of_work():
            if number > 1:
                report_service.update_report(author, report, text=f"第{number}稿")
            report_service.submit_report(author, report)
        with unit_of_work():
            if number < len(authors):
                report_service.return_report(coordinator, report, "请补充")
            else:
                report_service.approve_report(coordinator, report)
    return report.id


def test_report_pages_read_people_in_a_constant_number_of_statements(app, plan, make_user, login_as):
    task = task_no(plan, 1)
    liaisons = [make_user("liaison", unit=LEAD) for _ in range(4)]
    browser, coordinator = login_as("coordinator")
    decider = make_user("coordinator")
    small = _resubmitted(liaisons[:1] * 2, coordinator, task, "2025Q1", liaisons[:1])
    large = _resubmitted(liaisons, decider, task, "2025Q2", liaisons[1:4])
    with unit_of_work():
        token = issue_api_token(coordinator, label="test")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    def counts(report_id: int, last: int) -> dict[str, int]:
        return {
            "version": _statements(app, browser, f"/reports/{report_id}/versions/{last}"),
            "compare": _statements(app, browser, f"/reports/{report_id}/compare?from=1&to={last}"),
            "report page": _statements(app, browser, f"/reports/{report_id}"),
            "api report": _statements(app, api, f"/api/v1/reports/{report_id}", bearer),
            "api version": _statements(app, api, f"/api/v1/reports/{report_id}/versions/{last}", bearer),
            "api compare": _statements(app, api, f"/api/v1/reports/{report_id}/compare?from=1&to={last}", bearer),
        }

    assert counts(small, 2) == counts(large, 4)
