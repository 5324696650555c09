# acts-gnn — developer commands. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# CPU build of torch, installed first so nothing pulls a multi-GB CUDA build; set TORCH_SPEC=
# (empty) to keep a GPU build you installed yourself. PyPI's Linux torch is the CUDA build: the
# CPU one (2.13.0+cpu, preferred over 2.13.0) comes from PyTorch's CPU index, looked at besides
# the configured ones for torch alone (a machine that cannot reach it warns and uses what it
# has); torch's own dependencies then come from the configured indexes.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_ONLY = --quiet --no-deps $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
EXTRAS ?= dev,acts,cuda,server
DEMO_OUT ?= demo-output
STAMP  := $(VENV)/.installed

.PHONY: system-deps demo test test-all test-slurm test-root lint venv clean example train train-quality train-latent train-gnn32 train-regions train-jets train-open-ends train-stopped train-steps train-displaced train-quality-displaced dense displaced bjets tables gpu-prepare gpu-prepare-serve gpu-check gpu-serve gpu-train bench soak perf-analyzer fuzz wheel-check

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then \
		$(PIP) install $(TORCH_ONLY) && $(PIP) install --quiet "$(TORCH_SPEC)"; fi
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The main job on the example event shipped in the package (one μ = 10 event): the shipped GNN
# model reconstructs it (timing and performance tables), evaluate draws the plots; then, labelled as such, the upper bound any finder
# can reach: candidates made from the true particles (--backend truth).
demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	@echo "== acts-gnn: the shipped GNN model on the example event =="
	$(VENV)/bin/acts-gnn reconstruct --example --force \
		-o $(DEMO_OUT)/tracks.root --csv-dir $(DEMO_OUT)/prototracks \
		--timing $(DEMO_OUT)/timing.json --performance $(DEMO_OUT)/performance.json
	$(VENV)/bin/acts-gnn evaluate $(DEMO_OUT)/tracks.root --example --quiet \
		--plots $(DEMO_OUT)/plots --json $(DEMO_OUT)/evaluate.json --force
	@echo "== for comparison only: the truth upper bound (candidates = true particles, no model) =="
	$(VENV)/bin/acts-gnn reconstruct --example --backend truth --force --quiet \
		-o $(DEMO_OUT)/truth-tracks.root
	$(VENV)/bin/acts-gnn evaluate $(DEMO_OUT)/truth-tracks.root --example

# System tools some tests use: nginx (serve --balancer). Installed with apt when missing and
# possible (root and apt-get); otherwise the balancer test skips and says why.
system-deps:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q nginx-light >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nginx-light >/dev/null 2>&1; } || \
	    echo "note: could not install nginx-light; the balancer test will skip"; \
	  else echo "note: nginx missing (apt install nginx-light); the balancer test will skip"; fi; }

test: $(STAMP) system-deps
	$(PY) -m pytest -q -m "not slow and not gpu and not root and not slurm"

# Property tests of the readers, exploring: new random examples each run, FUZZ_EXAMPLES per test
# and reader (2,500 by default). `make test` runs the same tests derandomised (profile "ci").
FUZZ_EXAMPLES ?= 2500
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q \
		tests/io/test_fuzz_readers.py tests/io/test_bad_inputs.py -k "mutated or arbitrary or generated"

# Build the wheel, install it in a fresh environment (CPU torch first), and run the example there.
WHEEL_VENV ?= .venv-wheel
wheel-check: $(STAMP)
	rm -rf dist $(WHEEL_VENV)
	$(PY) -m build --wheel --outdir dist .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then $(WHEEL_VENV)/bin/pip install $(TORCH_ONLY) && \
		$(WHEEL_VENV)/bin/pip install --quiet "$(TORCH_SPEC)"; fi
	$(WHEEL_VENV)/bin/pip install --quiet dist/acts_gnn-*.whl
	cd $$(mktemp -d) && $(CURDIR)/$(WHEEL_VENV)/bin/acts-gnn --version && \
		$(CURDIR)/$(WHEEL_VENV)/bin/acts-gnn reconstruct --example -o tracks.root -q && \
		test -s tracks.root && echo "wheel-check: the installed wheel reconstructed the example"

test-all: $(STAMP)
	$(PY) -m pytest -q

# The Slurm recipes of examples/slurm on a real single-node Slurm (Debian's slurm-wlm and munge,
# installed here as root when missing), brought up in a temporary directory and torn down after.
test-slurm: $(STAMP)
	@command -v slurmctld >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q slurm-wlm munge >/dev/null 2>&1; }; \
	  fi; }
	$(PY) -m pytest -q -m slurm tests/slurm

lint: $(STAMP)
	$(VENV)/bin/ruff check acts_gnn tests
	$(VENV)/bin/ruff format --check acts_gnn tests

# Re-make the embedded example event with real ACTS (pyacts); see acts_gnn/data/example/README.md
example: $(STAMP)
	rm -f acts_gnn/data/example/event*.csv
	$(VENV)/bin/acts-gnn simulate --output acts_gnn/data/example --events 1 --pileup 10 --seed 42

# Benchmarks: simulates into .bench/ once, measures, rewrites BENCHMARKS.md (~15 min here)
bench: $(STAMP)
	$(PY) benchmarks/bench.py --work .bench --output BENCHMARKS.md

# The full soak: 10,000 requests, 10 % malformed; its table goes into BENCHMARKS.md
soak: $(STAMP)
	$(PY) benchmarks/soak.py --requests 10000 --output BENCHMARKS.md

# NVIDIA's perf_analyzer in its own venv. tritonclient 2.60.0's binary needs glibc >= 2.38;
# 2.51.0's runs on Debian 12. Needs Debian's libb64-0d. Run it as .venv-pa/perf_analyzer ARGS.
perf-analyzer:
	test -x .venv-pa/bin/python || $(PYTHON) -m venv .venv-pa
	.venv-pa/bin/pip install --quiet "tritonclient[all]==2.51.0" nvidia-cuda-runtime-cu12
	install -m 755 benchmarks/perf_analyzer.sh .venv-pa/perf_analyzer

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache

# Check the tracks file in real ROOT (PyPI package root, ~700 MB, kept in its own venv)
ROOT_VENV ?= .venv-root
test-root: $(STAMP)
	test -x $(ROOT_VENV)/bin/python || $(PYTHON) -m venv $(ROOT_VENV)
	$(ROOT_VENV)/bin/python -c "import ROOT" 2>/dev/null || $(ROOT_VENV)/bin/pip install --quiet root
	ROOT_PYTHON=$(ROOT_VENV)/bin/python $(PY) -m pytest -q -m root

# The whole training recipe (simulate → train → score held-out μ = 200 events); see README.
DATA ?= data
# $(call model_from,REV): the shipped bundle of git REV unpacked into $(DATA)/model-REV
define model_from
rm -rf $(DATA)/model-$(1) && mkdir -p $(DATA)/model-$(1)
git archive $(1) acts_gnn/data/default_model | tar -x --strip-components=3 -C $(DATA)/model-$(1)
endef
# $(FILTER_CUT_BACK) BUNDLE MODEL OUT: BUNDLE with the filter cut of MODEL, saved as OUT
FILTER_CUT_BACK = $(VENV)/bin/python -c "import sys; from dataclasses import replace; from acts_gnn.gnn.bundle import ModelBundle; \
	b = ModelBundle.load(sys.argv[1]); cut = ModelBundle.load(sys.argv[2]).pipeline.filter_cut; \
	replace(b, pipeline=replace(b.pipeline, filter_cut=cut)).save(sys.argv[3])"

TRAIN_EVENTS ?= 16
TEST_EVENTS ?= 10
BUNDLE ?= $(DATA)/bundle
$(DATA)/train/.done: $(STAMP)
	rm -rf $(DATA)/train && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train --events $(TRAIN_EVENTS) --pileup 200 --seed 1000
	touch $@
$(DATA)/val/.done: $(STAMP)
	rm -rf $(DATA)/val && $(VENV)/bin/acts-gnn simulate -o $(DATA)/val --events 2 --pileup 200 --seed 2000
	touch $@
$(DATA)/test/.done: $(STAMP)
	rm -rf $(DATA)/test && $(VENV)/bin/acts-gnn simulate -o $(DATA)/test --events $(TEST_EVENTS) --pileup 200 --seed 3000
	touch $@
train: $(DATA)/train/.done $(DATA)/val/.done $(DATA)/test/.done
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --val $(DATA)/val --test $(DATA)/test \
		-o $(BUNDLE) --force --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000, val 2 events seed 2000, test $(TEST_EVENTS) events seed 3000"
	$(VENV)/bin/acts-gnn reconstruct $(DATA)/test --bundle $(BUNDLE) --force \
		-o $(DATA)/test-tracks.root --timing $(DATA)/test-timing.json
	$(VENV)/bin/acts-gnn evaluate $(DATA)/test-tracks.root --truth $(DATA)/test \
		--json $(DATA)/test-performance.json --plots $(DATA)/plots --force

# $(call score_sample,NAME,BUNDLE): $(DATA)/NAME reconstructed with BUNDLE and scored, the
# tracks, timing and performance beside it
define score_sample
$(VENV)/bin/acts-gnn reconstruct $(DATA)/$(1) --bundle $(2) --force \
	-o $(DATA)/$(1)-tracks.root --timing $(DATA)/$(1)-timing.json
$(VENV)/bin/acts-gnn evaluate $(DATA)/$(1)-tracks.root --truth $(DATA)/$(1) \
	--json $(DATA)/$(1)-performance.json --force
endef

# The dense sample: μ = 200 pile-up with four collimated jets per event (seeds never used in
# training), reconstructed and scored with the shipped (or $(BUNDLE_DENSE)) bundle
DENSE_EVENTS ?= 3
BUNDLE_DENSE ?= acts_gnn/data/default_model
$(DATA)/dense/.done: $(STAMP)
	rm -rf $(DATA)/dense && $(VENV)/bin/acts-gnn simulate -o $(DATA)/dense --events $(DENSE_EVENTS) \
		--pileup 200 --jets 4 --jet-particles 30 --seed 5000
	touch $@
dense: $(DATA)/dense/.done
	$(call score_sample,dense,$(BUNDLE_DENSE))

# The displaced sample: μ = 200 pile-up where 7% of the particles start 1–260 mm from their
# vertex (--displaced 0.07: TrackML's share among its pT > 1 GeV particles; seed never used in
# training), reconstructed and scored with the shipped (or $(BUNDLE_DISPLACED)) bundle
DISPLACED_EVENTS ?= 3
BUNDLE_DISPLACED ?= acts_gnn/data/default_model
$(DATA)/displaced/.done: $(STAMP)
	rm -rf $(DATA)/displaced && $(VENV)/bin/acts-gnn simulate -o $(DATA)/displaced \
		--events $(DISPLACED_EVENTS) --pileup 200 --displaced 0.07 --seed 5100
	touch $@
displaced: $(DATA)/displaced/.done
	$(call score_sample,displaced,$(BUNDLE_DISPLACED))

# The b-jet sample: μ = 200 pile-up with four jets per event whose hardest constituents come
# from a b hadron's decay a few millimetres out (--jet-decays 1.0; seed never used in training),
# reconstructed and scored with the shipped (or $(BUNDLE_BJETS)) bundle
BJETS_EVENTS ?= 3
BUNDLE_BJETS ?= acts_gnn/data/default_model
$(DATA)/bjets/.done: $(STAMP)
	rm -rf $(DATA)/bjets && $(VENV)/bin/acts-gnn simulate -o $(DATA)/bjets --events $(BJETS_EVENTS) \
		--pileup 200 --jets 4 --jet-particles 30 --jet-decays 1.0 --seed 5300
	touch $@
bjets: $(DATA)/bjets/.done
	$(call score_sample,bjets,$(BUNDLE_BJETS))

# The other generator's sample: the particles of TrackML's first 10 events (Pythia8 ttbar +
# ⟨μ⟩ = 200, with Geant4's secondaries: ../shared/data/trackml/particles, validation only, never
# trained on) through this project's simulation (seed 9100), reconstructed and scored with the
# shipped (or $(BUNDLE_TABLES)) bundle
TABLES_EVENTS ?= 10
TRACKML_PARTICLES ?= ../shared/data/trackml/particles
BUNDLE_TABLES ?= acts_gnn/data/default_model
$(DATA)/tables/.done: $(STAMP)
	rm -rf $(DATA)/tables && $(VENV)/bin/acts-gnn simulate -o $(DATA)/tables \
		--events $(TABLES_EVENTS) --particles-from $(TRACKML_PARTICLES) --seed 9100
	touch $@
tables: $(DATA)/tables/.done
	$(call score_sample,tables,$(BUNDLE_TABLES))

# The candidate-quality selection alone, on top of an existing bundle (its edge models and cuts
# kept): how the shipped bundle got its quality network (see README).
QUALITY_FROM ?= acts_gnn/data/default_model
train-quality: $(DATA)/train/.done $(DATA)/val/.done $(DATA)/test/.done
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --val $(DATA)/val --test $(DATA)/test \
		--reuse $(QUALITY_FROM) --quality-only -o $(BUNDLE) --force --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: quality selection trained on $(TRAIN_EVENTS) events seed 1000 (the edge models' own training events), cut chosen on 2 events seed 2000, test $(TEST_EVENTS) events seed 3000"

# The shipped model's recipe: two fine-tuning steps on this CPU from the model before it (git
# $(LATENT_FROM), taken out of git). (1) Its embedding trained further with hard negatives mined
# in the embedding itself, then the filter and the GNN warm-started on the new, smaller graphs;
# (2) the filter's cut chosen again to keep 99% of the true validation edges, and the GNN
# trained 3 more epochs on the looser filtered graphs, then the cuts and the quality selection.
# About 80 minutes here.
LATENT_FROM ?= a4a549f
train-latent: $(DATA)/train/.done $(DATA)/val/.done $(DATA)/test/.done
	$(call model_from,$(LATENT_FROM))
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --val $(DATA)/val -o $(BUNDLE)-step1 --force \
		--reuse $(DATA)/model-$(LATENT_FROM) --reuse-stages embedding --fine-tune-embedding \
		--embedding-epochs 4 --embedding-lr 1e-3 --latent-negatives 16 --warm-start \
		--filter-epochs 3 --gnn-epochs 6 --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000, val 2 events seed 2000; step 1 of 2 from git $(LATENT_FROM)"
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --val $(DATA)/val --test $(DATA)/test \
		-o $(BUNDLE) --force --reuse $(BUNDLE)-step1 --reuse-stages embedding,filter \
		--recut-filter --filter-efficiency 0.99 --warm-start --gnn-epochs 3 --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000, val 2 events seed 2000, test $(TEST_EVENTS) events seed 3000; step 2 of 2 (make train-latent from git $(LATENT_FROM))"

# The shipped model's recipe since 2026-12-02: (1) the GNN of the model before it (git
# $(GNN32_FROM), made by train-latent) warm-started on twice the events (16 more, seed 1500) for
# 4 epochs with true edges weighted (pT/GeV)^0.3, then the cuts; (2) --quality-only on (1): the
# quality selection trained on candidates made with the rescue pass, its cut, then the filter
# cut, the track builder and the rescue cut chosen on the validation tracks. About 55 minutes
# here. (The shipped bundle's step 1 ran before the recipe chose the filter cut, builder and
# rescue cut, and it took two --quality-only steps: see README.)
GNN32_FROM ?= 99f6553
$(DATA)/train2/.done: $(STAMP)
	rm -rf $(DATA)/train2 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train2 --events $(TRAIN_EVENTS) --pileup 200 --seed 1500
	touch $@
train-gnn32: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/val/.done $(DATA)/test/.done
	$(call model_from,$(GNN32_FROM))
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --train $(DATA)/train2 --val $(DATA)/val \
		-o $(BUNDLE)-step1 --force --reuse $(DATA)/model-$(GNN32_FROM) --reuse-stages embedding,filter --warm-start \
		--gnn-epochs 4 --true-edge-pt-power 0.3 --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500, val 2 events seed 2000; step 1 of make train-gnn32 from git $(GNN32_FROM)"
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --train $(DATA)/train2 --val $(DATA)/val --test $(DATA)/test \
		-o $(BUNDLE) --force --reuse $(BUNDLE)-step1 --quality-only --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500, val 2 events seed 2000, test $(TEST_EVENTS) events seed 3000; step 2 of make train-gnn32"

# A candidate model (2026-12-02, session 10): the GNN of the shipped model (git $(REGIONS_FROM))
# warm-started for 3 epochs on 64 events: the 32 of train-gnn32, 16 with noise (17%) and 20% of
# the particles stopping early (--stop), and 16 that keep one detector region (--regions: the
# barrel, or one side's endcaps), so that tracks ending early or at a region's edge are seen in
# training; then the quality selection and the cuts, as the recipe does. About 30 minutes here.
REGIONS_FROM ?= fa2be00
$(DATA)/train3/.done: $(STAMP)
	rm -rf $(DATA)/train3 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train3 --events $(TRAIN_EVENTS) --pileup 200 --seed 1600 --noise 0.17 --stop 0.2
	touch $@
$(DATA)/train4/.done: $(STAMP)
	rm -rf $(DATA)/train4 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train4 --events $(TRAIN_EVENTS) --pileup 200 --seed 1700 --regions 1.0 --noise 0.17
	touch $@
train-regions: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train3/.done $(DATA)/train4/.done $(DATA)/val/.done $(DATA)/test/.done
	$(call model_from,$(REGIONS_FROM))
	$(VENV)/bin/acts-gnn train --train $(DATA)/train --train $(DATA)/train2 --train $(DATA)/train3 --train $(DATA)/train4 \
		--val $(DATA)/val --test $(DATA)/test -o $(BUNDLE) --force --reuse $(DATA)/model-$(REGIONS_FROM) \
		--reuse-stages embedding,filter --warm-start --gnn-epochs 3 --true-edge-pt-power 0.3 --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500 + $(TRAIN_EVENTS) events seed 1600 --noise 0.17 --stop 0.2 + $(TRAIN_EVENTS) events seed 1700 --regions 1.0 --noise 0.17, val 2 events seed 2000, test $(TEST_EVENTS) events seed 3000; make train-regions from git $(REGIONS_FROM)"

# The shipped model's recipe since 2026-12-02 (session 11): (1) the GNN of the model before it
# (git $(JETS_FROM)) warm-started for 3 epochs on 64 events: the 32 of train-gnn32, 16 that keep
# one detector region (--regions 1.0, 17% noise) and 16 with four collimated jets spread over 16
# vertices (seed 1800), then the recipe's cuts on the 2 validation events; (2) its filter cut set
# back to the previous model's (the validation events chose a 4× lower one, which the tuning
# events below did not bear out), and --quality-only on that: the quality selection trained
# again, then the filter cut, the track builder and the rescue cut chosen on 9 tuning events
# (--tune: 6 of seed 8100 and 3 with jets of seed 8200; neither trained on nor held out).
# About 40 minutes here.
JETS_FROM ?= a36f552
$(DATA)/train5/.done: $(STAMP)
	rm -rf $(DATA)/train5 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train5 --events $(TRAIN_EVENTS) --pileup 200 --jets 4 --jet-particles 30 --hard-vertices 16 --seed 1800
	touch $@
$(DATA)/sel/.done: $(STAMP)
	rm -rf $(DATA)/sel && $(VENV)/bin/acts-gnn simulate -o $(DATA)/sel --events 6 --pileup 200 --seed 8100
	touch $@
$(DATA)/seldense/.done: $(STAMP)
	rm -rf $(DATA)/seldense && $(VENV)/bin/acts-gnn simulate -o $(DATA)/seldense --events 3 --pileup 200 --jets 4 --jet-particles 30 --seed 8200
	touch $@
# the 64 training events of train-jets (seeds 1000, 1500, 1700 with --regions, 1800 with --jets)
JETS_TRAIN = --train $(DATA)/train --train $(DATA)/train2 --train $(DATA)/train4 --train $(DATA)/train5
train-jets: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train4/.done $(DATA)/train5/.done $(DATA)/val/.done $(DATA)/test/.done $(DATA)/sel/.done $(DATA)/seldense/.done
	$(call model_from,$(JETS_FROM))
	$(VENV)/bin/acts-gnn train $(JETS_TRAIN) \
		--val $(DATA)/val --test $(DATA)/test -o $(BUNDLE)-step1 --force --reuse $(DATA)/model-$(JETS_FROM) \
		--reuse-stages embedding,filter --warm-start --gnn-epochs 3 --true-edge-pt-power 0.3 --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500 + $(TRAIN_EVENTS) events seed 1700 --regions 1.0 --noise 0.17 + $(TRAIN_EVENTS) events seed 1800 --jets 4 --jet-particles 30 --hard-vertices 16, val 2 events seed 2000, test $(TEST_EVENTS) events seed 3000; GNN warm-started from git $(JETS_FROM)"
	$(FILTER_CUT_BACK) \
		$(BUNDLE)-step1 $(DATA)/model-$(JETS_FROM) $(BUNDLE)-step1b
	$(VENV)/bin/acts-gnn train $(JETS_TRAIN) \
		--val $(DATA)/val --test $(DATA)/test --tune $(DATA)/sel --tune $(DATA)/seldense -o $(BUNDLE) --force \
		--reuse $(BUNDLE)-step1b --quality-only --seed 0 --data-description \
		"acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500 + $(TRAIN_EVENTS) events seed 1700 --regions 1.0 --noise 0.17 + $(TRAIN_EVENTS) events seed 1800 --jets 4 --jet-particles 30 --hard-vertices 16, val 2 events seed 2000, tune 6 events seed 8100 + 3 events seed 8200 --jets 4 --jet-particles 30, test $(TEST_EVENTS) events seed 3000; step 2 of make train-jets"

# The recipe of the model before the shipped one (2026-12-02, session 12): the model of git $(OPEN_ENDS_FROM) with its
# candidate-quality selection trained again with --quality-open-ends (each candidate also says
# what fraction of its points lie where the detector region beyond holds no points) on 96 events:
# those of train-jets and 32 more that keep one detector region (seed 1900); the filter cut, the
# track builder and the rescue cut chosen on 15 tuning events: those of train-jets and 6 that keep
# one region (seed 8300). About 15 minutes here.
OPEN_ENDS_FROM ?= f85f7cd
OPEN_ENDS_DATA = acts-gnn simulate --pileup 200: train $(TRAIN_EVENTS) events seed 1000 + $(TRAIN_EVENTS) events seed 1500 + $(TRAIN_EVENTS) events seed 1700 --regions 1.0 --noise 0.17 + $(TRAIN_EVENTS) events seed 1800 --jets 4 --jet-particles 30 --hard-vertices 16 + 32 events seed 1900 --regions 1.0 --noise 0.17, val 2 events seed 2000, tune 6 events seed 8100 + 3 events seed 8200 --jets 4 --jet-particles 30 + 6 events seed 8300 --regions 1.0 --noise 0.17, test $(TEST_EVENTS) events seed 3000
OPEN_ENDS_TRAIN = $(JETS_TRAIN) --train $(DATA)/train6 --val $(DATA)/val
# $(call open_ends_quality,BUNDLE,NOTE): train-open-ends' step on BUNDLE — its candidate-quality
# selection trained again with --quality-open-ends on the 96 events, the filter cut, the track
# builder and the rescue cut chosen on the 15 tuning events — written to $(BUNDLE)
define open_ends_quality
$(VENV)/bin/acts-gnn train $(OPEN_ENDS_TRAIN) --test $(DATA)/test --tune $(DATA)/sel --tune $(DATA)/seldense \
	--tune $(DATA)/selregions -o $(BUNDLE) --force --reuse $(1) --quality-only --quality-open-ends \
	--seed 0 --data-description "$(OPEN_ENDS_DATA); $(2)"
endef
$(DATA)/train6/.done: $(STAMP)
	rm -rf $(DATA)/train6 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train6 --events 32 --pileup 200 --seed 1900 --regions 1.0 --noise 0.17
	touch $@
$(DATA)/selregions/.done: $(STAMP)
	rm -rf $(DATA)/selregions && $(VENV)/bin/acts-gnn simulate -o $(DATA)/selregions --events 6 --pileup 200 --seed 8300 --regions 1.0 --noise 0.17
	touch $@
train-open-ends: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train4/.done $(DATA)/train5/.done $(DATA)/train6/.done $(DATA)/val/.done $(DATA)/test/.done $(DATA)/sel/.done $(DATA)/seldense/.done $(DATA)/selregions/.done
	$(call model_from,$(OPEN_ENDS_FROM))
	$(call open_ends_quality,$(DATA)/model-$(OPEN_ENDS_FROM),make train-open-ends from git $(OPEN_ENDS_FROM))

# Tried and not shipped (2026-12-02, session 13; README, "What the default model reaches"): the
# model of git $(STOPPED_FROM) with its GNN warm-started for 2 epochs on the 96 events of
# train-open-ends, a fifth of the particles of each training step cut short (--stop-tracks 0.2:
# tracks that stop or start late, as in real data), the filter cut set back to that model's; then
# its candidate-quality selection trained again (--quality-open-ends) and the cuts chosen on the
# 15 tuning events. About 50 minutes here.
STOPPED_FROM ?= b61ffed
STOP_TRACKS ?= 0.2
train-stopped: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train4/.done $(DATA)/train5/.done $(DATA)/train6/.done $(DATA)/val/.done $(DATA)/test/.done $(DATA)/sel/.done $(DATA)/seldense/.done $(DATA)/selregions/.done
	$(call model_from,$(STOPPED_FROM))
	$(VENV)/bin/acts-gnn train $(OPEN_ENDS_TRAIN) -o $(BUNDLE)-step1 --force --reuse $(DATA)/model-$(STOPPED_FROM) \
		--reuse-stages embedding,filter --warm-start --gnn-epochs 2 --true-edge-pt-power 0.3 --stop-tracks $(STOP_TRACKS) \
		--seed 0 --data-description "$(OPEN_ENDS_DATA); step 1 of make train-stopped from git $(STOPPED_FROM)"
	$(FILTER_CUT_BACK) \
		$(BUNDLE)-step1 $(DATA)/model-$(STOPPED_FROM) $(BUNDLE)-step1b
	$(call open_ends_quality,$(BUNDLE)-step1b,make train-stopped from git $(STOPPED_FROM))

# Tried and not shipped (2026-12-03, session 14; README, "Where CPU time goes"): the model of git
# $(STEPS_FROM) with its GNN warm-started for 2 epochs on the 64 events of train-jets with
# $(STEPS) message-passing steps instead of 6 (the steps share their weights: fewer cost less CPU
# per edge), the filter cut set back to that model's; then its candidate-quality selection trained
# again (--quality-open-ends) and the cuts chosen on the 15 tuning events, as train-open-ends.
# About 35 minutes here.
STEPS_FROM ?= b61ffed
STEPS ?= 5
train-steps: $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train4/.done $(DATA)/train5/.done $(DATA)/train6/.done $(DATA)/val/.done $(DATA)/test/.done $(DATA)/sel/.done $(DATA)/seldense/.done $(DATA)/selregions/.done
	$(call model_from,$(STEPS_FROM))
	$(VENV)/bin/acts-gnn train $(JETS_TRAIN) \
		--val $(DATA)/val -o $(BUNDLE)-step1 --force --reuse $(DATA)/model-$(STEPS_FROM) --reuse-stages embedding,filter \
		--warm-start --gnn-iterations $(STEPS) --gnn-epochs 2 --true-edge-pt-power 0.3 --seed 0 \
		--data-description "$(OPEN_ENDS_DATA); step 1 of make train-steps from git $(STEPS_FROM)"
	$(FILTER_CUT_BACK) \
		$(BUNDLE)-step1 $(DATA)/model-$(STEPS_FROM) $(BUNDLE)-step1b
	$(call open_ends_quality,$(BUNDLE)-step1b,make train-steps from git $(STEPS_FROM))

# Tried and not shipped (2026-12-03, session 17; README, "Displaced tracks"): the model of git
# $(DISPLACED_FROM) with its GNN warm-started for 1 epoch on the 64 events of train-jets and 16 in
# which 30% of the particles start displaced (seed 1950, --displaced 0.3), peak learning rate
# $(DISPLACED_LR) (3e-3 also tried), the filter cut set back to that model's; then its
# candidate-quality selection trained again (--quality-open-ends) on those 80 events and the 32
# of train6, and the cuts chosen on the 15 tuning events and 3 with 7% displaced particles (seed
# 8400). About 35 minutes here.
DISPLACED_FROM ?= 33144c9
DISPLACED_LR ?= 3e-4
# the events both recipes read: those of train-open-ends, seed 1950 and seed 8400
DISPLACED_DATA = $(DATA)/train/.done $(DATA)/train2/.done $(DATA)/train4/.done $(DATA)/train5/.done $(DATA)/train6/.done $(DATA)/train7/.done $(DATA)/val/.done $(DATA)/test/.done $(DATA)/sel/.done $(DATA)/seldense/.done $(DATA)/selregions/.done $(DATA)/seldisp/.done
# $(call displaced_quality,BUNDLE,NOTE): BUNDLE's candidate-quality selection trained again
# (--quality-open-ends) on the 96 events of train-open-ends and the 16 of seed 1950 (30%
# displaced), the cuts chosen on the 15 tuning events and the 3 of seed 8400 (7% displaced),
# written to $(BUNDLE)
define displaced_quality
$(VENV)/bin/acts-gnn train $(OPEN_ENDS_TRAIN) --train $(DATA)/train7 --test $(DATA)/test --tune $(DATA)/sel \
	--tune $(DATA)/seldense --tune $(DATA)/selregions --tune $(DATA)/seldisp -o $(BUNDLE) --force \
	--reuse $(1) --quality-only --quality-open-ends --seed 0 --data-description \
	"$(OPEN_ENDS_DATA) + train 16 events seed 1950 --displaced 0.3 + tune 3 events seed 8400 --displaced 0.07; $(2)"
endef
$(DATA)/train7/.done: $(STAMP)
	rm -rf $(DATA)/train7 && $(VENV)/bin/acts-gnn simulate -o $(DATA)/train7 --events 16 --pileup 200 --seed 1950 --displaced 0.3
	touch $@
$(DATA)/seldisp/.done: $(STAMP)
	rm -rf $(DATA)/seldisp && $(VENV)/bin/acts-gnn simulate -o $(DATA)/seldisp --events 3 --pileup 200 --seed 8400 --displaced 0.07
	touch $@
train-displaced: $(DISPLACED_DATA)
	$(call model_from,$(DISPLACED_FROM))
	$(VENV)/bin/acts-gnn train $(JETS_TRAIN) \
		--train $(DATA)/train7 --val $(DATA)/val -o $(BUNDLE)-step1 --force --reuse $(DATA)/model-$(DISPLACED_FROM) \
		--reuse-stages embedding,filter --warm-start --gnn-epochs 1 --gnn-lr $(DISPLACED_LR) --true-edge-pt-power 0.3 \
		--seed 0 --data-description "$(OPEN_ENDS_DATA) + train 16 events seed 1950 --displaced 0.3; step 1 of make train-displaced from git $(DISPLACED_FROM)"
	$(FILTER_CUT_BACK) \
		$(BUNDLE)-step1 $(DATA)/model-$(DISPLACED_FROM) $(BUNDLE)-step1b
	$(call displaced_quality,$(BUNDLE)-step1b,make train-displaced from git $(DISPLACED_FROM))

# The shipped model's recipe since 2026-12-03 (session 18): the model of git
# $(QUALITY_DISPLACED_FROM) (made by train-open-ends) with its candidate-quality selection trained
# again with displaced tracks among its training candidates: its edge models and cuts kept, the quality
# network trained (--quality-open-ends) on the 96 events of train-open-ends and the 16 of seed
# 1950 (30% of the particles displaced), its cut, the filter cut, the track builder and the
# rescue cut chosen on the 15 tuning events and 3 with 7% displaced particles (seed 8400).
# About 20 minutes here.
QUALITY_DISPLACED_FROM ?= a59985a
train-quality-displaced: $(DISPLACED_DATA)
	$(call model_from,$(QUALITY_DISPLACED_FROM))
	$(call displaced_quality,$(DATA)/model-$(QUALITY_DISPLACED_FROM),make train-quality-displaced from git $(QUALITY_DISPLACED_FROM))

# GPU work (kernel checks and training on a GPU). Here: `make gpu-prepare` writes .gpu/: the
# numpy 2.4 wheel (.gpu/wheels: numba-cuda still calls np.row_stack, which the image's numpy 2.5
# removed), the pyacts wheel for the GPU machine's Python 3.12 (.gpu/acts, 27 MB: the training
# events are simulated there) and the first GPU_TEST_EVENTS held-out μ = 200 events of
# $(DATA)/test as .npz caches (~1.5 MB each). There (device tool; a call carries 64 MiB, so name
# only what it needs): `make gpu-check GPU_OUT=$$OUT` (carry .gpu/wheels and .gpu/test) runs
# every CUDA kernel test on the real GPU and times K1, K2 and the pipeline; `make gpu-train
# GPU_OUT=$$OUT` (carry .gpu/wheels and .gpu/acts; once gpu-check has shown the kernels right)
# simulates the training mix of benchmarks/gpu_train.py on all the machine's cores and trains
# from scratch on it; `make gpu-serve GPU_OUT=$$OUT` (carry .gpu/serve and .gpu/test) runs the
# served sweep of benchmarks/gpu_serve.py.
#
# The served sweep needs what that machine lacks: nvidia-pytriton, tritonclient and their needs
# (`make gpu-prepare` packs them in .gpu/serve/serve.tar.xz, ~53 MB, with the versions this
# venv tests). Triton's Python stub embeds the interpreter in isolated mode: it imports from the
# interpreter's own site-packages (never PYTHONPATH) and needs NumPy 1 there, while the image's
# packages (ml_dtypes, pyarrow) need NumPy 2. So gpu-serve makes a venv outside the
# repository (GPU_SERVE_VENV; kept while the machine stays warm) whose site-packages hold the
# packed packages with NumPy 1.26 for the stub, then the image's site-packages; this process runs
# NumPy 2.4 through PYTHONPATH. Only Python 3.12's stub is packed.
GPU_OUT ?= gpu-results
# training events of gpu-train's mix and its epochs: sized from the one GPU training measured (16
# events: embedding 3 s, filter 8 s, GNN 5 s per epoch) to about 6 minutes; not run yet
GPU_TRAIN_EVENTS ?= 64
GPU_TRAIN_ARGS ?= --embedding-epochs 5 --filter-epochs 3 --gnn-epochs 8
# test events carried (a device call carries 64 MiB; an event is ~1.5 MB, the numpy wheel 16 MB)
GPU_TEST_EVENTS ?= 3
GPU_ENV = export PYTHONPATH=$(CURDIR)/.gpu/site; \
	python3 -c "import numpy; numpy.row_stack" 2>/dev/null || \
	python3 -m pip install --quiet --no-index --no-deps --upgrade --target .gpu/site \
		.gpu/wheels/numpy-*.whl;
gpu-prepare: $(STAMP) $(DATA)/test/.done
	rm -rf .gpu && mkdir -p .gpu/wheels .gpu/acts
	$(PIP) download --quiet --only-binary=:all: --no-deps --python-version 3.12 \
		--platform manylinux_2_28_x86_64 -d .gpu/wheels "numpy==2.4.*"
	$(PIP) download --quiet --only-binary=:all: --no-deps --python-version 3.12 \
		--platform manylinux_2_34_x86_64 -d .gpu/acts "pyacts==48.1.0"
	$(PY) -c "from acts_gnn.io.cache import build_cache; from acts_gnn.io.source import open_events; \
		build_cache(open_events(['$(DATA)/test']), '.gpu/test')"
	ls .gpu/test/event*.npz | tail -n +$$(($(GPU_TEST_EVENTS) + 1)) | xargs rm -f
	$(MAKE) gpu-prepare-serve

GPU_SERVE_DISTS = nvidia-pytriton tritonclient numpy pyzmq sh python-rapidjson importlib_metadata \
	gevent geventhttpclient greenlet zope.event zope.interface brotli grpcio protobuf
GPU_PIP_312 = $(PIP) install --quiet --no-deps --only-binary=:all: --python-version 3.12 \
	--implementation cp --platform manylinux_2_35_x86_64 --platform manylinux_2_28_x86_64 \
	--platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
GPU_SERVE_VENV ?= /tmp/acts-gnn-serve
GPU_SERVE_ARGS ?=
gpu-prepare-serve: $(STAMP)
	rm -rf .gpu/serve .gpu/serve-build && mkdir -p .gpu/serve
	$(GPU_PIP_312) --target .gpu/serve-build/lib/python3.12/site-packages $$($(PY) -c \
		"import sys; from importlib.metadata import version; \
		print(' '.join(f'{n}=={version(n)}' for n in sys.argv[1:]))" $(GPU_SERVE_DISTS))
	$(GPU_PIP_312) --target .gpu/serve-build/np2 "numpy==2.4.*"
	cd .gpu/serve-build && rm -rf np2/bin lib/python3.12/site-packages/bin \
		lib/python3.12/site-packages/nvidia_pytriton.libs/libpython3-*.13.so.* && \
		find lib/python3.12/site-packages/pytriton/tritonserver/python_backend_stubs \
			-mindepth 1 -maxdepth 1 ! -name 3.12 -exec rm -rf {} + && \
		find . -name __pycache__ -prune -exec rm -rf {} + && \
		find . -type d -name tests -prune -exec rm -rf {} + && \
		tar -cf - lib np2 | xz -9 -T2 > ../serve/serve.tar.xz
	rm -rf .gpu/serve-build
	$(PY) -c "import os, subprocess; \
		listed = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], \
			capture_output=True, text=True, check=True).stdout.split(chr(0)); \
		tree = sum(os.path.getsize(f) for f in listed if f and os.path.isfile(f)); \
		packed = sum(os.path.getsize(os.path.join(d, f)) for top in ('.gpu/serve', '.gpu/test') \
			for d, _, files in os.walk(top) for f in files); \
		print(f'make gpu-serve carries {(tree + packed) / 2**20:.1f} MiB of 64: the working tree ' \
			f'{tree / 2**20:.1f}, .gpu/serve and .gpu/test {packed / 2**20:.1f}'); \
		raise SystemExit(tree + packed > 64 * 2**20)"

gpu-check:
	$(GPU_ENV) timeout 480 python3 benchmarks/gpu_check.py $(GPU_OUT) --events .gpu/test --max-events 3

gpu-serve:
	test -f $(GPU_SERVE_VENV)/.ready || { rm -rf $(GPU_SERVE_VENV) && \
		python3 -m venv --without-pip $(GPU_SERVE_VENV) && \
		tar -C $(GPU_SERVE_VENV) -xJf .gpu/serve/serve.tar.xz && \
		python3 -c "import site; print(''.join(f'import site; site.addsitedir({d!r})\\n' \
			for d in site.getsitepackages()), end='')" \
			> $(GPU_SERVE_VENV)/lib/python3.12/site-packages/zz-image.pth && \
		touch $(GPU_SERVE_VENV)/.ready; }
	PYTHONPATH=$(GPU_SERVE_VENV)/np2:$(CURDIR) timeout 540 $(GPU_SERVE_VENV)/bin/python \
		benchmarks/gpu_serve.py $(GPU_OUT) --events .gpu/test $(GPU_SERVE_ARGS)

gpu-train:
	$(GPU_ENV) python3 -c "import acts" 2>/dev/null || python3 -m pip install --quiet \
		--no-index --no-deps --target .gpu/site .gpu/acts/pyacts-*.whl; \
	python3 benchmarks/gpu_train.py $(GPU_OUT) --data .gpu/sim --device cuda \
		--train-events $(GPU_TRAIN_EVENTS) $(GPU_TRAIN_ARGS)
