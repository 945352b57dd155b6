#!/bin/bash
# attempt 8 (v8): continue v2b (adapters/default) on the v8 mix (python -m finetune.generators.mixer --mix v8 --out data/v8 --seed 0)
cd /work/wt-v8
exec /usr/bin/time -v .venv/bin/python -m finetune.train --config finetune/configs/cpu-v8.yaml \
  --init_adapter adapters/default \
  --train_files /root/.cache/qreact/v8-run/train.jsonl --eval_files /root/.cache/qreact/v8-run/dev.jsonl \
  --output_dir /root/.cache/qreact/v8-run/adapter --progress_file /root/.cache/qreact/v8-run/progress.json --threads 1
