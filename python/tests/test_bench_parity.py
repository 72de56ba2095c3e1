"""An episode played from Python scores what `neuralstream bench` reports, to 1e-9: rule
algorithms, the offline optimum, and a policy file written from Python run by
`bench --abr learned:PATH`."""

from __future__ import annotations

import numpy as np
import pytest

import neuralstream as ns
from conftest import bench, env_kwargs

RULES = ["bb", "bola", "rate", "festive", "dynamic", "fastmpc", "robustmpc"]


def _python_qoe(env, trace_names, chooser):
    return {
        name: ns.play(env, chooser, trace_index=i)["episode_qoe"]
        for i, name in enumerate(trace_names)
    }


def test_rules_match_bench(inputs, binary, tmp_path):
    expected = bench(binary, inputs, ",".join(RULES), tmp_path)
    env = ns.AbrEnv(**env_kwargs(inputs))
    names = env.trace_names
    assert len(names) == 8
    for rule in RULES:
        got = _python_qoe(env, names, ns.Rule(rule))
        for name in names:
            assert got[name] == pytest.approx(expected[(rule, name)], abs=1e-9), (rule, name)


def test_the_real_link_request_model_matches_bench(inputs, binary, tmp_path):
    """`rtt_advances_trace`, `init_segment_bytes` and `trace_offset_s` are bench's flags."""
    flags = ["--rtt-advances-trace", "--init-segment-bytes", "900", "--trace-offset-s", "1.5"]
    expected = bench(binary, inputs, "robustmpc,bola", tmp_path, extra=flags)
    plain = bench(binary, inputs, "robustmpc", tmp_path / "plain")
    env = ns.AbrEnv(**env_kwargs(inputs), rtt_advances_trace=True, init_segment_bytes=900,
                    trace_offset_s=1.5)
    names = env.trace_names
    for rule in ["robustmpc", "bola"]:
        got = _python_qoe(env, names, ns.Rule(rule))
        for name in names:
            assert got[name] == pytest.approx(expected[(rule, name)], abs=1e-9), (rule, name)
    # The model changes the scores: the test would catch the keywords being ignored.
    assert any(abs(expected[("robustmpc", n)] - plain[("robustmpc", n)]) > 1e-6 for n in names)
    with pytest.raises(ValueError, match="trace_offset_s"):
        ns.AbrEnv(**env_kwargs(inputs), trace_offset_s=-1.0)


def test_a_python_loop_over_the_reward_sums_to_bench(inputs, binary, tmp_path):
    """The return an agent sees (sum of rewards) is the QoE bench reports."""
    expected = bench(binary, inputs, "bb", tmp_path)
    env = ns.AbrEnv(**env_kwargs(inputs))
    bb = ns.Rule("bb")
    for i, name in enumerate(env.trace_names[:3]):
        env.reset(seed=0, options={"trace_index": i})
        total, done = 0.0, False
        while not done:
            _, r, done, _, _ = env.step(bb.choose(env))
            total += r
        assert total == pytest.approx(expected[("bb", name)], abs=1e-9)


def test_optimum_plan_matches_bench(inputs, binary, tmp_path):
    traces = tmp_path / "few"
    traces.mkdir()
    from pathlib import Path

    for f in sorted(Path(inputs["traces"]).iterdir())[:2]:
        (traces / f.name).write_bytes(f.read_bytes())
    few = dict(inputs, traces=str(traces))
    expected = bench(binary, few, "optimum", tmp_path / "out")
    env = ns.AbrEnv(**env_kwargs(few))
    for i, name in enumerate(env.trace_names):
        env.reset(seed=0, options={"trace_index": i})
        plan = ns.optimum_plan(env)
        assert len(plan) == env.total_chunks - 1
        for level in plan:
            *_, done, _, info = env.step(level)
        assert done
        assert info["episode_qoe"] == pytest.approx(expected[("optimum", name)], abs=1e-9)
        # The optimum is an upper bound of the rules on the same trace.
        assert info["episode_qoe"] >= ns.play(env, ns.Rule("bb"), trace_index=i)["episode_qoe"] - 1e-9


def _random_policy(env, path, seed=0, hidden=(16, 16)):
    rng = np.random.default_rng(seed)
    sizes = [env.feature_len, *hidden, env.num_levels]
    layers = [
        (rng.normal(0, 1 / np.sqrt(i), (o, i)).astype(np.float32), rng.normal(0, 0.1, o))
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    ns.save_policy(path, layers, env.feature_spec, env.qoe, activation="tanh", seed=seed,
                   extra={"trained_by": "test"})
    return layers


def test_policy_written_in_python_runs_in_bench(inputs, binary, tmp_path):
    env = ns.AbrEnv(**env_kwargs(inputs))
    path = tmp_path / "policy.safetensors"
    layers = _random_policy(env, path)
    expected = bench(binary, inputs, f"learned:{path}", tmp_path / "out")
    algo = next(a for a, _ in expected)
    policy = ns.Policy.load(path)
    # Played with the policy's own features (Rust) and with the environment's observation
    # through a numpy forward pass of the same layers: the same decisions, bench's QoE.
    def numpy_forward(obs):
        x = obs.astype(np.float32)
        for k, (w, b) in enumerate(layers):
            x = w @ x + b.astype(np.float32)
            if k < len(layers) - 1:
                x = np.tanh(x)
        return int(np.argmax(x))

    for i, name in enumerate(env.trace_names):
        by_policy = ns.play(env, policy, trace_index=i)["episode_qoe"]
        by_obs = ns.play(env, lambda obs: policy.act(obs), trace_index=i)["episode_qoe"]
        assert by_policy == pytest.approx(expected[(algo, name)], abs=1e-9)
        assert by_obs == pytest.approx(expected[(algo, name)], abs=1e-9)
        if i < 2:
            by_numpy = ns.play(env, numpy_forward, trace_index=i)["episode_qoe"]
            assert by_numpy == pytest.approx(expected[(algo, name)], abs=1e-9)


def test_policy_trained_by_neuralstream_train_loads_and_plays_as_in_bench(inputs, binary, tmp_path):
    """A policy file written by `neuralstream train` (a tiny imitation run) loads in Python, and
    played on the environment it decides as `bench --abr learned:PATH` does."""
    import subprocess

    out = tmp_path / "train"
    subprocess.run([binary, "train", "--algo", "imitation", "--synthetic-traces", "8", "--epochs", "1",
                    "--dagger-rounds", "1", "--dagger-sessions", "2", "--dagger-states", "2",
                    "--hidden", "8", "--out", out], check=True, capture_output=True)
    path = out / "policy.safetensors"
    policy = ns.Policy.load(path)
    assert policy.num_levels == 6 and [w.shape for w, _ in policy.layers] == [(8, 30), (6, 8)]
    assert policy.qoe.startswith("lin")
    expected = bench(binary, inputs, f"learned:{path}", tmp_path / "out")
    algo = next(a for a, _ in expected)
    env = ns.AbrEnv(**env_kwargs(inputs))
    for i, name in enumerate(env.trace_names):
        got = ns.play(env, policy, trace_index=i)["episode_qoe"]
        assert got == pytest.approx(expected[(algo, name)], abs=1e-9)
