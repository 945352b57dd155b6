#!/usr/bin/env bash
# P2 on a GPU machine that has torch + transformers but not this project's other packages and cannot
# receive the real weights: wheels from .whl/ (pip download, see bench/README.md), the Gemma-3-270M
# config + tokenizer from .cache/h9-gpu/, random weights of the same shapes. Results go to $OUT.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -m bench.random_model .cache/h9-gpu /tmp/gemma-random
python3 -m bench.p2_decode --device cuda --model /tmp/gemma-random --dtype bfloat16 --dtype float32 --dtype 4bit \
  --out-dir "${OUT:-bench/results}" --tag random-weights \
  --note "random weights with the Gemma-3-270M architecture (the 1 GB of real weights cannot travel to the GPU machine); decode speed depends on shapes and dtype, not on values"
