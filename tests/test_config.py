from __future__ import annotations

import pytest

from config import DevelopmentConfig, load_config
from supervise import create_app


def test_development_uses_sqlite_under_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = load_config("development")
    assert config.database_url().startswith("sqlite:///")
    assert "/instance/" in config.database_url()
    assert config.CREATE_DEMO_ACCOUNTS


@pytest.mark.parametrize("name", ["development", "testing"])
def test_every_config_honours_database_url(monkeypatch, name, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert load_config(name).database_url() == url


def test_config_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("SUPERVISE_CONFIG", "testing")
    assert load_config().NAME == "testing"
    monkeypatch.setenv("SUPERVISE_CONFIG", "nonsense")
    with pytest.raises(RuntimeError, match="SUPERVISE_CONFIG"):
        load_config()


def test_production_refuses_to_start_without_its_own_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.sqlite3'}")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", DevelopmentConfig.SECRET_KEY)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "0123456789abcdef" * 3)
    monkeypatch.setenv("SUPERVISE_AUDIT_KEY", "aUd-" + "fedcba9876543210" * 3)
    app = create_app("production")
    assert app.config["CREATE_DEMO_ACCOUNTS"] is False
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_production_never_creates_demo_accounts(monkeypatch, db_url):
    from sqlalchemy import func, select

    from supervise.db import session, unit_of_work
    from supervise.models import Plan, User
    from supervise.seed import run_seed

    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "0123456789abcdef" * 3)
    monkeypatch.setenv("SUPERVISE_AUDIT_KEY", "aUd-" + "fedcba9876543210" * 3)
    monkeypatch.setenv("DATABASE_URL", db_url)
    app = create_app("production")
    with app.app_context():
        with unit_of_work():
            run_seed(app)
        assert session().scalar(select(func.count(User.id))) == 0
        assert session().scalar(select(func.count(Plan.id))) == 1
