"""Alembic, driven from the application's configuration."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str, audit_key: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig(toml_file=str(ROOT / "pyproject.toml"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    if audit_key:
        # The migration that keys the audit chain writes one row with it.
        cfg.attributes["audit_key"] = audit_key
    return cfg


def upgrade(url: str, revision: str = "head", audit_key: str | None = None) -> None:
    command.upgrade(alembic_config(url, audit_key), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Raise if the models and the migrations differ."""
    command.check(alembic_config(url))


def heads(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())
