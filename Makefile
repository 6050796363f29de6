# Two commands a newcomer needs:  make demo  ·  make test
# Both create .venv on first use (torch's CPU wheel first, then the project) and are idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QUESTION ?= Who is Xiaomi's founder?
# `PORT=8080 make demo` serves the chat window on another port.
PORT   ?= 7860

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-unit eval eval-news eval-followups bench clean-index

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: a looser requirement would pull several GB of CUDA packages.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	# Export the embedding model to ONNX now (once, into ~/.cache/rag), not at first use.
	$(BIN)/python -c "from rag.embedding import Embedder; Embedder().encode(['ready'])"
	touch $(STAMP)

demo: setup
	$(BIN)/rag index
	$(BIN)/rag ask "$(QUESTION)"
	$(BIN)/rag chat --port $(PORT)

test: setup
	$(BIN)/ruff check rag ui tests scripts
	$(BIN)/python -m pytest

# The fast tier: no model, no index build, no browser (tests/conftest.py enforces it).
test-unit: setup
	$(BIN)/python -m pytest -m unit

eval: setup
	$(BIN)/rag eval

# Held-out news questions (evals/news/README.md) over ../shared/news, never tuned on.
eval-news: setup
	$(BIN)/rag eval --articles ../shared/news/articles --index-dir runs/news-index \
		--gold evals/news/heldout.jsonl --out runs/news-out

# Two-turn conversations over the seeds (evals/followups*.jsonl): the second turn is scored.
eval-followups: setup
	$(BIN)/rag eval --gold evals/followups.jsonl --out runs/followups-out
	$(BIN)/rag eval --gold evals/followups-heldout.jsonl --out runs/followups-heldout-out

bench: setup
	$(BIN)/python scripts/bench.py

clean-index:
	rm -rf index/current index/builds index/.current-*
