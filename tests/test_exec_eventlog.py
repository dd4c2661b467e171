"""The embedded instance's exec eventlog and shell output, against real Flux's recordings.

``tests/data/flux_job_eventlogs.json`` holds what flux-core v0.88.0 wrote for
the same jobs (names and contexts; pids, times and paths masked).
"""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.constants import FLUX_JOB_URGENCY_DEFAULT, FLUX_JOB_URGENCY_HOLD, FLUX_RPC_STREAMING
from fluxsdk.core import Flux
from fluxsdk.instance._exec import TaskPlan
from fluxsdk.instance._execlog import taskmap
from fluxsdk.job import JobspecV1

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_job_eventlogs.json").read_text()
)["jobs"]


def recorded_names(case: str, path: str) -> list[str]:
    return [name for name, _ in RECORDED[case][path]]


def log_of(h: Flux, jobid: int, path: str) -> list[job.EventLogEvent]:
    return list(job.event_watch(h, jobid, path))


def run(h: Flux, spec: JobspecV1) -> int:
    jobid = job.submit(h, spec, waitable=True)
    job.wait(h, jobid)
    return int(jobid)


def test_exec_eventlog_of_a_job_that_ran(flux_handle: Flux) -> None:
    spec = JobspecV1.from_command(["sh", "-c", "echo hi"], num_tasks=2)
    events = log_of(flux_handle, run(flux_handle, spec), "guest.exec.eventlog")
    assert [e.name for e in events] == recorded_names("two_tasks_verbose", "guest.exec.eventlog")
    by_name = {e.name: e.context for e in events}
    recorded = dict((n, c) for n, c in RECORDED["two_tasks_verbose"]["guest.exec.eventlog"])
    assert by_name["shell.start"] == recorded["shell.start"]  # the RFC 34 task map
    init = by_name["shell.init"]
    assert init["leader-rank"] == 0 and init["size"] == 1
    assert init["service"].startswith(f"{os.getuid()}-shell-f")
    assert set(by_name["shell.task-exit"]) == set(recorded["shell.task-exit"])
    assert by_name["complete"] == {"status": 0}
    assert by_name["shell-exit"] == {"rank": 0, "wait_status": 0}


def test_exec_eventlog_when_the_command_cannot_start(flux_handle: Flux) -> None:
    jobid = run(flux_handle, JobspecV1.from_command(["fluxsdk-no-such-command"]))
    names = [e.name for e in log_of(flux_handle, jobid, "guest.exec.eventlog")]
    assert names == recorded_names("nosuchprog", "guest.exec.eventlog")
    output = log_of(flux_handle, jobid, "guest.output")
    assert [e.name for e in output] == recorded_names("nosuchprog", "guest.output")
    assert output[1].context["level"] == 0
    assert "start failed: fluxsdk-no-such-command" in output[1].context["message"]


def test_task_killed_by_signal_in_exec_eventlog(flux_handle: Flux) -> None:
    jobid = job.submit(flux_handle, JobspecV1.from_command(["sleep", "100"]), waitable=True)
    job.event_wait(flux_handle, jobid, "shell.start", eventlog="guest.exec.eventlog")
    job.cancel(flux_handle, jobid)
    job.wait(flux_handle, jobid)
    events = log_of(flux_handle, jobid, "guest.exec.eventlog")
    assert [e.name for e in events] == recorded_names("canceled", "guest.exec.eventlog")
    recorded = dict((n, c) for n, c in RECORDED["canceled"]["guest.exec.eventlog"])
    ours = {e.name: e.context for e in events}
    for name in ("shell.task-exit", "shell-exit", "complete"):
        expected = {k: v for k, v in recorded[name].items() if k != "pid"}
        assert {k: v for k, v in ours[name].items() if k != "pid"} == expected
    assert ours["shell.task-exit"]["signaled"] == signal.SIGTERM


def test_one_data_event_per_line(flux_handle: Flux) -> None:
    spec = JobspecV1.from_command(["sh", "-c", "printf 'a\\nb\\nc'; sleep 0.2; printf 'd\\n'"])
    output = log_of(flux_handle, run(flux_handle, spec), "guest.output")
    ours = [e.context["data"] for e in output if e.name == "data" and "data" in e.context]
    recorded = [c["data"] for n, c in RECORDED["partial"]["guest.output"] if "data" in c]
    assert ours == recorded == ["a\n", "b\n", "cd\n"]


def test_verbose_shell_logs_into_the_output_eventlog(flux_handle: Flux) -> None:
    quiet = JobspecV1.from_command(["true"])
    verbose = JobspecV1.from_command(["true"])
    verbose.setattr_shell_option("verbose", 1)
    assert not [
        e for e in log_of(flux_handle, run(flux_handle, quiet), "guest.output") if e.name == "log"
    ]
    logs = [
        e.context
        for e in log_of(flux_handle, run(flux_handle, verbose), "guest.output")
        if e.name == "log"
    ]
    assert logs and all(c["level"] == 6 and c["rank"] == 0 for c in logs)
    assert logs[-1]["message"] == "exit 0"
    text = job.job_output(flux_handle, run(flux_handle, verbose)).stderr
    assert "flux-shell[0]: " in text


def watch_rpc(h: Flux, jobid: int, path: str) -> Any:
    payload = {"id": jobid, "path": path, "flags": 0}
    return h.rpc("job-info.eventlog-watch", payload, flags=FLUX_RPC_STREAMING)


def test_guest_eventlog_watch_of_a_job_that_never_started(flux_handle: Flux) -> None:
    jobid = job.submit(flux_handle, JobspecV1.from_command(["true"]), urgency=0, waitable=True)
    job.cancel(flux_handle, jobid)
    job.wait(flux_handle, jobid)
    for path in ("guest.exec.eventlog", "guest.output", "guest.other"):
        with pytest.raises(OSError) as info:
            watch_rpc(flux_handle, int(jobid), path).get()
        assert info.value.errno == errno.ENODATA, path
    with pytest.raises(OSError) as info:
        watch_rpc(flux_handle, int(jobid), "other").get()
    assert info.value.errno == errno.ENOENT


def test_guest_eventlog_watch_waits_for_the_job_to_start(flux_handle: Flux) -> None:
    spec = JobspecV1.from_command(["true"])
    jobid = job.submit(flux_handle, spec, urgency=FLUX_JOB_URGENCY_HOLD, waitable=True)
    future = watch_rpc(flux_handle, int(jobid), "guest.exec.eventlog")
    with pytest.raises(OSError) as info:
        future.wait_for(0.3)
    assert info.value.errno == errno.ETIMEDOUT
    job.set_urgency(flux_handle, jobid, FLUX_JOB_URGENCY_DEFAULT)
    assert json.loads(future.get()["event"])["name"] == "init"
    job.wait(flux_handle, jobid)


def test_taskmap_blocks() -> None:
    def plans(layout: list[tuple[int, int]]) -> list[TaskPlan]:
        return [TaskPlan(rank, node, 0, (), ()) for rank, node in layout]

    assert taskmap(plans([(0, 0), (1, 0)]), [0]) == {"version": 1, "map": [[0, 1, 2, 1]]}
    # two nodes (ranks 3 and 5), two tasks each: one block
    two = plans([(0, 3), (1, 3), (2, 5), (3, 5)])
    assert taskmap(two, [3, 5])["map"] == [[0, 2, 2, 1]]
    uneven = plans([(0, 0), (1, 0), (2, 1)])
    assert taskmap(uneven, [0, 1])["map"] == [[0, 1, 2, 1], [1, 1, 1, 1]]
