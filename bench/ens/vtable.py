"""Validation table of policies and ensembles (issue 17, ensemble pass).

usage: python3 bench/ens/vtable.py OUT_DIR NAME...   (each OUT_DIR/NAME/validation_groups.csv)
Score: mean over groups of mean_margin + 0.5 * min(0, p10_margin) (the fourth pass's grid score);
rule: that score plus 0.25 x the Pensieve x Pensieve group's term (the fourth pass's final rule).
"""
import csv, sys

def row(out, name):
    g = list(csv.DictReader(open(f"{out}/{name}/validation_groups.csv")))
    term = lambda r: float(r["mean_margin"]) + 0.5 * min(0.0, float(r["p10_margin"]))
    s = sum(map(term, g)) / len(g)
    home = [r for r in g if r["traces"] == "pensieve" and r["video"].startswith("pensieve")][0]
    meet = sum(1 for r in g if float(r["margin"]) >= 0)
    return s, s + 0.25 * term(home), meet, len(g), float(home["qoe_mean"]), float(home["qoe_p10"])

if __name__ == "__main__":
    out, names = sys.argv[1], sys.argv[2:]
    rows = [(n,) + row(out, n) for n in names]
    print("| policy | validation score | + 0.25 x Pensieve group (the rule) | groups meeting | Pensieve x Pensieve validation mean (p10) |")
    print("|---|---|---|---|---|")
    for n, s, r, meet, total, hm, hp in sorted(rows, key=lambda x: -x[2]):
        print(f"| {n} | {s:.4f} | {r:.4f} | {meet} of {total} | {hm:.2f} ({hp:.2f}) |")
