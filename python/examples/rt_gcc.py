#!/usr/bin/env python3
"""The real-time environment driven from Python: every trace of a folder played by one of rt's
controllers (GCC by default) through ``NeuralStream/Rt-v0``, with ``reward="onl_qoe"``; prints the
mean combined score (what ``neuralstream rt bench --controllers gcc`` reports for the same traces),
how much of it the per-report rewards paid before the last step's correction, and steps per
second (per CPU second of this process, so other load on a shared machine does not count).
Needs only this package (no torch). From the repository root:

    python python/examples/rt_gcc.py --traces ../shared/data/rtc/onl-emu
    neuralstream rt bench --traces ../shared/data/rtc/onl-emu --controllers gcc   # same onl_qoe
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import neuralstream as ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", required=True, help="folder of real-time traces (as rt bench)")
    ap.add_argument("--controller", default="gcc", help="gcc, fixed[:KBPS], oracle, learned:PATH")
    ap.add_argument("--split", default="all")
    args = ap.parse_args()

    env = gym.make("NeuralStream/Rt-v0", traces=args.traces, split=args.split, reward="onl_qoe")
    names = env.unwrapped.trace_names
    scores, paid, last, steps = [], [], [], 0
    started = time.process_time()
    for i in range(len(names)):
        env.reset(seed=0, options={"trace_index": i})
        controller = ns.RtController(args.controller)
        rewards = []
        while True:
            _, reward, terminated, truncated, info = env.step(controller.decide(env.unwrapped))
            rewards.append(reward)
            if terminated or truncated:
                break
        steps += len(rewards)
        scores.append(info["onl_qoe"])
        paid.append(sum(rewards[:-1]))
        last.append(rewards[-1])
    cpu_s = time.process_time() - started
    env.close()
    print(f"{args.controller} on {len(names)} traces: mean onl_qoe {np.mean(scores):.2f}")
    print(f"per-report rewards paid {np.mean(paid):.2f} on average; last-step correction "
          f"{np.mean(np.abs(last)):.2f} on average, {np.max(np.abs(last)):.2f} at most")
    print(f"{steps} steps in {cpu_s:.2f} CPU s: {steps / cpu_s:.0f} steps/s")


if __name__ == "__main__":
    main()
