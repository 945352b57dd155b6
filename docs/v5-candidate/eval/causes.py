"""Failing runs of an eval folder grouped by cause (heuristics over the trace; counts + one example each).
usage: python causes.py FOLDER [FOLDER...]   (run from the archived code/ so agent.grounding imports)"""
import glob, json, os, re, sys
from collections import defaultdict
from agent.grounding import is_not_found
from agent.country_names import KO_NAMES

OPS = {"population_ratio": "/", "density": "/", "population_difference": "-", "area_difference": "-",
       "population_sum": "+", "area_sum": "+", "ko_density": "/", "ko_sum": "+"}
TWO_SEARCH = {"population_ratio", "population_difference", "area_difference", "population_sum", "area_sum",
              "density", "ko_density", "ko_sum", "ko_compare", "doc_two", "doc_compare"}

def tools(r):
    return [(s.get("tool"), s.get("tool_input") or "", s.get("observation") or "") for s in r["trace"] if s["kind"] == "tool"]

def cause(r):
    fa = r["final_answer"] or ""
    ts = tools(r)
    calcs = [t[1] for t in ts if t[0] == "Calculator"]
    searches = [t for t in ts if t[0] == "Search"]
    k = r.get("kind") or ""
    ko = [en for en, kn in KO_NAMES.items() if kn in r["question"]]
    if ko and searches and not any(en.lower() in q.lower() for _, q, _ in searches for en in ko):
        return "Korean name mapped to another country (searched for the wrong one)"
    if r["status"] not in ("answered", "not_found", "ungrounded"):
        return f"no answer ({r['status']})"
    if r.get("answerable") is False:
        if searches and all(not o.strip() or "no result" in o.lower() for _, _, o in searches):
            return "search found nothing, answered anyway"
        return "found something that lacks the asked fact: answered with a neighbouring one"
    if is_not_found(fa):
        return "false not-found (the fact was findable)"
    op = OPS.get(k)
    if op and calcs:
        e = calcs[-1]
        if op not in e or any(o in e for o in "+-/*" if o != op and not (o == "-" and re.search(r"(^|[(\s])-\d", e))):
            return "wrong operator (the neighbour kind's: ratio for difference, difference for sum...)"
    if k in TWO_SEARCH and (len(searches) < 2 and k != "density" or k in ("density", "ko_density") and not calcs):
        return "answered after too few steps (one search / no Calculator)"
    if k.startswith("doc_") and k not in ("doc_copy", "doc_compare") and not calcs:
        return "document computation without the Calculator"
    if k.startswith("ko_"):
        return "Korean: wrong country or value"
    return "wrong value (read or copied wrong)"

def main():
    for folder in sys.argv[1:]:
        groups = defaultdict(list)
        n = 0
        for f in sorted(glob.glob(f"{folder}/*.jsonl")):
            for line in open(f):
                if not line.strip():
                    continue
                r = json.loads(line)
                n += 1
                ans = r.get("answerable", True) is not False
                fa = r["final_answer"] or ""
                ok = (r["correct"] and not is_not_found(fa)) if ans else is_not_found(fa)
                if not ok:
                    groups[cause(r)].append((os.path.basename(f)[:-6], r))
        print(f"## {folder}: {sum(map(len, groups.values()))} failing of {n}")
        for c, rows in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            sets = defaultdict(int)
            for s, _ in rows:
                sets[s] += 1
            s, r = rows[0]
            ex = " → ".join(f"{t[0]}[{t[1][:40]}]" for t in tools(r))
            print(f"- **{c}**: {len(rows)} ({', '.join(f'{k} {v}' for k, v in sets.items())}); e.g. [{s}] "
                  f"{r['question'][:70]!r}: {ex} → {str(r['final_answer'])[:90]!r} (gold {str(r.get('gold'))[:30]!r})")

main()
