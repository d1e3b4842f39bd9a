"""Today's date, in the configured time zone (Asia/Shanghai): deadlines are
days of the Chinese calendar, whatever the server's clock zone.

The one `today()` of every page, API answer, job and export. `TODAY` in the
configuration pins it (tests, a demonstration of a given quarter). The
domain does not import Flask: `create_app` tells this module where the
configuration is (`use_config`), read afresh at each call so that a pin set
on a running app moves every screen at once.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

_config_source: Callable[[], Mapping[str, Any]] = dict


def use_config(source: Callable[[], Mapping[str, Any]]) -> None:
    """Where `today()` finds `TODAY` and `TIMEZONE` (called by create_app)."""
    global _config_source
    _config_source = source


def today(config: Mapping[str, Any] | None = None) -> date:
    config = _config_source() if config is None else config
    pinned = config.get("TODAY")
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    return datetime.now(ZoneInfo(config.get("TIMEZONE") or DEFAULT_TIMEZONE)).date()
