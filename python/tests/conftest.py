"""Shared fixtures: the `neuralstream` binary, a small trace set and a video, so that episodes
played from Python can be compared with `neuralstream bench` on the same inputs.

With ``../shared`` beside the repository (or ``NEURALSTREAM_SHARED``), the traces are a few of
Pensieve's test traces and the video is Pensieve's; without it (and without
``NEURALSTREAM_REQUIRE_SHARED``) synthetic traces written by ``neuralstream traces`` and the
built-in video are used.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _binary() -> Path:
    path = Path(os.environ.get("NEURALSTREAM_BIN", REPO / "target" / "release" / "neuralstream"))
    if not path.is_file():
        pytest.fail(
            f"{path} not found: build it with `cargo build --release` "
            "(or point NEURALSTREAM_BIN at a neuralstream binary)"
        )
    return path


def _shared() -> Path | None:
    candidates = [os.environ.get("NEURALSTREAM_SHARED"), REPO.parent / "shared"]
    for c in candidates:
        if c and (Path(c) / "data/pensieve/sim").is_dir():
            return Path(c)
    if os.environ.get("NEURALSTREAM_REQUIRE_SHARED"):
        pytest.fail("NEURALSTREAM_REQUIRE_SHARED is set but ../shared (with data/pensieve/sim) is missing")
    return None


@pytest.fixture(scope="session")
def binary() -> Path:
    return _binary()


@pytest.fixture(scope="session")
def inputs(tmp_path_factory, binary) -> dict:
    """``{"traces": folder, "video": path or None}`` with 8 traces."""
    root = tmp_path_factory.mktemp("inputs")
    traces = root / "traces"
    shared = _shared()
    if shared is not None:
        sim = shared / "data/pensieve/sim"
        traces.mkdir()
        for f in sorted((sim / "cooked_test_traces").iterdir())[:8]:
            shutil.copy(f, traces / f.name)
        return {"traces": str(traces), "video": str(sim)}
    subprocess.run(
        [binary, "traces", "--count", "8", "--seed", "7", "--out", traces],
        check=True,
        capture_output=True,
    )
    return {"traces": str(traces), "video": None}


def env_kwargs(inputs: dict) -> dict:
    return {k: v for k, v in inputs.items() if v is not None}


def bench(binary: Path, inputs: dict, abr: str, out: Path,
          extra: list[str] | None = None) -> dict[tuple[str, str], float]:
    """Runs `neuralstream bench` (with ``extra`` flags) and returns ``{(algorithm, trace): qoe}``
    from results.csv."""
    cmd = [binary, "bench", "--traces", inputs["traces"], "--abr", abr, "--no-charts",
           "--no-chunk-log", "--out", out, *(extra or [])]
    if inputs["video"]:
        cmd += ["--video", inputs["video"]]
    subprocess.run(cmd, check=True, capture_output=True)
    with open(out / "results.csv", newline="") as f:
        return {(r["algorithm"], r["trace"]): float(r["qoe"]) for r in csv.DictReader(f)}
