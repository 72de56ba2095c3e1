#!/usr/bin/env bash
# The torch examples end to end (`.ci/run` with NEURALSTREAM_CI_RLLIB=1, or by hand):
#   python/examples/run_all.sh VENV
# VENV holds the installed `neuralstream` wheel; this adds ray[rllib], torch (PyPI's CUDA build:
# ~3 GB of wheels, 2-6 min to install here) and stable-baselines3, then runs SB3 PPO, RLlib PPO on
# a local one-node Ray cluster with 2 env runners (it must beat `bb` on Pensieve's test traces, or
# the script fails) and a 2-run Ray sweep. Outputs go to target/python-examples/.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${1:?usage: python/examples/run_all.sh VENV}"
OUT="$PWD/target/python-examples"
export NEURALSTREAM_BIN="${NEURALSTREAM_BIN:-$PWD/target/release/neuralstream}"
"$VENV/bin/pip" install -q --disable-pip-version-check "ray[rllib]" torch stable-baselines3
cd python
"$VENV/bin/python" examples/sb3_ppo.py --timesteps 100000 --out "$OUT/sb3"
"$VENV/bin/python" examples/rllib_ppo.py --iterations 5 --env-runners 2 --check-beats bb --out "$OUT/rllib"
"$VENV/bin/python" examples/ray_sweep.py --seeds 0 --trace-sets pensieve,nyumets --iterations 1 --out "$OUT/sweep"
