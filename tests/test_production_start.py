"""Production starts (issue 9, point 1). Each test starts fresh processes
whose environment is complete before `config` is imported, as gunicorn and
`flask` are started on a server; the last one runs the README's production
steps as written against the local PostgreSQL."""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config import DEVELOPMENT_AUDIT_KEY, DEVELOPMENT_SECRET_KEY, TESTING_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("SUPERVISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]


def _env(**values: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "SUPERVISE_AUDIT_KEY", "DATABASE_URL", "SUPERVISE_CONFIG", "FLASK_DEBUG")}
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def _start_app(tmp_path: Path, secret: str | None, audit_key: str | None):
    """Import wsgi (what gunicorn does) in a new interpreter."""
    env = _env(SUPERVISE_CONFIG="production", SECRET_KEY=secret, SUPERVISE_AUDIT_KEY=audit_key,
               DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite3'}", SUPERVISE_INSTANCE=str(tmp_path))
    return subprocess.run([sys.executable, "-c", "import wsgi; print(wsgi.app.config['CONFIG_NAME'])"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_starts_with_random_keys(tmp_path):
    result = _start_app(tmp_path, secrets.token_hex(32), secrets.token_hex(32))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "production"


WEAK = {
    "missing": None,
    "short": secrets.token_hex(8),
    "low variety": "ab" * 32,
    "one character": "x" * 64,
    "development key": DEVELOPMENT_SECRET_KEY,
    "testing key": TESTING_SECRET_KEY,
    "development audit key": DEVELOPMENT_AUDIT_KEY,
}


@pytest.mark.parametrize("case", sorted(WEAK))
def test_production_refuses_a_weak_secret_key(tmp_path, case):
    result = _start_app(tmp_path, WEAK[case], secrets.token_hex(32))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("case", sorted(WEAK))
def test_production_refuses_a_weak_audit_key(tmp_path, case):
    result = _start_app(tmp_path, secrets.token_hex(32), WEAK[case])
    assert result.returncode != 0
    assert "SUPERVISE_AUDIT_KEY" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_production_steps() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- production-steps.*?-->\n```sh\n(.*?)```\n<!-- /production-steps -->", readme, re.S)
    assert match, "README.md has lost its marked production steps"
    return match.group(1)


def _substitute(script: str, old: str, new: str) -> str:
    """Replace exactly what the README says, so a changed README fails here
    rather than running something else."""
    assert script.count(old) >= 1, f"the README's production steps no longer contain {old!r}"
    return script.replace(old, new)


def test_the_readme_production_steps_end_with_gunicorn_answering(tmp_path):
    """The README's block, copied into bash: its own database name (created
    by the block's createdb, dropped here after), a free port, a temporary
    folder for /srv/supervise, `make install` skipped (this test runs inside
    the installed virtualenv), and the passwords typed where asked for."""
    name = f"sv_readme_{uuid.uuid4().hex[:8]}"
    port = _free_port()
    script = readme_production_steps()
    script = _substitute(script, "createdb -h 127.0.0.1 -U postgres supervise", f"createdb -h 127.0.0.1 -U postgres {name}")
    script = _substitute(script, "@127.0.0.1:5432/supervise\n", f"@127.0.0.1:5432/{name}\n")
    script = _substitute(script, "/srv/supervise", str(tmp_path / "srv"))
    script = _substitute(script, "127.0.0.1:8000", f"127.0.0.1:{port}")
    script = _substitute(script, "\nmake install\n", "\n")
    script = _substitute(script, ".venv/bin/", f"{VENV_BIN}/")
    script += "\necho \"gunicorn=$(jobs -p | head -1)\"\nwait\n"
    # What the operator types when `user create` asks (twice: and to confirm).
    password = "Zhe#Jiang-Dcdb-2027"
    creates = re.findall(r"^.*/flask --app wsgi user create .*$", script, re.M)
    assert len(creates) == 2, script
    for line in creates:
        script = _substitute(script, line + "\n", f"{line} <<'TYPED'\n{password}\n{password}\nTYPED\n")
    env = _env()
    env.pop("SUPERVISE_INSTANCE", None)
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    printed = bytearray()

    def collect() -> None:
        while chunk := os.read(shell.stdout.fileno(), 4096):
            printed.extend(chunk)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        url = f"http://127.0.0.1:{port}/login"
        deadline = time.monotonic() + 240
        body = ""
        while time.monotonic() < deadline:
            if shell.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                    body = response.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(1)
        if not body:
            if shell.poll() is None:
                os.killpg(shell.pid, signal.SIGTERM)
            reader.join(timeout=10)
            output = printed.decode("utf-8", "replace")
            pytest.fail(f"gunicorn never answered {url}; the steps printed:\n{output[-4000:]}")
        assert "登录" in body
        # The scheduler (step 5) started too, beside the workers.
        time.sleep(2)
        assert shell.poll() is None
        engine = create_engine(f"{PG_SERVER}/{name}")
        with engine.connect() as conn:
            logins = sorted(conn.execute(text("SELECT login FROM users")).scalars())
            units = conn.execute(text("SELECT count(*) FROM units")).scalar()
            actions = set(conn.execute(text("SELECT action FROM audit_entries")).scalars())
        engine.dispose()
        assert logins == ["admin1", "audit1"] and units > 100
        assert "user.create" in actions
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGTERM)
            try:
                shell.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(shell.pid, signal.SIGKILL)
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
