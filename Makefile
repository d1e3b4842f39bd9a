# The two commands: `make run` and `make test`. Everything Python lives in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

# The locks: every package, direct and indirect, pinned with its hashes, for
# CPython 3.11 on x86_64 Linux. requirements.lock is what production runs
# (and what `make bundle` packs); requirements-test.lock adds the test tools
# with the same pins. `make lock` writes both from pyproject.toml (uv pip
# compile, pinned below; kept in .venv/uv-tool, outside the app's packages).
LOCK       := requirements.lock
TEST_LOCK  := requirements-test.lock
UV_VERSION := 0.13.9
UV         := $(VENV)/uv-tool/bin/uv
UV_COMPILE := pip compile pyproject.toml --generate-hashes --python-version 3.11 \
              --python-platform x86_64-manylinux_2_28 --custom-compile-command 'make lock' \
              --index-url https://pypi.org/simple --quiet

.PHONY: install lock bundle migrate seed run test test-sqlite test-postgresql clean-venv

# Hash-checked: pip refuses any file whose SHA-256 is not in the lock. The
# app itself goes in last, editable and without dependencies of its own.
$(STAMP): $(TEST_LOCK) $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# After changing a dependency in pyproject.toml: `make lock`, then commit both
# locks (tests/test_lock.py fails while they disagree with pyproject.toml).
# Packages the locks already pin stay as they are; UPGRADE=1 takes the newest
# indirect dependencies too.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/python -m pip install --quiet --target $(VENV)/uv-tool uv==$(UV_VERSION)
	$(UV) $(UV_COMPILE) $(if $(UPGRADE),--upgrade) -o $(LOCK)
	$(UV) $(UV_COMPILE) $(if $(UPGRADE),--upgrade) --extra test --constraint $(LOCK) -o $(TEST_LOCK)

# dist/supervise-<version>-<date>.tar.gz: the app, the wheels of every package
# in requirements.lock, a manifest of SHA-256 and install.sh (docs/deploy/).
bundle: install
	$(BIN)/python docs/deploy/bundle.py --output dist

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed

# Serves the app and, beside it, the one scheduler process.
run: seed
	$(BIN)/python -m supervise.devserver --host $(HOST) --port $(PORT)

# The whole suite twice: on SQLite files, then on the PostgreSQL server of
# this machine (127.0.0.1:5432, user postgres; the tests create and drop
# their own databases). SUPERVISE_TEST_PG overrides the server's URL.
test: test-sqlite test-postgresql

test-sqlite: install
	SUPERVISE_TEST_DB=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgresql: install
	SUPERVISE_TEST_DB=postgresql $(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
