"""Rule G13d (session 13, 13:09 UTC) judged: python compare_g13.py g13b.json g13d.json (from dump_every_word.py).
The columns headed G13c hold the second file: G13d (G13c + the asked year)."""

import json, sys

b = json.load(open(sys.argv[1]))
c = json.load(open(sys.argv[2]))
K = ("right", "abstained", "conf-wrong", "answered-wrong", "false-abst")
print("| recording | no every-word | G13b | G13c | right outcomes off / G13b / G13c | right lost vs off: G13b / G13c |")
print("|---|---|---|---|---|---|")
for name in ["v8", "v10s50", "v11", "probe2", "probe3", "probe4", "probe5", "probe6"]:
    off, g13b, g13c = b[f"{name}:0"], b[f"{name}:1"], c[f"{name}:1"]

    def t(rows):
        return {k: sum(r[1] == k for r in rows) for k in K}

    def ro(rows):
        x = t(rows)
        return x["right"] + x["abstained"]

    def lost(a, z):
        return sum(x[1] == "right" and y[1] != "right" for x, y in zip(a, z))

    f = lambda rows: " / ".join(str(t(rows)[k]) for k in K)
    print(
        f"| {name} | {f(off)} | {f(g13b)} | {f(g13c)} | {ro(off)} / {ro(g13b)} / {ro(g13c)} | {lost(off, g13b)} / {lost(off, g13c)} |"
    )
print("\nrows where G13c differs from G13b:")
for name in ["v8", "v10s50", "v11", "probe2", "probe3", "probe4", "probe5", "probe6"]:
    for x, y in zip(b[f"{name}:1"], c[f"{name}:1"]):
        if x[1] != y[1]:
            print(f"- {name} {x[0]}: {x[1]} -> {y[1]} | {x[2]} | {x[3]}")
