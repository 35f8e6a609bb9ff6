# The three commands of README.md: install, demo, test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench mutation clean chromium

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/ticketstream demo

test: install chromium
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The browser tests drive Debian's chromium package (downloads of browsers fail here).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

bench: install
	$(BIN)/python bench/ingest.py

# The unit suite's mutation score (bench/mutation.py; mutmut from the bench extra), ~1-2 h here.
mutation: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/mutation.py

clean:
	rm -rf $(VENV) var/*.db build *.egg-info .mutation
