#!/usr/bin/env python3
"""Stable-Baselines3 PPO on `neuralstream.AbrEnv` (Pensieve's training traces in Pensieve's
training mode), exported as a NeuralStream policy file and scored by `neuralstream bench` on
Pensieve's test traces beside the rules.

    python examples/sb3_ppo.py --timesteps 300000 --out out/sb3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import neuralstream as ns
from common import bench, export, linear_layers, pensieve_data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timesteps", type=int, default=300_000)
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("out/sb3"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = pensieve_data()
    torch.set_num_threads(1)
    env_kwargs = dict(traces=data["train"], video=data["video"], mode="train", reward_scale=0.1)
    venv = make_vec_env("NeuralStream/Abr-v0", n_envs=args.envs, seed=args.seed, env_kwargs=env_kwargs)
    model = PPO("MlpPolicy", venv, n_steps=512, batch_size=256, n_epochs=5, gamma=0.99,
                learning_rate=3e-4, ent_coef=0.01, seed=args.seed, verbose=0,
                policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64])))
    start = time.time()
    model.learn(total_timesteps=args.timesteps)
    train_s = time.time() - start
    print(f"trained {args.timesteps} steps in {train_s:.0f} s", flush=True)

    # The actor: SB3's policy MLP (Linear, Tanh, Linear, Tanh) then its action head (Linear).
    pol = model.policy
    layers = linear_layers(pol.mlp_extractor.policy_net, pol.action_net)

    def logits(obs):
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32)
            return pol.action_net(pol.mlp_extractor.forward_actor(pol.extract_features(x))).numpy()

    path = args.out / "sb3_ppo.safetensors"
    export(layers, ns.AbrEnv(**env_kwargs), path, "tanh", logits,
           trainer="stable-baselines3 PPO", timesteps=args.timesteps, train_s=round(train_s))
    means = bench([path], data["test"], data["video"], args.out / "bench")
    learned = next(v for k, v in means.items() if k.startswith("learned:"))
    print(f"SB3 PPO: {learned:.2f} mean QoE on Pensieve's test traces; bb {means['bb']:.2f}")


if __name__ == "__main__":
    main()
