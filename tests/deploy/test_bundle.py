"""The offline bundle, as an IT office would use it: `docs/deploy/bundle.py`
(what `make bundle` runs) writes the archive; its install.sh builds the
environment with pip --no-index from the bundled wheels, on a machine whose
every route to a package index is cut (proxies pointed at a closed port);
the installed release migrates a fresh database and serves the login page.
Then an upgrade: a database filled at an earlier migration, with its evidence
files, under a newer bundle installed over the old release, migrated to head,
still holds every row and file.

Slow (two installs, about a minute each on an idle machine): the wheels are
kept in dist/wheels/ between runs, so only the first build downloads."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from supervise import migrate
from supervise.db import session, unit_of_work
from supervise.services import reports as report_service

from .. import factories
from ..conftest import BACKEND, PG_ADMIN_URL, _pg_admin
from ..guards import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.1.0"
# Every way to a package index closed: install.sh must need none.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything of the app's or the tests'."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SUPERVISE_", "PYTHON", "VIRTUAL_ENV", "FLASK_"))
           and k not in {"DATABASE_URL", "SECRET_KEY"}}
    env.update(extra)
    return env


def build(output: Path, date: str) -> Path:
    subprocess.run([sys.executable, str(ROOT / "docs" / "deploy" / "bundle.py"), "--output", str(output),
                    "--date", date, "--wheel-cache", str(ROOT / "dist" / "wheels")],
                   check=True, capture_output=True, timeout=600)
    archive = output / f"supervise-{VERSION}-{date}.tar.gz"
    assert archive.is_file()
    return archive


def unpack(archive: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="tar")
    return into / archive.name.removesuffix(".tar.gz")


def install(bundle: Path, prefix: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(bundle / "install.sh"), str(prefix)], capture_output=True, text=True,
                          timeout=600, env=clean_env(**OFFLINE), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """An older and a newer bundle (the same code; the newer one is the one upgraded to)."""
    out = tmp_path_factory.mktemp("dist")
    return {"old": build(out, "20261101"), "new": build(out, "20261202")}


@pytest.fixture(scope="module")
def installed(archives, tmp_path_factory):
    """The older bundle installed offline into a fresh folder."""
    base = tmp_path_factory.mktemp("install")
    bundle = unpack(archives["old"], base / "unpacked")
    prefix = base / "opt"
    result = install(bundle, prefix)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"prefix": prefix, "bundle": bundle, "output": result.stdout}


@pytest.fixture
def fresh_database(tmp_path):
    """Empty databases of the backend under test, made on demand."""
    made = []

    def make() -> str:
        if BACKEND == "postgresql":
            name = f"sv_bundle_{uuid.uuid4().hex[:10]}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            made.append(name)
            return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        return f"sqlite:///{tmp_path / f'db{len(made)}.sqlite3'}"

    yield make
    if made:
        admin = _pg_admin()
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    made.clear()


def env_file(folder: Path, database_url: str, instance: Path) -> Path:
    path = folder / "supervise.env"
    path.write_text(
        "SUPERVISE_CONFIG=production\n"
        f"DATABASE_URL={database_url}\n"
        f"SECRET_KEY={uuid.uuid4().hex}{uuid.uuid4().hex}\n"
        f"SUPERVISE_AUDIT_KEY={uuid.uuid4().hex}{uuid.uuid4().hex}\n"
        f"SUPERVISE_INSTANCE={instance}\n"
        'SMTP_SENDER="督查督办系统 <noreply@localhost>"\n', encoding="utf-8")
    path.chmod(0o600)
    return path


def supervise(prefix: Path, env: Path, *args: str) -> subprocess.CompletedProcess:
    """bin/supervise of the current release: flask with the service's environment."""
    result = subprocess.run([str(prefix / "current" / "bin" / "supervise"), *args], capture_output=True, text=True,
                            timeout=300, env=clean_env(SUPERVISE_ENV_FILE=str(env), **OFFLINE))
    assert result.returncode == 0, f"supervise {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def serve_login_page(prefix: Path, env: Path) -> str:
    """Start the release's gunicorn as the unit does, fetch /login and a static file, stop it."""
    port = free_port()  # this test's own server (tests/guards.py)
    environment = clean_env(**OFFLINE)
    for line in env.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        environment[key] = value.strip('"')
    release = prefix / "current"
    server = subprocess.Popen([str(release / "venv" / "bin" / "gunicorn"), "--workers", "1",
                               "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=release / "app", env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180  # generous: the machine may be busy
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=60) as r:
                    assert r.status == 200
                    page = r.read().decode("utf-8")
                break
            except OSError:  # not listening yet, or a first answer slower than the timeout
                assert server.poll() is None, server.stdout.read().decode("utf-8", "replace")
                assert time.monotonic() < deadline, "gunicorn did not answer within 180 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/app.css", timeout=60) as r:
            assert r.status == 200 and r.read() == (release / "app" / "static" / "css" / "app.css").read_bytes()
        return page
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def test_the_bundle_holds_the_app_every_locked_wheel_and_a_manifest_of_all(archives, tmp_path):
    archive = archives["new"]
    assert re.fullmatch(r"supervise-\d+\.\d+\.\d+-\d{8}\.tar\.gz", archive.name)
    bundle = unpack(archive, tmp_path)
    for needed in ["install.sh", "requirements.lock", "VERSION", "app/wsgi.py", "app/config.py",
                   "app/supervise/__init__.py", "app/templates", "app/static/vendor", "app/migrations/env.py",
                   "app/seed/units.csv", "app/docs/deploy/systemd/supervise-web.service"]:
        assert (bundle / needed).exists(), needed
    assert not list(bundle.rglob("__pycache__")) and not (bundle / "app" / "tests").exists()
    # A wheel (never an sdist) for every locked package, and its hash is in the lock.
    lock = (bundle / "requirements.lock").read_text(encoding="utf-8")
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)
    wheels = list((bundle / "wheels").iterdir())
    assert len(wheels) == len(pins) and all(w.suffix == ".whl" for w in wheels)
    for wheel in wheels:
        assert f"sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}" in lock, wheel.name
    # The manifest names every other file, with its SHA-256.
    listed = {}
    for line in (bundle / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {"MANIFEST.sha256"}
    assert set(listed) == files
    assert all(hashlib.sha256((bundle / n).read_bytes()).hexdigest() == d for n, d in listed.items())


def test_install_refuses_a_bundle_whose_file_was_changed(archives, tmp_path):
    bundle = unpack(archives["new"], tmp_path / "unpacked")
    with (bundle / "app" / "supervise" / "__init__.py").open("a") as f:
        f.write("# changed\n")
    result = install(bundle, tmp_path / "opt")
    assert result.returncode != 0 and "MANIFEST" in result.stderr
    assert not (tmp_path / "opt" / "releases" / bundle.name).exists() and not (tmp_path / "opt" / "current").exists()


def test_installed_offline_it_migrates_a_fresh_database_and_answers_the_login_page(installed, fresh_database,
                                                                                    tmp_path):
    prefix = installed["prefix"]
    release = (prefix / "current").resolve()
    assert release.name == f"supervise-{VERSION}-20261101" and release.parent == prefix / "releases"
    assert "下一步" in installed["output"] and "db upgrade" in installed["output"]
    # The environment holds exactly the locked packages (and pip), nothing from elsewhere.
    frozen = subprocess.run([str(release / "venv" / "bin" / "python"), "-m", "pip", "freeze", "--all"],
                            capture_output=True, text=True, check=True, env=clean_env()).stdout
    lock = (release / "app" / "requirements.lock").read_text(encoding="utf-8")
    pins = {p.lower().replace("_", "-") for p in re.findall(r"^([A-Za-z0-9_.\-]+==[^ \\]+)", lock, re.M)}
    installed_pins = {p.lower().replace("_", "-") for p in frozen.split() if not p.startswith(("pip==", "setuptools=="))}
    assert installed_pins == pins
    env = env_file(tmp_path, fresh_database(), tmp_path / "instance")
    supervise(prefix, env, "db", "upgrade")
    supervise(prefix, env, "seed")
    assert "登录" in serve_login_page(prefix, env)


def raw_rows(engine, table: str, columns: list[str], order: list[str]) -> list[tuple]:
    """The stored values as the database holds them (text on PostgreSQL, raw on SQLite)."""
    q = engine.dialect.identifier_preparer.quote
    cast = "::text" if engine.dialect.name == "postgresql" else ""
    sql = (f"SELECT {', '.join(q(c) + cast for c in columns)} FROM {q(table)} "
           f"ORDER BY {', '.join(q(table) + '.' + q(c) for c in order)}")
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def copy_rows(source, target, tables: list[str], columns: dict[str, list[str]], order: dict[str, list[str]]):
    q = target.dialect.identifier_preparer.quote
    mark = "%s" if target.dialect.name == "postgresql" else "?"
    with target.begin() as conn:
        for table in tables:
            rows = raw_rows(source, table, columns[table], order[table])
            if rows:
                conn.exec_driver_sql(
                    f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns[table])}) "
                    f"VALUES ({', '.join([mark] * len(columns[table]))})", rows)
        if target.dialect.name == "postgresql":  # ids given explicitly: move the sequences past them
            for table in tables:
                for column in order[table]:
                    sequence = conn.exec_driver_sql(
                        f"SELECT pg_get_serial_sequence('{q(table)}', '{column}')").scalar()
                    if sequence:
                        conn.exec_driver_sql(f"SELECT setval('{sequence}', "
                                             f"COALESCE((SELECT MAX({q(column)}) FROM {q(table)}), 1))")


def test_upgrade_from_an_earlier_migration_keeps_every_row_and_evidence_file(
        installed, archives, fresh_database, plan, people, app, tmp_path):
    prefix = installed["prefix"]
    # Data of every kind the app makes, through its services (at head) …
    cast = factories.make_cast(plan, people)
    report = factories.file_report(cast.lead, cast.task, text="第二季度进展:已完成")
    factories.upload(cast.lead, report, "佐证材料.pdf", factories.PDF_BYTES)
    factories.upload(cast.lead, report, "现场照片.png", factories.PNG_BYTES + b"upgrade")
    with unit_of_work():
        report_service.submit_report(cast.lead, report)
    session().close()
    head_url = app.config["DATABASE_URL"]

    # … copied into a database the older release migrated only to the first
    # revision: what the tables held then, with the evidence files beside it.
    script = ScriptDirectory.from_config(migrate.alembic_config(head_url))
    earliest = script.get_base()
    assert earliest != script.get_current_head()
    old_url = fresh_database()
    instance = tmp_path / "instance"
    env = env_file(tmp_path, old_url, instance)
    supervise(prefix, env, "db", "upgrade", earliest)
    source, target = create_engine(head_url), create_engine(old_url)
    old_tables = [t for t in inspect(target).get_sorted_table_and_fkc_names() if t[0] and t[0] != "alembic_version"]
    old_tables = [t[0] for t in old_tables]
    head_inspector, old_inspector = inspect(source), inspect(target)
    columns, order = {}, {}
    for table in old_tables:
        head_columns = {c["name"] for c in head_inspector.get_columns(table)}
        columns[table] = [c["name"] for c in old_inspector.get_columns(table) if c["name"] in head_columns]
        order[table] = old_inspector.get_pk_constraint(table)["constrained_columns"] or columns[table]
    copy_rows(source, target, old_tables, columns, order)
    expected = {t: raw_rows(target, t, columns[t], order[t]) for t in old_tables}
    assert expected["evidence"] and expected["reports"] and expected["users"] and expected["tasks"]
    shutil.copytree(app.config["EVIDENCE_DIR"], instance / "evidence")
    target.dispose()
    source.dispose()

    # The newer bundle, installed over the older release, migrates it to head.
    new_bundle = unpack(archives["new"], tmp_path / "unpacked")
    result = install(new_bundle, prefix)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (prefix / "current").resolve().name == f"supervise-{VERSION}-20261202"
    assert (prefix / "releases" / f"supervise-{VERSION}-20261101").is_dir()  # kept for a rollback
    assert "supervise-0.1.0-20261101" in result.stdout  # named as the previous release
    supervise(prefix, env, "db", "upgrade")
    supervise(prefix, env, "db", "check")  # at head, and the models match the schema

    upgraded = create_engine(old_url)
    try:
        for table in old_tables:
            assert raw_rows(upgraded, table, columns[table], order[table]) == expected[table], table
        with upgraded.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == script.get_current_head()
            evidence = conn.execute(text("SELECT sha256, size FROM evidence")).fetchall()
    finally:
        upgraded.dispose()
    assert len(evidence) == 2
    for sha, size in evidence:
        stored = instance / "evidence" / sha[:2] / sha[2:4] / sha
        data = stored.read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
    assert "登录" in serve_login_page(prefix, env)
