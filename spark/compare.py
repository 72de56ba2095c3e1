"""Checks that two evaluation reports (`report.json` of `neuralstream report` and of
`spark/telemetry_report.py`) agree: the same settings, the same counts of what was left out, the
same sessions and groups (matched by their keys), text and counts equal, numbers equal to within
1e-9 relative (|a - b| <= 1e-9 * max(1, |a|, |b|): Spark sums in its own order), missing values
missing in both.

    python spark/compare.py out/report/report.json out/spark-report/report.json

Exits 1 listing the first differences, 0 when they agree. Standard library only.
"""

import json
import sys

TOLERANCE = 1e-9


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))
    return a == b


def compare_rows(what, key, left, right, problems):
    index = {tuple(r[k] for k in key): r for r in right}
    if len(index) != len(right):
        problems.append(f"{what}: repeated keys in the second report")
    seen = set()
    for row in left:
        k = tuple(row[c] for c in key)
        other = index.get(k)
        if other is None:
            problems.append(f"{what} {k}: only in the first report")
            continue
        seen.add(k)
        for column, value in row.items():
            if column not in other:
                problems.append(f"{what} {k}: `{column}` only in the first report")
            elif not same(value, other[column]):
                problems.append(f"{what} {k}: `{column}` {value!r} vs {other[column]!r}")
        for column in other.keys() - row.keys():
            problems.append(f"{what} {k}: `{column}` only in the second report")
    for k in index.keys() - seen:
        problems.append(f"{what} {k}: only in the second report")


def compare(left, right):
    """The differences between two reports, as sentences (empty when they agree)."""
    problems = []
    for part in ("config", "skipped"):
        for column in sorted(left[part].keys() | right[part].keys()):
            a, b = left[part].get(column), right[part].get(column)
            if isinstance(a, list) and isinstance(b, list):
                ok = len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
            else:
                ok = same(a, b)
            if not ok:
                problems.append(f"{part}: `{column}` {a!r} vs {b!r}")
    compare_rows("session", ("source", "session"), left["sessions"], right["sessions"], problems)
    compare_rows("group", ("algorithm", "network_class"), left["groups"], right["groups"], problems)
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    reports = []
    for path in argv:
        try:
            with open(path, encoding="utf-8") as f:
                reports.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"error: {path}: not a readable report.json: {e}", file=sys.stderr)
            return 1
    problems = compare(*reports)
    left = reports[0]
    if problems:
        print(f"{argv[0]} and {argv[1]} differ in {len(problems)} places:", file=sys.stderr)
        for p in problems[:30]:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(
        f"agree to {TOLERANCE:g}: {len(left['sessions'])} sessions, {len(left['groups'])} groups, "
        f"every column ({argv[0]} vs {argv[1]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
