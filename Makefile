# One entry point for humans and CI. Every target sets up what it needs from nothing.
# The function's Python: the minor version of the Lambda runtime the stack deploys (infra/ses_to_connect_cdk/function.py;
# tests/infra checks that the two agree). Found on PATH, else through pyenv, as CI's machines have it.
LAMBDA_PYTHON := 3.13
ifndef PYTHON
PYTHON := $(shell command -v python$(LAMBDA_PYTHON) >/dev/null 2>&1 && python$(LAMBDA_PYTHON) -c "import sys; print(sys.executable)" 2>/dev/null || { prefix=$$(pyenv prefix $(LAMBDA_PYTHON) 2>/dev/null) && echo "$$prefix/bin/python$(LAMBDA_PYTHON)"; })
endif
ifeq ($(strip $(PYTHON)),)
$(error Python $(LAMBDA_PYTHON) not found: install it (e.g. `pyenv install $(LAMBDA_PYTHON)`) or run make PYTHON=/path/to/python$(LAMBDA_PYTHON))
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(LAMBDA_PYTHON)
PIP := pip install --quiet --disable-pip-version-check
UV := $(BIN)/uv pip install --quiet --link-mode=copy
# jsii prints an 11-line banner on every synth when Node's major version is past its end of life and
# not in this comma-separated list of majors. CI's Node is 20 (the AWS CDK's support for it ended
# 2026-10-30; README, "Node versions").
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: test lint typecheck pytest synth demo bench test-long docs clean

# Everything, at the exact pins of requirements/*.txt, and the project itself as an editable install
# (its packages stay the checkout's folders; the `ses-to-connect` command lands in .venv/bin).
# uv (requirements/uv.txt) installs them: the same pins, fetched in parallel.
$(STAMP): requirements/uv.txt requirements/lambda.txt requirements/lambda-no-deps.txt requirements/cdk.txt requirements/local.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/$(PIP) -r requirements/uv.txt
	$(UV) --python $(BIN)/python -r requirements/lambda.txt -r requirements/cdk.txt -r requirements/local.txt -r requirements/dev.txt
	$(UV) --python $(BIN)/python --no-deps -r requirements/lambda-no-deps.txt
	$(UV) --python $(BIN)/python --no-deps --editable .
	touch $(STAMP)

# The demo's own small environment: the function and the `local` extra, nothing else.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed-$(LAMBDA_PYTHON)
$(DEMO_STAMP): requirements/lambda.txt requirements/lambda-no-deps.txt requirements/local.txt pyproject.toml
	$(PYTHON) -m venv --clear $(DEMO_VENV)
	$(DEMO_VENV)/bin/$(PIP) --editable '.[local]'
	$(DEMO_VENV)/bin/$(PIP) --no-deps -r requirements/lambda-no-deps.txt
	touch $(DEMO_STAMP)

# checkov gets a virtualenv of its own: its dependencies would conflict with the project's pins.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): requirements/checkov.txt | $(STAMP)
	$(PYTHON) -m venv --clear $(CHECKOV_VENV)
	$(UV) --python $(CHECKOV_VENV)/bin/python -r requirements/checkov.txt
	touch $(CHECKOV_STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

## test: lint, type-check and run every test (what CI runs)
# The environments are made side by side (fetching is mostly waiting); after the lint, mypy runs
# beside the tests, which leave a core idle while they wait on installs, synths and servers.
test:
	$(MAKE) --no-print-directory -j 3 $(STAMP) node_modules/.installed $(CHECKOV_STAMP)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory -j 2 typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy lambda_src infra tools bench tests app.py operations.py local_pipeline.py

# Line coverage of the three packages, printed after the tests (pyproject's [tool.coverage]); Python
# 3.12+'s sys.monitoring core keeps its overhead low.
# Each file runs on one worker (its module fixtures, such as a synth, are built once), in the order
# of the folders: the docs' few long tests start first instead of being left for last, and the
# many short unit tests fill the end.
pytest: $(STAMP) node_modules/.installed $(CHECKOV_STAMP)
	COVERAGE_CORE=sysmon $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not slow" --cov --cov-report=term:skip-covered

## test-long: the long runs: 10,000+ fuzz cases, the 500-message burst at 5 requests/second, hostile mail up to 40 MB
test-long: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q -s tests/fuzz -m "slow or not slow"
	$(BIN)/pytest -q -s tests/reliability/test_burst.py -m slow
	$(BIN)/pytest -q tests/hostile -m slow

## bench: performance figures against same-run baselines (see docs/performance.md)
bench: $(STAMP)
	$(BIN)/python -m bench

## demo: run the sample mail through SES storage, the Lambda and the Connect emulator
demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/ses-to-connect simulate samples --report reports/demo.json

## docs: write the configuration tables of docs/infrastructure.md from the settings' declarations
docs: $(STAMP)
	$(BIN)/python -m ses_to_connect_cdk.docs

## synth: write the CloudFormation templates to cdk.out/ (no AWS credentials needed)
synth: $(STAMP) node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" npx --no-install cdk synth --quiet

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(DEMO_VENV) node_modules cdk.out build .mypy_cache .ruff_cache .pytest_cache
