"""The pages run the same number of SQL statements on small and on larger
generated data (bench/generate.py), counted with a `before_cursor_execute`
listener: none of them loads row by row (N+1)."""
from __future__ import annotations

import shutil
import uuid

import pytest
from sqlalchemy import text

from bench.generate import SCALES, generate
from bench.run import PAGES, StatementCounter, export_job, make_app, page_statements, sample_ids

from ..conftest import BACKEND, PG_ADMIN_URL, _pg_admin


@pytest.fixture
def database(tmp_path, templates):
    """Fresh migrated databases, as many as the test asks for."""
    made: list[str] = []
    bare = templates["bare"]

    def create(name: str) -> str:
        if BACKEND == "postgresql":
            db = f"sv_bench_{uuid.uuid4().hex[:10]}"
            with _pg_admin().connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{db}" TEMPLATE "{bare}"'))
            made.append(db)
            return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(bare, path)
        return f"sqlite:///{path}"

    yield create
    for db in made:
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


def _measure(url: str, instance) -> tuple[dict[str, int | None], dict[str, int]]:
    app = make_app(url, instance)
    try:
        counter = StatementCounter(app.extensions["supervise.engine"])
        ids = sample_ids(app)
        clients: dict = {}
        pages = {page.name: page_statements(app, counter, page, ids, clients) for page in PAGES}
        exports = {}
        for fmt in ("docx", "xlsx"):
            job = export_job(app, counter, ids["plan"], fmt)
            counter.count = 0
            assert job() > 0
            exports[fmt] = counter.count
        return pages, exports
    finally:
        app.extensions["supervise.engine"].dispose()


def test_statement_counts_do_not_grow_with_the_data(database, tmp_path):
    small, larger = database("small"), database("larger")
    small_rows = generate(small, SCALES["small"])
    larger_rows = generate(larger, SCALES["larger"])
    for table in ("tasks", "task_units", "reports", "report_versions", "milestones", "evidence", "users"):
        # The draft plan (the same document at every scale) aside.
        draft = small_rows.get(f"draft plan {table}", 0)
        assert draft == larger_rows.get(f"draft plan {table}", 0), table
        assert larger_rows[table] - draft > 2 * (small_rows[table] - draft), table

    small_pages, small_exports = _measure(small, tmp_path / "small")
    larger_pages, larger_exports = _measure(larger, tmp_path / "larger")
    assert small_pages["督查看板 dashboard"] is not None
    assert small_pages["计划审核页 plan review page"] is not None
    for name in small_pages:
        assert small_pages[name] == larger_pages[name], name
    assert small_exports == larger_exports
