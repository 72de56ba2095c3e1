#!/usr/bin/env python3
"""A Ray sweep: RLlib PPO (rule warm start, then PPO) over seeds x trace sets, one Ray task per
run, the policies collected into one folder and scored together by `neuralstream bench` on
Pensieve's test traces beside the rules.

    python examples/ray_sweep.py --seeds 0,1 --trace-sets pensieve,nyumets --out out/sweep

Without `--address` it starts a local Ray cluster on this machine (127.0.0.1) with `--cpus`
workers and stops it at the end. On a real multi-node cluster (`ray start --head` on one machine,
`ray start --address HEAD:6379` on the others, this package and `../shared` on each), pass
`--address HEAD:6379`: only the address changes; runs spread over the nodes and their policy files
come back to this machine as bytes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from common import bench, pensieve_data  # noqa: E402

HERE = Path(__file__).resolve().parent


def trace_sets(shared_sim: Path) -> dict[str, str]:
    """The training trace sets in ../shared, by name."""
    data = shared_sim.parents[1]
    return {
        "pensieve": str(shared_sim / "cooked_traces"),
        "nyumets": str(data / "nyumets/train"),
        "ucc5g": str(data / "ucc5g/train"),
    }


@ray.remote(num_cpus=1)
def run(set_name: str, traces: str, video: str, seed: int, iterations: int, teacher: str) -> tuple[str, bytes, dict]:
    """One run of the sweep on a Ray worker: returns (name, policy file bytes, facts)."""
    import tempfile

    from rllib_ppo import train_rllib

    import ray as _ray

    name = f"{set_name}_seed{seed}"
    env_config = dict(traces=traces, video=video, mode="train", reward_scale=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        # The run's own RLlib algorithm, sampling in this worker (no nested env runners).
        _ray.init(address="auto", ignore_reinit_error=True)
        path, facts = train_rllib(env_config, iterations, env_runners=0, seed=seed,
                                  out=Path(tmp), name=name, envs_per_runner=32,
                                  teacher=teacher, teacher_episodes=100)
        return name, path.read_bytes(), facts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--trace-sets", default="pensieve,nyumets")
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--teacher", default="robustmpc")
    p.add_argument("--cpus", type=int, default=2, help="workers of the local cluster")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    p.add_argument("--out", type=Path, default=Path("out/sweep"))
    args = p.parse_args()
    data = pensieve_data()
    sets = trace_sets(Path(data["video"]))
    chosen = args.trace_sets.split(",")
    unknown = [s for s in chosen if s not in sets]
    if unknown:
        raise SystemExit(f"--trace-sets: unknown {unknown}; known: {', '.join(sets)}")
    runtime_env = {"env_vars": {"PYTHONPATH": str(HERE)}}
    if args.address:
        ray.init(address=args.address, runtime_env=runtime_env)
    else:
        ray.init(num_cpus=args.cpus, include_dashboard=False, runtime_env=runtime_env)
    try:
        print(f"Ray cluster: {len(ray.nodes())} node(s), {ray.cluster_resources().get('CPU', 0):.0f} CPUs", flush=True)
        futures = [run.remote(s, sets[s], data["video"], int(seed), args.iterations, args.teacher)
                   for s in chosen for seed in args.seeds.split(",")]
        results = ray.get(futures)
    finally:
        ray.shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, blob, facts in results:
        path = args.out / f"{name}.safetensors"
        path.write_bytes(blob)
        paths.append(path)
        print(f"{path}: {facts}")
    means = bench(paths, data["test"], data["video"], args.out / "bench")
    for path in paths:
        print(f"{path.name}: {means[f'learned:{path}']:.2f} mean QoE on Pensieve's test traces "
              f"(bb {means['bb']:.2f})")


if __name__ == "__main__":
    main()
