# Exporta: one target each for setup, run, test, lint, eval, bench.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test eval-floor lint eval cv train bench browser

$(BIN)/exporta: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to the CPU build, so nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[st,dev]'
	touch $(BIN)/exporta

setup: $(BIN)/exporta  ## virtualenv + dependencies

run: setup  ## index the bundled corpus (only what changed) and start the web app (+ Telegram bot if a token is set)
	$(BIN)/exporta ingest
	$(BIN)/exporta serve

test: setup  ## fast test suite (small fixture corpus)
	$(BIN)/pytest -q

eval-floor: setup  ## index the full corpus and fail below the dev-set quality floor
	$(BIN)/pytest -q -s -m slow tests/quality

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

eval: setup  ## quality on the dev gold set (full corpus)
	$(BIN)/exporta ingest -q
	$(BIN)/exporta eval ../shared/eval/dev.jsonl

cv: setup  ## cross-validated quality on the train gold set (5 folds), then dev with the committed policy
	$(BIN)/exporta ingest -q
	$(BIN)/exporta eval ../shared/eval/train.jsonl --folds 5
	$(BIN)/exporta eval ../shared/eval/dev.jsonl

train: setup  ## refit the answer policy on train.jsonl (writes retrieval/models/answer_policy.json)
	$(BIN)/exporta ingest -q
	$(BIN)/exporta train ../shared/eval/train.jsonl

bench: setup  ## speed and memory figures
	$(BIN)/python bench/run_bench.py

browser:  ## Debian's Chromium for the browser tests (needs root)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
