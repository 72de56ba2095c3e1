"""The real-time environment (``NeuralStream/Rt-v0``): Gymnasium's checker, seeding, equality of an
episode driven from Python by GCC with ``neuralstream rt bench``, bad arguments, and no thread left
behind."""

from __future__ import annotations

import csv
import gc
import os
import shutil
import subprocess
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import neuralstream as ns
from conftest import REPO

SHARED_RTC = [
    Path(p) / "data/rtc/onl-emu/benchmark/traces"
    for p in (os.environ.get("NEURALSTREAM_SHARED"), REPO.parent / "shared")
    if p
]


@pytest.fixture(scope="session")
def rt_traces(tmp_path_factory) -> str:
    """A folder of 4 real-time traces: onl-emu ones from ../shared when present, else 3 Mahimahi
    traces written here (a steady link, one whose capacity drops and recovers, a ramp); either
    way at least 3 links, so that rt's splits give `rt train` a validation trace."""
    out = tmp_path_factory.mktemp("rt") / "traces"
    out.mkdir()
    for src in SHARED_RTC:
        if src.is_dir():
            files = sorted(src.rglob("*.json"))
            for f in files[:: max(1, len(files) // 4)][:4]:
                shutil.copy(f, out / f.name)
            return str(out)
    if os.environ.get("NEURALSTREAM_REQUIRE_SHARED"):
        pytest.fail("NEURALSTREAM_REQUIRE_SHARED is set but ../shared/data/rtc is missing")
    rng = np.random.default_rng(5)
    for name, mbps in [("steady", [3.0] * 12), ("drop", [4.0, 4.0, 0.6, 0.6, 2.5, 2.5, 5.0, 1.0]),
                       ("ramp", [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0])]:
        lines = []
        for second, rate in enumerate(mbps):
            # One 1500-byte delivery opportunity per 12 kbit of capacity, jittered in the second.
            n = int(rate * 1000 / 12)
            lines += sorted(int(second * 1000 + t) for t in rng.uniform(0, 1000, n))
        (out / f"{name}.down").write_text("\n".join(map(str, lines)) + "\n")
    return str(out)


def rt_bench(binary: Path, traces: str, controllers: str, out: Path, *extra: str) -> dict:
    """``{(controller, trace): row}`` of `neuralstream rt bench`'s sessions.csv."""
    subprocess.run(
        [binary, "rt", "bench", "--traces", traces, "--controllers", controllers, "--out", out,
         "--threads", "2", *extra],
        check=True,
        capture_output=True,
    )
    with open(out / "sessions.csv", newline="") as f:
        return {(r["controller"], r["trace"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def rt_model(binary, rt_traces, tmp_path_factory) -> str:
    """A DQN model from `neuralstream rt train` (2 episodes: the weights matter, not their skill)."""
    out = tmp_path_factory.mktemp("rt-dqn")
    subprocess.run(
        [binary, "rt", "train", "--traces", rt_traces, "--out", out, "--episodes", "2",
         "--validate-every", "1", "--threads", "1"],
        check=True,
        capture_output=True,
    )
    return str(out / "model.safetensors")


def threads() -> int:
    """Threads of this process (Rust threads included, which ``threading`` does not see)."""
    return len(os.listdir("/proc/self/task"))


@pytest.mark.parametrize("kwargs", [{}, {"mode": "train", "reward": "onl_qoe", "fps": 30}],
                         ids=["test-dqn", "train-onl-fps30"])
def test_check_env_passes(rt_traces, kwargs):
    env = ns.RtEnv(traces=rt_traces, duration_s=3, **kwargs)
    check_env(env, skip_render_check=True)
    made = gym.make("NeuralStream/Rt-v0", traces=rt_traces, duration_s=3, **kwargs)
    check_env(made.unwrapped, skip_render_check=True)
    assert made.spec.id == "NeuralStream/Rt-v0"
    env.close()
    made.close()


def test_episode_semantics(rt_traces):
    env = ns.RtEnv(traces=rt_traces, duration_s=5)
    obs, info = env.reset(seed=1, options={"trace_index": 1})
    assert env.observation_space.contains(obs) and obs.shape == (18,)
    assert info["trace_index"] == 1 and info["reports"] == 0 and "report" not in info
    steps, total = 0, 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(np.array([1.5e6]))
        steps += 1
        total += reward
        assert env.observation_space.contains(obs) and not truncated
        assert info["decision"] == {"target_bps": 1.5e6, "height": 720, "fps": 30}
        if terminated:
            break
        assert info["reports"] == steps and info["report"]["now_ms"] > 50 * (steps - 1)
    # The start decision, then one per 50 ms report that arrives within the 5 s (rtt/2 late).
    assert 95 <= steps <= 101, steps
    assert 0 < info["onl_qoe"] <= 100 and info["score"]["duration_s"] == 5
    assert info["score"]["onl_qoe"] == info["onl_qoe"]
    assert np.isfinite(total)
    with pytest.raises(ns.NeuralStreamError, match="episode is over"):
        env.step(1e6)
    env.close()


def test_same_seed_same_episode(rt_traces):
    def episode(env, seed):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [(obs.tolist(), info["trace"], info["sim_seed"])]
        while True:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out.append((obs.tolist(), r, info.get("report"), info["decision"]))
            if term or trunc:
                return out, info["onl_qoe"]

    for mode in ("test", "train"):
        a = ns.RtEnv(traces=rt_traces, duration_s=4, mode=mode)
        b = ns.RtEnv(traces=rt_traces, duration_s=4, mode=mode)
        first, qoe_a = episode(a, 11)
        assert (first, qoe_a) == episode(b, 11)
        other = [episode(a, s)[0] for s in range(12, 16)]
        assert any(o != first for o in other)
        if mode == "train":  # fresh simulator seeds
            assert len({o[0][2] for o in other}) == 4
        else:
            assert {o[0][2] for o in other} == {1}
        a.close()
        b.close()


@pytest.mark.parametrize("controller", ["gcc", "fixed:1500", "oracle", "learned"])
def test_episode_from_python_equals_rt_bench(binary, rt_traces, tmp_path, controller, request):
    if controller == "learned":
        controller = "learned:" + request.getfixturevalue("rt_model")
    rows = rt_bench(binary, rt_traces, controller, tmp_path / "rt")
    env = gym.make("NeuralStream/Rt-v0", traces=rt_traces, reward="onl_qoe")
    names = env.unwrapped.trace_names
    assert len(rows) == len(names) >= 3
    for i, name in enumerate(names):
        row = next(r for (_, trace), r in rows.items() if trace == name)
        env.reset(seed=0, options={"trace_index": i})
        c = ns.RtController(controller)
        total = 0.0
        while True:
            _, reward, terminated, _, info = env.step(c.decide(env.unwrapped))
            total += reward
            if terminated:
                break
        for col in ("onl_qoe", "p95_frame_delay_ms", "frozen_ratio", "received_kbps", "loss_rate",
                    "mean_quality", "jitter_buffer_ms", "duration_s"):
            assert info["score"][col] == pytest.approx(float(row[col]), abs=1e-9), (name, col)
        # reward="onl_qoe": the return is the session's score.
        assert total == pytest.approx(info["onl_qoe"], abs=1e-9)
    env.close()


def test_onl_qoe_reward_is_dense_and_adds_up_to_the_session_score(rt_traces):
    env = ns.RtEnv(traces=rt_traces, duration_s=10, reward="onl_qoe")
    env.reset(seed=0, options={"trace_index": 0})
    gcc = ns.RtController("gcc")
    rewards = []
    while True:
        _, r, term, _, info = env.step(gcc.decide(env))
        rewards.append(r)
        if term:
            break
    per_report = np.array(rewards[:-1])
    # One report's share of the session (50 ms of 10 s) of a score in 0..100.
    assert (per_report >= 0).all() and (per_report <= 100 * 50 / 10_000 + 1e-12).all()
    assert per_report.sum() > 0.5 * info["onl_qoe"]
    assert sum(rewards) == pytest.approx(info["onl_qoe"], abs=1e-9)
    # The last step's correction is what the reports' view of the session missed.
    assert abs(rewards[-1]) < 0.5 * info["onl_qoe"]
    env.close()


def test_gcc_through_the_bitrate_action_is_close_to_gcc(rt_traces):
    """Bitrate-only actions go through the same ladder as GCC's: GCC's targets alone give GCC's
    session except while it probes (probe targets move the ladder too)."""
    env = ns.RtEnv(traces=rt_traces, duration_s=20, reward="onl_qoe")
    full = ns.play_rt(env, ns.RtController("gcc"), trace_index=0)["onl_qoe"]
    c = ns.RtController("gcc")
    env.reset(seed=0, options={"trace_index": 0})
    while True:
        _, r, term, _, info = env.step(np.array([c.decide(env)["target_bps"]]))
        if term:
            break
    assert abs(info["onl_qoe"] - full) < 10, (info["onl_qoe"], full)
    env.close()


def test_bad_arguments_raise_with_the_rust_message(rt_traces, tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ns.NeuralStreamError, match=f"traces={missing}.*nope"):
        ns.RtEnv(traces=str(missing))
    with pytest.raises(ns.NeuralStreamError, match="argument traces is required"):
        ns.RtEnv()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ns.NeuralStreamError, match="no real-time traces"):
        ns.RtEnv(traces=str(empty))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.down").write_text("10\n5\n")
    with pytest.raises(ns.NeuralStreamError, match=r"x\.down:2: 5 ms comes after 10 ms"):
        ns.RtEnv(traces=str(bad))
    with pytest.raises(ns.NeuralStreamError, match="fps=25: use 30 or 60"):
        ns.RtEnv(traces=rt_traces, fps=25)
    with pytest.raises(ns.NeuralStreamError, match="split 'dev' is not one of"):
        ns.RtEnv(traces=rt_traces, split="dev")
    with pytest.raises(ns.NeuralStreamError, match="unknown argument 'video'"):
        ns.RtEnv(traces=rt_traces, video="x")
    with pytest.raises(ns.NeuralStreamError, match="reward='qoe'"):
        ns.RtEnv(traces=rt_traces, reward="qoe")
    with pytest.raises(ns.NeuralStreamError, match="unknown controller 'bbr'; known: gcc"):
        ns.RtController("bbr")
    with pytest.raises(ns.NeuralStreamError, match="fixed bitrate must be a positive number"):
        ns.RtController("fixed:-1")
    env = ns.RtEnv(traces=rt_traces, duration_s=2)
    with pytest.raises(ns.NeuralStreamError, match="call reset"):
        env.step(1e6)
    with pytest.raises(ns.NeuralStreamError, match="no running episode"):
        ns.RtController("gcc").decide(env)
    env.reset(seed=0, options={"trace_index": 0})
    with pytest.raises(ns.NeuralStreamError, match="trace_index=99 is out of range"):
        env.reset(options={"trace_index": 99})
    with pytest.raises(TypeError, match="target bitrate in bit/s"):
        env.step("fast")
    with pytest.raises(TypeError, match="target bitrate in bit/s"):
        env.step(np.array([1e6, 2e6]))
    with pytest.raises(ns.NeuralStreamError, match="action NaN is not a bitrate: use 50000 to 10000000 bit/s"):
        env.step(float("nan"))
    with pytest.raises(ns.NeuralStreamError, match="height=500: use 480, 720 or 1080"):
        env.step({"target_bps": 1e6, "height": 500, "fps": 30})
    with pytest.raises(TypeError, match="'fps' is missing"):
        env.step({"target_bps": 1e6, "height": 480})
    # The episode is still usable after every refused action.
    gcc = ns.RtController("gcc")
    env.step(gcc.decide(env))
    _, _, _, _, info = env.step(gcc.decide(env))
    assert info["reports"] == 2
    env.step(1e6)  # a step gcc did not decide
    with pytest.raises(ns.NeuralStreamError, match="must decide every step"):
        gcc.decide(env)
    env.close()


def test_no_thread_is_left_behind(rt_traces):
    before = threads()
    env = ns.RtEnv(traces=rt_traces)  # whole traces: minutes of simulated time left mid-episode
    env.reset(seed=0)
    assert env._worker_alive and threads() == before + 1
    for _ in range(10):
        env.step(2e6)
    env.reset(seed=1)  # a reset mid-episode stops the old session first
    assert threads() == before + 1
    env.close()
    assert not env._worker_alive and threads() == before
    env.close()  # twice is fine
    # Dropped mid-episode without close (also through gymnasium.make's wrappers).
    made = gym.make("NeuralStream/Rt-v0", traces=rt_traces)
    made.reset(seed=0)
    made.step(np.array([1e6]))
    assert threads() == before + 1
    del made
    gc.collect()
    assert threads() == before
    # A finished episode has already joined its thread.
    env = ns.RtEnv(traces=rt_traces, duration_s=1)
    ns.play_rt(env, ns.RtController("fixed"), trace_index=0)
    assert threads() == before
    del env
