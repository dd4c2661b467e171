"""Plugins, instance side: deliberately broken plugins never hurt the instance.

Instances here load ``tests.hooks_broken`` (by module name, as ``fluxsdk
start --plugin`` does), which misbehaves as each job's name asks. Every job
must still run to its end with a sane priority and an untouched eventlog,
and the plugin must be named in the log and counted in ``plugin.list``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.instance import InstanceError

from .hooks_support import instance_log, job_record, plugin_instance, plugin_list, wait_for

BROKEN = "tests.hooks_broken"
IMPORT_ERROR = "tests.hooks_import_error"
PRIORITY = "fluxsdk_instance_job_priority"
EVENT = "fluxsdk_instance_job_event"


@pytest.fixture(scope="module")
def statedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("broken") / "sd"


@pytest.fixture(scope="module")
def uri(statedir: Path) -> Iterator[str]:
    """One instance with the broken plugin (and one that fails to import) for the
    misbehaviours that do not block the plugin's thread."""
    config = {"plugin-slow": 0.05, "broken": {"seconds": 0.1}}
    with plugin_instance(statedir, plugins=[BROKEN, IMPORT_ERROR], config=config) as u:
        yield u


def _run(uri: str, name: str = "fine", count: int = 1, urgency: int = 16) -> list[dict[str, Any]]:
    """Run ``count`` jobs named ``name`` to their end; their job-list records."""
    with Flux(uri) as handle:
        spec = job.JobspecV1.from_command(["true"])
        spec.setattr("system.job.name", name)
        ids = [job.submit(handle, spec, urgency=urgency) for _ in range(count)]
        for jobid in ids:
            assert job.result(handle, jobid).returncode == 0
        return [job_record(handle, jobid) for jobid in ids]


def _stats(uri: str, hook: str) -> dict[str, Any]:
    """The broken plugin's figures for ``hook``, once it has caught up with events."""
    assert wait_for(lambda: plugin_list(uri)[BROKEN]["queued"] == 0)
    stats: dict[str, Any] = plugin_list(uri)[BROKEN]["stats"].get(hook, {})
    return stats


def test_an_unknown_plugin_name_stops_the_start(tmp_path: Path) -> None:
    with (
        pytest.raises(InstanceError, match="no plugin named 'audti'"),
        plugin_instance(tmp_path / "sd", plugins=["audti"]),
    ):
        pass


def test_a_plugin_that_fails_to_import_is_reported_and_the_instance_serves(
    uri: str, statedir: Path
) -> None:
    entry = plugin_list(uri)[IMPORT_ERROR]
    assert "broken on purpose" in entry["error"] and entry["hooks"] == []
    assert [j["priority"] for j in _run(uri)] == [1016]
    assert f"'{IMPORT_ERROR}'" in instance_log(statedir)


@pytest.mark.parametrize("mode", ["raise", "garbage", "huge", "bool", "exit"])
def test_a_bad_priority_falls_back_to_the_default(uri: str, statedir: Path, mode: str) -> None:
    before = _stats(uri, PRIORITY).get("failures", 0)
    assert [j["priority"] for j in _run(uri, f"priority-{mode}", 2, urgency=12)] == [12, 12]
    assert _stats(uri, PRIORITY)["failures"] == before + 2
    assert f"plugin '{BROKEN}' failed in {PRIORITY}" in instance_log(statedir)


def test_a_working_priority_plugin_decides_but_not_for_held_or_expedited_jobs(uri: str) -> None:
    before = _stats(uri, PRIORITY)["calls"]
    assert [j["priority"] for j in _run(uri, count=2)] == [1016, 1016]
    assert [j["priority"] for j in _run(uri, urgency=31)] == [4294967295]
    with Flux(uri) as handle:
        held = job.submit(handle, job.JobspecV1.from_command(["true"]), urgency=0)
        assert job_record(handle, held)["priority"] == 0
        job.set_urgency(handle, held, 5)  # released: the plugin is asked again
        assert job.result(handle, held).returncode == 0
        assert job_record(handle, held)["priority"] == 1005
        # The plugin cleared its copies of the jobspec and of every event context.
        submit = next(job.event_watch(handle, held))
        assert submit.name == "submit" and submit.context["urgency"] == 0
    assert _stats(uri, PRIORITY)["calls"] == before + 3


def test_a_slow_plugin_is_logged_with_its_duration(uri: str, statedir: Path) -> None:
    before = _stats(uri, PRIORITY).get("slow", 0)
    assert [j["priority"] for j in _run(uri, "priority-slow")] == [1016]
    assert _stats(uri, PRIORITY)["slow"] == before + 1
    assert f"plugin '{BROKEN}' is slow: {PRIORITY} took 0.1" in instance_log(statedir)


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_a_failing_event_plugin_is_counted_and_keeps_receiving(
    uri: str, statedir: Path, mode: str
) -> None:
    before = _stats(uri, EVENT)
    (record,) = _run(uri, f"event-{mode}")
    with Flux(uri) as handle:
        events = len(list(job.event_watch(handle, record["id"])))
    after = _stats(uri, EVENT)
    assert after["failures"] - before.get("failures", 0) == events
    assert after["calls"] - before["calls"] == events  # the thread lived on
    assert f"plugin '{BROKEN}' failed in {EVENT}" in instance_log(statedir)


def test_a_hanging_priority_plugin_misses_its_deadline_and_is_skipped(tmp_path: Path) -> None:
    broken = {"priority": "hang", "seconds": 30}
    config = {"plugin-timeout": 0.2, "plugin-drain": 0.5, "broken": broken}
    with plugin_instance(tmp_path / "sd", plugins=[BROKEN], config=config) as uri:
        start = time.monotonic()
        assert [j["priority"] for j in _run(uri, count=4)] == [16, 16, 16, 16]
        assert time.monotonic() - start < 10  # one deadline waited, then skipped at once
        stats = plugin_list(uri)[BROKEN]["stats"][PRIORITY]
        assert stats["timeouts"] == 4 and stats["calls"] == 0  # still in the first call
    log = instance_log(tmp_path / "sd")
    assert f"plugin '{BROKEN}' missed its 0.200 s deadline" in log
    assert f"plugin '{BROKEN}' is still in a call that missed its deadline" in log
    assert f"plugin '{BROKEN}' did not finish within 0.5 s" in log


def test_a_hanging_event_plugin_never_slows_the_instance(tmp_path: Path) -> None:
    config = {"plugin-drain": 0.5, "broken": {"event": "hang", "seconds": 60}}
    with plugin_instance(tmp_path / "sd", plugins=[BROKEN], config=config) as uri:
        start = time.monotonic()
        _run(uri, count=5)
        assert time.monotonic() - start < 10
        assert plugin_list(uri)[BROKEN]["queued"] > 10
        stop = time.monotonic()
    assert time.monotonic() - stop < 10  # shutdown gave up on the plugin after 0.5 s
    assert f"plugin '{BROKEN}' did not finish within 0.5 s" in instance_log(tmp_path / "sd")
