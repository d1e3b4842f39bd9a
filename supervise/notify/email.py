"""E-mail over SMTP: plain, STARTTLS or TLS, with a login if configured;
multipart text and HTML."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app


def _tls_context() -> ssl.SSLContext:
    # An intranet mail server often has a certificate of the organisation's
    # own CA: SMTP_CA_FILE names it.
    cafile = current_app.config.get("SMTP_CA_FILE") or None
    return ssl.create_default_context(cafile=cafile)


def build_message(to_addr: str, subject: str, text: str, html: str) -> EmailMessage:
    config = current_app.config
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config["SMTP_SENDER"]
    msg["To"] = to_addr
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="supervise.local")
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def send_email(to_addr: str, subject: str, text: str, html: str) -> None:
    """Send one message; raises on any failure (the outbox records it)."""
    config = current_app.config
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    timeout = float(config.get("SMTP_TIMEOUT_SECONDS", 10))
    security = (config.get("SMTP_SECURITY") or "none").lower()
    msg = build_message(to_addr, subject, text, html)
    if security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if security == "starttls":
            client.starttls(context=_tls_context())
        if config.get("SMTP_USER"):
            client.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
        client.send_message(msg)
