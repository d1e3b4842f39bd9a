#!/usr/bin/env bash
# Install this bundle without any package index:
#
#     sudo ./install.sh [PREFIX]          (PREFIX defaults to /opt/supervise)
#
# 1. checks every file of the bundle against MANIFEST.sha256;
# 2. copies the application to PREFIX/releases/<this bundle>/app;
# 3. creates PREFIX/releases/<this bundle>/venv from the wheels in wheels/ only
#    (pip --no-index, every wheel checked against the SHA-256 in requirements.lock);
# 4. points PREFIX/current at the new release (the previous one stays, for a rollback);
# 5. prints the next steps.
#
# The database, the evidence and the archive live elsewhere (SUPERVISE_INSTANCE,
# /var/lib/supervise in the example units): installing a release never touches them.
# Environment: PYTHON (default python3.11, else python3) must be CPython 3.11.
set -euo pipefail

BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${1:-/opt/supervise}"
NAME="$(cat "$BUNDLE/VERSION")"
RELEASE="$PREFIX/releases/$NAME"

say() { printf '%s\n' "$*"; }
fail() { printf '安装失败 (install failed): %s\n' "$*" >&2; exit 1; }

# 1. The bundle is what was packed.
cd "$BUNDLE"
sha256sum --check --strict --quiet MANIFEST.sha256 || fail "文件校验不符 (a file differs from MANIFEST.sha256)"
say "校验通过 (manifest verified): $(wc -l < MANIFEST.sha256) files"

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
[ -n "$PYTHON" ] || fail "需要 Python 3.11 (python3.11 not found)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || fail "需要 Python 3.11, 找到 $("$PYTHON" -V 2>&1) (the wheels are for CPython 3.11)"

[ ! -e "$RELEASE" ] || fail "$RELEASE 已存在 (this release is installed already)"

# 2. The application.
# (A failed install leaves nothing behind; `current` moves only at the end.)
mkdir -p "$RELEASE"
trap 'rm -rf "$RELEASE"' EXIT
cp -a "$BUNDLE/app" "$RELEASE/app"
cp -a "$BUNDLE/VERSION" "$BUNDLE/MANIFEST.sha256" "$RELEASE/"

# 3. The virtual environment, from the bundled wheels only: no index, no
#    pip configuration of this machine (its find-links or index URLs).
"$PYTHON" -m venv "$RELEASE/venv"
(
    for variable in $(compgen -e | grep '^PIP_' || true); do unset "$variable"; done
    export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
    "$RELEASE/venv/bin/python" -m pip install --quiet --no-index --find-links "$BUNDLE/wheels" \
        --only-binary :all: --require-hashes -r "$BUNDLE/requirements.lock"
)
# The app runs from its folder (wsgi.py, config.py, templates/ beside
# supervise/): a .pth file puts that folder on the environment's path.
SITE="$("$RELEASE/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n' "$RELEASE/app" > "$SITE/supervise-app.pth"
"$RELEASE/venv/bin/python" -m compileall -q "$RELEASE/app" >/dev/null || true

# flask commands with the service's environment: bin/supervise db upgrade
mkdir -p "$RELEASE/bin"
cat > "$RELEASE/bin/supervise" <<'EOF'
#!/bin/sh
# Runs `flask --app wsgi ARGS` of this release with the environment of the
# services (SUPERVISE_ENV_FILE, default /etc/supervise/supervise.env).
RELEASE="$(cd "$(dirname "$0")/.." && pwd -P)"
ENV_FILE="${SUPERVISE_ENV_FILE:-/etc/supervise/supervise.env}"
if [ -r "$ENV_FILE" ]; then set -a; . "$ENV_FILE"; set +a; fi
cd "$RELEASE/app" && exec "$RELEASE/venv/bin/flask" --app wsgi "$@"
EOF
chmod 755 "$RELEASE/bin/supervise"

"$RELEASE/venv/bin/python" -c 'import supervise, config, flask, sqlalchemy, psycopg' \
    || fail "新环境无法导入应用 (the new environment cannot import the app)"
trap - EXIT

# 4. current -> this release (atomically; the previous release stays).
PREVIOUS="$(readlink "$PREFIX/current" 2>/dev/null || true)"
ln -sfn "releases/$NAME" "$PREFIX/.current-new"
mv -T "$PREFIX/.current-new" "$PREFIX/current"

# 5. What next.
cat <<EOF

已安装 (installed) $NAME -> $PREFIX/current
${PREVIOUS:+上一版本 (previous release, for a rollback): $PREVIOUS
}
下一步 (next steps), as root:
  1. 首次安装 (first install): create the service user, the data folder and the environment file:
       useradd --system --home /var/lib/supervise --shell /usr/sbin/nologin supervise
       install -d -o supervise -g supervise -m 750 /var/lib/supervise
       install -d -m 755 /etc/supervise
       install -m 600 -o supervise -g supervise $PREFIX/current/app/docs/deploy/supervise.env.example /etc/supervise/supervise.env
       (edit it: DATABASE_URL, SECRET_KEY, SUPERVISE_AUDIT_KEY, SMTP_*)
     and the units: cp $PREFIX/current/app/docs/deploy/systemd/*.service /etc/systemd/system/
       nginx: $PREFIX/current/app/docs/deploy/nginx/supervise.conf; logrotate: .../logrotate/supervise
  2. 迁移数据库 (migrate):  sudo -u supervise $PREFIX/current/bin/supervise db upgrade
     首次安装再加 (first install only): sudo -u supervise $PREFIX/current/bin/supervise seed
  3. 启动 (start):  systemctl daemon-reload && systemctl restart supervise-web supervise-scheduler
  4. 验证 (verify): curl -fsS http://127.0.0.1:8000/login >/dev/null && echo ok
  升级 (upgrade): back up, stop both services, run this script, then steps 2 (db upgrade only), 3 and 4;
     README.md, "Upgrading from one bundle to the next".
EOF
