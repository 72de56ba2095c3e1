#!/usr/bin/env python3
"""Upper bound on Jain's QoE index of a shared link when QoE can only be taken away.

Reads `shared_players.csv` of `neuralstream bench --players N` (the `none` rows) and, on every link,
spends at most BUDGET (a fraction of the link's total QoE) on lowering the highest per-chunk QoEs
to a common level: the Jain-best way to lose that much QoE if the QoE taken from the players
ahead bought nothing for the players behind (what a cap does when the players behind cannot use
the capacity it frees). Prints `none`'s mean Jain index and the bound's, averaged over links as
`bench` averages them.

    python3 scripts/shared_link_bound.py OUT/shared_players.csv 0.02
"""
import collections
import csv
import sys


def jain(values):
    """Jain's index, negative values counted as 0 (as neuralstream_alloc::jain_index)."""
    v = [max(0.0, x) for x in values]
    sq = sum(x * x for x in v)
    return 1.0 if sq == 0 else sum(v) ** 2 / (len(v) * sq)


def lowered(values, budget):
    """`values` with the highest lowered to one level, spending at most `budget` in all."""
    lo, hi = min(values), max(values)
    for _ in range(100):  # bisection on the level
        mid = (lo + hi) / 2
        if sum(max(0.0, x - mid) for x in values) > budget:
            lo = mid
        else:
            hi = mid
    return [min(x, hi) for x in values]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: shared_link_bound.py SHARED_PLAYERS_CSV BUDGET_FRACTION (e.g. 0.02)")
    path, fraction = sys.argv[1], float(sys.argv[2])
    links = collections.defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["allocator"] == "none":
                links[row["trace"]].append(float(row["qoe_per_chunk"]))
    if not links:
        sys.exit(f"{path}: no rows of allocator none; run bench with --allocator none,...")
    base = sum(jain(v) for v in links.values()) / len(links)
    bound = sum(jain(lowered(v, fraction * abs(sum(v)))) for v in links.values()) / len(links)
    print(f"{path}: {len(links)} links, none Jain {base:.4f}, "
          f"best Jain lowering QoE only, within {fraction * 100:g} % of it: {bound:.4f}")


if __name__ == "__main__":
    main()
