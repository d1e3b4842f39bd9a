"""The OpenAPI document: valid, public, and listing every route there is."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from .conftest import PREFIX


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield method.lower(), path


def test_the_document_is_valid_openapi_3_and_needs_no_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    validate(doc)


def test_every_api_route_is_in_the_document_and_nothing_else(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes = set(_api_rules(app))
    assert len(routes) >= 20
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "openapi.json describes routes that do not exist"


def test_every_operation_has_a_summary_and_schemas(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            assert operation["responses"], (method, path)
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, (method, path)
            for code in success:
                assert "content" in operation["responses"][code], (method, path, code)
            if method in ("post", "patch"):
                assert "requestBody" in operation, (method, path)
            if path != "/openapi.json":
                assert "401" in operation["responses"], (method, path)
            for param in re.findall(r"\{([^}]+)\}", path):
                names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
                assert param in names, (method, path, param)


def test_every_api_route_wants_a_valid_token(app, client, cast):
    from .conftest import db_state, logged_in

    lead = logged_in(cast.lead)
    revoked = lead.post("/me/tokens", json={"label": "old"}, token=False).get_json()
    lead.delete(f"/me/tokens/{revoked['id']}", token=False)
    before = db_state()
    for method, path in sorted(_api_rules(app)):
        if path == "/openapi.json":
            continue
        url = PREFIX + re.sub(r"\{[^}]+\}", "1", path)
        for headers in ({}, {"Authorization": "Bearer sv_nonsense"}, {"Authorization": f"Bearer {revoked['token']}"},
                        {"Authorization": f"Basic {cast.lead.token}"}):
            response = client.open(url, method=method.upper(), headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.get_json()["error"] == "unauthorized", (method, path)
    assert db_state() == before


def test_unknown_paths_and_methods_answer_in_json(cast):
    response = cast.lead.get("/no-such-thing", check=False)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    response = cast.lead.delete("/reports/1", check=False)
    assert response.status_code == 405 and response.get_json()["message"] == "不支持该请求方式"
