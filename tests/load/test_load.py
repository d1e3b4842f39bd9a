"""bench/load.py at a small scale on the backend under test: gunicorn with
several workers on loopback, simulated people (browser and API, short
pauses) on bench/generate.py's small data, then the checks (no 5xx, no
submission lost or duplicated). The full runs are in docs/performance.md."""
from __future__ import annotations

import pytest

from bench.load import ServerOptions, report, run_load
from tests.conftest import BACKEND


@pytest.mark.load
def test_load_under_gunicorn_loses_and_duplicates_nothing():
    outcome = run_load(BACKEND, users=10, seconds=10, ramp=1, think=(0.05, 0.2), scale="small",
                       server=ServerOptions(workers=2, threads=2), log=lambda line: None)
    print(report(outcome))
    assert outcome.ok, report(outcome)
    assert outcome.server_errors == 0
    # Every step of the round happened at least once, so the checks covered
    # it; the pages behind the login cookie and the API were both read.
    for kind in ("login", "file", "upload", "submit"):
        assert outcome.kinds.get(kind, {}).get("2xx", 0) > 0, report(outcome)
    pages = {"我的待办", "任务页", "报告页", "通知", "督查看板", "通报签发页"}
    assert any(v["2xx"] for kind, v in outcome.kinds.items() if kind in pages), report(outcome)
    assert any(v["2xx"] for kind, v in outcome.kinds.items() if kind.startswith("api /")), report(outcome)
    assert outcome.submits == outcome.versions_in_db > 0
