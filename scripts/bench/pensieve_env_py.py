#!/usr/bin/env python3
"""Side-by-side baseline: Pensieve's test simulator + buffer-based rule in Python.

Written from the pseudo-code in ../shared/reference/pensieve.md section 4 (no upstream code), with
numpy scalar operations where the original uses them, so that its speed is representative of
Pensieve's own fixed_env.py. Prints chunk downloads per second and the mean QoE_lin (which must equal
NeuralStream's BB result, 30.043 on the 142 test traces).

    python3 scripts/bench/pensieve_env_py.py ../shared/data/pensieve/sim
"""
import os
import sys
import time

import numpy as np

RTT, PAYLOAD, CAP, SLEEP, CHUNK_MS, CHUNKS = 80.0, 0.95, 60000.0, 500.0, 4000.0, 48
KBPS = [300, 750, 1200, 1850, 2850, 4300]


def load(sim):
    traces = []
    d = os.path.join(sim, "cooked_test_traces")
    for name in sorted(os.listdir(d)):
        t, b = [], []
        with open(os.path.join(d, name)) as f:
            for line in f:
                x = line.split()
                if x:
                    t.append(float(x[0]))
                    b.append(float(x[1]))
        traces.append((t, b))
    sizes = [[int(l) for l in open(os.path.join(sim, f"video_size_{q}"))] for q in range(6)]
    return traces, sizes


def session(t, bw, sizes):
    ptr, last_t, buf = 1, 0.0, 0.0
    level, prev, qoe = 1, 1, 0.0
    for chunk in range(CHUNKS):
        size = sizes[level][chunk]
        sent, delay = 0.0, 0.0
        while True:
            thr = bw[ptr] * 1e6 / 8.0
            dur = t[ptr] - last_t
            pay = thr * dur * PAYLOAD
            if sent + pay > size:
                frac = (size - sent) / thr / PAYLOAD
                delay += frac
                last_t += frac
                break
            sent += pay
            delay += dur
            last_t = t[ptr]
            ptr += 1
            if ptr >= len(bw):
                ptr, last_t = 1, 0.0
        delay = delay * 1000.0 + RTT
        rebuf = np.maximum(delay - buf, 0.0)
        buf = np.maximum(buf - delay, 0.0) + CHUNK_MS
        if buf > CAP:
            sleep = np.ceil((buf - CAP) / SLEEP) * SLEEP
            buf -= sleep
            while True:
                dur = t[ptr] - last_t
                if dur > sleep / 1000.0:
                    last_t += sleep / 1000.0
                    break
                sleep -= dur * 1000.0
                last_t = t[ptr]
                ptr += 1
                if ptr >= len(bw):
                    ptr, last_t = 1, 0.0
        r = KBPS[level] / 1000.0 - 4.3 * rebuf / 1000.0 - abs(KBPS[level] - KBPS[prev]) / 1000.0
        if chunk > 0:
            qoe += r
        prev = level
        b = buf / 1000.0
        level = 0 if b < 5 else (5 if b >= 15 else int(5 * (b - 5) / 10.0))
    return qoe


def main():
    traces, sizes = load(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/pensieve/sim")
    start = time.perf_counter()
    qoes = [session(t, b, sizes) for t, b in traces]
    wall = time.perf_counter() - start
    n = len(traces) * CHUNKS
    print(f"python: {n} chunk downloads in {wall:.3f} s = {n / wall:.3e} per second; mean QoE_lin {np.mean(qoes):.3f}")


if __name__ == "__main__":
    main()
