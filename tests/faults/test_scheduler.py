"""The reminder scan under faults, with real processes and a real SMTP
server on loopback:

- `flask remind` killed (SIGKILL) half-way through sending, then the scan run
  again and two `flask scheduler run` processes started at once: every
  reminder e-mail arrives exactly once (what the SMTP server received);
- the SMTP server down while the scheduler runs: nothing is lost, each
  e-mail arrives once after the server comes back.

(Two `flask remind` at the same moment: tests/reminders/test_processes.py.)"""
from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from email import message_from_bytes
from email import policy as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from supervise.db import session
from supervise.models import Channel, Delivery, DeliveryState, ReportState
from tests.reminders.conftest import Mailbox, free_port
from tests.reminders.test_processes import ROOT, _env, _flask
from tests.reminders.test_rules import file_report

pytestmark = pytest.mark.faults
AS_OF = "2025-10-21"


class GatedCollect:
    """An SMTP server that accepts the first `accept_first` messages at once
    and holds the answer to the others (after their DATA) while `hold` is
    set. A message counts as received only once the server answered 250 to
    a client still connected: a client killed while waiting has not handed
    it over."""

    def __init__(self, box: Mailbox, accept_first: int):
        self.box, self.accept_first = box, accept_first
        self.hold = True
        self.waiting = 0

    async def handle_DATA(self, server, session_, envelope):  # noqa: N802 - aiosmtpd's name
        if self.hold and len(self.box.messages) >= self.accept_first:
            self.waiting += 1
            try:
                while self.hold and not (server.transport is None or server.transport.is_closing()):
                    await asyncio.sleep(0.05)
            finally:
                self.waiting -= 1
        if server.transport is None or server.transport.is_closing():
            return "451 client gone"
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.box.messages.append(message_from_bytes(envelope.original_content, policy=email_policy.default))
        return "250 OK"


def _many_people(small_plan, people, make_person, n: int = 10) -> None:
    file_report(small_plan, 2, people.coordinator, "2025Q3", ReportState.APPROVED)
    for i in range(n):
        make_person("liaison", "杭州市人民政府", f"hz_more{i}", f"hz{i}@example.gov.cn")
        make_person("liaison", "省经信厅", f"jxt_more{i}", f"jxt{i}@example.gov.cn")


def _email_states() -> dict[DeliveryState, int]:
    session().rollback()
    rows = session().execute(
        select(Delivery.state, func.count()).where(Delivery.channel == Channel.EMAIL).group_by(Delivery.state)
    ).all()
    session().rollback()  # hold no transaction while the processes work
    return {state: n for state, n in rows}


def _min_attempts() -> int:
    session().rollback()
    attempts = session().scalar(select(func.min(Delivery.attempts)).where(Delivery.channel == Channel.EMAIL))
    session().rollback()
    return attempts


def _wait(predicate, timeout: float, what: str, explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; e-mail deliveries: {_email_states()} {explain()}")


def _assert_each_email_once(box: Mailbox) -> None:
    session().rollback()
    expected = sorted(
        (row.recipient.email, row.subject)
        for row in session().scalars(select(Delivery).where(Delivery.channel == Channel.EMAIL))
    )
    time.sleep(0.5)  # time for a late duplicate, if one were coming
    received = sorted((str(m["To"]), str(m["Subject"])) for m in box.messages)
    assert received == expected
    assert len(set(received)) == len(received)


def test_scan_killed_half_way_then_restarted_and_two_schedulers_deliver_each_once(app, small_plan, people,
                                                                               make_person):
    _many_people(small_plan, people, make_person)
    box = Mailbox("127.0.0.1", free_port())
    gate = GatedCollect(box, accept_first=3)
    controller = Controller(gate, hostname=box.host, port=box.port)
    controller.start()
    # The held answers must outlast the wait for the kill: a long SMTP timeout.
    env = _env(app, SUPERVISE_TEST_SMTP_HOST=box.host, SMTP_PORT=box.port, SUPERVISE_DELIVERY_RETRY_INTERVAL_SECONDS=1,
               SUPERVISE_DELIVERY_STALE_SECONDS=3, SUPERVISE_DELIVERY_RETRY_BASE_SECONDS=1, SMTP_TIMEOUT_SECONDS=120)
    procs: list[subprocess.Popen] = []
    try:
        first = subprocess.Popen(_flask("remind", "--as-of", AS_OF), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        procs.append(first)
        # Half-way: the scan committed its deliveries, three e-mails went out
        # and were recorded as sent, others wait for the server's answer.
        def explain() -> str:
            out = ""
            if first.poll() is not None:
                out = first.communicate()[1][-3000:]
            return f"held answers {gate.waiting}, received {len(box.messages)}, remind exit {first.poll()} {out}"

        _wait(lambda: _email_states().get(DeliveryState.SENT, 0) == 3 and gate.waiting >= 1, 90,
              "three e-mails sent and others in flight", explain)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        states = _email_states()
        total = sum(states.values())
        assert total > 10 and states[DeliveryState.SENT] == 3 and len(box.messages) == 3
        assert states.get(DeliveryState.SENDING, 0) >= 1  # claimed by the dead process
        gate.hold = False  # the server answers at once from now on

        # Started again: the scan finds every reminder recorded and adds none.
        again = subprocess.run(_flask("remind", "--as-of", AS_OF), cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "新发送 0 条" in again.stdout
        # Two schedulers at once take over what the dead process left.
        for _ in range(2):
            procs.append(subprocess.Popen(_flask("scheduler", "run"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        _wait(lambda: _email_states() == {DeliveryState.SENT: total}, 60, "every e-mail sent")
        _assert_each_email_once(box)
        assert len(box.messages) == total
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
        controller.stop()


def test_smtp_down_while_the_scheduler_runs_loses_nothing(app, small_plan, people, make_person):
    _many_people(small_plan, people, make_person, n=3)
    port = free_port()  # nobody listens here yet
    env = _env(app, SUPERVISE_TEST_SMTP_HOST="127.0.0.1", SMTP_PORT=port, SUPERVISE_DELIVERY_RETRY_INTERVAL_SECONDS=1,
               SUPERVISE_DELIVERY_RETRY_BASE_SECONDS=2, SUPERVISE_DELIVERY_MAX_ATTEMPTS=50)
    scheduler = subprocess.Popen(_flask("scheduler", "run"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    controller = None
    try:
        scan = subprocess.run(_flask("remind", "--as-of", AS_OF), cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert scan.returncode == 0, scan.stderr[-2000:]
        assert "发送未成功" in scan.stdout  # said plainly, not hidden
        states = _email_states()
        total = sum(states.values())
        assert total > 3 and states.get(DeliveryState.SENT, 0) == 0
        # The scheduler keeps retrying while the server is down; nothing is given up.
        _wait(lambda: _min_attempts() >= 2, 30, "a retry by the scheduler")
        assert DeliveryState.ABANDONED not in _email_states()
        controller = Controller(GatedCollect(box := Mailbox("127.0.0.1", port), accept_first=10**6),
                                hostname="127.0.0.1", port=port)
        controller.start()
        _wait(lambda: _email_states() == {DeliveryState.SENT: total}, 60, "every e-mail sent after the server is back")
        _assert_each_email_once(box)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.communicate()
        if controller is not None:
            controller.stop()
