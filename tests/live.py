"""A real HTTP server on loopback, for tests that need real clients
(concurrency, the browser)."""
from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from .guards import own


@dataclass
class LiveServer:
    url: str

    def client(self, token: str | None = None) -> "HttpClient":
        return HttpClient(self.url, token)


class HttpClient:
    """A small real HTTP client with its own cookie jar."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, _decode(resp.read(), resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read(), exc.headers)


def _decode(raw: bytes, headers):
    if headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(raw)
    return raw.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    own(server.server_port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
