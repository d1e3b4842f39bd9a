"""No 500 from input (issue 9, point 7): a lone surrogate in any text, JSON
nested 100,000 deep and a calendar year outside 2000–2100 answer 400 with a
message, on every route of the application (read from its url_map), over
real HTTP; afterwards the server's log holds no traceback."""
from __future__ import annotations

import logging
import re
import urllib.error
import urllib.request

import pytest

from supervise.db import unit_of_work
from supervise.services.users import issue_api_token

from ..conftest import login

SURROGATE_JSON = b'{"text": "\\ud800", "label": "\\ud800", "reason": "\\ud800", "title": "\\ud800"}'
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
# A form field and a query value holding the UTF-8-style bytes of U+D800.
SURROGATE_FORM = b"text=%ED%A0%80&reason=%ED%A0%80&name=%ED%A0%80&label=%ED%A0%80"
SURROGATE_QUERY = "q=%ED%A0%80&year=-1&period=%ED%A0%80&page=-1&unit=%ED%A0%80"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _urls(app):
    """Every rule with its methods, the path's variables filled with 1."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        yield path, sorted(rule.methods - {"HEAD", "OPTIONS"})


def _send(base: str, method: str, path: str, body: bytes | None, content_type: str | None, headers: dict):
    request = urllib.request.Request(base + path, data=body, method=method, headers=dict(headers))
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def probe(app, make_user, plan, live_server):
    """A coordinator's session cookie and bearer token, on the live server."""
    user = make_user("coordinator")
    client = app.test_client()
    login(client, user)
    cookie = client.get_cookie("session").value
    with unit_of_work():
        token = issue_api_token(user, label="probe")
    urllib.request.install_opener(urllib.request.build_opener(_NoRedirect()))
    yield live_server.url, {"Cookie": f"session={cookie}"}, {"Authorization": f"Bearer {token}"}
    urllib.request.install_opener(urllib.request.build_opener())


def test_no_route_answers_500_to_malformed_input(app, probe, caplog):
    base, cookie, bearer = probe
    caplog.set_level(logging.INFO)
    answered: dict[str, int] = {}
    for path, methods in _urls(app):
        auth = bearer if path.startswith("/api/") else cookie
        for method in methods:
            if method in WRITES:
                for name, body, kind in (("surrogate", SURROGATE_JSON, "application/json"),
                                         ("deep", DEEP_JSON, "application/json")):
                    status, text = _send(base, method, path, body, kind, auth)
                    assert status == 400, (method, path, name, status, text[:300])
                    assert "代理码位" in text or "嵌套层数过多" in text, (method, path, name, text[:300])
                    answered[name] = answered.get(name, 0) + 1
                status, text = _send(base, method, path, SURROGATE_FORM, "application/x-www-form-urlencoded", auth)
                assert status < 500, (method, path, "form", status, text[:300])
            else:
                status, text = _send(base, method, path + "?" + SURROGATE_QUERY, None, None, auth)
                assert status < 500, (method, path, "query", status, text[:300])
                answered["query"] = answered.get("query", 0) + 1
    # The url_map was walked: pages and the API, reading and writing routes.
    assert answered["surrogate"] > 40 and answered["query"] > 20, answered
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, [r.getMessage()[:300] for r in tracebacks]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("year", ["-1", "0", "1999", "2101", "99999999999999999999", "%E4%BA%8C%E3%80%87", "%ED%A0%80"])
def test_calendar_year_out_of_range_is_a_400_with_a_message(login_as, year):
    client, _ = login_as("admin")
    response = client.get("/admin/calendar?year=" + year)
    assert response.status_code == 400
    assert "年份" in response.get_data(as_text=True)


def test_calendar_years_in_range_still_show(login_as):
    client, _ = login_as("admin")
    for year in ("2000", "2027", "2100"):
        assert client.get(f"/admin/calendar?year={year}").status_code == 200


def test_a_surrogate_in_json_changes_nothing(app, make_user, plan):
    """The refused request did not reach the service: no token was made."""
    from sqlalchemy import func, select

    from supervise.db import session
    from supervise.models import ApiToken

    user = make_user("liaison", unit="省经信厅")
    client = app.test_client()
    login(client, user)
    before = session().scalar(select(func.count(ApiToken.id)))
    response = client.post("/api/v1/me/tokens", data=b'{"label": "a\\udfffb"}', content_type="application/json")
    assert response.status_code == 400 and "代理码位" in response.get_json()["message"]
    assert session().scalar(select(func.count(ApiToken.id))) == before
