"""examples/model.py and the examples of docs/model.md run as a user runs them, against an
instance of their own, and leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fluxsdk import job as flux_job
from fluxsdk.core import Flux
from fluxsdk.job.info import FLUX_JOB_STATE_ACTIVE
from fluxsdk.testing import instance_running
from tests.docs_support import python_blocks

ROOT = Path(__file__).resolve().parents[1]


def assert_nothing_left(uri: str) -> None:
    """Nothing the script made still runs or is held, but the model's registry of
    deleted tasks (see docs/model.md).

    Deleting a pool cancels its job; the nested instance then takes a moment to
    stop, so the check allows it that long.
    """
    deadline = time.monotonic() + 30
    with Flux(uri) as handle:
        while True:
            left = flux_job.job_list(handle, max_entries=0, states=FLUX_JOB_STATE_ACTIVE)
            names = {j["name"] for j in left.get_jobs()}
            if names <= {"fluxsdk-registry"} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert names <= {"fluxsdk-registry"}


def test_the_model_example(tmp_path: Path) -> None:
    with instance_running(tmp_path / "instance", cores=4) as uri:
        env = dict(os.environ, FLUX_URI=uri)
        proc = subprocess.run(
            [sys.executable, "examples/model.py"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        assert "runs a nested instance at fluxsdk://" in out
        assert "greedy: Failure: " in out and "unsatisfiable" in out
        assert "finished=True exit_code=0 errors=[]" in out
        # Live objects: the renders show Success with no update(); the callback saw them.
        assert "renders: ['Success', 'Success']; callback saw ['assemble', 'render-intro'" in out
        assert "encore went through [" in out and "'Success']" in out
        assert "intro rendered by 0" in out and "intro rendered by 1" in out
        assert "assemble: movie assembled" in out
        assert "render tasks: ['render-intro', 'render-outro']" in out
        assert "job movie is Active with 4 tasks" in out
        assert "after terminate: Completed" in out
        assert "refused: job" in out and "takes no new tasks" in out
        assert "job deleted" in out and out.endswith("pool Deleted\n")
        assert_nothing_left(uri)


def test_the_model_docs_examples(tmp_path: Path) -> None:
    blocks = python_blocks(ROOT / "docs/model.md")
    assert blocks
    with instance_running(tmp_path / "instance", cores=4) as uri:
        for index, code in enumerate(blocks):
            env = dict(os.environ, FLUX_URI=uri)
            proc = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=ROOT,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            if index == 0:
                assert proc.stdout.split() == ["Success", "0", "movie", "assembled"]
                assert "movie (" in proc.stderr  # the live progress
            else:  # the callback and asyncio examples follow a task to its end
                assert proc.stdout.split()[-1] == "Success", proc.stdout
        assert_nothing_left(uri)


@pytest.mark.flux
def test_the_model_example_on_real_flux(flux_uri: str) -> None:
    """The same script, unchanged, on a real Flux through libflux-core (pools included)."""
    env = dict(os.environ, FLUX_URI=flux_uri)
    proc = subprocess.run(
        [sys.executable, "examples/model.py"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "runs a nested instance at " in out
    assert "greedy: Failure: " in out
    assert "job movie is Active with 4 tasks" in out
    assert "finished=True exit_code=0 errors=[]" in out
    assert "renders: ['Success', 'Success']" in out
    assert "encore went through [" in out
    assert "after terminate: Completed" in out
    assert "job deleted" in out and out.endswith("pool Deleted\n")
