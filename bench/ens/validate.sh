#!/bin/sh
# usage: bench/ens/validate.sh POLICY_DIR OUT_DIR NAME MEMBER...
# Measures the ensemble of MEMBER policies (POLICY_DIR/MEMBER/policy.safetensors) on the fourth
# pass's validation split (train --agnostic --agnostic-select grid --seed 1; 20 groups, 712 sessions)
# and writes OUT_DIR/NAME/validation_groups.csv.
set -e
dir=$1; out=$2; name=$3; shift 3
spec=""
for m in "$@"; do spec="${spec:+$spec+}$dir/$m/policy.safetensors"; done
${NS:-target/release/neuralstream} train --agnostic --agnostic-select grid --seed 1 \
  --out "$out/$name" --agnostic-validate "$spec"
