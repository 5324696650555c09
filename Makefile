# acts-gnn — developer commands. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# CPU build of torch, installed first so nothing pulls a multi-GB CUDA build; set TORCH_SPEC=
# (empty) to keep a GPU build you installed yourself.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,acts
DEMO_OUT ?= demo-output
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all test-root lint venv clean example

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then $(PIP) install --quiet "$(TORCH_SPEC)"; fi
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	$(VENV)/bin/acts-gnn reconstruct --example --backend truth --force \
		-o $(DEMO_OUT)/tracks.root --csv-dir $(DEMO_OUT)/prototracks \
		--timing $(DEMO_OUT)/timing.json --performance $(DEMO_OUT)/performance.json
	$(VENV)/bin/acts-gnn evaluate $(DEMO_OUT)/tracks.root --example \
		--plots $(DEMO_OUT)/plots --json $(DEMO_OUT)/evaluate.json --force

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not gpu and not triton and not root"

test-all: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check acts_gnn tests
	$(VENV)/bin/ruff format --check acts_gnn tests

# Re-make the embedded example event with real ACTS (pyacts); see acts_gnn/data/example/README.md
example: $(STAMP)
	rm -f acts_gnn/data/example/event*.csv
	$(VENV)/bin/acts-gnn simulate --output acts_gnn/data/example --events 1 --pileup 10 --seed 42

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache

# Check the tracks file in real ROOT (PyPI package root, ~700 MB, kept in its own venv)
ROOT_VENV ?= .venv-root
test-root: $(STAMP)
	test -x $(ROOT_VENV)/bin/python || $(PYTHON) -m venv $(ROOT_VENV)
	$(ROOT_VENV)/bin/python -c "import ROOT" 2>/dev/null || $(ROOT_VENV)/bin/pip install --quiet root
	ROOT_PYTHON=$(ROOT_VENV)/bin/python $(PY) -m pytest -q -m root
