# Every target sets up what it needs on a fresh machine: python3 with venv is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

# The AWS SAM CLI pins many packages of its own, so it lives in a venv of its own.
SAM_CLI_VERSION ?= 1.170.0
SAM_VENV := $(VENV)/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)

.PHONY: setup demo test lint sam bench lambda-zip clean build-LogshipFunction build-SubscriptionsFunction build-EventsFunction build-WatchFunction

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'
	touch $(SAM_STAMP)

setup: $(STAMP)

# sam validate (given any --region) and sam build run offline; tests/test_sam.py runs both on the template.
sam: $(SAM_STAMP)

demo: $(STAMP)
	$(BIN)/logship demo

lint: $(STAMP)
	$(BIN)/ruff check logship handlers tests bench deploy
	$(BIN)/mypy

test: lint sam
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

lambda-zip: $(STAMP)
	$(BIN)/python deploy/build_zip.py

# `sam build` (deploy/template.yaml: BuildMethod makefile) runs these in the
# repository root with ARTIFACTS_DIR set: the package of `make lambda-zip`,
# written unzipped where SAM picks it up. They need python3 (3.11+) and pip only.
build-LogshipFunction build-SubscriptionsFunction build-EventsFunction build-WatchFunction:
	$(PYTHON) deploy/build_zip.py --tree "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
