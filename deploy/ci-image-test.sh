#!/usr/bin/env bash
# Builds the NeuralStream container image and runs it, end to end, on a Docker engine this script
# starts and stops itself (CI calls it from .ci/run; runnable by hand as root from anywhere).
#
# What it does, on this machine kind (no image registry, no bridge networking; see
# docs/deploy.md "What CI checks"):
#   1. checks deploy/Dockerfile copies every workspace member's manifest (the dependency layer);
#   2. starts dockerd with its own data-root, exec-root, socket and pidfile, no bridge, no iptables;
#   3. makes the Debian bookworm base image with `debootstrap --variant=minbase` + `docker import`
#      (cached as a tarball in $NEURALSTREAM_DEPLOY_CACHE, default target/deploy, for runs by hand);
#   4. builds the Dockerfile's `prebuilt` target (the same runtime stage as `runtime`, with the
#      binary built by cargo outside Docker) with the legacy builder on --network host; with
#      --from-source (not in CI: it compiles the whole workspace cold inside Docker, see
#      docs/deploy.md for its time) the default `runtime` target from source instead;
#   5. runs it read-only, non-root, on --network host with the fixture media folder, waits for
#      /healthz over HTTPS (the server's own certificate, verified), asks one decision through the
#      JSON API, checks the image's HEALTHCHECK turns "healthy", its labels and its user;
#   6. always (trap): removes the container, its volume and the images, stops dockerd by its PID and
#      deletes its folders.
#
# Environment: NEURALSTREAM_BIN (binary to put in the image; default target/release/neuralstream,
# built with `cargo build --release -p neuralstream-cli` when missing), NEURALSTREAM_DEPLOY_CACHE.
# Needs: docker (client), dockerd, debootstrap, curl, root (dockerd). Exit status 0 only when every
# check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=prebuilt
case "${1:-}" in
  "") ;;
  --from-source) MODE=source ;;
  *) echo "usage: $0 [--from-source]" >&2; exit 2 ;;
esac

say() { echo "[ci-image-test ${SECONDS}s] $*"; }
fail() { echo "[ci-image-test ${SECONDS}s] FAIL: $*" >&2; exit 1; }

for tool in docker dockerd debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool not found: apt-get install docker.io debootstrap curl (see docs/deploy.md)"
done
[ "$(id -u)" -eq 0 ] || fail "dockerd needs root: run as root (CI does)"

# 1. The dependency layer names every workspace member's manifest.
members=$(sed -n 's/^members *= *\[\(.*\)\]/\1/p' Cargo.toml | tr -d '" ' | tr ',' ' ')
[ -n "$members" ] || fail "could not read the workspace members from Cargo.toml"
for m in $members; do
  grep -qx "COPY $m/Cargo.toml $m/" deploy/Dockerfile \
    || fail "deploy/Dockerfile has no 'COPY $m/Cargo.toml $m/' line in its deps stage: add it"
done
say "Dockerfile copies all $(echo "$members" | wc -w) member manifests"

BIN=${NEURALSTREAM_BIN:-target/release/neuralstream}
if [ "$MODE" = prebuilt ] && [ ! -x "$BIN" ]; then
  say "building $BIN"
  cargo build --release -q -p neuralstream-cli
fi
CACHE=${NEURALSTREAM_DEPLOY_CACHE:-$ROOT/target/deploy}
mkdir -p "$CACHE"

# 2. A private Docker engine. Short paths: containerd's sockets live under the exec-root.
WORK=$(mktemp -d /tmp/nsdk.XXXXXX)
export DOCKER_HOST="unix://$WORK/docker.sock"
TAG="neuralstream:ci-$$"
BUILDER="neuralstream-builder:ci-$$"
NAME="neuralstream-ci-$$"
DOCKERD_PID=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$DOCKERD_PID" ]; then
    docker rm -f -v "$NAME" >/dev/null 2>&1
    docker rmi -f "$TAG" "$BUILDER" debian:bookworm-slim >/dev/null 2>&1
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    # Anything dockerd left mounted under its folders (it unmounts on a clean stop).
    grep -o " $WORK[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  fi
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then say "passed; engine stopped, everything removed"; else say "failed (exit $rc); engine stopped, everything removed"; fi
  exit "$rc"
}
trap cleanup EXIT INT TERM

say "starting dockerd (data-root $WORK/data)"
dockerd --iptables=false --ip-masq=false --bridge=none \
  --data-root "$WORK/data" --exec-root "$WORK/exec" -H "$DOCKER_HOST" -p "$WORK/dockerd.pid" \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log" >&2; fail "dockerd did not answer in 20 s (log above)"; }
say "dockerd $(docker version --format '{{.Server.Version}}') up, PID $DOCKERD_PID"

# 3. The Debian base image, from Debian's own packages (no registry is reachable).
BASE_TAR="$CACHE/debian-bookworm-minbase.tar"
if [ ! -s "$BASE_TAR" ]; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  say "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  tar -C "$WORK/rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$WORK/rootfs"
fi
docker import "$BASE_TAR" debian:bookworm-slim >/dev/null
say "base image debian:bookworm-slim imported"

# 4. The image. Default: the Dockerfile's prebuilt target, the context holding the binary and the
# web page only. --from-source: the default `runtime` target from the repository root, on a Rust
# builder image made here from the base image, Debian's gcc and this machine's Rust toolchain.
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_ARGS=(--build-arg VCS_REF="$COMMIT" --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)")
if [ "$MODE" = source ]; then
  TOOLCHAIN=$(dirname "$(dirname "$(rustup which cargo 2>/dev/null || command -v cargo)")")
  say "builder image from $TOOLCHAIN (bin, lib, libexec)"
  mkdir -p "$WORK/builder"
  cp -a "$TOOLCHAIN/bin" "$TOOLCHAIN/lib" "$TOOLCHAIN/libexec" "$WORK/builder/" 2>/dev/null \
    || cp -a "$TOOLCHAIN/bin" "$TOOLCHAIN/lib" "$WORK/builder/"
  # The builder trusts what this host trusts (a TLS-inspecting proxy's CA included), so cargo in
  # it reaches crates.io wherever the host's cargo does.
  cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$WORK/builder/host-ca.crt"
  printf '%s\n' 'FROM debian:bookworm-slim' \
    'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates binutils && rm -rf /var/lib/apt/lists/*' \
    'COPY . /usr/local/' 'ENV CARGO_HOME=/usr/local/cargo SSL_CERT_FILE=/usr/local/host-ca.crt CARGO_HTTP_CAINFO=/usr/local/host-ca.crt' \
    >"$WORK/builder/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --network host -t "$BUILDER" "$WORK/builder" >/dev/null
  rm -rf "$WORK/builder"
  say "docker build --target runtime from source (commit $COMMIT)"
  DOCKER_BUILDKIT=0 docker build -q --network host --target runtime "${BUILD_ARGS[@]}" \
    --build-arg RUST_IMAGE="$BUILDER" -f deploy/Dockerfile -t "$TAG" . >/dev/null
else
  CTX="$WORK/context"
  mkdir -p "$CTX/deploy/prebuilt/web"
  strip --strip-debug -o "$CTX/deploy/prebuilt/neuralstream" "$BIN" 2>/dev/null || cp "$BIN" "$CTX/deploy/prebuilt/neuralstream"
  if [ -d web/dist ]; then cp -r web/dist/. "$CTX/deploy/prebuilt/web/"; fi
  say "docker build --target prebuilt (commit $COMMIT)"
  DOCKER_BUILDKIT=0 docker build -q --network host --target prebuilt "${BUILD_ARGS[@]}" \
    -f deploy/Dockerfile -t "$TAG" "$CTX" >/dev/null
fi
say "image $TAG: $(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"

label=$(docker image inspect --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$TAG")
[ "$label" = "$COMMIT" ] || fail "label org.opencontainers.image.revision is '$label', expected $COMMIT"
user=$(docker image inspect --format '{{.Config.User}}' "$TAG")
[ "$user" = "10001:10001" ] || fail "image user is '$user', expected 10001:10001 (non-root)"
# Each output is captured whole before it is searched: with pipefail, `producer | grep -q` fails
# whenever grep stops reading at its first match while the producer is still writing (curl: (23)).
healthcheck=$(docker image inspect --format '{{json .Config.Healthcheck}}' "$TAG")
grep -q NEURALSTREAM_HEALTH_URL <<<"$healthcheck" \
  || fail "image has no HEALTHCHECK asking \$NEURALSTREAM_HEALTH_URL"
env_json=$(docker image inspect --format '{{json .Config.Env}}' "$TAG")
grep -q 'NEURALSTREAM_HEALTH_URL=https://127.0.0.1:8443/healthz' <<<"$env_json" \
  || fail "image's NEURALSTREAM_HEALTH_URL is not https://127.0.0.1:8443/healthz"
version=$(docker run --rm --network host "$TAG" --version) \
  || fail "'docker run IMAGE --version' failed"
grep -q neuralstream <<<"$version" \
  || fail "'docker run IMAGE --version' did not print the version (it printed: $version)"

# 5. Serve: read-only root filesystem, the fixture media read-only, a free port on loopback.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + RANDOM % 20000)))
URL="https://127.0.0.1:$PORT"
say "docker run serve on $URL (read-only rootfs)"
docker run -d --name "$NAME" --network host --read-only \
  -v "$ROOT/deploy/testdata/media/demo:/srv/media/video:ro" \
  -e NEURALSTREAM_HEALTH_URL="$URL/healthz" --health-interval 1s --health-start-period 1s \
  "$TAG" serve --bind 127.0.0.1 --port "$PORT" --state-dir /var/lib/neuralstream \
  --web-root /opt/neuralstream/web --media /srv/media/video >/dev/null

up=""
for _ in $(seq 1 100); do
  if docker exec "$NAME" test -s /var/lib/neuralstream/cert.pem 2>/dev/null; then
    docker cp "$NAME:/var/lib/neuralstream/cert.pem" "$WORK/cert.pem" >/dev/null 2>&1 || true
    if [ -s "$WORK/cert.pem" ] && curl -fsS --max-time 2 --cacert "$WORK/cert.pem" "$URL/healthz" >"$WORK/healthz" 2>/dev/null; then
      up=1; break
    fi
  fi
  [ "$(docker inspect --format '{{.State.Running}}' "$NAME")" = true ] || break
  sleep 0.2
done
if [ -z "$up" ]; then docker logs "$NAME" 2>&1 | tail -20 >&2; fail "/healthz did not answer over HTTPS in 20 s (container log above)"; fi
say "/healthz over HTTPS (certificate verified): $(head -c 200 "$WORK/healthz")"

answer=$(curl -fsS --max-time 5 --cacert "$WORK/cert.pem" -H 'content-type: application/json' \
  -d '{"buffer_s": 0}' "$URL/api/v1/sessions/ci-image-test/decision") \
  || fail "the decision request failed"
echo "$answer" | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["session"] == "ci-image-test", a
assert a["chunk"] == 0 and 0 <= a["level"] < 3, a
assert a["bitrate_kbps"] in (300, 1200, 4300), a
' || fail "unexpected decision answer: $answer"
say "decision: $answer"

curl -fsS --max-time 5 --cacert "$WORK/cert.pem" "$URL/metrics" >"$WORK/metrics" \
  || fail "GET /metrics failed"
grep -q '^neuralstream_sessions_created_total 1$' "$WORK/metrics" \
  || fail "/metrics does not count the session just created ($(grep -c . "$WORK/metrics") lines; sessions: $(grep '^neuralstream_sessions_created_total' "$WORK/metrics" || echo none))"

health=""
for _ in $(seq 1 30); do
  health=$(docker inspect --format '{{.State.Health.Status}}' "$NAME")
  [ "$health" = healthy ] && break
  sleep 0.5
done
[ "$health" = healthy ] || fail "the image's HEALTHCHECK says '$health', expected healthy"
say "HEALTHCHECK: healthy"

uid=$(docker exec "$NAME" id -u)
[ "$uid" = 10001 ] || fail "the server runs as uid $uid, expected 10001"
if docker exec "$NAME" sh -c 'echo x > /opt/neuralstream/probe' 2>/dev/null; then
  fail "the root filesystem is writable despite --read-only"
fi
say "runs as uid 10001 on a read-only root filesystem"
