#!/usr/bin/env bash
# Load benchmark of the decision API: NeuralStream (`neuralstream serve`, RobustMPC) against a
# Python http.server running RobustMPC (bench/python_mpc_server.py), same wrk script, same run.
#
# usage: bench/decision_bench.sh [DURATION_S]   (from the repository root, after
#        `cargo build --release -p neuralstream-cli`; needs wrk: apt-get install wrk)
# env:   CONNECTIONS (default 64) and THREADS (wrk threads, default 1) for NeuralStream,
#        PY_CONNECTIONS (default 8) for Python, NEURALSTREAM_BIN (default target/release/neuralstream),
#        OUT (default out/bench-decision), TLS=1 to also measure NeuralStream over HTTPS,
#        PYTHON=0 to skip the Python server (for side-by-side runs of two NeuralStream binaries).
# Writes $OUT/summary.md and the raw wrk outputs.
set -euo pipefail
DUR=${1:-10}
CONN=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
PYCONN=${PY_CONNECTIONS:-8}
BIN=${NEURALSTREAM_BIN:-${CARGO_TARGET_DIR:-target}/release/neuralstream}
OUT=${OUT:-out/bench-decision}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release -p neuralstream-cli (or set NEURALSTREAM_BIN)" >&2; exit 2; }
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
mkdir -p "$OUT/media/pensieve"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The video: Pensieve's 48-chunk, 6-level clip (sizes from the shared data when present, else a
# fixed synthetic ladder), as a NeuralStream video.json descriptor.
python3 - "$OUT/media/pensieve/video.json" <<'PY'
import json, os, sys
kbps = [300, 750, 1200, 1850, 2850, 4300]
shared = os.environ.get("NEURALSTREAM_SHARED", "/work/shared") + "/data/pensieve/sim"
try:
    sizes = [[int(l) for l in open(f"{shared}/video_size_{i}").read().split()][:48] for i in range(6)]
except OSError:
    sizes = [[int(k * 4000 / 8 * (0.8 + 0.4 * ((c * 37) % 11) / 10)) for c in range(48)] for k in kbps]
json.dump({"format": "neuralstream-video", "version": 1, "name": "pensieve", "chunk_duration_s": 4.0,
           "ladder": [{"bitrate_kbps": k} for k in kbps], "chunk_bytes": sizes}, open(sys.argv[1], "w"))
PY

start_rust() { # $1: extra flags, $2: file suffix; sets URL and pushes the pid on PIDS
  local log="$OUT/rust$2.log"
  "$BIN" serve --media "$OUT/media/pensieve" --abr robustmpc --port 0 --state-dir "$OUT/state" \
    --session-idle-s 60 $1 > "$OUT/rust$2.out" 2> "$log" &
  PIDS+=($!)
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$OUT/rust$2.out")
    [ -n "$URL" ] && return
    sleep 0.1
  done
  echo "server did not start; see $log" >&2; exit 1
}
rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $5}' "$1"; }

start_rust "--http" ""
echo "NeuralStream (HTTP) at $URL: wrk -t$THREADS -c$CONN -d${DUR}s" >&2
wrk -t"$THREADS" -c"$CONN" -d"${DUR}s" --latency -s "$HERE/decision_load.lua" "${URL%/}" > "$OUT/wrk_rust.txt"
curl -s "${URL}metrics" > "$OUT/metrics_rust.txt" || true
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
RUST_CPU=$(cpu_s "${PIDS[-1]}")
kill "${PIDS[-1]}"

if [ "${TLS:-0}" = 1 ]; then
  start_rust "" "_tls"
  echo "NeuralStream (HTTPS) at $URL" >&2
  wrk -t"$THREADS" -c"$CONN" -d"${DUR}s" --latency -s "$HERE/decision_load.lua" "${URL%/}" > "$OUT/wrk_rust_tls.txt"
  kill "${PIDS[-1]}"
fi

R=$(rps "$OUT/wrk_rust.txt"); RN=$(awk '/requests in/ {print $1}' "$OUT/wrk_rust.txt")
if [ "${PYTHON:-1}" = 1 ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 "$HERE/python_mpc_server.py" "$OUT/media/pensieve/video.json" "$PORT" &
  PIDS+=($!)
  sleep 1
  echo "Python http.server at :$PORT: wrk -t1 -c$PYCONN -d${DUR}s" >&2
  wrk -t1 -c"$PYCONN" -d"${DUR}s" --timeout 10s --latency -s "$HERE/decision_load.lua" "http://127.0.0.1:$PORT" > "$OUT/wrk_python.txt"
  PY_CPU=$(cpu_s "${PIDS[-1]}")
  P=$(rps "$OUT/wrk_python.txt"); PN=$(awk '/requests in/ {print $1}' "$OUT/wrk_python.txt")
fi
{
  echo "| server | connections | decisions/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|"
  echo "| NeuralStream serve --http, RobustMPC | $CONN | $R | $(awk '$1 == "50%" {print $2}' "$OUT/wrk_rust.txt") | $(p99 "$OUT/wrk_rust.txt") | $(non2xx "$OUT/wrk_rust.txt") |"
  if [ -f "$OUT/wrk_rust_tls.txt" ] && [ "${TLS:-0}" = 1 ]; then
    echo "| NeuralStream serve (HTTPS), RobustMPC | $CONN | $(rps "$OUT/wrk_rust_tls.txt") | $(awk '$1 == "50%" {print $2}' "$OUT/wrk_rust_tls.txt") | $(p99 "$OUT/wrk_rust_tls.txt") | $(non2xx "$OUT/wrk_rust_tls.txt") |"
  fi
  if [ "${PYTHON:-1}" = 1 ]; then
    echo "| Python http.server, RobustMPC | $PYCONN | $P | $(awk '$1 == "50%" {print $2}' "$OUT/wrk_python.txt") | $(p99 "$OUT/wrk_python.txt") | $(non2xx "$OUT/wrk_python.txt") |"
    echo
    echo "throughput ratio NeuralStream / Python: $(python3 -c "print(f'{$R / $P:.0f}x')")"
    echo "server CPU per decision (user+sys over the whole run, load-independent): NeuralStream $(python3 -c "print(f'{$RUST_CPU / $RN * 1e6:.0f}')") us (HTTP), Python $(python3 -c "print(f'{$PY_CPU / max($PN, 1) * 1e3:.1f}')") ms"
  else
    echo
    echo "server CPU per decision (user+sys over the whole run): NeuralStream $(python3 -c "print(f'{$RUST_CPU / $RN * 1e6:.0f}')") us (HTTP)"
  fi
  echo "decisions under 100 us of server handling time (metrics histogram): $(awk '/decision_duration_seconds_bucket\{le="0.0001"\}/ {b=$2} /decision_duration_seconds_count/ {n=$2} END {printf "%.2f%%", 100*b/n}' "$OUT/metrics_rust.txt")"
  echo "machine: $(nproc) cores, load average before the run: $LOAD0, after: $(cut -d" " -f1-3 /proc/loadavg); wrk ${DUR}s per server"
} > "$OUT/summary.md"
cat "$OUT/summary.md"
