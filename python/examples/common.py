"""Shared by the examples: where Pensieve's data is, exporting trained torch MLPs as NeuralStream
policy files, and scoring them with `neuralstream bench` beside the rules."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import numpy as np

import neuralstream as ns

REPO = Path(__file__).resolve().parents[2]


def pensieve_data() -> dict[str, str]:
    """Pensieve's training traces, test traces and video (``../shared`` beside the repository, or
    ``NEURALSTREAM_SHARED``)."""
    shared = Path(os.environ.get("NEURALSTREAM_SHARED", REPO.parent / "shared"))
    sim = shared / "data/pensieve/sim"
    if not sim.is_dir():
        raise SystemExit(f"{sim} not found: set NEURALSTREAM_SHARED to the folder holding data/pensieve/sim")
    return {
        "train": str(sim / "cooked_traces"),
        "test": str(sim / "cooked_test_traces"),
        "video": str(sim),
    }


def linear_layers(*modules) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(weight [out, in], bias)`` of every ``torch.nn.Linear`` inside ``modules``, in order."""
    import torch

    layers = []
    for m in modules:
        for sub in m.modules():
            if isinstance(sub, torch.nn.Linear):
                layers.append((sub.weight.detach().cpu().numpy(), sub.bias.detach().cpu().numpy()))
    return layers


def export(layers, env, path: Path, activation: str, reference_logits, **meta) -> ns.Policy:
    """Saves ``layers`` as a NeuralStream policy for ``env``'s features, then checks that the file
    gives the trained network's logits (``reference_logits(obs_batch)``) on real observations."""
    core = env.unwrapped
    ns.save_policy(path, layers, core.feature_spec, core.qoe, activation=activation,
                   extra={k: str(v) for k, v in meta.items()})
    policy = ns.Policy.load(path)
    obs, rng = [], np.random.default_rng(0)
    for seed in range(4):
        o, _ = core.reset(seed=seed)
        done = False
        while not done:
            obs.append(o)
            o, _, done, _, _ = core.step(int(rng.integers(core.num_levels)))
    want = np.asarray(reference_logits(np.stack(obs)))
    got = np.stack([policy.logits(o) for o in obs])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    return policy


def binary() -> str:
    return os.environ.get("NEURALSTREAM_BIN", str(REPO / "target/release/neuralstream"))


def bench(policy_paths: list[Path], traces: str, video: str, out: Path,
          rules: str = "bb,rate,bola,robustmpc") -> dict[str, float]:
    """Runs `neuralstream bench --abr RULES,learned:PATH...` and returns ``{algorithm: mean QoE}``
    (prints bench's table)."""
    abr = ",".join([rules, *[f"learned:{p}" for p in policy_paths]])
    cmd = [binary(), "bench", "--traces", traces, "--video", video, "--abr", abr,
           "--no-charts", "--no-chunk-log", "--out", str(out)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(out / "summary.csv", newline="") as f:
        return {r["algorithm"]: float(r["qoe_mean"]) for r in csv.DictReader(f)}
