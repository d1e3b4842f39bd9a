"""The example service files in docs/deploy/: the systemd units pass
`systemd-analyze verify`, the nginx site passes `nginx -t`, the logrotate
file passes `logrotate --debug`, each where the tool is installed; and what
they promise holds (restart on failure, a dedicated user, the environment
from one file, the upload limit, evidence never served by nginx)."""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from config import Config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8")))
    return parser


def test_the_units_run_the_web_and_one_scheduler_as_a_dedicated_user():
    assert [u.name for u in UNITS] == ["supervise-scheduler.service", "supervise-web.service"]
    for path in UNITS:
        service = unit(path)["Service"]
        assert service["User"] == "supervise" and service["Group"] == "supervise", path.name
        assert service["Restart"] == "on-failure", path.name
        assert service["EnvironmentFile"] == "/etc/supervise/supervise.env", path.name
        assert service["ExecStart"].startswith("/opt/supervise/current/venv/bin/"), path.name
        assert "/var/lib/supervise" in service["ReadWritePaths"], path.name
    assert "gunicorn" in unit(DEPLOY / "systemd" / "supervise-web.service")["Service"]["ExecStart"]
    assert unit(DEPLOY / "systemd" / "supervise-scheduler.service")["Service"]["ExecStart"].endswith("scheduler run")
    # The environment file is made readable by the service user only.
    assert "install -m 600 -o supervise -g supervise" in (DEPLOY / "supervise.env.example").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path):
    # verify checks that ExecStart exists: point the units at a release laid
    # out like install.sh's (/opt/supervise/current/venv/bin/...).
    prefix = tmp_path / "opt"
    (prefix / "current" / "venv" / "bin").mkdir(parents=True)
    (prefix / "current" / "app").mkdir()
    for program in ("gunicorn", "flask"):
        exe = prefix / "current" / "venv" / "bin" / program
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    copies = []
    for path in UNITS:
        copy = tmp_path / path.name
        copy.write_text(path.read_text(encoding="utf-8").replace("/opt/supervise", str(prefix)), encoding="utf-8")
        copies.append(str(copy))
    result = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60)
    # Unknown keys are only warnings to systemd: any word from it is a failure here.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr


def nginx_site() -> str:
    return (DEPLOY / "nginx" / "supervise.conf").read_text(encoding="utf-8")


def test_the_nginx_site_lets_through_exactly_what_the_app_accepts_and_never_serves_evidence():
    site = nginx_site()
    size = re.search(r"^\s*client_max_body_size\s+(\d+)m;", site, re.M)
    limit = int(size.group(1)) * 1024 * 1024
    app_limit = Config().MAX_CONTENT_LENGTH
    # At least the app's limit (so the app answers with its own message), at most 2 MB more.
    assert app_limit <= limit <= app_limit + 2 * 1024 * 1024
    roots = re.findall(r"^\s*(?:root|alias)\s+([^;]+);", site, re.M)
    assert roots == ["/opt/supervise/current/app/static/"]
    assert "/var/lib/supervise" not in "".join(roots) and "evidence" not in "".join(roots)
    assert re.search(r"listen 443 ssl", site) and "ssl_certificate_key" in site
    assert "proxy_pass http://supervise_web;" in site


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (for a test certificate)")
def test_nginx_accepts_the_site(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test",
                    "-keyout", str(tmp_path / "t.key"), "-out", str(tmp_path / "t.crt")],
                   check=True, capture_output=True, timeout=60)
    site = (nginx_site().replace("/etc/nginx/ssl/supervise.crt", str(tmp_path / "t.crt"))
            .replace("/etc/nginx/ssl/supervise.key", str(tmp_path / "t.key"))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "supervise.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n  include {tmp_path}/supervise.conf;\n}}\n",
        encoding="utf-8")
    result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr and "[warn]" not in result.stderr, result.stderr


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_logrotate_reads_the_file(tmp_path):
    config = (DEPLOY / "logrotate" / "supervise").read_text(encoding="utf-8")
    config = config.replace("/var/log/supervise", str(tmp_path)).replace("su supervise supervise", "su root root")
    config = config.replace("create 0640 supervise supervise", "create 0640 root root")
    (tmp_path / "supervise").write_text(config, encoding="utf-8")
    (tmp_path / "access.log").write_text("x\n")
    result = subprocess.run(["logrotate", "--debug", "--state", str(tmp_path / "state"), str(tmp_path / "supervise")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr
    assert "rotating pattern" in result.stderr
