#!/usr/bin/env bash
# Chooses mpc-rf's predictor on validation data only (docs/telemetry.md, "Choosing mpc-rf's
# predictor"); the test traces are never read here.
#
# 4-fold cross-validation over Pensieve's 127 training traces: fold k holds the traces whose
# position in name order is k mod 4. For each fold the baselines' sessions on the other three
# quarters (bench --telemetry) fit every variant's forest, and `bench` scores robustmpc and every
# variant's mpc-rf on the held quarter. Every variant is also fitted on all the training traces'
# sessions and benched on the train splits of nyumets and ucc5g (networks never seen in a fit).
# Writes OUT/cv.csv (per variant, per set: traces, mean QoE) and prints it.
#
# Usage: crates/insitu/scripts/validate_mpc_rf.sh [OUT]   (default out/mpc-rf-validation)
set -euo pipefail
OUT=${1:-out/mpc-rf-validation}
BIN=${BIN:-target/release/neuralstream}
S=${SHARED:-../shared}/data
P=$S/pensieve/sim
BASE="--abr bb,rate,bola,robustmpc --no-charts --no-chunk-log"
# name|eval-predictors flags; fixed before any validation number was seen.
VARIANTS=(
  "base|"
  "shallow|--max-depth 6 --min-samples-leaf 20"
  "rel|--relative-target"
  "rel-shallow|--relative-target --max-depth 6 --min-samples-leaf 20"
  "blend25|--harmonic-blend 0.25"
  "blend50|--harmonic-blend 0.5"
  "blend75|--harmonic-blend 0.75"
  "rel-blend50|--relative-target --harmonic-blend 0.5"
)
mkdir -p "$OUT"
fit_variants() { # TEL_FIT TEL_VAL DIR -> DIR/NAME/rf.json; echoes the mpc-rf names
  local names=""
  for v in "${VARIANTS[@]}"; do
    local name=${v%%|*} flags=${v#*|}
    # shellcheck disable=SC2086
    $BIN dataset eval-predictors --train "$1" --test "$2" --out "$3/$name" $flags >/dev/null
    names="$names,mpc-rf:$3/$name/rf.json"
  done
  echo "robustmpc$names"
}
i=0
for f in $(ls "$P/cooked_traces" | sort); do
  k=$((i % 4))
  for j in 0 1 2 3; do
    d="$OUT/f$j/fit"; [ "$j" = "$k" ] && d="$OUT/f$j/val"
    mkdir -p "$d"; ln -sf "$(realpath "$P/cooked_traces/$f")" "$d/$f"
  done
  i=$((i + 1))
done
for k in 0 1 2 3; do
  F="$OUT/f$k"
  $BIN bench --traces "$F/fit" --video "$P" $BASE --telemetry "$F/tel-fit" --out "$F/b-fit" >/dev/null
  $BIN bench --traces "$F/val" --video "$P" $BASE --telemetry "$F/tel-val" --out "$F/b-val" >/dev/null
  algos=$(fit_variants "$F/tel-fit" "$F/tel-val" "$F")
  $BIN bench --traces "$F/val" --video "$P" --abr "$algos" --no-charts --no-chunk-log --out "$F/bench" >/dev/null
done
# Every variant on all the training traces' sessions, then the other sets' train splits.
$BIN bench --traces "$P/cooked_traces" --video "$P" $BASE --telemetry "$OUT/tel-all" --out "$OUT/b-all" >/dev/null
algos=$(fit_variants "$OUT/tel-all" "$OUT/f0/tel-val" "$OUT/all")
for set in nyumets ucc5g; do
  $BIN bench --traces "$S/$set/train" --video "$P" --abr "$algos" --no-charts --no-chunk-log --out "$OUT/$set" >/dev/null
done
python3 - "$OUT" <<'PY'
import csv, sys, collections, os
out = sys.argv[1]
acc = collections.defaultdict(list)
def variant(name):
    return "robustmpc" if name == "robustmpc" else name.split("/")[-2]
def add(folder, set_name):
    with open(os.path.join(folder, "results.csv")) as f:
        for row in csv.DictReader(f):
            acc[(variant(row["algorithm"]), set_name)].append(float(row["qoe"]))
for k in range(4):
    add(os.path.join(out, f"f{k}", "bench"), "pensieve-train-cv")
for s in ("nyumets", "ucc5g"):
    add(os.path.join(out, s), s + "-train")
with open(os.path.join(out, "cv.csv"), "w") as f:
    f.write("variant,set,traces,mean_qoe\n")
    for (v, s), q in sorted(acc.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        line = f"{v},{s},{len(q)},{sum(q)/len(q):.4f}"
        f.write(line + "\n")
        print(line)
PY
