#!/bin/bash
# attempt 7 (v7): continue v6 (= 0.5 v4 + 0.5 v5) on the v7 mix (python -m finetune.generators.mixer --mix v7 --out data/v7 --seed 0)
# --threads 1: with 2 threads beside two eval llama-servers (3 autogroups at nice 19 on 2 cores) a step took 92-135 s (try 1, train-try1-2threads.log)
cd /work/wt-grounding
exec /usr/bin/time -v .venv/bin/python -m finetune.train --config finetune/configs/cpu-v7.yaml \
  --init_adapter /root/.cache/qreact/v6-soup \
  --train_files /root/.cache/qreact/v7-run/train.jsonl --eval_files /root/.cache/qreact/v7-run/dev.jsonl \
  --output_dir /root/.cache/qreact/v7-run/adapter --progress_file /root/.cache/qreact/v7-run/progress.json --threads 1
