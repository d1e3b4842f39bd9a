"""Backup and restore: an archive made while the app runs restores into an
empty instance with the same rows, the same audit chain, the same evidence
bytes, and accounts one can log in with."""
from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from supervise import create_app
from supervise.backup import BackupError, restore_backup, verify_archive
from supervise.db import Base, session, unit_of_work
from supervise.models import Evidence, Report, ReportingPeriod, ReportKind, ReportState, Task, User
from supervise.services import audit

from .conftest import BACKEND, PG_ADMIN_URL, IsolatedClient, _pg_admin, login


@pytest.fixture
def empty_url(tmp_path):
    """A database with nothing in it, not even the schema."""
    if BACKEND == "postgresql":
        name = f"sv_restore_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"


@pytest.fixture
def empty_app(empty_url, tmp_path):
    app = create_app(
        "testing", DATABASE_URL=empty_url, INSTANCE_DIR=tmp_path / "restored",
        EVIDENCE_DIR=tmp_path / "restored" / "evidence", ARCHIVE_DIR=tmp_path / "restored" / "archive",
    )
    app.test_client_class = IsolatedClient
    yield app
    app.extensions["supervise.engine"].dispose()


@pytest.fixture
def content(app, plan, make_user):
    """Users, a report, evidence files named in Chinese, audit rows."""
    coordinator = make_user("coordinator", login="wang")
    liaison = make_user("liaison", unit="省经信厅", login="chen")
    task = session().scalar(select(Task).where(Task.plan_id == plan.id, Task.number == 1))
    period = session().scalar(select(ReportingPeriod).where(ReportingPeriod.plan_id == plan.id).limit(1))
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    with unit_of_work() as sess:
        report = Report(
            task_id=task.id, period_id=period.id, unit_id=task.lead.unit_id, kind=ReportKind.LEAD_REPORT,
            state=ReportState.APPROVED, text="第一季度进展:新增应用主体 1200 家。", created_by_id=liaison.id,
        )
        sess.add(report)
        sess.flush()
        for n, name in enumerate(["培育名单(第一批).pdf", "现场照片.png"]):
            data = f"证据 {n} ".encode() * 1000 + bytes(range(256))
            digest = hashlib.sha256(data).hexdigest()
            stored = evidence_dir / digest[:2] / digest
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_bytes(data)
            sess.add(Evidence(
                task_id=task.id, report_id=report.id, unit_id=task.lead.unit_id, sha256=digest, size=len(data),
                content_type="application/pdf", original_name=name, uploaded_by_id=liaison.id,
            ))
        audit.record(session().get(User, coordinator.id), "report.approve", obj=report, task_id=task.id)
    return {"coordinator": coordinator, "liaison": liaison}


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    engine.dispose()
    return counts


def _file_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*") if p.is_file()
    }


FORMATS = ["auto", "logical"] if BACKEND == "sqlite" else ["auto"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_backup_and_restore_into_an_empty_instance(app, content, empty_app, db_url, empty_url, tmp_path, fmt):
    archive = tmp_path / "backups" / "supervise.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(archive), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert app.test_cli_runner().invoke(args=["backup", "verify", str(archive)]).exit_code == 0
    manifest = verify_archive(archive)
    assert manifest["database"]["format"] == ("sqlite" if BACKEND == "sqlite" and fmt == "auto" else "logical")
    assert manifest["tables"]["evidence"] == 2 and manifest["evidence_missing"] == []
    original_chain = audit.verify()

    with empty_app.app_context():
        result = empty_app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
        assert result.exit_code == 0, result.output
        restored_chain = audit.verify()
        assert restored_chain.ok
        assert (restored_chain.count, restored_chain.head_hash) == (original_chain.count, original_chain.head_hash)
        names = sorted(session().scalars(select(Evidence.original_name)))
        assert names == ["培育名单(第一批).pdf", "现场照片.png"]
        assert session().scalar(select(Report.text)) == "第一季度进展:新增应用主体 1200 家。"

    assert _counts(empty_url) == _counts(db_url)
    assert _file_hashes(Path(empty_app.config["EVIDENCE_DIR"])) == _file_hashes(Path(app.config["EVIDENCE_DIR"]))
    client = empty_app.test_client()
    assert login(client, "wang").headers["Location"] == "/"
    assert "浙政办发〔2024〕27号" in client.get("/plans").get_data(as_text=True)
    # New rows go on after the restored ones (PostgreSQL sequences were set):
    # the login above wrote an audit row, and the chain still holds.
    assert login(empty_app.test_client(), "chen").status_code == 302
    with empty_app.app_context():
        after = audit.verify()
        assert after.ok and after.count == original_chain.count + 2


def test_restore_refuses_an_instance_with_data(app, content, tmp_path):
    archive = tmp_path / "b.tar.gz"
    assert app.test_cli_runner().invoke(args=["backup", "create", str(archive)]).exit_code == 0
    before = _counts(app.config["DATABASE_URL"])
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code != 0 and "空实例" in result.output
    assert _counts(app.config["DATABASE_URL"]) == before


def test_a_tampered_archive_is_refused(app, content, empty_app, tmp_path):
    archive = tmp_path / "b.tar.gz"
    assert app.test_cli_runner().invoke(args=["backup", "create", str(archive)]).exit_code == 0
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("evidence/"):
                data = data[:-1] + b"X"
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(BackupError, match="哈希不符"):
        verify_archive(tampered)
    with empty_app.app_context():
        result = empty_app.test_cli_runner().invoke(args=["backup", "restore", str(tampered)])
        assert result.exit_code != 0
    assert not Path(empty_app.config["EVIDENCE_DIR"]).exists() or not any(Path(empty_app.config["EVIDENCE_DIR"]).rglob("*"))


def test_backup_while_the_app_writes_is_consistent(app, content, empty_app, tmp_path):
    """Writers keep appending to the audit chain during the backup; the archive
    holds one consistent state: its chain verifies and its counts match."""
    stop = threading.Event()
    errors: list[BaseException] = []
    user_id = content["coordinator"].id

    def writer():
        try:
            with app.app_context():
                while not stop.is_set():
                    with unit_of_work():
                        audit.record(session().get(User, user_id), "test.busy")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        archive = tmp_path / "busy.tar.gz"
        for _ in range(2):
            result = app.test_cli_runner().invoke(args=["backup", "create", str(archive)])
            assert result.exit_code == 0, result.output
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    manifest = verify_archive(archive)
    with empty_app.app_context():
        restore_backup(empty_app, archive)
        chain = audit.verify()
        assert chain.ok and chain.count == manifest["audit"]["count"]
        assert chain.head_hash == manifest["audit"]["head_hash"]
