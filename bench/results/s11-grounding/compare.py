import json, sys
old, new = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def outcome(r):
    _, st, ok, ans = r[:4]
    if ans: return 'right' if st == 'answered' and ok else ('false-abst' if st == 'not_found' else 'answered-wrong')
    return 'abstained' if st == 'not_found' else 'conf-wrong'
for folder in old:
    name = folder.rsplit('/', 1)[-1]
    o_right = n_right = o_cw = n_cw = 0; changes = []
    for s in old[folder]:
        for a, b in zip(old[folder][s], new[folder][s]):
            oa, ob = outcome(a), outcome(b)
            o_right += oa in ('right', 'abstained'); n_right += ob in ('right', 'abstained')
            o_cw += (s == 'unanswerable' and oa == 'conf-wrong'); n_cw += (s == 'unanswerable' and ob == 'conf-wrong')
            if oa != ob: changes.append((s, oa, ob, a[4][:70], (b[5] or '')[:70]))
    ans_changes = [c for c in changes if c[1] in ('right','false-abst','answered-wrong')]
    to_right = sum(c[2] == 'right' for c in ans_changes); to_wrong = sum(c[2] == 'answered-wrong' for c in ans_changes)
    print(f"## {name}: right outcomes {o_right} -> {n_right}; unanswerable conf.-wrong {o_cw} -> {n_cw}; answerable changes: {to_right} become right, {to_wrong} become answered-wrong; {len(changes)} rows change")
    for c in changes: print('  -', c[0], c[1], '->', c[2], '|', c[3], '|', c[4])
