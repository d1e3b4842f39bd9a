"""bench/load.py at a small scale on the backend under test: gunicorn with
several workers on loopback, simulated users on the API, then the checks (no
5xx, no submission lost or duplicated). The full run (50 users, 60 s) is in
docs/performance.md."""
from __future__ import annotations

import pytest

from bench.load import report, run_load
from tests.conftest import BACKEND


@pytest.mark.load
def test_load_under_gunicorn_loses_and_duplicates_nothing():
    outcome = run_load(BACKEND, users=10, seconds=8, workers=3)
    print(report(outcome))
    assert outcome.ok, report(outcome)
    assert outcome.server_errors == 0
    # Every step of the round happened at least once, so the checks covered it.
    for kind in ("file", "upload", "submit", "my work"):
        assert outcome.per_kind.get(kind, {}).get("2xx", 0) > 0, report(outcome)
    assert outcome.submits == outcome.versions_in_db > 0
