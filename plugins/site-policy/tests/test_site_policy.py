"""The site-policy plugin: its file format, its hooks on each side, and real submissions."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import fluxsdk
import pytest
import yaml
from fluxsdk import hooks, job
from fluxsdk.hooks import InstanceInfo
from fluxsdk.job import JobspecV1
from fluxsdk.testing import instance_running

from fluxsdk_site_policy import (
    ENV_POLICY,
    PolicyError,
    fluxsdk_instance_jobspec_transform,
    fluxsdk_instance_jobspec_validate,
    fluxsdk_jobspec_transform,
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
# An instance whose configuration has no site-policy section: it reads the policy file.
INSTANCE = InstanceInfo(uri="fluxsdk:///x", statedir=Path("/x"))


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site-policy.yaml"
    path.write_text(POLICY)
    monkeypatch.setenv(ENV_POLICY, str(path))
    return path


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
    fluxsdk_instance_jobspec_transform(spec, INSTANCE)  # the policy: in the instance
    fluxsdk_jobspec_transform(spec)  # the environment: in the client
    assert spec.duration == 600 and spec.queue == "batch"
    assert spec.environment == {"OMP_NUM_THREADS": "1", "SITE": "here"}
    mine = JobspecV1.from_command(["true"], duration="5m")
    mine.queue = "debug"
    mine.environment = {"OMP_NUM_THREADS": "8"}
    fluxsdk_instance_jobspec_transform(mine, INSTANCE)
    fluxsdk_jobspec_transform(mine)
    assert mine.duration == 300 and mine.queue == "debug"
    assert mine.environment == {"OMP_NUM_THREADS": "8", "SITE": "here"}


def test_limits_say_what_to_change(policy: Path) -> None:
    ok = JobspecV1.from_command(["true"], duration="30m")
    assert fluxsdk_instance_jobspec_validate(ok, INSTANCE) is None
    long = JobspecV1.from_command(["true"], duration="2h", num_tasks=4)
    long.queue = "gpu"
    message = fluxsdk_instance_jobspec_validate(long, INSTANCE) or ""
    assert "duration 2h exceeds the maximum of 1h" in message
    assert "queue 'gpu' is not allowed (allowed: batch, debug)" in message
    assert "4 cores exceed the maximum of 2 per job" in message
    assert str(policy) in message
    unlimited = JobspecV1.from_command(["true"])
    assert "a time limit is required" in (
        fluxsdk_instance_jobspec_validate(unlimited, INSTANCE) or ""
    )


def test_the_instance_configuration_holds_the_policy(policy: Path, tmp_path: Path) -> None:
    inline = InstanceInfo(
        uri="fluxsdk:///x",
        statedir=tmp_path,
        config={"site-policy": {"limits": {"max-cores": 1}}},
    )
    two = JobspecV1.from_command(["true"], num_tasks=2)
    assert "2 cores exceed the maximum of 1" in (
        fluxsdk_instance_jobspec_validate(two, inline) or ""
    )
    named = InstanceInfo(
        uri="fluxsdk:///x", statedir=tmp_path, config={"site-policy": {"file": str(policy)}}
    )
    assert "a time limit is required" in (fluxsdk_instance_jobspec_validate(two, named) or "")
    odd = InstanceInfo(uri="fluxsdk:///x", statedir=tmp_path, config={"site-policy": [1]})
    assert "cannot be used" in (fluxsdk_instance_jobspec_validate(two, odd) or "")


def test_no_policy_no_effect_and_a_broken_one_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_POLICY, "")
    spec = JobspecV1.from_command(["true"])
    fluxsdk_instance_jobspec_transform(spec, INSTANCE)
    fluxsdk_jobspec_transform(spec)
    assert spec.duration == 0 and fluxsdk_instance_jobspec_validate(spec, INSTANCE) is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("limits: {max-cores: lots}")
    monkeypatch.setenv(ENV_POLICY, str(broken))
    fluxsdk_instance_jobspec_transform(spec, INSTANCE)  # does nothing: the validator says why
    fluxsdk_jobspec_transform(spec)
    message = fluxsdk_instance_jobspec_validate(spec, INSTANCE) or ""
    assert message.startswith("the site policy cannot be used") and "max-cores" in message


def test_a_changed_file_is_read_again(policy: Path) -> None:
    spec = JobspecV1.from_command(["true"], duration="30m")
    assert fluxsdk_instance_jobspec_validate(spec, INSTANCE) is None
    policy.write_text(POLICY.replace("max-duration: 1h", "max-duration: 20m"))
    os.utime(policy, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert "exceeds the maximum of 20m" in (fluxsdk_instance_jobspec_validate(spec, INSTANCE) or "")


def test_loaded_through_its_entry_point_and_applied_to_real_submissions(
    policy: Path, tmp_path: Path
) -> None:
    info = next(i for i in hooks.plugins() if i.name == "site-policy")
    assert info.source == "entry point" and info.origin.startswith("fluxsdk-site-policy ")
    assert info.hooks == (  # a client calls only the first; an instance, the others
        "fluxsdk_instance_jobspec_transform",
        "fluxsdk_instance_jobspec_validate",
        "fluxsdk_jobspec_transform",
    )
    config = tmp_path / "instance.yaml"
    config.write_text(yaml.safe_dump({"site-policy": {"file": str(policy)}}))
    with (
        instance_running(
            tmp_path / "state",
            cores=4,
            queues=["batch", "debug"],
            plugins=["site-policy"],
            config=config,
        ) as uri,
        fluxsdk.Flux(uri) as handle,
    ):
        jobid = job.submit(handle, JobspecV1.from_command(["printenv", "SITE"]))
        assert job.job_output(handle, jobid).stdout == "here\n"
        record = job.get_job(handle, jobid)
        assert record is not None
        assert record["queue"] == "batch" and record["duration"] == 600
        # The limits are the instance's: they hold for a client without the plugin too,
        # answered as Flux answers a validator's rejection (EPERM and the message).
        for client_plugins in (True, False):
            with (
                hooks.disabled() if not client_plugins else contextlib.nullcontext(),
                pytest.raises(OSError) as caught,
            ):
                job.submit(handle, JobspecV1.from_command(["true"], num_tasks=3))
            assert caught.value.errno == errno.EPERM
            assert "3 cores exceed the maximum of 2 per job" in str(caught.value)
