#!/usr/bin/env bash
# Sim to real over emulated links (issue 22, item 4; docs/sim_to_real.md): the simulator (`bench`)
# against real TCP (`emulate`, root) on TRACES of Pensieve's test traces and ALGOS, a grid of the
# simulator's RTT and payload fraction fitted on half the traces and checked on the other half, and
# the shared-link scenario in both. From the repository root after
# `cargo build --release -p neuralstream-cli`. Knobs: TRACES (20), ALGOS, SPEED (emulation's time
# compression, 1 = real time), RTTS, PFS (the grid), SHARED_CC (the shared link's TCP congestion
# control, default the kernel's), OUT, SIM (Pensieve's sim folder).
set -euo pipefail
BIN=${NEURALSTREAM_BIN:-target/release/neuralstream}
OUT=${OUT:-out/sim_to_real_emu}
SIM=${SIM:-../shared/data/pensieve/sim}
TRACES=${TRACES:-20}
ALGOS=${ALGOS:-bb,rate,festive,bola-e,robustmpc}
SPEED=${SPEED:-1}
RTTS=${RTTS:-0 40 80 120 160 240 320}
PFS=${PFS:-0.75 0.8 0.85 0.9 0.95 1.0}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/sim_to_real_emu.py prepare "$OUT" "$SIM" "$TRACES"
# Emulation: one link per trace x algorithm, all at once; 48 chunks as bench plays.
if [ ! -f "$OUT/emu/emulate.csv" ]; then
  "$BIN" emulate --media "$OUT/pensieve" --trace "$OUT/traces/all" --abr "$ALGOS" --speed "$SPEED" \
    --max-chunks 48 --timeout-s 1200 --out "$OUT/emu"
fi
# Shared link: 4 robustmpc players on each of 5 traces scaled x4 (each player's equal share is the
# trace). All 20 finish at speed 1 under BBR and Reno since the shaper sends one TCP segment per
# packet (docs/sim_to_real.md, "Shared link in both"); if some still fail, the analysis uses the
# players that finished. SHARED_CC sets TCP's congestion control (default: the kernel's),
# SHARED_HTTP1=1 makes the players speak HTTP/1.1.
if [ ! -f "$OUT/emu-shared/emulate.csv" ]; then
  "$BIN" emulate --media "$OUT/pensieve" --trace "$OUT/traces/shared" --abr robustmpc --players 4 \
    --speed "$SPEED" --max-chunks 48 --timeout-s 1200 ${SHARED_CC:+--congestion-control "$SHARED_CC"} ${SHARED_HTTP1:+--http1} \
    --out "$OUT/emu-shared" ||
    echo "some shared-link players failed (emulate.csv says which); the analysis uses the others"
fi
# The simulator over the grid.
for rtt in $RTTS; do
  for pf in $PFS; do
    d="$OUT/sim/rtt$rtt-pf$pf"
    [ -f "$d/results.csv" ] || "$BIN" bench --traces "$OUT/traces/all" --video "$OUT/pensieve/video.json" \
      --abr "$ALGOS" --rtt-ms "$rtt" --payload-fraction "$pf" --no-charts --out "$d" >/dev/null 2>&1
  done
done
"$BIN" bench --traces "$OUT/traces/shared" --video "$OUT/pensieve/video.json" --players 4 --mix robustmpc \
  --allocator none --link-scale 1 --out "$OUT/sim-shared" | tail -20
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/sim_to_real_emu.py analyze "$OUT"
