# nucleoforge — set-up and checks. `make demo` and `make test` work on a fresh clone.
# GPU users: override the pinned CPU torch, e.g. `make test TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>"`
# or install torch into .venv yourself first (an existing .venv/.installed is reused).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-slow test-all bench install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[test,distributed]"
	# The SpliceAI wheel only for its five pretrained h5 models and gene tables.
	$(PIP) install -q --no-deps spliceai==1.3.1
	# The CI-SpliceAI wheel only for its frozen graph (CI-SpliceAI.pb) and annotation CSVs (CC BY 4.0).
	$(PIP) install -q --no-deps cispliceai==1.2.2
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) examples/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m "not slow"

# the slow tier: real-data end-to-end checks (GeneBERT ablation example, the sample VCF scored,
# the wheel installed into a fresh environment); minutes, not seconds
test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m slow

test-all: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

bench: $(VENV)/.installed
	$(PY) bench/tokenizer.py
	$(PY) bench/contact_memory.py
	$(PY) bench/spliceai.py --no-keras --lengths 100000
	$(PY) bench/variants.py --n 300 --full
	$(PY) bench/variants.py --set sparse --full
	$(PY) bench/serve.py --n 60 --concurrency 4
	$(PY) bench/pipelines.py
	$(PY) bench/motif_scan.py --regions 2000 --bio-regions 50

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
