"""The single environment: Gymnasium's checker, reset/step semantics, seeding, bad arguments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuralstream as ns
from conftest import env_kwargs


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"observation": "dict"}, {"mode": "train"}, {"qoe": "log", "history_len": 4}],
    ids=["features", "dict", "train", "log-h4"],
)
def test_check_env_passes(kwargs):
    env = ns.AbrEnv(synthetic_traces=5, **kwargs)
    check_env(env, skip_render_check=True)
    # Also through gymnasium.make, which wraps it and gives it a spec.
    made = gym.make("NeuralStream/Abr-v0", synthetic_traces=5, **kwargs)
    check_env(made.unwrapped, skip_render_check=True)
    assert made.spec.id == "NeuralStream/Abr-v0"


def test_env_is_a_gymnasium_env_whose_step_is_rust():
    env = ns.AbrEnv(synthetic_traces=3)
    assert isinstance(env, gym.Env)
    assert AbrCoreStep(env) is ns._native.AbrCore.step


def AbrCoreStep(env):
    return type(env).step


def test_episode_semantics(inputs):
    env = ns.AbrEnv(**env_kwargs(inputs))
    obs, info = env.reset(seed=3, options={"trace_index": 2})
    assert env.observation_space.contains(obs)
    assert info["trace_index"] == 2 and info["chunk"]["index"] == 0
    assert info["chunk"]["level"] == 1  # start-up level, not asked of the agent
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(steps % env.num_levels)
        steps += 1
        total += reward
        assert env.observation_space.contains(obs)
        assert info["chunk"]["index"] == steps and info["chunk"]["level"] == (steps - 1) % 6
        assert not truncated
        if terminated:
            break
    assert steps == env.total_chunks - 1 == 47
    assert info["episode_qoe"] == pytest.approx(total, abs=1e-9)
    assert info["score"]["chunks_scored"] == 47
    assert len(env.records()) == 48
    with pytest.raises(ns.NeuralStreamError, match="episode is over"):
        env.step(0)


def test_step_before_reset_is_an_error():
    env = ns.AbrEnv(synthetic_traces=2)
    with pytest.raises(ns.NeuralStreamError, match="reset"):
        env.step(0)


def _episode(env, seed, actions=None, **reset_kw):
    obs, info = env.reset(seed=seed, **reset_kw)
    out = [(obs.copy(), info["trace"])]
    rng = np.random.default_rng(0)
    while True:
        a = int(rng.integers(env.num_levels)) if actions is None else actions
        obs, r, term, _, info = env.step(a)
        out.append((obs.copy(), r))
        if term:
            return out


@pytest.mark.parametrize("mode", ["test", "train"])
def test_same_seed_same_episode(mode):
    a = ns.AbrEnv(synthetic_traces=20, mode=mode)
    b = ns.AbrEnv(synthetic_traces=20, mode=mode)
    ea, eb = _episode(a, 11), _episode(b, 11)
    assert len(ea) == len(eb)
    for (oa, ra), (ob, rb) in zip(ea, eb):
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb
    # Another seed draws other episodes (a different trace or start).
    others = {str(_episode(a, s)[1][0].tobytes()) for s in range(12, 17)}
    assert len(others) > 1


def test_train_mode_is_noisy_and_test_mode_is_not():
    delays = {}
    for mode in ["test", "train"]:
        env = ns.AbrEnv(synthetic_traces=1, mode=mode)
        delays[mode] = set()
        for s in range(3):
            _episode(env, s, actions=2)
            delays[mode].add(tuple(r["delay_ms"] for r in env.records()))
    assert len(delays["test"]) == 1  # one trace from its start: the same episode every time
    assert len(delays["train"]) == 3  # random start and delay noise


def test_unseeded_resets_continue_the_stream():
    env = ns.AbrEnv(synthetic_traces=50)
    env.reset(seed=5)
    names = {env.reset()[1]["trace"] for _ in range(10)}
    assert len(names) > 1


def test_dict_observation_holds_raw_values():
    env = ns.AbrEnv(synthetic_traces=2, observation="dict")
    obs, info = env.reset(seed=0)
    assert obs["last_level"] == 1 and obs["chunks_left"] == 47
    assert obs["delay_ms"][-1] == pytest.approx(info["chunk"]["delay_ms"], rel=1e-6)
    assert obs["buffer_s"][0] == pytest.approx(info["chunk"]["buffer_s"], rel=1e-6)
    assert env.observation_space.contains(obs)


def test_reward_scale_scales_rewards_not_the_info():
    e1, e2 = ns.AbrEnv(synthetic_traces=3), ns.AbrEnv(synthetic_traces=3, reward_scale=0.1)
    for a, b in zip(_episode(e1, 4, actions=3)[1:], _episode(e2, 4, actions=3)[1:]):
        assert b[1] == pytest.approx(0.1 * a[1])


# Bad arguments: Python exceptions carrying NeuralStream's message, never a crash.

def test_missing_trace_folder(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ns.NeuralStreamError, match=f"cannot load traces from traces={missing}"):
        ns.AbrEnv(traces=str(missing))
    with pytest.raises(ns.NeuralStreamError, match="cannot load traces"):
        gym.make("NeuralStream/Abr-v0", traces=str(missing))


def test_malformed_trace_names_file_and_line(tmp_path):
    bad = tmp_path / "bad_trace"
    bad.write_text("0.0 1.5\n1.0 abc\n")
    with pytest.raises(ns.NeuralStreamError, match=r"bad_trace.*:2"):
        ns.AbrEnv(traces=str(bad))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"qoe": "nope"}, "qoe="),
        ({"mode": "fast"}, "mode="),
        ({"observation": "pixels"}, "observation="),
        ({"rtt_ms": -1.0}, "rtt_ms"),
        ({"buffer_cap_s": 1.0}, "buffer_cap_s"),
        ({"synthetic_traces": 0}, "synthetic_traces"),
        ({"history_len": 0}, "history_len"),
        ({"trace": "x"}, "unknown argument 'trace'"),
        ({"rtt_ms": "fast"}, "rtt_ms="),
        ({"video": "/no/such/video"}, "cannot load the video from video=/no/such/video"),
        ({"trace_format": "csv"}, "trace_format="),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ns.NeuralStreamError, match=message):
        ns.AbrEnv(synthetic_traces=2, **kwargs) if "synthetic_traces" not in kwargs else ns.AbrEnv(**kwargs)


@pytest.mark.parametrize("action", [2.5, "3", None, [1, 2], np.float32(1.0)])
def test_wrong_action_type(action):
    env = ns.AbrEnv(synthetic_traces=2)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="action must be an integer level 0..5"):
        env.step(action)


@pytest.mark.parametrize("action", [-1, 6, 10**30])
def test_action_out_of_range(action):
    env = ns.AbrEnv(synthetic_traces=2)
    env.reset(seed=0)
    with pytest.raises((ns.NeuralStreamError, OverflowError, TypeError)):
        env.step(action)
    # The episode is untouched: a valid action still works.
    env.step(0)


def test_out_of_range_message_names_the_levels():
    env = ns.AbrEnv(synthetic_traces=2)
    env.reset(seed=0)
    with pytest.raises(ns.NeuralStreamError, match=r"action 6 is not a level: the video has 6 levels \(actions 0..5\)"):
        env.step(6)


@pytest.mark.parametrize("action", [np.int64(2), np.int32(2), np.array(2), np.array([2])])
def test_numpy_integer_actions(action):
    env = ns.AbrEnv(synthetic_traces=2)
    env.reset(seed=0)
    assert env.step(action)[4]["chunk"]["level"] == 2


def test_bad_reset_options():
    env = ns.AbrEnv(synthetic_traces=2)
    with pytest.raises(ns.NeuralStreamError, match="trace_index=5 is out of range: there are 2 traces"):
        env.reset(options={"trace_index": 5})
    with pytest.raises(ns.NeuralStreamError, match="unknown reset option"):
        env.reset(options={"trace": 1})
