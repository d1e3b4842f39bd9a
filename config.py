"""Configuration classes, chosen by the SUPERVISE_CONFIG environment variable.

development (default) keeps an SQLite file under instance/; testing is what the
test-suite builds on; production expects PostgreSQL and refuses to start
without secrets of its own. Every class honours DATABASE_URL when it is set.
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("SUPERVISE_INSTANCE", BASE_DIR / "instance"))


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# Keys published with the source code: fine for a laptop and the tests, never
# for production (anyone holding the source could sign a session cookie or
# forge the audit chain with them).
DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"
TESTING_SECRET_KEY = "testing-secret"
DEVELOPMENT_AUDIT_KEY = "dev-only-audit-key-not-secret-0000000000"
PUBLISHED_KEYS = frozenset({DEVELOPMENT_SECRET_KEY, TESTING_SECRET_KEY, DEVELOPMENT_AUDIT_KEY})
MIN_KEY_LENGTH = 32
MIN_KEY_VARIETY = 10  # distinct characters: "x" * 48 is long but no random key


def weak_key(key: str | None) -> bool:
    """Missing, short, of little variety, or one of the published keys."""
    key = key or ""
    return len(key) < MIN_KEY_LENGTH or len(set(key)) < MIN_KEY_VARIETY or key in PUBLISHED_KEYS


class Config:
    """Settings are read from the environment when the configuration is
    loaded (`load_config()`), not when this module is imported: a process
    that imports `config` before its environment is complete (a test runner,
    gunicorn's master) still sees the keys it is started with."""

    NAME = "base"
    SECRET_KEY: str | None = None
    AUDIT_KEY: str | None = None
    SQLALCHEMY_ECHO = False
    DATABASE_URL: str | None = None
    INSTANCE_DIR = INSTANCE_DIR
    EVIDENCE_DIR = Path(os.environ.get("SUPERVISE_EVIDENCE_DIR", INSTANCE_DIR / "evidence"))
    ARCHIVE_DIR = Path(os.environ.get("SUPERVISE_ARCHIVE_DIR", INSTANCE_DIR / "archive"))
    SEED_DIR = BASE_DIR / "seed"
    TIMEZONE = "Asia/Shanghai"
    # Expand "各市、县〔市、区〕政府" to county governments as well as the 11 cities.
    EXPAND_COUNTIES = os.environ.get("SUPERVISE_EXPAND_COUNTIES", "0") == "1"
    CREATE_DEMO_ACCOUNTS = False
    MAX_UPLOAD_MB = _env_int("SUPERVISE_MAX_UPLOAD_MB", 50)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    WTF_CSRF_TIME_LIMIT = None
    # Sessions (等保 会话管理): a signed cookie that lives as long as the
    # browser, ended after SESSION_IDLE_MINUTES without a request or
    # SESSION_MAX_HOURS after login, whatever comes first. No remember-me.
    SESSION_IDLE_MINUTES = _env_int("SUPERVISE_SESSION_IDLE_MINUTES", 30)
    SESSION_MAX_HOURS = _env_int("SUPERVISE_SESSION_MAX_HOURS", 12)
    SESSION_PERMANENT = False
    # API tokens stop working this many days after they are issued.
    TOKEN_DAYS = max(_env_int("SUPERVISE_TOKEN_DAYS", 90), 1)
    # Login (等保 身份鉴别).
    PASSWORD_MIN_LENGTH = 8
    PASSWORD_HISTORY = 5  # the last N passwords cannot be chosen again
    PASSWORD_HASH_METHOD = "scrypt"
    LOGIN_MAX_FAILURES = _env_int("SUPERVISE_LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_MINUTES = _env_int("SUPERVISE_LOGIN_LOCK_MINUTES", 15)
    # Failed logins allowed from one address within the window, over all accounts.
    LOGIN_RATE_LIMIT = _env_int("SUPERVISE_LOGIN_RATE_LIMIT", 20)
    LOGIN_RATE_WINDOW_MINUTES = _env_int("SUPERVISE_LOGIN_RATE_WINDOW_MINUTES", 10)
    # TOTP second factor; when on, required for these roles (others may not enrol).
    TOTP_ENABLED = os.environ.get("SUPERVISE_TOTP", "0") == "1"
    TOTP_REQUIRED_ROLES = ("admin", "coordinator")
    TOTP_ISSUER = "督查督办系统"
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust
    # (0: none; the client address is then the socket's peer).
    PROXY_COUNT = _env_int("SUPERVISE_PROXY_COUNT", 0)
    # Audit rows younger than this are never pruned; 等保 asks for at least 180 days.
    AUDIT_RETENTION_DAYS = max(_env_int("SUPERVISE_AUDIT_RETENTION_DAYS", 180), 180)
    # How long an SQLite writer waits for another one's lock before the
    # request fails with 503 (retry). PostgreSQL waits on row locks as needed.
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SUPERVISE_SQLITE_BUSY_TIMEOUT_MS", 30000)
    # Where links in e-mails point to.
    BASE_URL = os.environ.get("SUPERVISE_BASE_URL", "http://127.0.0.1:5000")
    # Outgoing mail (reminders); empty host disables the e-mail channel.
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 25)
    SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "none")  # none | starttls | tls
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_SENDER = os.environ.get("SMTP_SENDER", "督查督办系统 <noreply@localhost>")
    WEBHOOK_URL = os.environ.get("SUPERVISE_WEBHOOK_URL", "")
    WEBHOOK_SECRET = os.environ.get("SUPERVISE_WEBHOOK_SECRET", "")
    # A CA certificate for an intranet mail server's STARTTLS/TLS certificate.
    SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE", "")
    SMTP_TIMEOUT_SECONDS = _env_int("SMTP_TIMEOUT_SECONDS", 10)
    WEBHOOK_TIMEOUT_SECONDS = _env_int("SUPERVISE_WEBHOOK_TIMEOUT_SECONDS", 5)
    # Reminders: the daily scan (Asia/Shanghai), and retries of failed
    # e-mail/webhook deliveries: after 1, 2, 4, 8 ... minutes, at most an
    # hour apart, given up after DELIVERY_MAX_ATTEMPTS tries.
    REMINDER_SCAN_AT = os.environ.get("SUPERVISE_REMINDER_SCAN_AT", "08:30")
    DELIVERY_MAX_ATTEMPTS = _env_int("SUPERVISE_DELIVERY_MAX_ATTEMPTS", 5)
    DELIVERY_RETRY_BASE_SECONDS = _env_int("SUPERVISE_DELIVERY_RETRY_BASE_SECONDS", 60)
    DELIVERY_RETRY_MAX_SECONDS = _env_int("SUPERVISE_DELIVERY_RETRY_MAX_SECONDS", 3600)
    DELIVERY_RETRY_INTERVAL_SECONDS = _env_int("SUPERVISE_DELIVERY_RETRY_INTERVAL_SECONDS", 60)
    # A delivery claimed this long ago by a process that then died is tried again.
    DELIVERY_STALE_SECONDS = _env_int("SUPERVISE_DELIVERY_STALE_SECONDS", 600)
    # A job that fell due while the scheduler was down runs once on its return
    # if it is not older than this.
    SCHEDULER_MISFIRE_GRACE_SECONDS = _env_int("SUPERVISE_SCHEDULER_MISFIRE_GRACE_SECONDS", 30 * 24 * 3600)

    @property
    def MAX_CONTENT_LENGTH(self) -> int:  # noqa: N802 - Flask's name
        # Room for the multipart envelope around a file of the allowed size.
        return self.MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024

    def database_url(self) -> str:
        return os.environ.get("DATABASE_URL") or self.DATABASE_URL or ""


class DevelopmentConfig(Config):
    NAME = "development"
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
    AUDIT_KEY = DEVELOPMENT_AUDIT_KEY
    DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'supervise.sqlite3'}"
    CREATE_DEMO_ACCOUNTS = True


class TestingConfig(Config):
    NAME = "testing"
    TESTING = True
    SECRET_KEY = TESTING_SECRET_KEY
    AUDIT_KEY = DEVELOPMENT_AUDIT_KEY
    WTF_CSRF_ENABLED = False
    # Cheap hashes keep the many logins of the test-suite fast; the format
    # and the checks are the same as with scrypt.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    DATABASE_URL = "sqlite://"  # the tests pass a real file or server URL
    CREATE_DEMO_ACCOUNTS = True
    # Never the environment's mail server or robot: a test that sends sets
    # its own loopback server (and tests/guards.py fails one that does not);
    # a test that starts the app as a process of its own names that server
    # in SUPERVISE_TEST_SMTP_HOST, a variable no real set-up uses.
    SMTP_HOST = os.environ.get("SUPERVISE_TEST_SMTP_HOST", "")
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    WEBHOOK_URL = ""
    WEBHOOK_SECRET = ""


class ProductionConfig(Config):
    NAME = "production"
    SESSION_COOKIE_SECURE = True
    DATABASE_URL = None

    def validate(self) -> None:
        if weak_key(self.SECRET_KEY):
            raise RuntimeError(
                "生产环境必须通过环境变量 SECRET_KEY 设置至少 32 个字符的随机密钥 "
                "(production needs a SECRET_KEY of its own, at least 32 random characters; "
                "python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
        if weak_key(self.AUDIT_KEY):
            raise RuntimeError(
                "生产环境必须通过环境变量 SUPERVISE_AUDIT_KEY 设置至少 32 个字符的随机密钥,用于审计日志防篡改 "
                "(production needs a SUPERVISE_AUDIT_KEY of its own, at least 32 random characters; "
                "keep it outside the database)"
            )
        if not self.database_url():
            raise RuntimeError("生产环境必须设置 DATABASE_URL (production needs DATABASE_URL)")
        if _env_flag("FLASK_DEBUG") or _env_flag("SUPERVISE_DEBUG"):
            raise RuntimeError("生产环境不得开启调试模式 (production refuses to start with DEBUG on)")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    name = name or os.environ.get("SUPERVISE_CONFIG", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"未知的配置 SUPERVISE_CONFIG={name!r}; choose one of {sorted(CONFIGS)}") from None
    config = cls()
    # Read now, not at import: see Config.
    if os.environ.get("SECRET_KEY") and cls is not TestingConfig:
        config.SECRET_KEY = os.environ["SECRET_KEY"]
    if os.environ.get("SUPERVISE_AUDIT_KEY") and cls is not TestingConfig:
        config.AUDIT_KEY = os.environ["SUPERVISE_AUDIT_KEY"]
    if cls is ProductionConfig:
        config.validate()
    return config
