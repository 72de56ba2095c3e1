#!/usr/bin/env bash
# Checks deploy/compose.yaml with the engine's own parser (`docker-compose config`, Debian's 1.29;
# Compose v2's `docker compose config` when that is what is installed): the file and its
# `telemetry` profile parse and validate, every file it bind-mounts from this repository exists,
# and a deliberately broken Compose file is rejected, so the check can fail.
# Usage: deploy/compose-test.sh   (exit 0 only when every check passed)
set -euo pipefail
cd "$(dirname "$0")"
if command -v docker-compose >/dev/null; then COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
else echo "neither docker-compose nor docker compose found: apt-get install docker-compose" >&2; exit 1; fi
export GRAFANA_ADMIN_PASSWORD=compose-test
passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*" >&2; failed=$((failed + 1)); }

if out=$("${COMPOSE[@]}" -f compose.yaml config 2>&1); then ok "compose.yaml parses and validates"
else bad "compose.yaml: $out"; fi

services=$("${COMPOSE[@]}" -f compose.yaml --profile telemetry config --services 2>&1 | sort | tr '\n' ' ')
if [ "$services" = "broker grafana neuralstream prometheus telemetry-consumer " ]; then ok "services: $services"
else bad "services with the telemetry profile are '$services'"; fi

# Bind mounts from this folder must exist (media and TLS folders are the operator's).
for src in prometheus/prometheus.yml grafana/provisioning grafana/dashboards \
           grafana/provisioning/datasources/prometheus.yaml grafana/provisioning/dashboards/neuralstream.yaml \
           grafana/dashboards/neuralstream.json Dockerfile; do
  if [ -e "$src" ]; then :; else bad "compose.yaml mounts or builds from deploy/$src, which is missing"; fi
done
grep -q "./prometheus/prometheus.yml:" compose.yaml && grep -q "./grafana/dashboards:" compose.yaml \
  && ok "mounted configuration files exist" || bad "compose.yaml no longer mounts the Prometheus config and dashboards"

if out=$(GRAFANA_ADMIN_PASSWORD= "${COMPOSE[@]}" -f compose.yaml config -q 2>&1); then
  bad "compose.yaml starts Grafana without GRAFANA_ADMIN_PASSWORD"
else ok "refuses to start Grafana without an admin password"; fi

if out=$("${COMPOSE[@]}" -f tests/compose-broken.yaml config -q 2>&1); then
  bad "tests/compose-broken.yaml was accepted; the check cannot fail"
else ok "tests/compose-broken.yaml rejected ($(echo "$out" | grep -m1 -i 'invalid\|error' | cut -c1-120))"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
