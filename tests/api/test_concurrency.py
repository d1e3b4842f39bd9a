"""Two people acting on the same report at the same moment, through a real
HTTP server on loopback: exactly one wins, the other is told it changed."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from supervise.db import session
from supervise.models import AuditEntry

from .conftest import report_in_state, report_row


@pytest.fixture
def server(live_server) -> str:
    return f"{live_server.url}/api/v1"


def _send(url: str, token: str, method: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _race(calls: list[tuple[str, str, str, dict]]) -> list[tuple[int, dict]]:
    """Fire the calls at once from threads of their own."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        barrier.wait()
        results[index] = _send(*call)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    return results


def test_two_coordinators_decide_the_same_report_at_once(cast, server):
    rid = report_in_state(cast, "lead", "submitted", "2025Q2")
    version = report_row(rid).version
    results = _race([
        (f"{server}/reports/{rid}/approve", cast.coordinator.token, "POST", {"version": version}),
        (f"{server}/reports/{rid}/return", cast.coordinator2.token, "POST", {"version": version, "reason": "数据有误"}),
    ])
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    winner = next(body for status, body in results if status == 200)
    loser = next(body for status, body in results if status == 409)
    assert loser["error"] == "conflict" and "已被他人修改" in loser["message"]
    assert report_row(rid).state.value == winner["state"] in ("approved", "returned")
    decisions = session().scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == rid, AuditEntry.action.in_(["report.approve", "report.return"]))
    ).all()
    assert len(decisions) == 1


def test_two_liaisons_save_the_same_draft_at_once(cast, server, api_as):
    colleague = api_as("liaison", unit="省经信厅")
    rid = report_in_state(cast, "lead", "draft", "2025Q2")
    version = report_row(rid).version
    results = _race([
        (f"{server}/reports/{rid}", cast.lead.token, "PATCH", {"text": "甲的版本", "version": version}),
        (f"{server}/reports/{rid}", colleague.token, "PATCH", {"text": "乙的版本", "version": version}),
    ])
    assert sorted(status for status, _ in results) == [200, 409], results
    winner = next(body for status, body in results if status == 200)
    # Not last-write-wins: the stored text is the winner's.
    assert report_row(rid).text == winner["text"]


def test_a_liaison_saving_while_the_coordinator_reopens(cast, server):
    rid = report_in_state(cast, "lead", "approved", "2025Q2")
    version = report_row(rid).version
    results = _race([
        (f"{server}/reports/{rid}/reopen", cast.coordinator.token, "POST", {"version": version, "reason": "口径调整"}),
        (f"{server}/reports/{rid}", cast.lead.token, "PATCH", {"text": "趁机修改", "version": version}),
    ])
    # Whatever the order, the edit of the old version never lands.
    reopen, edit = results
    assert reopen[0] == 200 and edit[0] == 409, results
    assert report_row(rid).text == "本期进展"
