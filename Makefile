# The two commands: `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench bench-all lint lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m devstack run

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadscope --no-loadscope-reorder

# The event path (a few minutes): consumer, outbox -> inbox, certificate -> eligibility latency; one summary table.
bench: $(STAMP)
	$(PY) bench/summary.py

# Every benchmark (several minutes more): the event path, import, disbursement, a list page, gateway, load,
# audit trail, the console dashboard's calls with 100,000 workers.
bench-all: bench
	$(PY) bench/import.py
	$(PY) bench/disbursement.py
	$(PY) bench/list.py
	$(PY) bench/gateway.py
	$(PY) bench/load.py
	$(PY) bench/audit.py
	$(PY) bench/dashboard.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .devstack .pytest_cache
