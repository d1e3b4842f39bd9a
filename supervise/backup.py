"""Backup and restore: one archive holding a consistent copy of the database,
the evidence files, and a manifest of SHA-256 hashes.

The database is copied first, as one snapshot taken while the application
keeps running: on SQLite with the sqlite3 backup API (a page-by-page copy of
one consistent state; WAL lets writers go on meanwhile), on PostgreSQL as a
logical export through SQLAlchemy inside one REPEATABLE READ, READ ONLY
transaction (no dependence on a pg_dump of the server's exact version; and
the same format restores into SQLite or PostgreSQL, so `--format logical` also
moves a development database to PostgreSQL). The evidence files are copied
after the snapshot: a file is written before the row that names it is
committed, and never changed, so every file the snapshot refers to is there.

`restore` only fills an empty instance, checks every hash before it writes
anything, and does the database in one transaction.
"""
from __future__ import annotations

import base64
import enum
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from flask import Flask
from sqlalchemy import Date, DateTime, Enum, LargeBinary, Numeric, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from . import migrate
from .db import Base
from .models import AuditEntry, Evidence

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
LOGICAL_MEMBER = "database.jsonl"
EVIDENCE_PREFIX = "evidence/"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


# -- create ---------------------------------------------------------------------

def create_backup(app: Flask, path: Path, *, fmt: str = "auto") -> dict[str, Any]:
    engine: Engine = app.extensions["supervise.engine"]
    dialect = engine.dialect.name
    if fmt == "auto":
        fmt = "sqlite" if dialect == "sqlite" else "logical"
    if fmt == "sqlite" and dialect != "sqlite":
        raise BackupError("sqlite 格式只适用于 SQLite 数据库;PostgreSQL 请用 logical")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    with tempfile.TemporaryDirectory(prefix="supervise-backup-", dir=path.parent) as tmp:
        work = Path(tmp)
        if fmt == "sqlite":
            db_member = SQLITE_MEMBER
            _sqlite_snapshot(engine, work / db_member)
            snapshot = create_engine(f"sqlite:///{work / db_member}")
            with snapshot.connect() as conn:
                facts = _describe(conn)
            snapshot.dispose()
        else:
            db_member = LOGICAL_MEMBER
            facts = _logical_export(engine, work / db_member)
        files = {db_member: _sha256_file(work / db_member)}
        partial = path.with_name(path.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / db_member, arcname=db_member)
            evidence = _add_evidence(tar, evidence_dir, files)
            have = set(files.values())
            manifest = {
                "format_version": FORMAT_VERSION,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "database": {"format": fmt, "dialect": dialect, "member": db_member, "revision": facts["revision"]},
                "tables": facts["tables"],
                "audit": facts["audit"],
                "evidence": evidence,
                # Files the database names but the evidence store lacks: reported, not hidden.
                "evidence_missing": sorted(h for h in facts["evidence_hashes"] if h not in have),
                "files": files,
            }
            blob = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(blob)
            info.mtime = int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(blob))
        os.replace(partial, path)  # a half-written archive never has the final name
    return manifest


def _sqlite_snapshot(engine: Engine, target: Path) -> None:
    raw = engine.raw_connection()
    try:
        dst = sqlite3.connect(target)
        try:
            # One step: the copy is of a single consistent state.
            raw.driver_connection.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        raw.close()


def _describe(conn: Connection) -> dict[str, Any]:
    tables = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    head = conn.execute(select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    return {
        "revision": conn.scalar(text("SELECT version_num FROM alembic_version")),
        "tables": tables,
        "audit": {"count": tables["audit_entries"], "head_id": head[0] if head else None,
                  "head_hash": head[1] if head else ""},
        "evidence_hashes": set(conn.scalars(select(Evidence.sha256).distinct())),
    }


def _logical_export(engine: Engine, target: Path) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as conn, target.open("w", encoding="utf-8") as out:
        # The first query fixes the snapshot every later one reads.
        facts = _describe(conn)
        for table in Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            for row in conn.execute(query).mappings():
                record = {"t": table.name, "r": {k: _encode(v) for k, v in row.items()}}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        conn.rollback()
    return facts


def _add_evidence(tar: tarfile.TarFile, evidence_dir: Path, files: dict[str, str]) -> list[str]:
    members = []
    if not evidence_dir.is_dir():
        return members
    for source in sorted(p for p in evidence_dir.rglob("*") if p.is_file()):
        if source.name.endswith((".partial", ".tmp")):
            continue  # an upload still being written: its row is not committed
        name = EVIDENCE_PREFIX + source.relative_to(evidence_dir).as_posix()
        files[name] = _sha256_file(source)
        tar.add(source, arcname=name, recursive=False)
        members.append(name)
    return members


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value  # named_enum columns store the member's value
    return value


def _decoder(column):
    kind = column.type
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        return lambda v: datetime.fromisoformat(v)
    if isinstance(kind, Date):
        return lambda v: date.fromisoformat(v)
    if isinstance(kind, Numeric):
        return lambda v: Decimal(v)
    if isinstance(kind, LargeBinary):
        return lambda v: base64.b64decode(v)
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return lambda v: kind.enum_class(v)
    return None


# -- verify -------------------------------------------------------------------------

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_stream(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and "\x00" not in name


def verify_archive(path: Path) -> dict[str, Any]:
    """The manifest, once every file of the archive matches its hash."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            try:
                manifest = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
            except KeyError:
                raise BackupError("备份文件中没有清单 manifest.json") from None
            if manifest.get("format_version") != FORMAT_VERSION:
                raise BackupError(f"不支持的备份格式版本 {manifest.get('format_version')}")
            expected = dict(manifest["files"])
            for member in tar.getmembers():
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or not _safe_member(member.name) or member.name not in expected:
                    raise BackupError(f"备份中有清单之外或不安全的文件:{member.name}")
                actual = _sha256_stream(tar.extractfile(member))  # type: ignore[arg-type]
                if actual != expected.pop(member.name):
                    raise BackupError(f"文件 {member.name} 与清单中的哈希不符,备份已损坏或被改动")
            if expected:
                raise BackupError("备份缺少文件:" + "、".join(sorted(expected)))
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise BackupError(f"无法读取备份文件:{exc}") from exc
    return manifest


# -- restore ------------------------------------------------------------------------

def restore_backup(app: Flask, path: Path) -> dict[str, Any]:
    """Fill this empty instance from the archive at `path`."""
    manifest = verify_archive(path)
    engine: Engine = app.extensions["supervise.engine"]
    evidence_dir = Path(app.config["EVIDENCE_DIR"])
    if evidence_dir.exists() and any(p.is_file() for p in evidence_dir.rglob("*")):
        raise BackupError(f"佐证材料目录 {evidence_dir} 不是空的;只能恢复到空实例")
    _check_empty(engine)
    fmt = manifest["database"]["format"]
    with tarfile.open(path, "r:gz") as tar, tempfile.TemporaryDirectory(prefix="supervise-restore-") as tmp:
        member = manifest["database"]["member"]
        target = Path(tmp) / member
        with tar.extractfile(member) as src, target.open("wb") as dst:  # type: ignore[union-attr]
            while chunk := src.read(CHUNK):
                dst.write(chunk)
        if fmt == "sqlite":
            _restore_sqlite(engine, target)
        else:
            _restore_logical(app, engine, target, manifest)
        for name in manifest["evidence"]:
            dest = evidence_dir / PurePosixPath(name[len(EVIDENCE_PREFIX):])
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(name) as src, dest.open("wb") as dst:  # type: ignore[union-attr]
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
            if _sha256_file(dest) != manifest["files"][name]:
                raise BackupError(f"恢复后的文件 {dest} 哈希不符")
    engine.dispose()  # pooled connections may know the old, empty schema
    return manifest


def _check_empty(engine: Engine) -> None:
    existing = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in existing and conn.scalar(select(func.count()).select_from(table)):
                raise BackupError(f"目标数据库不是空的(表 {table.name} 中已有数据);只能恢复到空实例")
    engine.dispose()


def _restore_sqlite(engine: Engine, source: Path) -> None:
    if engine.dialect.name != "sqlite":
        raise BackupError("这是 SQLite 数据库的备份,只能恢复到 SQLite;请用 `backup create --format logical` 制作可迁移的备份")
    engine.dispose()
    src = sqlite3.connect(source)
    raw = engine.raw_connection()
    try:
        src.backup(raw.driver_connection)
    finally:
        raw.close()
        src.close()


def _restore_logical(app: Flask, engine: Engine, source: Path, manifest: dict[str, Any]) -> None:
    url = app.config["DATABASE_URL"]
    heads = migrate.heads(url)
    revision = manifest["database"]["revision"]
    if revision not in heads:
        raise BackupError(
            f"备份的数据库版本 {revision} 与本程序的版本 {'、'.join(heads)} 不同;请用制作备份时的程序版本恢复,再迁移"
        )
    migrate.upgrade(url, revision)
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    decoders = {
        name: {c.name: d for c in t.columns if (d := _decoder(c)) is not None} for name, t in tables.items()
    }
    batch: list[dict[str, Any]] = []
    batch_table: str | None = None
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")

        def flush() -> None:
            if batch:
                conn.execute(tables[batch_table].insert(), batch)  # type: ignore[index]
                batch.clear()

        with source.open(encoding="utf-8") as fh:
            for line in fh:
                record = json.loads(line)
                name = record["t"]
                if name != batch_table or len(batch) >= 500:
                    flush()
                    batch_table = name
                row = record["r"]
                for column, decode in decoders[name].items():
                    if row.get(column) is not None:
                        row[column] = decode(row[column])
                batch.append(row)
            flush()
        if engine.dialect.name == "postgresql":
            # Serial ids go on after the restored rows.
            for table in tables.values():
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement in (True, "auto") and pk[0].type.python_type is int:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                            f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"
                        )
                    )
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in tables.values()}
        if counts != manifest["tables"]:
            raise BackupError("恢复后的行数与清单不符,已全部撤销")
