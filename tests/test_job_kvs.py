"""Jobs' KVS directories, kvslookup, job-list's list-attrs and job-stats, JobStats.

Checked against what flux-core v0.88.0 answered for the same calls
(``tests/data/flux_job_kvs_and_stats.json``). fluxsdk has no ``guest.input``
(it has no stdin eventlog), so that entry is left out of the comparisons.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

import fluxsdk
from fluxsdk import job, kvs
from fluxsdk.constants import FLUX_JOB_URGENCY_HOLD
from fluxsdk.core import Flux
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.job.stats import JobStats
from fluxsdk.testing import instance_running

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_job_kvs_and_stats.json").read_text()
)
LAYOUT = RECORDED["completed_job_dir"]


@pytest.fixture
def h(embedded_or_flux: Flux) -> Flux:
    """A handle on the embedded instance, then on a real Flux broker (if there is one)."""
    return embedded_or_flux


def run(h: Flux, command: list[str], **kwargs: Any) -> JobID:
    jobid = job.submit(h, JobspecV1.from_command(command, **kwargs), waitable=True)
    job.wait(h, jobid)
    # On Flux the KVS may lag the wait answer: `clean` read through job-info is there.
    job.event_wait(h, jobid, "clean", raiseJobException=False)
    return jobid


def test_completed_job_directory_layout(flux_handle: Flux) -> None:
    jobid = run(flux_handle, ["true"])
    jobdir = job.job_kvs(flux_handle, jobid)
    assert isinstance(jobdir, kvs.KVSDir)
    assert jobdir.path == JobID(jobid).kvs + "."
    files, dirs = jobdir.list_all()
    assert sorted(files) == LAYOUT["files"] and sorted(dirs) == LAYOUT["dirs"]
    guest = jobdir["guest"]
    assert isinstance(guest, kvs.KVSDir) and guest.path == JobID(jobid).kvs + ".guest"
    gfiles, gdirs = guest.list_all()
    assert sorted(gfiles) == [f for f in LAYOUT["guest"]["files"] if f != "input"]
    assert sorted(gdirs) == LAYOUT["guest"]["dirs"]
    assert list(guest["exec"]) == LAYOUT["guest"]["exec"]["files"]
    assert job.job_kvs_guest(flux_handle, jobid).path == JobID(jobid).kvs + ".guest."


def test_values_decode_as_flux_does(h: Flux) -> None:
    jobid = run(h, ["true"])
    base = JobID(jobid).kvs
    for key, kind in LAYOUT["value_types"].items():
        value = kvs.get(h, f"{base}.{key}")
        assert type(value).__name__ == kind, key
    jobspec = kvs.get(h, f"{base}.jobspec")
    assert jobspec["tasks"][0]["command"] == ["true"]
    eventlog = kvs.get(h, f"{base}.eventlog")
    assert eventlog.splitlines()[0].startswith('{"timestamp":')
    assert '"name":"clean"' in eventlog.splitlines()[-1]
    assert '"name":"done"' in kvs.get(h, f"{base}.guest.exec.eventlog")


def test_exists_isdir_and_errors(h: Flux) -> None:
    jobid = run(h, ["true"])
    base = JobID(jobid).kvs
    expected = LAYOUT["exists_isdir"]
    for name, key in (("dir", base), ("value", base + ".R"), ("missing", base + ".nokey")):
        got = [kvs.exists(h, key), kvs.isdir(h, key)]
        assert got == expected[name], name
    assert kvs.isdir(h, "job") and kvs.exists(h, "job")
    with pytest.raises(NotADirectoryError):
        kvs.get_dir(h, base + ".R")
    with pytest.raises(FileNotFoundError):
        kvs.get_dir(h, base + ".nokey")
    with pytest.raises(FileNotFoundError):
        job.job_kvs(h, 123)
    jobdir = job.job_kvs(h, jobid)
    with pytest.raises(KeyError, match=f"nokey not found under directory {base}."):
        jobdir["nokey"]
    assert jobdir.exists("R") and not jobdir.exists("nokey")
    with pytest.raises(kvs.KVSReadOnlyError) as info:
        jobdir["x"] = 1
    assert info.value.errno == errno.EROFS


def test_pending_job_directory(h: Flux) -> None:
    jobid = job.submit(
        h, JobspecV1.from_command(["true"]), urgency=FLUX_JOB_URGENCY_HOLD, waitable=True
    )
    assert sorted(job.job_kvs(h, jobid)) == RECORDED["rec6"]["held_job_dir"]
    with pytest.raises(FileNotFoundError):
        job.job_kvs_guest(h, jobid)
    job.cancel(h, jobid)
    job.wait(h, jobid)
    assert sorted(job.job_kvs(h, jobid)) == RECORDED["rec6"]["canceled_job_dir"]
    # R was never written: flux's job_kvs_lookup answers None
    assert job.job_kvs_lookup(h, jobid, keys=["jobspec", "R"]) is None


def test_kvs_walk(flux_handle: Flux) -> None:
    jobid = run(flux_handle, ["true"])
    walked = {path: sorted(files) for path, _, files in kvs.walk(job.job_kvs(flux_handle, jobid))}
    assert walked == {"": LAYOUT["files"], "guest": ["output"], "guest.exec": ["eventlog"]}


def test_job_kvs_lookup(h: Flux) -> None:
    jobid = run(h, ["true"])
    data = job.job_kvs_lookup(h, jobid, keys=["jobspec", "R"])
    assert data is not None and isinstance(data["jobspec"], dict) and isinstance(data["R"], dict)
    original = job.job_kvs_lookup(h, jobid, keys=["jobspec"], original=True)
    assert original is not None and "J" not in original
    # the submitted jobspec, environment included (the stored one has none)
    assert "environment" in original["jobspec"]["attributes"]["system"]
    raw = job.job_kvs_lookup(h, jobid, keys=["R"], decode=False)
    assert raw is not None and isinstance(raw["R"], str)
    assert job.job_kvs_lookup(h, 123) is None
    lookup = job.JobKVSLookup(h, ids=[jobid, 123], keys=["jobspec"])
    found = lookup.data()
    recorded = RECORDED["rec6"]["JobKVSLookup"]
    assert [len(found), lookup.errors, type(found[0]["jobspec"]).__name__] == recorded


def test_list_attrs_are_flux_s(flux_handle: Flux) -> None:
    attrs = flux_handle.rpc("job-list.list-attrs", "{}").get()["attrs"]
    assert attrs == RECORDED["job_stats"]["list_attrs"]["attrs"]
    # every one of them may be asked for
    jobid = run(flux_handle, ["true"])
    wanted = [a for a in attrs if a != "all"]
    got = job.job_list_id(flux_handle, jobid, attrs=wanted).get_job()
    assert set(got) <= {"id", *wanted}


def test_project_and_bank_are_listed(flux_handle: Flux) -> None:
    spec = JobspecV1.from_command(["true"])
    spec.setattr("system.project", "p1")
    spec.setattr("system.bank", "b1")
    jobid = job.submit(flux_handle, spec, waitable=True)
    job.wait(flux_handle, jobid)
    got = job.job_list_id(flux_handle, jobid, attrs=["project", "bank"]).get_job()
    assert got == {"id": jobid, "project": "p1", "bank": "b1"}


def test_job_stats_counts(tmp_path: Path) -> None:
    # A fresh instance, so the counts are the recorded ones for the same jobs.
    with instance_running(tmp_path / "stats", cores=2) as uri, fluxsdk.Flux(uri) as h:
        empty = h.rpc("job-list.job-stats", {}).get()
        assert empty == RECORDED["job_stats"]["empty"]
        for command in (["true"], ["false"], ["fluxsdk-no-such-command"]):
            run(h, command)
        held = job.submit(h, JobspecV1.from_command(["true"]), urgency=0)
        canceled = job.submit(h, JobspecV1.from_command(["true"]), urgency=0, waitable=True)
        job.cancel(h, canceled)
        job.wait(h, canceled)
        spec = JobspecV1.from_command(["sleep", "10"])
        spec.duration = 0.1
        jobid = job.submit(h, spec, waitable=True)
        job.wait(h, jobid)
        assert h.rpc("job-list.job-stats", {}).get() == RECORDED["job_stats"]["after"]
        stats = JobStats(h)
        assert (stats.active, stats.inactive) == (-1, -1)
        stats.update_sync()
        assert (stats.inactive, stats.sched, stats.active, stats.pending) == (5, 1, 1, 1)
        # flux's JobStats folds cancels and timeouts into "failed"
        assert (stats.successful, stats.failed, stats.canceled, stats.timeout) == (1, 4, 1, 1)
        called: list[int] = []
        later = JobStats(h)
        later.update(callback=lambda s, mykw: called.append(s.inactive + mykw), mykw=10)
        assert later.inactive == -1
        h.reactor_run()
        assert called == [15]
        job.cancel(h, held)


def test_job_stats_per_queue(tmp_path: Path) -> None:
    queues = instance_running(tmp_path / "q", cores=2, queues=["a", "b"])
    with queues as uri, fluxsdk.Flux(uri) as h:
        # As in flux, configured queues begin stopped (flux queue start --all).
        h.rpc("job-manager.queue-start", {"start": True, "all": True}).get()
        spec = JobspecV1.from_command(["true"])
        spec.setattr("system.queue", "b")
        run(h, ["true"])
        jobid = job.submit(h, spec, waitable=True)
        job.wait(h, jobid)
        assert JobStats(h, queue="b").update_sync().successful == 1
        assert JobStats(h, queue=["a", "b"]).update_sync().inactive == 2
        with pytest.raises(ValueError, match="no stats available for queue c"):
            JobStats(h, queue="c").update_sync()


def test_null_handle_and_jobspec_are_einval(h: Flux) -> None:
    null = job.ffi.NULL
    for call in (
        lambda: job.submit(null, "{}"),
        lambda: job.submit_get_id(null),
        lambda: job.submit(h, null),
        lambda: job.event_wait(null, 1, "start"),
    ):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        job.submit(h, 0)  # type: ignore[arg-type]
    assert os.environ.get("FLUX_KVS_NAMESPACE") is None
