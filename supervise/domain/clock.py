"""Today's date, in the configured time zone (Asia/Shanghai): deadlines are
days of the Chinese calendar, whatever the server's clock zone."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def local_today() -> date:
    """`TODAY` in the app config pins it (tests, a demonstration of a given
    quarter)."""
    pinned = current_app.config.get("TODAY")
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    return datetime.now(ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))).date()
