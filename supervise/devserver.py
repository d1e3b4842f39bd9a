"""`make run`: the web server and the scheduler process side by side, for
one machine. Production runs gunicorn and `flask scheduler run` separately."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5000")
    args = parser.parse_args()
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    children = []
    scheduler_cmd = flask + ["scheduler", "run"]
    if _has_command("scheduler"):
        children.append(subprocess.Popen(scheduler_cmd))
    web = subprocess.Popen(flask + ["run", "--host", args.host, "--port", str(args.port), "--no-reload"])
    children.append(web)
    print(f"督查督办系统: http://{args.host}:{args.port}  (Ctrl+C 退出)", flush=True)
    try:
        return web.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _has_command(name: str) -> bool:
    from wsgi import app

    return name in app.cli.commands


if __name__ == "__main__":
    os.environ.setdefault("FLASK_DEBUG", "0")
    sys.exit(main())
