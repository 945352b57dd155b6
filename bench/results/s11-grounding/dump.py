import json, sys
sys.path.insert(0, "docs/v10-candidate/eval")
from rule_v10 import system_rows
out = {}
for folder in sys.argv[2:]:
    rows = system_rows(__import__("pathlib").Path(folder))
    out[folder] = {s: [[r["id"], r["status"], bool(r["correct"]), r.get("answerable", True) is not False, r["question"], r.get("final_answer")] for r in rs] for s, rs in rows.items()}
json.dump(out, open(sys.argv[1], "w"))
