"""The test-suite's own safety: TestingConfig ignores the environment's mail
server and robot, and a test that would send anywhere but to a loopback
server of its own is caught (tests/guards.py), even where the outbox records
the failure instead of raising."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from supervise.notify import webhook
from supervise.notify.email import send_email
from tests import guards

ROOT = Path(__file__).resolve().parent.parent.parent


def test_testing_config_does_not_inherit_mail_or_webhook_from_the_environment():
    env = {**{k: v for k, v in os.environ.items() if k != "SUPERVISE_TEST_SMTP_HOST"}, "SMTP_HOST": "mail.example.gov.cn", "SMTP_USER": "u", "SMTP_PASSWORD": "p",
           "SUPERVISE_WEBHOOK_URL": "https://oapi.example.com/robot/send?access_token=x",
           "SUPERVISE_WEBHOOK_SECRET": "s"}
    code = ("from config import TestingConfig as T, DevelopmentConfig as D; "
            "print(repr((T.SMTP_HOST, T.SMTP_USER, T.SMTP_PASSWORD, T.WEBHOOK_URL, T.WEBHOOK_SECRET, "
            "D.SMTP_HOST, D.WEBHOOK_URL)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    testing, development = eval(out.stdout)[:5], eval(out.stdout)[5:]  # noqa: S307 - our own repr
    assert testing == ("", "", "", "", "")
    # The other configurations still read the environment.
    assert development == ("mail.example.gov.cn", "https://oapi.example.com/robot/send?access_token=x")


def test_mail_and_webhooks_to_anything_but_an_own_loopback_server_are_caught(app, ctx):
    app.config.update(SMTP_HOST="192.0.2.25", SMTP_PORT=25, WEBHOOK_URL="https://oapi.example.com/robot/send")
    with pytest.raises(guards.OutboundRefused):
        send_email("someone@example.gov.cn", "主题", "正文", "<p>正文</p>")
    with pytest.raises(webhook.WebhookError):  # the robot client reports it as a connection failure
        webhook.post(webhook.robot_message("标题", "正文", []))
    # A loopback port the test did not take is not its own either.
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=25)
    with pytest.raises(guards.OutboundRefused):
        send_email("someone@example.gov.cn", "主题", "正文", "<p>正文</p>")
    assert guards.attempts() == [
        "e-mail (SMTP) to 192.0.2.25:25",
        "HTTP (webhook) to oapi.example.com:443",
        "e-mail (SMTP) to 127.0.0.1:25",
    ]
    guards.forget()  # this test meant to; any other test would now fail


def test_the_outbox_swallowing_the_refusal_does_not_hide_it(app, small_plan, people):
    """The outbox records a channel failure instead of raising; the guard
    still knows (and would fail the test at teardown)."""
    from supervise.db import unit_of_work
    from supervise.reminders.scan import run_scan

    app.config.update(SMTP_HOST="smtp.example.gov.cn", SMTP_PORT=25)
    with unit_of_work():
        run_scan(date(2025, 10, 14))  # due soon: in-app and e-mail reminders, mail sent after the commit
    assert guards.attempts() and all(a == "e-mail (SMTP) to smtp.example.gov.cn:25" for a in guards.attempts())
    guards.forget()
