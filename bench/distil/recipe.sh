#!/bin/sh
# usage: bench/distil/recipe.sh OUT [SHARED_DATA]
#
# Issue 17's distilled ladder-agnostic policy from scratch, in three steps (docs/benchmarks.md, the
# fifth and sixth passes): five ladder-agnostic teachers by the fourth pass's grid recipe (A: seeds
# 1, 2; B = A + 200 Pensieve windows: seeds 1, 2, 3; all on split 1), the fixed-ladder default
# trained on split 1's Pensieve training traces only (the home teacher), then one 2 x 128 student
# distilled from the ensemble of the teachers and the home teacher. Two trainings run at a time.
# Writes OUT/student/policy.safetensors; every step's log beside it. With MIXED=1 this is what
# `neuralstream train --agnostic` runs in one process (its default recipe, byte for byte); the
# script remains for its variants (FLAGS, the layout 2 recipe) and to run steps by hand.
#
# Environment (all optional):
#   MIXED=1  the sixth pass's recipe: the five teachers in both feature layouts (2, and 3 with
#            --agnostic-rule-hints: OUT/A1 ... and OUT/hA1 ...), a ten-member teacher, soft targets
#            (--agnostic-distil-soft).
#   FLAGS    added to every ladder-agnostic training, teachers and student (FLAGS=--agnostic-rule-hints:
#            the layout 3 recipe of five teachers).
#   NS       the binary (target/release/neuralstream).
set -eu
out=$1
S=${2:-../shared/data}
NS=${NS:-target/release/neuralstream}
FLAGS=${FLAGS:-}
MIXED=${MIXED:-0}
mkdir -p "$out"
start=$(date +%s)
# The split: which Pensieve traces the agnostic trainer holds out (split.csv), without training.
$NS train --agnostic --agnostic-recipe single --agnostic-select grid --seed 1 --agnostic-split-only --out "$out/split" > "$out/split.log"
mkdir -p "$out/pens-train"
grep '^pensieve,.*,train$' "$out/split/split.csv" | cut -d, -f2 | while read -r t; do
  ln -sf "$(cd "$S/pensieve/sim/cooked_traces" && pwd)/$t" "$out/pens-train/$t"
done
# Step 1 and 2: the teachers, two at a time. A job is "NAME flags..."; hNAME adds the rule hints.
# Every teacher of one kind (A, B) trains on the same environments, so their offline optimum is
# solved once (the first A and the first B, side by side) and read from OUT/optimum by the others.
teachers="A1 A2 B1 B2 B3"
first="A1 --seed 1
B1 --seed 1 --agnostic-pensieve-windows 200
FT"
jobs="A2 --seed 2
B2 --seed 2 --agnostic-pensieve-windows 200
B3 --seed 3 --agnostic-pensieve-windows 200"
if [ "$MIXED" = 1 ]; then
  teachers="A1 hA1 A2 hA2 B1 hB1 B2 hB2 B3 hB3"
  jobs="$jobs
$(printf '%s\n%s\n' "$first" "$jobs" | grep -v '^FT$' | sed 's/^/h/; s/$/ --agnostic-rule-hints/')"
fi
printf '%s\n%s\n' "$first" "$jobs" |
  NS=$NS out=$out S=$S FLAGS=$FLAGS xargs -P 2 -I{} sh -c '
    set -- {}; name=$1; shift
    if [ "$name" = FT ]; then
      $NS train --traces "$out/pens-train" --video "$S/pensieve/sim" --seed 1 --out "$out/FT" > "$out/FT.log" 2>&1
    else
      $NS train --agnostic --agnostic-recipe single --agnostic-select grid --agnostic-split-seed 1 "$@" $FLAGS \
        --agnostic-optimum-cache "$out/optimum" --out "$out/$name" > "$out/$name.log" 2>&1
    fi
    echo "$name done"'
# Step 3: the student.
E=""
for m in $teachers; do E="${E:+$E+}$out/$m/policy.safetensors"; done
SOFT=""
[ "$MIXED" = 1 ] && SOFT=--agnostic-distil-soft
$NS train --agnostic --agnostic-recipe single --agnostic-select grid --seed 1 --agnostic-pensieve-windows 200 --hidden 128,128 \
  --agnostic-teacher "$E" --agnostic-home-teacher "$out/FT/policy.safetensors" \
  --agnostic-distil-rounds 8 $SOFT $FLAGS --out "$out/student" > "$out/student.log" 2>&1
echo "student: $out/student/policy.safetensors ($(( $(date +%s) - start )) s wall)"
