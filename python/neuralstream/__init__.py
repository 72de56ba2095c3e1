"""NeuralStream from Python: Gymnasium environments over the exact adaptive-bitrate simulator.

- ``AbrEnv`` (``gymnasium.make("NeuralStream/Abr-v0", traces=PATH, video=PATH, ...)``): one
  streaming session per episode; observation = the learned-policy feature vector (or a dict of raw
  observations), action = the level of the next chunk, reward = that chunk's QoE term, ``info``
  = the chunk's record (and ``episode_qoe``, the QoE ``neuralstream bench`` reports, at the end).
- ``AbrVectorEnv`` (``gymnasium.make_vec("NeuralStream/Abr-v0", num_envs=N,
  vectorization_mode="vector_entry_point")``): ``N`` sessions stepped in Rust per call.
- ``Rule`` / ``algorithms()`` / ``optimum_plan(env)``: the rule algorithms and the offline
  optimum, as baselines and teachers.
- ``save_policy`` / ``Policy``: NeuralStream policy files (``bench --abr learned:PATH``) written
  from and read into Python.
- ``RtEnv`` (``gymnasium.make("NeuralStream/Rt-v0", traces=PATH, ...)``): the real-time mode, one
  ``neuralstream rt bench`` session per episode, one step per 50 ms feedback report; action = the
  encoder's target bitrate (bit/s), observation = the 18 features of ``rt``'s DQN.
- ``RtController`` / ``rt_controllers()``: ``rt``'s controllers (``gcc``, ``fixed[:KBPS]``,
  ``oracle``, ``learned:PATH``) deciding from Python, as baselines.

Every environment, algorithm and file function is Rust (``neuralstream._native``); bad arguments
raise ``NeuralStreamError`` (a ``ValueError``) or ``TypeError`` with NeuralStream's message.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _native
from ._native import (
    NeuralStreamError,
    Policy,
    Rule,
    RtController,
    algorithms,
    optimum_plan,
    rt_controllers,
    save_policy,
)

__all__ = [
    "AbrEnv",
    "AbrVectorEnv",
    "NeuralStreamError",
    "Policy",
    "Rule",
    "RtController",
    "RtEnv",
    "algorithms",
    "rt_controllers",
    "optimum_plan",
    "save_policy",
    "play",
    "play_rt",
]
__version__ = _native.__version__

_SEED_BOUND = 2**63


def _trace_index_option(options: dict | None) -> int | None:
    """The ``trace_index`` of ``reset``'s options (the only option), checked."""
    if not options:
        return None
    unknown = set(options) - {"trace_index"}
    if unknown:
        raise NeuralStreamError(
            f"unknown reset option(s) {sorted(unknown)}; the only option is trace_index"
        )
    trace_index = options.get("trace_index")
    if trace_index is None:
        return None
    trace_index = int(trace_index)
    if trace_index < 0:
        raise NeuralStreamError(
            f"options trace_index={trace_index} is out of range: it counts traces from 0"
        )
    return trace_index


def _observation_space(core: Any) -> spaces.Space:
    if core.observation_kind == "features":
        return spaces.Box(0.0, core.feature_high, (core.feature_len,), np.float32)
    h, levels = core.history_len, core.num_levels
    return spaces.Dict(
        {
            "buffer_s": spaces.Box(0.0, core.buffer_cap_s, (1,), np.float32),
            "last_level": spaces.Discrete(levels),
            "chunks_left": spaces.Discrete(core.total_chunks + 1),
            "throughput_kbps": spaces.Box(0.0, np.inf, (h,), np.float32),
            "delay_ms": spaces.Box(0.0, np.inf, (h,), np.float32),
            "next_sizes_bytes": spaces.Box(0.0, np.inf, (levels,), np.float32),
        }
    )


class _TraceEpisodes(gym.Env):
    """What both single environments share: ``reset(seed, options={"trace_index": i})`` seeds
    Gymnasium's generator and hands a seed drawn from it to the Rust ``_reset``; nothing to render
    (``info`` holds the records)."""

    metadata = {"render_modes": []}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        gym.Env.reset(self, seed=seed)
        return self._reset(int(self.np_random.integers(_SEED_BOUND)), _trace_index_option(options))

    def render(self) -> None:
        return None


class AbrEnv(_native.AbrCore, _TraceEpisodes):
    """One adaptive-bitrate streaming session per episode, over NeuralStream's exact simulator.

    Keyword arguments (``neuralstream bench``'s flags, same defaults):
    ``traces`` (file or folder; default: ``synthetic_traces`` synthetic ones from ``trace_seed``),
    ``trace_format`` (auto/cooked/mahimahi), ``video`` (video.json, a folder holding one, or
    Pensieve's ``video_size_*`` folder; default: the built-in VBR video), ``qoe`` (lin, log, hd,
    ssim, vmaf, psnr, ``MODEL:MU``), ``rtt_ms``, ``buffer_cap_s``, ``payload_fraction``,
    ``max_chunks`` (48; 0 = all), ``mode`` (``"test"``: each episode plays a trace from its
    start, Pensieve's ``fixed_env.py``; ``"train"``: random start and delay noise, its
    ``env.py``), ``observation`` (``"features"`` or ``"dict"``), ``history_len`` (8),
    ``skip_chunks`` (1: chunks left out of ``episode_qoe``), ``reward_scale`` (1.0).

    ``reset(seed=..., options={"trace_index": i})`` plays trace ``i`` (default: a random one
    drawn from the seeded generator); chunk 0 is played at the start-up level, so every action
    chooses a chunk ``k >= 1`` and the undiscounted return equals ``bench``'s QoE of the session.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.observation_space = _observation_space(self)
        self.action_space = spaces.Discrete(self.num_levels)
        # Accepted and ignored (render() draws nothing; info holds each chunk's record).
        self.render_mode = kwargs.get("render_mode")

    def close(self) -> None:
        return None


class AbrVectorEnv(_native.AbrVectorCore, VectorEnv):
    """``num_envs`` sessions stepped in Rust per call (Gymnasium's vector API, next-step autoreset).

    Takes ``AbrEnv``'s keyword arguments plus ``num_envs``; observations are the feature vectors,
    shaped ``(num_envs, feature_len)``. ``infos`` holds ``episode_qoe`` (with its mask
    ``_episode_qoe``) on the steps where sessions finish.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, **kwargs: Any) -> None:
        self.single_observation_space = spaces.Box(
            0.0, self.feature_high, (self.feature_len,), np.float32
        )
        self.single_action_space = spaces.Discrete(self.num_levels)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self.closed = False

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise NeuralStreamError(f"{len(seed)} seeds for num_envs={self.num_envs}")
            seeds = [int(np.random.default_rng(s).integers(_SEED_BOUND)) for s in seed]
            VectorEnv.reset(self, seed=seed[0])
        else:
            VectorEnv.reset(self, seed=seed)
            seeds = [int(s) for s in self.np_random.integers(_SEED_BOUND, size=self.num_envs)]
        if options:
            raise NeuralStreamError("the vector environment takes no reset options")
        return self._reset(seeds)

    def close_extras(self, **kwargs: Any) -> None:
        return None


def play(env: AbrEnv, chooser: Any, *, trace_index: int, seed: int = 0) -> dict:
    """Plays one episode of ``env`` on trace ``trace_index``, each level chosen by
    ``chooser.choose(env)`` (a ``Rule`` or a ``Policy``) or ``chooser(obs)``; returns the final
    ``info`` (with ``episode_qoe`` and ``score``)."""
    choose = (lambda _obs: chooser.choose(env)) if hasattr(chooser, "choose") else chooser
    return _play(env, choose, trace_index=trace_index, seed=seed)


def _play(env: gym.Env, choose: Any, *, trace_index: int, seed: int) -> dict:
    """One episode on trace ``trace_index``, each action ``choose(obs)``; the final ``info``."""
    obs, info = env.reset(seed=seed, options={"trace_index": trace_index})
    while True:
        obs, _, terminated, truncated, info = env.step(choose(obs))
        if terminated or truncated:
            return info


class RtEnv(_native.RtCore, _TraceEpisodes):
    """One real-time session (live video, cloud gaming) per episode, over ``neuralstream-rt``'s
    frame-level simulator: the very ``run_session`` that ``neuralstream rt bench`` runs, on a worker
    thread, with each 50 ms feedback report handed to Python and the session paused until the
    action comes back.

    Keyword arguments (``rt bench``'s flags, same defaults): ``traces`` (required: folder or file,
    onl-emu ``*.json`` or Mahimahi ``*.up``/``*.down``), ``split`` (all/train/validation/test),
    ``duration_s`` (default: one loop of each trace), ``fps`` (30 or 60), ``queue_packets`` (50) or
    ``queue_ms``, ``mahimahi_rtt_ms`` (40), ``seed`` (1: the simulator's seed, as ``rt bench
    --seed``), ``mode`` (``"test"``: every episode uses ``seed``; ``"train"``: a fresh simulator
    seed per episode, drawn from the reset seed), ``reward`` (``"dqn"``: ``rt train``'s reward of
    each report, dense; ``"onl_qoe"``: 0 per report and the session's combined score on the last
    step, so the return equals ``rt bench``'s ``onl_qoe``).

    Action: the encoder target in bit/s (``Box([min_bps], [max_bps], float64)``); resolution and
    frame rate follow WebRTC's balanced ladder as GCC's do. ``step`` also takes a decision dict
    ``{"target_bps", "height", "fps"}`` (what ``RtController.decide`` returns). The first action
    after ``reset`` is the start decision; each later one answers one report. Observation: the 16
    float32 features of ``rt``'s DQN (see python/README.md). ``info``: ``trace``, ``trace_index``,
    ``sim_seed``, ``reports``, ``decision`` (the one in force), ``report`` (the latest report's
    measurements) and at the end ``onl_qoe`` and ``score`` (``rt bench``'s sessions.csv row).
    ``close()`` (or dropping the environment) stops a running session and joins its thread.
    """

    def __init__(self, **kwargs: Any) -> None:
        high = self.feature_high
        self.observation_space = spaces.Box(-high, high, (self.feature_len,), np.float32)
        self.action_space = spaces.Box(self.min_bps, self.max_bps, (1,), np.float64)
        self.render_mode = kwargs.get("render_mode")

    def close(self) -> None:
        self._close()


def play_rt(env: RtEnv, controller: Any, *, trace_index: int, seed: int = 0) -> dict:
    """Plays one episode of ``env`` on trace ``trace_index``, each decision from
    ``controller.decide(env)`` (an ``RtController``) or ``controller(obs)``; returns the final
    ``info`` (with ``onl_qoe`` and ``score``)."""
    core = env.unwrapped
    choose = (lambda _obs: controller.decide(core)) if hasattr(controller, "decide") else controller
    return _play(env, choose, trace_index=trace_index, seed=seed)


def _vector_entry_point(num_envs: int = 1, **kwargs: Any) -> AbrVectorEnv:
    return AbrVectorEnv(num_envs=num_envs, **kwargs)


gym.register(
    id="NeuralStream/Abr-v0",
    entry_point="neuralstream:AbrEnv",
    vector_entry_point="neuralstream:_vector_entry_point",
)
gym.register(id="NeuralStream/Rt-v0", entry_point="neuralstream:RtEnv")
