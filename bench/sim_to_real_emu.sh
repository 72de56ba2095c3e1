#!/usr/bin/env bash
# Sim to real over emulated links (issue 22, item 4; docs/sim_to_real.md): the simulator (`bench`)
# against real TCP (`emulate`, root) on TRACES of Pensieve's test traces and ALGOS; a grid of the
# simulator's request model (Pensieve's, or the emulated player's: --rtt-advances-trace,
# --init-segment-bytes, --trace-offset-s), RTT and payload fraction fitted on half the traces and
# checked on the other half; and the shared-link scenario in both. From the repository root after
# `cargo build --release -p neuralstream-cli`. What exists in OUT is reused. Knobs:
#   TRACES (60), REPEATS (emulations of every trace, 3), QUEUE_BYTES (150000, the link's queue),
#   ALGOS, SPEED (the emulation's time compression, 1 = real time), RTTS and PFS (the grid),
#   TRACE_OFFSETS_S (default: the measured starts), SHARED=0 (skip the shared link), SHARED_CC
#   (its TCP congestion control, default the kernel's), SHARED_HTTP1=1, OUT, SIM (Pensieve's sim
#   folder), EMU_ONLY=1 (stop after the emulations), SIM_ONLY=1 (skip them).
set -euo pipefail
BIN=${NEURALSTREAM_BIN:-target/release/neuralstream}
OUT=${OUT:-out/sim_to_real_emu}
SIM=${SIM:-../shared/data/pensieve/sim}
TRACES=${TRACES:-60}
REPEATS=${REPEATS:-3}
QUEUE_BYTES=${QUEUE_BYTES:-150000}
ALGOS=${ALGOS:-bb,rate,festive,bola-e,robustmpc}
SPEED=${SPEED:-1}
RTTS=${RTTS:-0 40 80 120 160 240 320}
PFS=${PFS:-0.75 0.8 0.85 0.9 0.95 1.0}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/sim_to_real_emu.py prepare "$OUT" "$SIM" "$TRACES"
mkdir -p "$OUT/emu"
# Emulation: one link per trace x algorithm, 100 links at once (a batch of 20 traces), 48 chunks as
# bench plays, REPEATS times (real time under other work is noisy: the analysis reports the spread).
# The queue is given explicitly so that a change of emulate's default does not change these numbers.
for rep in $(seq 1 "$REPEATS"); do
  [ -z "${SIM_ONLY:-}" ] || break
  for b in "$OUT"/traces/batch*; do
    d="$OUT/emu/run$rep/$(basename "$b")"
    [ -f "$d/emulate.csv" ] && continue
    echo "emulation run $rep $(basename "$b"): load before $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/emu/load.txt"
    "$BIN" emulate --media "$OUT/pensieve" --trace "$b" --abr "$ALGOS" --speed "$SPEED" \
      --queue-bytes "$QUEUE_BYTES" --max-chunks 48 --timeout-s 1200 --out "$d" ||
      echo "some players of run $rep $(basename "$b") failed (emulate.csv says which)"
    echo "emulation run $rep $(basename "$b"): load after $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/emu/load.txt"
  done
done
[ -z "${EMU_ONLY:-}" ] || exit 0
# Shared link: 4 robustmpc players on each of 5 traces scaled x4 (each player's equal share is the
# trace). All 20 finish at speed 1 under BBR and Reno since the shaper sends one TCP segment per
# packet (docs/sim_to_real.md, "Shared link in both"); if some still fail, the analysis uses the
# players that finished. SHARED_CC sets TCP's congestion control (default: the kernel's),
# SHARED_HTTP1=1 makes the players speak HTTP/1.1.
if [ "${SHARED:-1}" = 1 ] && [ ! -f "$OUT/emu-shared/emulate.csv" ]; then
  "$BIN" emulate --media "$OUT/pensieve" --trace "$OUT/traces/shared" --abr robustmpc --players 4 \
    --speed "$SPEED" --queue-bytes "$QUEUE_BYTES" --max-chunks 48 --timeout-s 1200 ${SHARED_CC:+--congestion-control "$SHARED_CC"} ${SHARED_HTTP1:+--http1} \
    --out "$OUT/emu-shared" ||
    echo "some shared-link players failed (emulate.csv says which); the analysis uses the others"
fi
# Where on the trace the emulated players started (the shaper starts first; the players reach
# their first request 0.5 to 2 s later) and the payload fraction TCP achieved: OUT/linkcheck.md.
# Modes +offsets average the simulator over that start's measured p10, p30, p50, p70 and p90
# (TRACE_OFFSETS_S overrides), as the emulation's links are spread over it.
python3 bench/sim_to_real_emu.py linkcheck "$OUT"
OFFSETS=${TRACE_OFFSETS_S:-$(python3 -c "import json,sys; print(*json.load(open(sys.argv[1]))['trace_offset_s_quantiles'].values())" "$OUT/linkcheck.json")}
# The simulator over the grid: mode x RTT x payload fraction. Modes: pensieve (Pensieve's
# requests), real (the emulated player's requests: the trace runs during every RTT, a 900-byte init
# segment before each level switch), each also +offsets.
for mode in pensieve pensieve+offsets real real+offsets; do
  case $mode in
    pensieve*) flags=() ;;
    real*) flags=(--rtt-advances-trace --init-segment-bytes 900) ;;
  esac
  case $mode in
    *+offsets) offsets=$OFFSETS ;;
    *) offsets=0 ;;
  esac
  for rtt in $RTTS; do
    for pf in $PFS; do
      # A setting's runs over other offsets (an earlier link check) would be averaged in: drop them.
      base="$OUT/sim/$mode-rtt$rtt-pf$pf"
      if [ "$offsets" != 0 ] && [ "$(cat "$base/offsets.txt" 2>/dev/null)" != "$offsets" ]; then
        rm -rf "$base" && mkdir -p "$base" && echo "$offsets" >"$base/offsets.txt"
      fi
      for off in $offsets; do
        d="$OUT/sim/$mode-rtt$rtt-pf$pf"
        [ "$off" = 0 ] || d="$d/off$off"
        [ -f "$d/results.csv" ] || "$BIN" bench --traces "$OUT/traces/all" --video "$OUT/pensieve/video.json" \
          --abr "$ALGOS" --rtt-ms "$rtt" --payload-fraction "$pf" "${flags[@]}" --trace-offset-s "$off" \
          --no-charts --no-chunk-log --out "$d" >/dev/null 2>&1
      done
    done
  done
done
[ "${SHARED:-1}" = 1 ] && "$BIN" bench --traces "$OUT/traces/shared" --video "$OUT/pensieve/video.json" \
  --players 4 --mix robustmpc --allocator none --link-scale 1 --out "$OUT/sim-shared" | tail -20
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/sim_to_real_emu.py analyze "$OUT"
