# The two commands: `make run` and `make test`. Everything Python lives in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install migrate seed run test test-sqlite test-postgresql clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

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
