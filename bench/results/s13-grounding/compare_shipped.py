"""Compare two dumps of dump_shipped.py (rule G13e): python compare_shipped.py BEFORE.json AFTER.json"""

import json
import sys

b, c = (json.load(open(p)) for p in sys.argv[1:3])
K = ("right", "abstained", "conf-wrong", "answered-wrong", "false-abst")
print(
    "| recording | before: right / abstained / cw / answered-wrong / false abst. | after | right outcomes | right lost |"
)
print("|---|---|---|---|---|")
for name in b:
    x, y = b[name], c[name]
    t0, t1 = ({k: sum(r[1] == k for r in rows) for k in K} for rows in (x, y))
    lost = sum(p[1] == "right" and q[1] != "right" for p, q in zip(x, y, strict=True))
    print(
        f"| {name} | {' / '.join(str(t0[k]) for k in K)} | {' / '.join(str(t1[k]) for k in K)} | "
        f"{t0['right'] + t0['abstained']} -> {t1['right'] + t1['abstained']} | {lost} |"
    )
print("\nrows that change:")
for name in b:
    for p, q in zip(b[name], c[name], strict=True):
        if p[1] != q[1]:
            print(f"- {name} {p[0]}: {p[1]} -> {q[1]} | {p[2]} | {p[3]}")
