"""Nothing leaves the machine from a test: an e-mail or a webhook may go only
to a loopback server of the test's own (a port it took with `free_port()`,
or a server it started and registered with `own()`). The autouse fixture in
tests/conftest.py fails any test that tried otherwise -- even when the
outbox, which records every channel failure instead of raising, swallowed
the refusal. Only the app's own requests are guarded (smtplib, which only
the app uses, and urlopen called from supervise.*)."""
from __future__ import annotations

import smtplib
import socket
import sys
import threading
import urllib.request
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

_lock = threading.Lock()
_own_ports: set[int] = set()
_attempts: list[str] = []


def own(port: int) -> int:
    """Declare a loopback port the current test's own server listens on."""
    with _lock:
        _own_ports.add(int(port))
    return int(port)


def free_port() -> int:
    """A free loopback port, reserved as this test's own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return own(s.getsockname()[1])


class OutboundRefused(ConnectionRefusedError):
    pass


def _check(kind: str, host: str | None, port: int | None) -> None:
    host = (host or "").strip("[]")
    with _lock:
        allowed = host in LOOPBACK and port in _own_ports
        if not allowed:
            _attempts.append(f"{kind} to {host}:{port}")
    if not allowed:
        raise OutboundRefused(f"test guard: {kind} to {host}:{port} is not a loopback server of this test")


_real_smtp_connect = smtplib.SMTP.connect
_real_urlopen = urllib.request.urlopen


def _smtp_connect(self, host="localhost", port=0, source_address=None):
    if not port and host.count(":") == 1:
        host, _, text = host.partition(":")
        port = int(text) if text.isdigit() else 0
    _check("e-mail (SMTP)", host, int(port or self.default_port))
    return _real_smtp_connect(self, host, port, source_address)


def _urlopen(url, *args, **kwargs):
    # The app's own requests (its webhook channel); a test's requests to the
    # servers it started are its business.
    if not sys._getframe(1).f_globals.get("__name__", "").startswith("supervise."):
        return _real_urlopen(url, *args, **kwargs)
    full = url.full_url if isinstance(url, urllib.request.Request) else str(url)
    parts = urlsplit(full)
    _check("HTTP (webhook)", parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return _real_urlopen(url, *args, **kwargs)


def start(monkeypatch) -> None:
    """Begin a test: nothing is its own yet; SMTP and urlopen are guarded."""
    with _lock:
        _own_ports.clear()
        _attempts.clear()
    monkeypatch.setattr(smtplib.SMTP, "connect", _smtp_connect)
    monkeypatch.setattr(urllib.request, "urlopen", _urlopen)


def attempts() -> list[str]:
    with _lock:
        return list(_attempts)


def forget() -> None:
    """For the guard's own test: clear what it caught."""
    with _lock:
        _attempts.clear()
