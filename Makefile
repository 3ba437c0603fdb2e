# Two commands matter: `make demo` (the bridge end to end, locally) and `make test` (everything CI runs).
# Every Python install comes from a hashed lock: .venv from uv.lock, .venv-checkov from
# requirements-checkov.txt, and uv itself (.venv-uv) from requirements-uv.txt. `make lock` regenerates them.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
# uv never downloads an interpreter: the one PYTHON names is the one used.
UV_FLAGS := --python $(PYTHON) --no-python-downloads

# How the generated lock files are made; the header of each file names its command.
# LOCK_DIR lets tests/test_dependency_lock.py regenerate them elsewhere and compare.
LOCK_DIR ?= .
EXPORT_ARGS := export --frozen --no-dev --no-emit-project --hashes --no-header --format requirements-txt
COMPILE_ARGS := pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-header

.PHONY: demo demo-messaging run test lint mypy deps lock lock-files python clean bench soak golive fresh-clone

demo: deps ## Run the bridge end to end locally: Azurite, OpenCX and Dataverse simulators, local runner, four real-envelope handoffs (sms, whatsapp, web, email)
	$(PY) -m devtools.demo

demo-messaging: deps ## Mode messaging end to end: SMS handoff -> Dynamics conversation, rep <-> customer both ways, ended
	$(PY) -m devtools.demo messaging

run: deps ## Start the stack and keep it up until Ctrl-C
	$(PY) -m devtools.stack

test: deps $(CHECKOV_VENV)/.installed ## Lint, type-check, check the import layers and run every test (unit, integration with Azurite, infra checks)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps ## Benchmarks: ingress, delivery at 50 and 150 ms Dataverse latency, end-to-end latency, cold start, worker CPU per handoff, relay latency and bursts, a 5 MB file relayed (figures + ratios, JSON in bench/results/)
	$(PY) -m bench.ingress
	$(PY) -m bench.delivery --latency 0.05 0.15
	$(PY) -m bench.e2e
	$(PY) -m bench.cold_start
	$(PY) -m bench.handoff_cpu
	$(PY) -m bench.relay
	$(PY) -m bench.media

soak: deps ## The full fault soak: 2,000 handoffs, ~20% faults on OpenCX and on Dataverse, a runner SIGKILL and an Azurite restart
	$(PY) -m bench.soak --handoffs 2000 --rate 20

# The go-live check (docs/deploy.md, last section). Against a tenant:
#   make golive GOLIVE_ARGS="--from-app <app> --resource-group <rg> --routing-probe --send-probe --session <id>"
# With no GOLIVE_ARGS it runs every step against the local stack (simulators), answering for itself.
GOLIVE_ARGS ?= --local
golive: deps ## The go-live check: reads, then opt-in probes, each with a verdict and a fix
	$(PY) -m ops.golive $(GOLIVE_ARGS)

fresh-clone: ## The README's two commands in a fresh clone of HEAD with empty caches (uv, npm, pip, XDG)
	.ci/fresh-clone

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

mypy: deps
	$(VENV)/bin/mypy

deps: $(VENV)/.installed node_modules/.installed

# Python 3.11 is chosen here, once: every venv below is built from $(PYTHON).
python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "make: '$(PYTHON)' is not Python 3.11; install it (apt-get install python3.11, pyenv install 3.11, brew install python@3.11) or run make PYTHON=/path/to/python3.11" >&2; exit 1; }

# uv, pinned and hash-checked, bootstrapped with the interpreter's own pip (PyPI only).
$(UV_VENV)/.installed: requirements-uv.txt | python
	rm -rf $(UV_VENV)
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-uv.txt
	touch $@

# .venv = uv.lock (runtime + dev group), exactly: --locked stops when pyproject.toml changed without `make lock`.
$(VENV)/.installed: uv.lock pyproject.toml | $(UV_VENV)/.installed
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet $(UV_FLAGS) \
	  || { echo "make: installing .venv from uv.lock failed (if uv.lock does not match pyproject.toml: make lock)" >&2; exit 1; }
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins an older pycep-parser than the tests use, so it gets a venv of its own.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt | $(UV_VENV)/.installed
	rm -rf $(CHECKOV_VENV)
	$(UV) venv --quiet $(UV_FLAGS) $(CHECKOV_VENV)
	$(UV) pip sync --quiet --require-hashes --python $(CHECKOV_VENV)/bin/python requirements-checkov.txt
	touch $@

## Regenerate every lock after a change to pyproject.toml or a *.in file (add -P <pkg> via UV_LOCK_ARGS to upgrade one).
lock: $(UV_VENV)/.installed
	$(UV) lock $(UV_FLAGS) $(UV_LOCK_ARGS)
	$(MAKE) --no-print-directory lock-files

# The files generated from the locks. uv pip compile keeps the versions already in its output file
# unless the .in file asks otherwise, so a re-run without changes reproduces them byte for byte.
# Each is written to a .tmp file first and replaces the old one only when it differs, so an
# unchanged lock does not make the next `make` rebuild the venvs installed from it.
define generated_header
# GENERATED by `make lock` from $(1) (uv $(2)). Do not edit.
endef

lock-files: $(UV_VENV)/.installed
	{ echo '$(call generated_header,uv.lock,$(EXPORT_ARGS))'; \
	  echo '# Add runtime dependencies to pyproject.toml [project].dependencies. Flex Consumption pip-installs this file.'; \
	  $(UV) $(EXPORT_ARGS) --quiet; } > $(LOCK_DIR)/requirements.txt.tmp
	$(call replace_if_changed,$(LOCK_DIR)/requirements.txt)
	$(call compile,requirements-checkov)
	$(call compile,requirements-uv)

# $(call compile,NAME): NAME.in -> $(LOCK_DIR)/NAME.txt, hashed, starting from the versions NAME.txt pins now.
define compile
	cp $(1).txt $(LOCK_DIR)/$(1).txt.tmp 2>/dev/null || true
	$(UV) $(COMPILE_ARGS) $(1).in -o $(LOCK_DIR)/$(1).txt.tmp
	sed -i '1i $(call generated_header,$(1).in,$(COMPILE_ARGS))' $(LOCK_DIR)/$(1).txt.tmp
	$(call replace_if_changed,$(LOCK_DIR)/$(1).txt)
endef

replace_if_changed = cmp -s $(1).tmp $(1) && rm $(1).tmp || mv $(1).tmp $(1)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(UV_VENV) node_modules .azurite .pytest_cache .ruff_cache .mypy_cache .hypothesis
