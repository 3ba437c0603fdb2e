# Two commands matter: `make demo` (the bridge end to end, locally) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov

.PHONY: demo run test lint deps clean bench soak

demo: deps ## Run the bridge end to end locally: Azurite, OpenCX and Dataverse simulators, local runner, four real-envelope handoffs (sms, whatsapp, web, email)
	$(PY) -m devtools.demo

run: deps ## Start the stack and keep it up until Ctrl-C
	$(PY) -m devtools.run_stack

test: deps $(CHECKOV_VENV)/.installed ## Lint and run every test (unit, integration with Azurite, infra checks)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps ## Benchmarks: ingress, delivery at 50 and 150 ms Dataverse latency, end-to-end latency, cold start (figures + ratios, JSON in bench/results/)
	$(PY) -m bench.ingress
	$(PY) -m bench.delivery --latency 0.05 0.15
	$(PY) -m bench.e2e
	$(PY) -m bench.cold_start

soak: deps ## The full fault soak: 2,000 handoffs, ~20% faults on OpenCX and on Dataverse, a runner SIGKILL and an Azurite restart
	$(PY) -m bench.soak --handoffs 2000 --rate 20

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

deps: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins an older pycep-parser than the tests use, so it gets a venv of its own.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .azurite .pytest_cache .ruff_cache .hypothesis
