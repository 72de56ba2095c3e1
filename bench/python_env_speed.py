#!/usr/bin/env python3
"""Environment steps per second from Python: NeuralStream's `AbrEnv` (one session) and
`AbrVectorEnv` (N sessions per call) against Pensieve's own Python environment (`sim/env.py`),
side by side in one process, on the same traces and video, with the same random actions.

Pensieve's files are not in this repository: pass the folder holding Pensieve's `sim/env.py` and
`sim/load_trace.py` (MIT, https://github.com/hongzimao/pensieve, commit 1120bb17) with
`--pensieve-sim`. They are Python 2; they are run unchanged but for the two mechanical steps
Python 3 needs (tabs expanded to 8 columns, `xrange` bound to `range`), applied in memory here.

Rates are per CPU second of this process (`time.process_time`), so that other load on a shared
machine slows neither side. Both run Pensieve's training mode (random trace, random start, delay noise) with uniformly random
levels; a step is one chunk download. Run from the repository root after installing the wheel:

    python bench/python_env_speed.py --pensieve-sim PATH/TO/pensieve/sim
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

import neuralstream as ns

REPO = Path(__file__).resolve().parents[1]


def load_pensieve(sim_dir: Path, video_dir: Path):
    """Pensieve's `Environment` class and `load_trace` function, loaded from their files."""
    mods = {}
    for name in ["load_trace", "env"]:
        text = (sim_dir / f"{name}.py").read_text().expandtabs(8)
        mod = types.ModuleType(f"pensieve_{name}")
        mod.__dict__["xrange"] = range
        exec(compile(text, str(sim_dir / f"{name}.py"), "exec"), mod.__dict__)
        mods[name] = mod
    # env.py reads ./video_size_N from the working directory.
    mods["env"].VIDEO_SIZE_FILE = str(video_dir / "video_size_")
    return mods["env"].Environment, mods["load_trace"].load_trace


def time_pensieve(Environment, load_trace, traces: Path, steps: int, actions) -> float:
    t, bw, _ = load_trace(str(traces) + "/")
    env = Environment(t, bw, random_seed=42)
    start = time.process_time()
    for k in range(steps):
        env.get_video_chunk(int(actions[k]))
    return steps / (time.process_time() - start)


def time_single(traces: Path, video: Path, steps: int, actions) -> float:
    env = ns.AbrEnv(traces=str(traces), video=str(video), mode="train")
    env.reset(seed=42)
    start = time.process_time()
    for k in range(steps):
        if env.step(int(actions[k]))[2]:
            env.reset()
    return steps / (time.process_time() - start)


def time_vector(traces: Path, video: Path, steps: int, num_envs: int, actions) -> float:
    env = ns.AbrVectorEnv(traces=str(traces), video=str(video), mode="train", num_envs=num_envs)
    env.reset(seed=42)
    calls = max(1, steps // num_envs)
    batch = [np.ascontiguousarray(actions[(k * num_envs) % (len(actions) - num_envs):][:num_envs])
             for k in range(64)]
    start = time.process_time()
    for k in range(calls):
        env.step(batch[k % 64])
    return calls * num_envs / (time.process_time() - start)


def main() -> None:
    shared = Path(os.environ.get("NEURALSTREAM_SHARED", REPO.parent / "shared"))
    sim = shared / "data/pensieve/sim"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pensieve-sim", type=Path, required=True,
                   help="folder with Pensieve's env.py and load_trace.py")
    p.add_argument("--traces", type=Path, default=sim / "cooked_traces")
    p.add_argument("--video", type=Path, default=sim)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs per variant")
    p.add_argument("--num-envs", default="16,64,256")
    args = p.parse_args()
    Environment, load_trace = load_pensieve(args.pensieve_sim, args.video)
    actions = np.random.default_rng(0).integers(0, 6, size=args.steps + 1024)
    rows = []
    best = lambda f: max(f() for _ in range(args.repeats))
    py_steps = max(10_000, args.steps // 10)
    pensieve = best(lambda: time_pensieve(Environment, load_trace, args.traces, py_steps, actions))
    rows.append(("Pensieve sim/env.py (Python)", pensieve))
    rows.append(("neuralstream.AbrEnv (1 session)",
                 best(lambda: time_single(args.traces, args.video, args.steps, actions))))
    for n in [int(x) for x in args.num_envs.split(",")]:
        rows.append((f"neuralstream.AbrVectorEnv (num_envs={n})",
                     best(lambda: time_vector(args.traces, args.video, args.steps, n, actions))))
    print(f"| environment | steps/s | x Pensieve |\n|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} | {rate / pensieve:.1f} |")
    print(f"\n(best of {args.repeats}; {py_steps} Pensieve steps, {args.steps} NeuralStream steps per run;"
          f" load average before: {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
