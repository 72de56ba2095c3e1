#!/usr/bin/env python3
"""RLlib PPO on `neuralstream.AbrEnv` on a local Ray cluster with several env runners, exported as
a NeuralStream policy file and scored by `neuralstream bench` on Pensieve's test traces beside the
rules.

    python examples/rllib_ppo.py --iterations 5 --env-runners 2 --out out/rllib

The actor is first fitted to a rule's decisions (`--teacher robustmpc`, behaviour cloning on
states of `AbrEnv` labelled by `neuralstream.Rule`; `--teacher none` starts from scratch), then
PPO trains it on Pensieve's training traces; the env runners step `AbrVectorEnv`s (32 sessions
each, RLlib's `vector_entry_point` mode).

Ray: without `--address` it starts a one-node cluster in this process (`ray.init`), pinned to
127.0.0.1, and stops it at the end; on a real cluster (`ray start --head` on one machine,
`ray start --address HEAD:6379` on the others, each with this package installed) pass
`--address HEAD:6379` (or `auto` on a cluster node): nothing else changes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

# Ray on Linux replaces 127.0.0.1 with the machine's own address unless told otherwise; a
# one-node local cluster stays on loopback (a multi-node cluster passes --address instead).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from common import bench, export, linear_layers, pensieve_data  # noqa: E402

ENV_NAME = "neuralstream-abr"


def _make_env(config):
    """RLlib's env creator: with `num_envs` (RLlib's vector_entry_point mode) the sessions of an
    env runner are one `AbrVectorEnv`, stepped in Rust per call."""
    import neuralstream

    config = dict(config)
    if "num_envs" in config:
        return neuralstream.AbrVectorEnv(**config)
    return neuralstream.AbrEnv(**config)


def teacher_dataset(env_config: dict, teacher: str, episodes: int, seed: int,
                    explore: float = 0.3):
    """(features, teacher level) pairs: episodes of `AbrEnv` in which the rule `teacher` labels
    every state, while a share `explore` of the levels actually played is random, so the data
    also covers states the teacher itself would not reach."""
    import numpy as np

    import neuralstream as ns

    env, rule = ns.AbrEnv(**env_config), ns.Rule(teacher)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for e in range(episodes):
        obs, _ = env.reset(seed=seed * 1_000_003 + e)
        done = False
        while not done:
            label = rule.choose(env)
            xs.append(obs)
            ys.append(label)
            act = int(rng.integers(env.num_levels)) if rng.random() < explore else label
            obs, _, done, _, _ = env.step(act)
    return np.stack(xs), np.asarray(ys)


def _behaviour_clone(learner, xs, ys, epochs: int, seed: int):
    """Fits the learner's actor (encoder + pi head) to the teacher's levels (cross-entropy)."""
    import torch
    from ray.rllib.core import DEFAULT_MODULE_ID

    torch.manual_seed(seed)
    module = learner.module[DEFAULT_MODULE_ID]
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    x, y = torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(ys, dtype=torch.long)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(256):
            logits = module.forward_train({"obs": x[idx]})["action_dist_inputs"]
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = (module.forward_train({"obs": x})["action_dist_inputs"].argmax(-1) == y).float().mean()
    return float(acc)


def train_rllib(env_config: dict, iterations: int, env_runners: int, seed: int, out: Path,
                name: str = "rllib_ppo", envs_per_runner: int = 32, teacher: str = "robustmpc",
                teacher_episodes: int = 300, lr: float = 5e-5) -> tuple[Path, dict]:
    """Trains RLlib PPO for `iterations` (after a behaviour-cloning warm start of the actor on the
    rule `teacher`, unless it is "none") and exports the actor; returns (policy path, facts)."""
    import torch
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    import neuralstream as ns

    register_env(ENV_NAME, _make_env)
    config = (
        PPOConfig()
        .environment(ENV_NAME, env_config=env_config)
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner,
                     gym_env_vectorize_mode="vector_entry_point",
                     num_cpus_per_env_runner=1 if env_runners else 0)
        .training(train_batch_size_per_learner=4096, minibatch_size=256, num_epochs=5,
                  lr=lr, gamma=0.99, entropy_coeff=0.0)
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[64, 64], fcnet_activation="tanh",
                                                   vf_share_layers=False))
        .debugging(seed=seed)
    )
    algo = config.build_algo()
    start = time.time()
    facts = {}
    if teacher != "none":
        xs, ys = teacher_dataset(env_config, teacher, teacher_episodes, seed)
        acc = [r.get() for r in algo.learner_group.foreach_learner(
            lambda learner: _behaviour_clone(learner, xs, ys, epochs=20, seed=seed))]
        algo.env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group,
                                           inference_only=True)
        facts["warm_start"] = f"{teacher}: {len(xs)} states, accuracy {acc[0]:.3f}"
        print(f"[{name}] warm start on {facts['warm_start']} ({time.time() - start:.0f} s)", flush=True)
    for i in range(iterations):
        result = algo.train()
        ret = result.get("env_runners", {}).get("episode_return_mean")
        print(f"[{name}] iteration {i + 1}/{iterations}: episode return mean "
              f"{ret if ret is None else round(ret, 3)} ({time.time() - start:.0f} s)", flush=True)
    train_s = time.time() - start
    # The learner's weights (the ones trained), loaded into a module to export and check against.
    from ray.rllib.core import DEFAULT_MODULE_ID

    module = algo.get_module()
    module.set_state(algo.learner_group.get_weights([DEFAULT_MODULE_ID])[DEFAULT_MODULE_ID])
    layers = linear_layers(module.encoder.actor_encoder, module.pi)

    def logits(obs):
        with torch.no_grad():
            return module.forward_inference({"obs": torch.as_tensor(obs)})["action_dist_inputs"].numpy()

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.safetensors"
    export(layers, ns.AbrEnv(**env_config), path, "tanh", logits, trainer="RLlib PPO",
           iterations=iterations, env_runners=env_runners, seed=seed, train_s=round(train_s))
    algo.stop()
    return path, dict(facts, train_s=train_s, iterations=iterations)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--env-runners", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--teacher", default="robustmpc",
                   help="rule whose decisions warm-start the actor by behaviour cloning, or none")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    p.add_argument("--out", type=Path, default=Path("out/rllib"))
    p.add_argument("--check-beats", default=None, metavar="RULE",
                   help="exit 1 unless the policy's mean QoE on the test traces beats RULE's (CI)")
    args = p.parse_args()
    data = pensieve_data()
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.env_runners + 1, include_dashboard=False)
    try:
        env_config = dict(traces=data["train"], video=data["video"], mode="train", reward_scale=0.1)
        path, facts = train_rllib(env_config, args.iterations, args.env_runners, args.seed, args.out,
                                  teacher=args.teacher)
    finally:
        ray.shutdown()
    means = bench([path], data["test"], data["video"], args.out / "bench")
    learned = next(v for k, v in means.items() if k.startswith("learned:"))
    print(f"RLlib PPO ({args.env_runners} env runners, {facts['train_s']:.0f} s of training): "
          f"{learned:.2f} mean QoE on Pensieve's test traces; bb {means['bb']:.2f}")
    if args.check_beats and not learned > means[args.check_beats]:
        raise SystemExit(f"the RLlib policy ({learned:.2f}) does not beat {args.check_beats} "
                         f"({means[args.check_beats]:.2f})")


if __name__ == "__main__":
    main()
