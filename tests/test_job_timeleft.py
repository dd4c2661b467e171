"""fluxsdk.job.timeleft (flux.job.timeleft) on the embedded instance."""

from __future__ import annotations

import contextlib
import errno
import importlib
import math
from collections.abc import Iterator

import pytest

import fluxsdk.job
from fluxsdk.core import Flux
from fluxsdk.job import JobID, JobspecV1, cancel, output_watch_lines, result, submit, timeleft


@pytest.fixture
def running(flux_handle: Flux) -> Iterator[JobID]:
    spec = JobspecV1.from_command(["sh", "-c", "echo up; sleep 60"], duration=300)
    jobid = submit(flux_handle, spec)
    lines = output_watch_lines(flux_handle, jobid)
    with contextlib.closing(lines):
        next(lines)
    yield jobid
    with contextlib.suppress(OSError):
        cancel(flux_handle, jobid)
    result(flux_handle, jobid)


def test_timeleft_of_a_running_job(
    flux_handle: Flux, running: JobID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX_JOB_ID", running.f58)
    left = timeleft(flux_handle)
    assert 0 < left <= 300
    cancel(flux_handle, running)
    result(flux_handle, running)
    assert timeleft(flux_handle) == 0.0  # a job that stopped has no time left


def test_timeleft_of_a_pending_or_unknown_job(
    flux_handle: Flux, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = submit(flux_handle, JobspecV1.from_command(["true"]), urgency=0)
    try:
        monkeypatch.setenv("FLUX_JOB_ID", str(held))
        assert timeleft(flux_handle) == 0.0  # what flux 0.88's binding answers
    finally:
        cancel(flux_handle, held)
        result(flux_handle, held)
    monkeypatch.setenv("FLUX_JOB_ID", "f1111111")
    with pytest.raises(FileNotFoundError, match="f1111111: no such jobid"):
        timeleft(flux_handle)
    monkeypatch.setenv("FLUX_JOB_ID", "bogus!")
    with pytest.raises(OSError, match="failed to parse jobid bogus!") as info:
        timeleft(flux_handle)
    assert info.value.errno == errno.EINVAL


def test_timeleft_of_an_instance_without_limit(
    flux_handle: Flux, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLUX_JOB_ID", raising=False)
    assert timeleft(flux_handle) == math.inf


def test_timeleft_stays_the_function() -> None:
    module = importlib.import_module("fluxsdk.job.timeleft")
    fluxsdk.job.timeleft = module  # type: ignore[assignment]  # what an import hook does
    assert callable(fluxsdk.job.timeleft) and fluxsdk.job.timeleft is module.timeleft
