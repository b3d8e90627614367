# The two set-up commands are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint audit bench lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/troly run $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Style, import layers and types: what CI checks besides the tests (the same
# checks run as pre-commit hooks: `$(BIN)/pre-commit install`).
# Every check runs even after one fails, so a run lists all findings.
lint: install
	@status=0; \
	for check in "ruff check ." "ruff format --check ." lint-imports mypy; do \
		echo "== $$check"; $(BIN)/$$check || status=1; \
	done; \
	exit $$status

# Known vulnerabilities in the pinned dependencies (pip-audit; needs PyPI's
# JSON API or OSV, skipped with the reason when neither answers). CI runs it
# as part of `make test` (CI is set there).
audit: install
	TROLY_AUDIT=1 $(BIN)/python -m pytest -rs tests/hardening/test_dependency_audit.py

bench: install
	for script in bench/*.py; do $(BIN)/python $$script; done

# Re-pin after changing dependencies in pyproject.toml (uvloop keeps its
# platform marker: there is no uvloop on Windows).
lock:
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' \
		| sed 's/^uvloop==.*/& ; sys_platform != "win32"/' > requirements.lock

clean:
	rm -rf $(VENV) var
