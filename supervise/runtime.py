"""Process-level tuning for the web processes (wsgi.py)."""
from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    """Fewer, cheaper garbage collections for request handling.

    A dashboard request builds some 10^5 short-lived objects (ORM rows, the
    page), so with CPython's default thresholds (700, 10, 10) the collector
    runs dozens of times per request and its full collections walk every
    object the process holds: at province scale that was a third of the
    dashboard's time (bench/run.py, docs/performance.md). Freezing what
    start-up created (modules, the app, compiled templates) takes it out of
    every collection; the higher first threshold collects young objects
    less often. Reference cycles are still collected.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
