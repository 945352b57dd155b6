#!/bin/bash
# attempt 7 (v7): copy of v6-eval/run_evals.sh, output in v7-eval/, + documents_extra (the attempt-6b command)
# usage: run_evals.sh TAG ADAPTER SET...   one process, the sets in order; the same commands as docs/v2-candidate.md,
# on main at code.commit, default engine (llama.cpp), QREACT_THREADS=1 on the loaded 2 cores
TAG=$1; A=$2; shift 2
OUT=/root/.cache/qreact/v7-eval/$TAG; mkdir -p $OUT
cd /root/.cache/qreact/v5-eval/code  # main 3d1b69f + documents_extra.jsonl (attempt 6b)
PY=/work/wt-grounding/.venv/bin/python
export QREACT_ENGINE_HEAD_TYPE=q8_0 QREACT_LOG_LEVEL=WARNING QREACT_THREADS=1 OMP_NUM_THREADS=1 QREACT_TIMEOUT_S=900
for S in "$@"; do
  date -u +"%T start $S"
  case $S in
    test40) $PY -m app.cli eval --questions finetune/evalsets/test.jsonl --limit 40 --adapter $A --out $OUT/test40.jsonl --report $OUT/test40.md ;;
    test41-200) $PY -m app.cli eval --questions ../test-41-200.jsonl --adapter $A --out $OUT/test41-200.jsonl --report $OUT/test41-200.md ;;
    test-weak) $PY -m app.cli eval --questions ../test-weak.jsonl --adapter $A --out $OUT/test-weak.jsonl --report $OUT/test-weak.md ;;
    unanswerable) $PY -m app.cli eval --questions ../unanswerable-40.jsonl --max-steps 4 --adapter $A --out $OUT/unanswerable.jsonl --report $OUT/unanswerable.md ;;
    documents) $PY -m app.cli eval --questions finetune/evalsets/documents.jsonl --corpus finetune/evalsets/corpus --max-results 2 --adapter $A --out $OUT/documents.jsonl --report $OUT/documents.md ;;
    documents_extra) $PY -m app.cli eval --questions finetune/evalsets/documents_extra.jsonl --corpus finetune/evalsets/corpus --max-results 2 --adapter $A --out $OUT/documents_extra.jsonl --report $OUT/documents_extra.md ;;
    heldout40) $PY -m app.cli eval --questions finetune/evalsets/heldout.jsonl --limit 40 --adapter $A --out $OUT/heldout40.jsonl --report $OUT/heldout40.md ;;
    korean) $PY -m app.cli eval --questions finetune/evalsets/korean.jsonl --adapter $A --out $OUT/korean.jsonl --report $OUT/korean.md ;;
  esac
  date -u +"%T end $S rc=$?"
done
echo done
