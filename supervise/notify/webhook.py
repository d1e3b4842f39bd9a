"""Group robots of DingTalk and 浙政钉: a JSON POST, signed with a timestamp
and the HMAC-SHA256 of the configured secret (the robots' "加签" scheme)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from flask import current_app


class WebhookError(Exception):
    pass


def sign(secret: str, timestamp_ms: int) -> str:
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    if not secret:
        return url
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    query = urllib.parse.urlencode({"timestamp": timestamp_ms, "sign": sign(secret, timestamp_ms)})
    return url + ("&" if "?" in url else "?") + query


# Markdown's active characters, each replaced by its full-width twin: the
# robots' renderers differ in how they take backslash escapes, and a
# full-width bracket reads the same to a Chinese reader and is never markup.
_MARKDOWN_ACTIVE = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "_": "＿",
    "`": "｀", "#": "＃", "!": "！", "|": "｜", "~": "～", "\\": "＼", "\n": " ", "\r": " ",
})


def escape_markdown(text: str) -> str:
    """User text (a task title, a unit name) as inert Markdown: no link, no
    image, no heading, no emphasis, and no bare address a robot would link."""
    return text.translate(_MARKDOWN_ACTIVE).replace("://", "：//")


def robot_message(title: str, markdown: str, mobiles: list[str]) -> dict:
    text = markdown
    if mobiles:
        text += "\n\n" + " ".join(f"@{m}" for m in mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": text},
        "at": {"atMobiles": mobiles, "isAtAll": False},
    }


def post(payload: dict) -> None:
    """POST to the configured robot; raises WebhookError unless it says ok."""
    config = current_app.config
    url = signed_url(config["WEBHOOK_URL"], config.get("WEBHOOK_SECRET", ""))
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    timeout = float(config.get("WEBHOOK_TIMEOUT_SECONDS", 5))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"连接失败: {getattr(exc, 'reason', exc)}") from exc
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        answer = {}
    # The robots answer 200 with {"errcode": 0} on success and a non-zero
    # errcode (bad signature, rate limit) otherwise.
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        raise WebhookError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")
