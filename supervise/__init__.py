"""supervise: 督查督办 for a provincial government's inter-agency action plans."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_app_context

from config import Config, load_config


def create_app(config: Config | str | None = None, **overrides) -> Flask:
    """Build the application. Nothing starts at import time, and no web
    process ever starts the scheduler (that is `flask scheduler run`)."""
    if not isinstance(config, Config):
        config = load_config(config)
    Path(overrides.get("INSTANCE_DIR", config.INSTANCE_DIR)).mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(config.INSTANCE_DIR),
    )
    app.config.from_object(config)
    app.config["CONFIG_NAME"] = config.NAME
    app.config["DATABASE_URL"] = config.database_url()
    app.config.update(overrides)
    if app.config.get("MAX_UPLOAD_MB") and "MAX_CONTENT_LENGTH" not in overrides:
        app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024 + 64 * 1024

    from . import db
    from .domain import clock

    # The one today(): read from the current app's config (TODAY pins it).
    clock.use_config(lambda: current_app.config if has_app_context() else {})
    db.init_app(app)

    from .web import init_web

    init_web(app)

    from .cli import register_cli

    register_cli(app)
    return app
