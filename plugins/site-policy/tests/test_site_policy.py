"""The site-policy plugin: its file format, its hooks, and real submissions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fluxsdk
import pytest
from fluxsdk import hooks, job
from fluxsdk.hooks import JobspecRejectedError, Submission
from fluxsdk.job import JobspecV1
from fluxsdk.testing import instance_running

from fluxsdk_site_policy import (
    ENV_POLICY,
    PolicyError,
    fluxsdk_jobspec_transform,
    fluxsdk_jobspec_validate,
    load_policy,
)

POLICY = """
defaults:
  duration: 10m
  queue: batch
  environment: {OMP_NUM_THREADS: "1", SITE: "here"}
limits:
  max-duration: 1h
  queues: [batch, debug]
  max-cores: 2
"""
SUBMISSION = Submission(uri="fluxsdk:///x", userid=os.getuid(), urgency=16, flags=0)


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site-policy.yaml"
    path.write_text(POLICY)
    monkeypatch.setenv(ENV_POLICY, str(path))
    return path


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instance_running(
        tmp_path_factory.mktemp("instance"), cores=4, queues=["batch", "debug"]
    ) as u:
        yield u


def test_the_file_format(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    policy = load_policy(path)
    assert policy.default_duration == 600 and policy.max_duration == 3600
    assert policy.queues == ("batch", "debug") and policy.max_cores == 2
    assert policy.default_environment == {"OMP_NUM_THREADS": "1", "SITE": "here"}
    for text, words in [
        ("limits: {max-cores: 0}", "max-cores must be a positive integer"),
        ("limits: {max-duration: forever}", "limits.max-duration"),
        ("defaults: {environment: {N: 1}}", "quote numbers"),
        ("defaults: {colour: red}", "unknown key(s) colour"),
        ("quotas: {}", "unknown section(s) quotas"),
        ("[1, 2]", "must be a mapping"),
        ("defaults: [", "cannot read"),
    ]:
        path.write_text(text)
        with pytest.raises(PolicyError, match=words.replace("(", r"\(").replace(")", r"\)")):
            load_policy(path)


def test_defaults_fill_only_what_is_unset(policy: Path) -> None:
    spec = JobspecV1.from_command(["true"])
    spec.environment = {}
    fluxsdk_jobspec_transform(spec)
    assert spec.duration == 600 and spec.queue == "batch"
    assert spec.environment == {"OMP_NUM_THREADS": "1", "SITE": "here"}
    mine = JobspecV1.from_command(["true"], duration="5m")
    mine.queue = "debug"
    mine.environment = {"OMP_NUM_THREADS": "8"}
    fluxsdk_jobspec_transform(mine)
    assert mine.duration == 300 and mine.queue == "debug"
    assert mine.environment == {"OMP_NUM_THREADS": "8", "SITE": "here"}


def test_limits_say_what_to_change(policy: Path) -> None:
    ok = JobspecV1.from_command(["true"], duration="30m")
    assert fluxsdk_jobspec_validate(ok, SUBMISSION) is None
    long = JobspecV1.from_command(["true"], duration="2h", num_tasks=4)
    long.queue = "gpu"
    message = fluxsdk_jobspec_validate(long, SUBMISSION) or ""
    assert "duration 2h exceeds the maximum of 1h" in message
    assert "queue 'gpu' is not allowed (allowed: batch, debug)" in message
    assert "4 cores exceed the maximum of 2 per job" in message
    assert str(policy) in message
    unlimited = JobspecV1.from_command(["true"])
    assert "a time limit is required" in (fluxsdk_jobspec_validate(unlimited, SUBMISSION) or "")


def test_no_policy_no_effect_and_a_broken_one_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_POLICY, "")
    spec = JobspecV1.from_command(["true"])
    fluxsdk_jobspec_transform(spec)
    assert spec.duration == 0 and fluxsdk_jobspec_validate(spec, SUBMISSION) is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("limits: {max-cores: lots}")
    monkeypatch.setenv(ENV_POLICY, str(broken))
    fluxsdk_jobspec_transform(spec)  # does nothing: the validator reports it
    message = fluxsdk_jobspec_validate(spec, SUBMISSION) or ""
    assert message.startswith("the site policy cannot be used") and "max-cores" in message


def test_a_changed_file_is_read_again(policy: Path) -> None:
    spec = JobspecV1.from_command(["true"], duration="30m")
    assert fluxsdk_jobspec_validate(spec, SUBMISSION) is None
    policy.write_text(POLICY.replace("max-duration: 1h", "max-duration: 20m"))
    os.utime(policy, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert "exceeds the maximum of 20m" in (fluxsdk_jobspec_validate(spec, SUBMISSION) or "")


def test_loaded_through_its_entry_point_and_applied_to_real_submissions(
    policy: Path, uri: str
) -> None:
    info = next(i for i in hooks.plugins() if i.name == "site-policy")
    assert info.source == "entry point" and info.origin.startswith("fluxsdk-site-policy ")
    with fluxsdk.Flux(uri) as handle:
        jobid = job.submit(handle, JobspecV1.from_command(["printenv", "SITE"]))
        assert job.job_output(handle, jobid).stdout == "here\n"
        record = job.get_job(handle, jobid)
        assert record is not None
        assert record["queue"] == "batch" and record["duration"] == 600
        with pytest.raises(JobspecRejectedError) as caught:
            job.submit(handle, JobspecV1.from_command(["true"], num_tasks=3))
        assert "plugin 'site-policy': 3 cores exceed the maximum of 2" in str(caught.value)
        # flux.job scripts that catch OSError keep working.
        with pytest.raises(OSError, match="site-policy"):
            job.submit(handle, JobspecV1.from_command(["true"], duration="3h"))
