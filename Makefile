# qreact — every target installs what is missing first (into .venv), then runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install engine run test test-slow test-e2e lint gold v2data finetune v2bdata finetune-v2b v3data finetune-v3 v4data finetune-v4 v5data finetune-v5 v6soup v7data finetune-v7 v8data finetune-v8 v9data finetune-v9 v10data finetune-v10 v11data finetune-v11 v12data finetune-v12 finetune-v1 eval export bench bench-quick bench-train soak fuzz docker-build docker-up clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build from the local wheel where there is one; on a GPU host pip picks the CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[serve,finetune,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# The llama.cpp engine (llama-server, llama-bench, the LoRA converter), compiled once into
# $(QREACT_CACHE_DIR or ~/.cache/qreact)/engine/llama.cpp: ~15 min on 2 busy cores, needs cmake + g++.
# Without it the local model runs on torch (the service logs how to get the engine).
engine: install
	PY=$(BIN)/python bash scripts/build-engine.sh

run: install
	$(BIN)/qreact serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

test-e2e: install
	$(BIN)/python -m pytest tests/e2e -m e2e

test-slow: install
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check app agent finetune tests bench
	$(BIN)/mypy app agent finetune
	$(BIN)/lint-imports

gold: install
	$(BIN)/qreact data gold --out data/gold --seed 0 --evalsets finetune/evalsets

# The v2 training mix (finetune/generators: documents, negatives, arithmetic grammar, broad country
# questions, Korean, replayed gold rows; ~2,000 trajectories, 23 % not-found) and finetune/evalsets/heldout.jsonl.
v2data: install
	$(BIN)/python -m finetune.generators.mixer --out data/v2 --seed 0 --evalsets finetune/evalsets

# The v2 candidate (issue 13), from the base model: fp32 LoRA on 2 cores, 330 steps (~1.3 epochs); wall clock,
# tokens/s and memory on docs/v2-candidate.md. It writes adapters/v2-candidate; adapters/default is replaced only
# when the candidate wins on trust without a large in-domain loss (the card says whether it did).
finetune: v2data
	$(BIN)/qreact finetune --config finetune/configs/cpu-v2.yaml

# Attempt 2 of v2 (issue 13): continue the v2 candidate on the corrective v2b mix (160 steps of 8, ~70 min on 2
# loaded cores); writes adapters/v2b-candidate. docs/v2-candidate.md has its card and whether it shipped.
v2bdata: install
	$(BIN)/python -m finetune.generators.mixer --mix v2b --scale 1.3 --out data/v2b --seed 0

finetune-v2b: finetune v2bdata
	$(BIN)/qreact finetune --config finetune/configs/cpu-v2b.yaml

# Attempt 3 (issue 13): continue v2b on the corrective v3 mix (1 epoch = 164 steps of 8, ~70 min on 2 loaded
# cores); writes adapters/v3-candidate. docs/v2-candidate.md has its card and whether it shipped.
v3data: install
	$(BIN)/python -m finetune.generators.mixer --mix v3 --out data/v3 --seed 0

finetune-v3: finetune-v2b v3data
	$(BIN)/qreact finetune --config finetune/configs/cpu-v3.yaml

# Attempt 4 (issue 13): continue v3 on the corrective v4 mix (1 epoch = 111 steps of 8, ~50 min on 2 loaded
# cores); writes adapters/v4-candidate. docs/v2-candidate.md has its card and whether it shipped.
v4data: install
	$(BIN)/python -m finetune.generators.mixer --mix v4 --out data/v4 --seed 0

finetune-v4: finetune-v3 v4data
	$(BIN)/qreact finetune --config finetune/configs/cpu-v4.yaml

# Attempt 5 (issue 13): continue v4 on the short v5 repair mix (1 epoch = 52 steps of 8, ~15 min on 2 loaded
# cores); writes adapters/v5-candidate. docs/v2-candidate.md has its card and whether it shipped.
v5data: install
	$(BIN)/python -m finetune.generators.mixer --mix v5 --out data/v5 --seed 0

finetune-v5: finetune-v4 v5data
	$(BIN)/qreact finetune --config finetune/configs/cpu-v5.yaml

# Attempt 6 (issue 13): no training — the parameter average 0.5 v4 + 0.5 v5 (docs/v6-soup/README.md).
v6soup: finetune-v5
	$(BIN)/python -m finetune.soup adapters/v4-candidate adapters/v5-candidate --weight 0.5 --out adapters/v6-soup

# Attempt 7 (issue 13): continue v6 on the v7 mix at a third of the learning rate (1 epoch = 102 steps of 8,
# ~60-70 min on 2 loaded cores); writes adapters/v7-candidate. docs/v7-candidate/ has its card and decision.
v7data: install
	$(BIN)/python -m finetune.generators.mixer --mix v7 --out data/v7 --seed 0

finetune-v7: v6soup v7data
	$(BIN)/qreact finetune --config finetune/configs/cpu-v7.yaml

# Attempt 8 (issue 13), the shipped default since 2026-12-02: continue v2b on the v8 mix (near-miss not-founds
# paired with every answered dense document row, country field synonyms, a v4 replay; 1 epoch ~109 steps of 8,
# ~50-70 min on 2 loaded cores); writes adapters/v8-candidate. docs/v8-candidate/ has its card and decision.
# v2b (the default until then) is restored byte for byte from git (commit 2bba1ec) into adapters/v2b-shipped;
# `make finetune-v2b` retrains it instead (~2.5 h).
v8data: install
	$(BIN)/python -m finetune.generators.mixer --mix v8 --out data/v8 --seed 0

adapters/v2b-shipped/adapter_model.safetensors:
	mkdir -p adapters/v2b-shipped
	for f in adapter_config.json adapter_model.safetensors; do git show 2bba1ec:adapters/default/$$f > adapters/v2b-shipped/$$f; done

finetune-v8: v8data adapters/v2b-shipped/adapter_model.safetensors
	$(BIN)/qreact finetune --config finetune/configs/cpu-v8.yaml

# Attempt 9 (issue 13): continue v8 (adapters/default) on the v9 mix (operators by their everyday words, planned
# in the first thought; a v8 replay; 1 epoch = 88 steps of 8, ~45-70 min on 1 thread); writes
# adapters/v9-candidate; v8 is restored byte for byte from git (commit 7c73489) into adapters/v8-shipped.
# docs/v9-candidate/ has its card and decision.
v9data: install
	$(BIN)/python -m finetune.generators.mixer --mix v9 --out data/v9 --seed 0

adapters/v8-shipped/adapter_model.safetensors:
	mkdir -p adapters/v8-shipped
	for f in adapter_config.json adapter_model.safetensors; do git show 7c73489:adapters/default/$$f > adapters/v8-shipped/$$f; done

finetune-v9: v9data adapters/v8-shipped/adapter_model.safetensors
	$(BIN)/qreact finetune --config finetune/configs/cpu-v9.yaml

# Attempt 10 (docs/v10-candidate/): v9s (0.5 v8 + 0.5 v9, rebuilt byte for byte from the shipped v8 and
# docs/v9-candidate/adapter) continued on the v10 mix (~530 rows, ~29 % not-found) into adapters/v10-candidate.
v10data: install
	$(BIN)/python -m finetune.generators.mixer --mix v10 --out data/v10 --seed 0

adapters/v9s-soup/adapter_model.safetensors: adapters/v8-shipped/adapter_model.safetensors
	$(BIN)/python -m finetune.soup adapters/v8-shipped docs/v9-candidate/adapter --weight 0.5 --out adapters/v9s-soup

finetune-v10: v10data adapters/v9s-soup/adapter_model.safetensors
	$(BIN)/qreact finetune --config finetune/configs/cpu-v10.yaml

# Attempt 11 (docs/v11-candidate/): the shipped v10s50 continued on the document-weighted v11 mix (~420 rows).
v11data: install
	$(BIN)/python -m finetune.generators.mixer --mix v11 --out data/v11 --seed 0

finetune-v11: v11data adapters/v10s-soup/adapter_model.safetensors
	$(BIN)/qreact finetune --config finetune/configs/cpu-v11.yaml

# Attempt 12: the shipped v10s50 continued on the v12 mix (~500 rows: long documents read as rule P1b's passages).
v12data: install
	$(BIN)/python -m finetune.generators.mixer --mix v12 --out data/v12 --seed 0

finetune-v12: v12data adapters/v10s-soup/adapter_model.safetensors
	$(BIN)/qreact finetune --config finetune/configs/cpu-v12.yaml

# The shipped adapter since 2026-12-06 (v12s25, rule V12b in docs/v12-candidate/): 0.75 v10s50 + 0.25 v12, rebuilt byte
# for byte (sha256 eb361d08...) from v10s50 below and v12's weights in git; `cmp` it with adapters/default.
adapters/v12s25-soup/adapter_model.safetensors: adapters/v10s-soup/adapter_model.safetensors
	$(BIN)/python -m finetune.soup adapters/v10s-soup docs/v12-candidate/adapter --weight 0.75 --out adapters/v12s25-soup

# The shipped adapter 2026-12-03 -> 2026-12-06 (v10s50, rule V10s in docs/v10-candidate/): 0.5 v9s + 0.5 v10, rebuilt byte
# for byte (sha256 cbcf00dd...) from git's v8 and the two candidates' weights; `cmp` it with adapters/default.
adapters/v10s-soup/adapter_model.safetensors: adapters/v9s-soup/adapter_model.safetensors
	$(BIN)/python -m finetune.soup adapters/v9s-soup docs/v10-candidate/adapter --weight 0.5 --out adapters/v10s-soup

# The shipped adapter (v1), from scratch: gold data, pass 1 (fp32 LoRA, 1 epoch, ~55 min on 2 cores), then
# pass 2 on a mix weighted to multi-step runs (~26 min). On a GPU host use finetune/configs/gpu-qlora.yaml.
finetune-v1: gold
	$(BIN)/qreact finetune --config finetune/configs/cpu-default.yaml --output_dir adapters/default-pass1
	$(BIN)/python -m finetune.mix --input data/gold/train.jsonl --out data/gold/train-focus.jsonl
	$(BIN)/qreact finetune --config finetune/configs/cpu-continue.yaml

# Base model vs the shipped adapter on the shipped test set (report in runs/eval/test.md).
eval: install
	$(BIN)/qreact eval --questions finetune/evalsets/test.jsonl --adapter default --out runs/eval/test.jsonl --report runs/eval/test.md

export: install
	$(BIN)/qreact data export --only-confirmed --out data/runs.jsonl

# P1-P4 of bench/README.md; ~10-15 min on 2 idle cores, longer on a busy machine (it says so, with progress).
bench: install
	$(BIN)/python -m bench.run_all

bench-quick: install
	$(BIN)/python -m bench.run_all --quick

bench-train: install
	$(BIN)/python bench/train_speed.py --examples 16
	$(BIN)/python bench/rank_alignment.py --model small --repeats 7

# Long hardening runs: load, overload, schemathesis (>=1000 requests), calculator fuzzing (>=100k).
soak: install
	$(BIN)/python -m bench.soak all
	$(BIN)/python bench/fuzz_calculator.py

fuzz: install
	$(BIN)/python bench/fuzz_calculator.py

docker-build:
	docker build -f docker/Dockerfile.cuda -t qreact:cuda .
	docker build -f docker/Dockerfile.cpu -t qreact:cpu .

docker-up:
	test -f docker/.env || cp docker/.env.example docker/.env
	docker compose -f docker/compose.yaml up -d --build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
