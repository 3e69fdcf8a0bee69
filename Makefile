# Two commands do all the set-up on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# azure-mgmt-batchai 2.0.0 (the seed's SDK) cannot share an environment with 7.0.0: it gets its own
SDK2   := .venv-sdk2018

.PHONY: install run test bench demo images clean

install: $(VENV)/.installed $(SDK2)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(SDK2)/.installed: tests/sdk/requirements-2.0.0.txt
	$(PYTHON) -m venv $(SDK2)
	$(SDK2)/bin/pip install --quiet --upgrade pip
	$(SDK2)/bin/pip install --quiet -r tests/sdk/requirements-2.0.0.txt
	touch $@

# the emulator on 127.0.0.1:8080 (HTTP) and :8443 (HTTPS), state in ~/.batchai-emulator
run: install
	$(BIN)/batchai-emulator serve

# the main job: emulator + the quickstart flow against it, then the emulator stops
demo: install
	$(BIN)/python -m cloud demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/control_plane.py

clean:
	rm -rf $(VENV) $(SDK2) .pytest_cache
