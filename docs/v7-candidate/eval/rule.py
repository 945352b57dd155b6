"""Attempt-7 ship rule numbers (NOTES 21:5x): per adapter folder, per set: right, answerable acc, false abst, abstained."""
import json, sys
from pathlib import Path
sys.path.insert(0, "/root/.cache/qreact/v5-eval/code")
from agent.grounding import is_not_found

SETS = ["test40", "test-weak", "unanswerable", "documents", "documents_extra", "heldout40", "korean", "test41-200"]


def load(folder, s):
    p = Path(folder) / f"{s}.jsonl"
    return [json.loads(l) for l in p.open()] if p.exists() else None


def stats(rows):
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    right_a = sum(1 for r in ans if r["correct"] and not is_not_found(r["final_answer"] or ""))
    fa = sum(1 for r in ans if is_not_found(r["final_answer"] or ""))
    ab = sum(1 for r in una if is_not_found(r["final_answer"] or ""))
    return dict(n=len(rows), ans=len(ans), right_a=right_a, fa=fa, una=len(una), ab=ab, right=right_a + ab)


for folder in sys.argv[1:]:
    print(f"== {folder}")
    for s in SETS:
        rows = load(folder, s)
        if rows is None:
            print(f"  {s}: -"); continue
        st = stats(rows)
        kinds = {}
        for r in rows:
            if r["answerable"]:
                k = kinds.setdefault(r["kind"], [0, 0]); k[1] += 1; k[0] += bool(r["correct"])
        extra = ""
        if s.startswith("test"):
            extra = " " + " ".join(f"{k}={a}/{n}" for k, (a, n) in sorted(kinds.items()) if k in ("population_difference", "arithmetic", "area_sum", "population_ratio", "area"))
        print(f"  {s}: n={st['n']} right={st['right']} answerable {st['right_a']}/{st['ans']} false_abst {st['fa']}/{st['ans']} abstained {st['ab']}/{st['una']}{extra}")
