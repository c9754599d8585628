# Exporta: one target each for setup, run, test, lint, eval, bench.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup dev run test eval-floor lint eval cv train vectors bench browser

# The runtime only: what answering and indexing need (no torch, no test tools).
$(BIN)/exporta: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(BIN)/exporta

# Tests, lint, training, the sentence-transformers provider and the LLM clients on top of the runtime.
$(VENV)/.dev: $(BIN)/exporta
	# torch first, pinned to the CPU build, so nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[st,dev,llm]'
	touch $(VENV)/.dev

setup: $(BIN)/exporta  ## virtualenv with the runtime dependencies

dev: $(VENV)/.dev  ## setup + test, lint and training tools (torch CPU, sentence-transformers)

run: setup  ## index the bundled corpus (its vectors come with it) and start the web app (+ Telegram bot if a token is set)
	$(BIN)/exporta ingest
	$(BIN)/exporta serve

test: dev  ## fast test suite (small fixture corpus)
	$(BIN)/pytest -q

eval-floor: dev  ## index the full corpus and fail below the quality floors
	$(BIN)/pytest -q -s -m slow tests/quality

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

vectors: setup  ## refresh corpus/vectors.npz after the bundled documents or their chunking changed
	$(BIN)/exporta ingest
	$(BIN)/exporta vectors corpus

eval: setup  ## quality on the dev gold set (full corpus)
	$(BIN)/exporta ingest -q
	$(BIN)/exporta eval ../shared/eval/dev.jsonl

cv: dev  ## cross-validated quality on the train gold set (5 folds), then dev with the committed policy
	$(BIN)/exporta ingest -q
	$(BIN)/exporta eval ../shared/eval/train.jsonl --folds 5 --splits 5
	$(BIN)/exporta eval ../shared/eval/dev.jsonl

train: dev  ## refit the answer policy on train.jsonl (writes retrieval/models/answer_policy.json)
	$(BIN)/exporta ingest -q
	$(BIN)/exporta train ../shared/eval/train.jsonl

bench: dev  ## speed and memory figures
	$(BIN)/python bench/run_bench.py

browser:  ## Debian's Chromium for the browser tests (needs root)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
