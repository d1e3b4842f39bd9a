"""`make run`: the web server and the scheduler process side by side, for
one machine. Production runs gunicorn and `flask scheduler run` separately.

Stopping it stops both: Ctrl+C, SIGTERM (what `kill`, systemd and process
supervisors send) and SIGHUP (the terminal closed) all pass SIGTERM on to the
two children and wait for them; a child that does not stop within ten
seconds is killed. When the web server ends, the scheduler is stopped too;
when the process that started it (make) ends, both are stopped."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


class _Stop(Exception):
    pass


def _raise_stop(signum, _frame) -> None:
    raise _Stop(signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5000")
    args = parser.parse_args(argv)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    children: list[subprocess.Popen] = []
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, _raise_stop)
    try:
        if _has_command("scheduler"):
            children.append(subprocess.Popen(flask + ["scheduler", "run"]))
        web = subprocess.Popen(flask + ["run", "--host", args.host, "--port", str(args.port), "--no-reload"])
        children.append(web)
        print(f"督查督办系统: http://{args.host}:{args.port}  (Ctrl+C 退出)", flush=True)
        parent = os.getppid()
        while True:
            try:
                return web.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                # `make` does not pass SIGTERM on to its recipe: when the make
                # (or shell) that started us is gone, stop as if told to.
                if os.getppid() != parent:
                    return 0
    except _Stop:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_all(children)


def _stop_all(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _has_command(name: str) -> bool:
    from wsgi import app

    return name in app.cli.commands


if __name__ == "__main__":
    os.environ.setdefault("FLASK_DEBUG", "0")
    sys.exit(main())
