#!/bin/bash
# side-by-side: v2b = recorded attempt-4 runs (+ attempt-6b documents_extra), v6 = recorded attempt-6/6b runs, v7 = this run
cd /root/.cache/qreact/v7-eval
rm -rf cmp && mkdir cmp
for S in test40 test-weak documents documents_extra unanswerable heldout40 korean test41-200; do
  for T in v2b v6; do F=$(readlink -f $T-recorded/$S.jsonl); [ -f "$F" ] && sed "s#\"config\": \"[^\"]*\"#\"config\": \"$T\"#" $F >> cmp/$S.jsonl; done
  [ -f v7/$S.jsonl ] && sed "s#\"config\": \"[^\"]*\"#\"config\": \"v7\"#" v7/$S.jsonl >> cmp/$S.jsonl
done
cd ../v5-eval/code && nice -n 10 /work/main/.venv/bin/python bench/v2_report.py --results ../../v7-eval/cmp --questions finetune/evalsets .. > ../../v7-eval/compare.md 2>&1
