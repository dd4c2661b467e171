"""The fair-share plugin: its ledger, its formula, and real priorities in an instance."""

from __future__ import annotations

import json
from pathlib import Path

import fluxsdk
import pytest
from fluxsdk import job
from fluxsdk.hooks import InstanceJob
from fluxsdk.instance import start_detached
from fluxsdk.job import JobID
from fluxsdk.testing import shutdown

from fluxsdk_fair_share import Ledger, Settings, key_for, priority


def _job(userid: int = 1000) -> InstanceJob:
    return InstanceJob(
        id=JobID(1),
        userid=userid,
        name="x",
        queue=None,
        urgency=16,
        priority=None,
        state="PRIORITY",
        ntasks=1,
        ncores=2,
        duration=0.0,
        t_submit=0.0,
        t_run=None,
        t_inactive=None,
        result=None,
    )


def _priority(handle: fluxsdk.Flux, jobid: JobID) -> int:
    record = job.get_job(handle, jobid)
    assert record is not None
    return int(record["priority"])


def test_usage_decays_and_estimates_count_until_the_end(tmp_path: Path) -> None:
    ledger = Ledger(Settings(half_life=100.0, usage_scale=50.0), tmp_path / "state.json")
    ledger.expect(1, "user:1", 30.0)
    ledger.expect(1, "user:1", 999.0)  # once per job, whatever the calls
    assert ledger.total("user:1", 0.0) == 30.0
    ledger.ended(1, "user:1", used=80.0, now=1000.0)
    assert ledger.outstanding("user:1") == 0 and ledger.total("user:1", 1000.0) == 80.0
    assert ledger.decayed("user:1", 1100.0) == pytest.approx(40.0)
    assert ledger.settings.factor(0) == 1.0 and ledger.settings.factor(50.0) == 0.5
    ledger.save()
    again = Ledger.load(ledger.settings, ledger.path)
    assert again.usage == ledger.usage and again.jobs == ledger.jobs
    assert ledger.path is not None
    ledger.path.write_text("{not json")
    assert Ledger.load(ledger.settings, ledger.path).usage == {}


def test_priority_keeps_urgency_first() -> None:
    assert priority(16, 1.0) == 16 * 65536 + 65535
    assert priority(15, 1.0) < priority(16, 0.0) < priority(16, 0.5) < priority(16, 1.0)
    assert priority(30, 1.0) <= 4294967295


def test_keys() -> None:
    tagged = {"attributes": {"user": {"tag": "physics"}}}
    assert key_for(_job(), tagged, {"by": "tag"}) == "tag:physics"
    assert key_for(_job(), tagged, {}) == "user:1000"
    assert key_for(_job(), {"attributes": {}}, {"by": "tag"}) == "user:1000"
    assert (
        key_for(
            _job(),
            {"attributes": {"system": {"bank": "b"}}},
            {"by": "tag", "tag-attribute": "system.bank"},
        )
        == "tag:b"
    )


def test_a_burst_from_one_tag_does_not_starve_another(tmp_path: Path) -> None:
    config = tmp_path / "instance.yaml"
    config.write_text("fair-share: {by: tag, usage-scale: 60, default-duration: 60}\n")
    statedir = tmp_path / "sd"
    uri = start_detached(statedir, cores=1, gpus=0, plugins=["fair-share"], config=config)
    try:
        with fluxsdk.Flux(uri) as handle:

            def submit(tag: str, command: list[str] | None = None) -> JobID:
                spec = job.JobspecV1.from_command(command or ["true"])
                spec.setattr("user.tag", tag)
                return job.submit(handle, spec)

            blocker = submit("other", ["sleep", "30"])
            job.event_wait(handle, blocker, "start")
            burst = [submit("a") for _ in range(3)]
            late = submit("b")
            prio = {jobid: _priority(handle, jobid) for jobid in [*burst, late]}
            assert prio[burst[0]] > prio[burst[1]] > prio[burst[2]]
            assert prio[late] == prio[burst[0]] > prio[burst[1]]  # b's first job comes next
            for jobid in [*burst, late, blocker]:  # pending ones first: none gets to run
                job.cancel(handle, jobid)
            for jobid in [blocker, *burst, late]:
                job.result(handle, jobid)
            plugins = {p["name"]: p for p in handle.rpc("plugin.list").get()["plugins"]}
            assert plugins["fair-share"]["stats"]["fluxsdk_instance_job_priority"]["calls"] == 5
    finally:
        shutdown(uri)
    state = json.loads((statedir / "fair-share.json").read_text())
    assert "tag:other" in state["usage"] and state["jobs"] == {}
