"""Fixtures for reminders: the 2025 calendar, a small plan of two tasks with
units we know, the people who get reminders, and real servers on loopback
(an aiosmtpd SMTP server and an HTTP server standing in for a group robot)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from supervise.db import session, unit_of_work
from supervise.models import Task
from supervise.services.units import find_unit
from tests.guards import free_port, own


@pytest.fixture
def workdays(ctx):
    """The statutory calendar of 2024-2026 from the chinese-calendar package."""
    from supervise.services.calendar import sync_from_package
    from supervise.domain.workdays import WorkdayCalendar

    with unit_of_work():
        sync_from_package([2024, 2025, 2026])
    return WorkdayCalendar.load(session())


@pytest.fixture
def small_plan(make_task, workdays):
    """A 2025 plan with quarterly reports due 5 working days after each
    quarter: task 1 led by 省经信厅 with 杭州市 as co-unit, task 2 led by 省商务厅."""
    task = make_task(number=1, lead="省经信厅", co=("杭州市人民政府",))
    make_task(number=2, lead="省商务厅", co=())
    return task.plan


_PASSWORD_HASH: list[str] = []


@pytest.fixture
def make_person(units):
    """More people beyond the roster, fast: like make_user, with the password
    hash computed once per session (these tests make many users and never
    test passwords)."""
    from werkzeug.security import generate_password_hash

    from tests.conftest import PASSWORD
    from supervise.models import Role, User, UserRole

    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(generate_password_hash(PASSWORD))

    def factory(role: str, unit: str, login: str, email: str | None = None, **kw) -> User:
        with unit_of_work() as sess:
            user = User(login=login, name=kw.pop("name", login), unit_id=find_unit(unit).id,
                        password_hash=_PASSWORD_HASH[0], email=email, **kw)
            user.role_grants.append(UserRole(role=Role(role)))
            sess.add(user)
        return user

    return factory


@pytest.fixture
def people(people):
    """Who reminders go to, from the one roster (tests/people.py): the
    liaisons of the lead and the co-unit, the units' leaders, and a
    coordinator -- made up front, since the scan looks for them."""
    return people.create("lead", "co", "co_leader", "lead_leader", "coordinator")


def task_of(plan, number: int) -> Task:
    from sqlalchemy import select

    return session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == number))


# --- a real SMTP server ------------------------------------------------------


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    def wait_for(self, n: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class _Collect:
    def __init__(self, box: Mailbox):
        self.box = box

    async def handle_DATA(self, server, session_, envelope):  # noqa: N802 - aiosmtpd's name
        self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.box.messages.append(message_from_bytes(envelope.original_content, policy=email_policy.default))
        return "250 OK"


def start_smtp(port: int | None = None, **kwargs) -> tuple[Controller, Mailbox]:
    box = Mailbox("127.0.0.1", own(port) if port else free_port())
    controller = Controller(_Collect(box), hostname=box.host, port=box.port, **kwargs)
    controller.start()
    return controller, box


@pytest.fixture
def smtp_server(app):
    controller, box = start_smtp()
    app.config.update(SMTP_HOST=box.host, SMTP_PORT=box.port, SMTP_SECURITY="none")
    yield box
    controller.stop()


# --- a real HTTP server standing in for a DingTalk / 浙政钉 robot --------------


@dataclass
class Robot:
    url: str
    secret: str
    requests: list = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    answer: dict = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})


def _robot_handler(robot: Robot):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            robot.requests.append({"path": self.path, "query": query, "body": json.loads(body), "headers": dict(self.headers)})
            if robot.delay:
                time.sleep(robot.delay)
            payload = json.dumps(robot.answer).encode()
            try:
                self.send_response(robot.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def robot(app):
    port = free_port()
    robot = Robot(url=f"http://127.0.0.1:{port}/robot/send?access_token=t0ken", secret="SEC-test-secret")
    server = ThreadingHTTPServer(("127.0.0.1", port), _robot_handler(robot))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config.update(WEBHOOK_URL=robot.url, WEBHOOK_SECRET=robot.secret, WEBHOOK_TIMEOUT_SECONDS=1)
    yield robot
    server.shutdown()
    server.server_close()
