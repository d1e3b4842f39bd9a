"""E-mail and webhook deliveries to real servers on loopback: what arrives,
that a failure is recorded and retried with backoff without holding up the
others, and that a final failure is shown to the coordinators."""
from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from supervise.db import session, unit_of_work, utcnow
from supervise.models import Channel, Delivery, DeliveryState, ReportState
from supervise.notify.outbox import backoff, deliver
from supervise.reminders.scan import run_scan

from .conftest import free_port, start_smtp
from .test_rules import file_report


@pytest.fixture
def quiet(small_plan, people):
    file_report(small_plan, 2, people.coordinator, "2025Q3", ReportState.APPROVED)
    return small_plan


def scan(day: date):
    with unit_of_work():
        return run_scan(day)


def deliveries(channel: Channel) -> list[Delivery]:
    session().rollback()
    return list(session().scalars(select(Delivery).where(Delivery.channel == channel).order_by(Delivery.id)))


def make_due_now() -> None:
    """Let the clock run past every pending retry."""
    with unit_of_work():
        session().execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_email_arrives_multipart_in_chinese_with_task_period_due_date_and_link(app, quiet, people, smtp_server):
    app.config["BASE_URL"] = "https://dc.zj.gov.cn"
    scan(date(2025, 10, 15))
    messages = smtp_server.wait_for(3)
    # The lead's liaison: its report is overdue, and Hangzhou's contribution
    # is late; Hangzhou's liaison: its contribution is late.
    assert len(messages) == 3
    assert sorted(rcpt for _, rcpts in smtp_server.envelopes for rcpt in rcpts) == [
        "hz@example.gov.cn", "lead@example.gov.cn", "lead@example.gov.cn"]
    msg = next(m for m in messages if m["To"] == "lead@example.gov.cn" and "牵头单位报告" in m["Subject"])
    assert msg.is_multipart() and msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"] == "【催办】任务1「测试任务1」2025年第三季度进展情况(牵头单位报告)已逾期1个工作日"
    assert "督查督办系统" in msg["From"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    task_id = quiet.tasks[0].id
    for body in (text, html):
        assert "测试任务1" in body and "2025年第三季度" in body and "2025年10月14日" in body
        assert f"https://dc.zj.gov.cn/tasks/{task_id}" in body
    assert "逾期1个工作日" in text and "<table" in html
    assert all(d.state is DeliveryState.SENT and d.attempts == 1 for d in deliveries(Channel.EMAIL))


def test_webhook_is_signed_and_accepted_by_a_robot(app, quiet, people, robot, make_person):
    with unit_of_work():
        session().get(type(people.lead), people.lead.id).wants_webhook = True
    scan(date(2025, 10, 15))
    assert len(robot.requests) == 2  # the overdue report, and the late contribution
    request = next(r for r in robot.requests if "已逾期" in r["body"]["markdown"]["title"])
    timestamp, sign = request["query"]["timestamp"], request["query"]["sign"]
    expected = base64.b64encode(
        hmac.new(robot.secret.encode(), f"{timestamp}\n{robot.secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert sign == expected
    assert request["query"]["access_token"] == "t0ken"
    assert abs(int(timestamp) / 1000 - utcnow().timestamp()) < 60
    body = request["body"]
    assert body["msgtype"] == "markdown" and "测试任务1" in body["markdown"]["text"]
    assert "2025年10月14日" in body["markdown"]["text"] and body["markdown"]["title"].startswith("【催办】")
    assert body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert [d.state for d in deliveries(Channel.WEBHOOK)] == [DeliveryState.SENT] * 2


def test_users_choose_channels_and_in_app_cannot_be_turned_off(app, quiet, people, smtp_server, robot):
    with unit_of_work():
        lead = session().get(type(people.lead), people.lead.id)
        lead.wants_email, lead.wants_webhook = False, True
    result = scan(date(2025, 10, 15))
    channels = {(l.recipient.login, l.channel) for l in result.new_lines}
    assert ("lead_liaison", Channel.IN_APP) in channels and ("lead_liaison", Channel.WEBHOOK) in channels
    assert ("lead_liaison", Channel.EMAIL) not in channels
    assert ("hz_liaison", Channel.EMAIL) in channels and ("hz_liaison", Channel.WEBHOOK) not in channels


def test_smtp_down_is_recorded_retried_with_backoff_and_does_not_hold_up_others(app, quiet, people, robot):
    port = free_port()  # nobody listens here yet
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, DELIVERY_MAX_ATTEMPTS=3)
    with unit_of_work():
        session().get(type(people.lead), people.lead.id).wants_webhook = True
    before = utcnow()
    scan(date(2025, 10, 15))
    # The webhook and the in-app reminders went out although mail is down.
    assert len(robot.requests) == 2
    assert all(d.state is DeliveryState.SENT for d in deliveries(Channel.IN_APP))
    mails = deliveries(Channel.EMAIL)
    assert len(mails) == 3 and all(d.state is DeliveryState.FAILED and d.attempts == 1 for d in mails)
    assert all("Connection refused" in d.last_error or "Errno" in d.last_error for d in mails)
    assert all(before + timedelta(seconds=59) <= d.next_attempt_at <= utcnow() + timedelta(seconds=61) for d in mails)
    # Not due yet: the retry job leaves them alone.
    assert deliver() == []
    # The server comes up; the next retry sends each exactly once.
    controller, box = start_smtp(port)
    try:
        make_due_now()
        outcomes = deliver()
        assert {o.state for o in outcomes} == {DeliveryState.SENT} and len(outcomes) == 3
        assert len(box.wait_for(3)) == 3
        make_due_now()
        assert deliver() == []
        assert len(box.messages) == 3
    finally:
        controller.stop()
    assert [d.attempts for d in deliveries(Channel.EMAIL)] == [2, 2, 2]


def test_a_final_failure_is_shown_to_coordinators_first(app, quiet, people, login_as):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), DELIVERY_MAX_ATTEMPTS=3)
    scan(date(2025, 10, 15))
    for _ in range(2):
        make_due_now()
        deliver()
    mails = deliveries(Channel.EMAIL)
    assert {(d.state, d.attempts) for d in mails} == {(DeliveryState.ABANDONED, 3)}
    make_due_now()
    assert deliver() == []  # given up: no more tries
    client, _ = login_as("coordinator")
    html = client.get("/admin/scheduler").get_data(as_text=True)
    assert "最终失败" in html
    # Failures come before the reminders that went out.
    assert html.index("最终失败") < html.index("已发送")


def test_backoff_grows_and_is_capped(app, ctx):
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(20).total_seconds() == 3600


def test_webhook_500_and_timeout_are_failures_to_retry(app, quiet, people, robot, smtp_server):
    with unit_of_work():
        for user in (people.lead, people.co):
            session().get(type(user), user.id).wants_webhook = True
    robot.status = 500
    scan(date(2025, 10, 15))
    hooks = deliveries(Channel.WEBHOOK)
    assert [d.state for d in hooks] == [DeliveryState.FAILED] * 3 and "HTTP 500" in hooks[0].last_error
    # E-mail went out regardless.
    assert len(smtp_server.wait_for(3)) == 3
    robot.status, robot.delay = 200, 1.5  # answers after the 1 s timeout
    make_due_now()
    outcomes = deliver()
    assert [o.state for o in outcomes] == [DeliveryState.FAILED] * 3
    assert all("timed out" in (o.error or "") or "连接失败" in (o.error or "") for o in outcomes)
    robot.delay = 0
    robot.answer = {"errcode": 310000, "errmsg": "sign not match"}
    make_due_now()
    assert [o.error for o in deliver()][0].startswith("WebhookError: errcode 310000")
    robot.answer = {"errcode": 0, "errmsg": "ok"}
    make_due_now()
    assert [o.state for o in deliver()] == [DeliveryState.SENT] * 3
    assert [d.attempts for d in deliveries(Channel.WEBHOOK)] == [4, 4, 4]


def test_starttls_with_login(app, quiet, people, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session_, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"robot" and auth_data.password == b"s3cret")

    controller, box = start_smtp(
        tls_context=context, require_starttls=True, authenticator=authenticator, auth_require_tls=True
    )
    try:
        app.config.update(SMTP_HOST=box.host, SMTP_PORT=box.port, SMTP_SECURITY="starttls", SMTP_USER="robot",
                          SMTP_PASSWORD="s3cret", SMTP_CA_FILE=str(cert))
        scan(date(2025, 10, 15))
        assert len(box.wait_for(3)) == 3
        assert logins and logins[0] == (b"robot", b"s3cret")
    finally:
        controller.stop()
