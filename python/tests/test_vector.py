"""The vector environment: Gymnasium's vector API, next-step autoreset, seeding, equality with
single sessions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import neuralstream as ns


def test_make_vec_and_spaces():
    v = gym.make_vec("NeuralStream/Abr-v0", num_envs=4, vectorization_mode="vector_entry_point",
                     synthetic_traces=10)
    assert isinstance(v, gym.vector.VectorEnv) and v.num_envs == 4
    obs, infos = v.reset(seed=1)
    assert obs.shape == (4, v.unwrapped.feature_len) and obs.dtype == np.float32
    assert v.observation_space.contains(obs)
    obs, rew, term, trunc, infos = v.step(v.action_space.sample())
    assert rew.shape == term.shape == trunc.shape == (4,)
    assert v.observation_space.contains(obs)
    v.close()


def test_autoreset_next_step_and_episode_qoe():
    v = ns.AbrVectorEnv(num_envs=3, synthetic_traces=10)
    v.reset(seed=2)
    totals = np.zeros(3)
    finished = []
    for t in range(47 * 2 + 2):
        obs, rew, term, trunc, infos = v.step(np.full(3, t % 6))
        totals += rew
        if term.any():
            assert t in (46, 94), t  # 47 decisions, a reset step, 47 decisions
            np.testing.assert_allclose(infos["episode_qoe"][term], totals[term], atol=1e-9)
            assert infos["_episode_qoe"].tolist() == term.tolist()
            finished.append(t)
            totals[term] = 0.0
        elif finished and finished[-1] == t - 1:
            assert (rew == 0).all() and not term.any()  # the reset step
    assert finished == [46, 94]


def test_vector_sessions_equal_single_sessions():
    """Session i of the vector env plays what AbrEnv plays with the same generator seed."""
    v = ns.AbrVectorEnv(num_envs=2, synthetic_traces=10, mode="train")
    seeds = [123, 456]
    obs, _ = v._reset(seeds)
    singles = [ns.AbrEnv(synthetic_traces=10, mode="train") for _ in seeds]
    outs = [s._reset(seed)[0] for s, seed in zip(singles, seeds)]
    np.testing.assert_array_equal(obs, np.stack(outs))
    for t in range(47):
        obs, rew, *_ = v.step(np.array([t % 6, 5 - t % 6]))
        for i, s in enumerate(singles):
            o, r, *_ = s.step([t % 6, 5 - t % 6][i])
            np.testing.assert_array_equal(obs[i], o)
            assert rew[i] == r


def test_vector_seeding_is_deterministic():
    def run(seed):
        v = ns.AbrVectorEnv(num_envs=4, synthetic_traces=10, mode="train")
        obs, _ = v.reset(seed=seed)
        out = [obs]
        for t in range(60):
            out.append(v.step(np.full(4, t % 6))[0])
        return np.stack(out)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_vector_bad_actions():
    v = ns.AbrVectorEnv(num_envs=3, synthetic_traces=3)
    with pytest.raises(ns.NeuralStreamError, match="reset"):
        v.step(np.zeros(3, np.int64))
    v.reset(seed=0)
    with pytest.raises(ns.NeuralStreamError, match="actions has 2 entries but the environment has num_envs=3"):
        v.step(np.zeros(2, np.int64))
    with pytest.raises(ns.NeuralStreamError, match=r"actions\[1\] = 9 is not a level"):
        v.step(np.array([0, 9, 0]))
    with pytest.raises(TypeError, match="action must be an integer"):
        v.step([0, 1.5, 0])
    with pytest.raises(TypeError, match="actions must be an integer array"):
        v.step(3)
    with pytest.raises(ns.NeuralStreamError, match="observation"):
        ns.AbrVectorEnv(num_envs=2, synthetic_traces=2, observation="dict")
    with pytest.raises(ns.NeuralStreamError, match="num_envs"):
        ns.AbrVectorEnv(num_envs=0, synthetic_traces=2)
