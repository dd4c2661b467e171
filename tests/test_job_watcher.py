"""JobWatcher (flux.job.watcher) against what flux-core's JobWatcher did for the same jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.constants import FLUX_JOB_STATE_SCHED
from fluxsdk.core import Flux
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobID, JobInfo, JobspecV1
from fluxsdk.job.watcher import JobProgressBar, JobWatcher


@pytest.fixture
def h(embedded_or_flux: Flux) -> Flux:
    """A handle on the embedded instance, then on a real Flux broker (if there is one)."""
    return embedded_or_flux


RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_job_watcher.json").read_text()
)


def watch(h: Flux, specs: list[tuple[JobspecV1, int]], **kwargs: Any) -> dict[str, Any]:
    """Watch the jobs to their end as flux's JobWatcher; output with the first ID masked."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        watcher = JobWatcher(h, stdout=out, stderr=err, **kwargs)
        ids = []
        for spec, urgency in specs:
            jobid = job.submit(h, spec, urgency=urgency, waitable=True)
            ids.append(jobid)
            watcher.add_jobid(jobid)
            if urgency == 0:
                job.cancel(h, jobid)
        watcher.start()
        h.reactor_run()
        watcher.stop()
        for jobid in ids:
            job.wait(h, jobid)
        texts = []
        for stream in (out, err):
            stream.flush()
            stream.seek(0)
            text = stream.read()
            texts.append(text.replace(str(ids[0]), "<id0>").replace(JobID(ids[0]).f58, "<id0>"))
    return {"stdout": texts[0], "stderr": texts[1], "exitcode": watcher.exitcode}


def cmd(*argv: str) -> JobspecV1:
    return JobspecV1.from_command(list(argv))


def test_output_and_largest_exit_code(h: Flux) -> None:
    got = watch(h, [(cmd("echo", "hi"), 16), (cmd("sh", "-c", "echo err >&2; exit 3"), 16)])
    assert got == RECORDED["ok_and_fail"]


def test_job_that_never_started(h: Flux) -> None:
    assert watch(h, [(cmd("true"), 0)]) == RECORDED["never_started"]


def test_labelio(h: Flux) -> None:
    got = watch(h, [(cmd("sh", "-c", "echo a; echo b"), 16)], labelio=True)
    assert got == RECORDED["labelio"]


def test_output_callback(h: Flux) -> None:
    calls: list[list[Any]] = []
    got = watch(
        h,
        [(cmd("sh", "-c", "echo a; echo b >&2"), 16)],
        output_callback=lambda jobid, stream, data: calls.append([stream, data]),
    )
    recorded = RECORDED["callback"]
    assert sorted(calls[:-1]) == sorted(recorded["got"][:-1]) and calls[-1] == [None, None]
    assert {k: v for k, v in got.items()} == {k: v for k, v in recorded.items() if k != "got"}


def test_log_events_and_status(h: Flux) -> None:
    got = watch(h, [(cmd("true"), 16)], log_events=True, log_status=True)
    lines = got["stderr"].splitlines()
    names = [line.split(": ", 2)[2].split(" ")[0] for line in lines]
    recorded = RECORDED["log_events_lines"]
    # Two eventlogs are watched at once: only the order within each is fixed.
    for in_exec in (True, False):
        ours = [n for n in names if n.startswith("exec.") == in_exec]
        assert ours == [n for n in recorded if n.startswith("exec.") == in_exec]
    assert lines[0].startswith("<id0>: ") and ": submit {" in lines[0]
    assert '"urgency":16' in lines[0]


def test_killed_job_exit_code(h: Flux) -> None:
    assert watch(h, [(cmd("sh", "-c", "kill -9 $$"), 16)]) == RECORDED["killed"]


def test_job_progress_bar_counts(flux_handle: Flux) -> None:
    steps = json.loads((Path(__file__).parent / "data" / "flux_job_progress_bar.json").read_text())
    recorded = {step[0]: step[1:] for step in steps["steps"]}
    bar = JobProgressBar(flux_handle, starttime=100.0)
    bar.size = os.terminal_size((80, 24))
    info = [
        JobInfo({"id": i, "state": FLUX_JOB_STATE_SCHED, "t_submit": 100.0 + i})
        for i in (1, 2, 3, 4)
    ]

    def ev(name: str, context: dict[str, Any] | None = None) -> EventLogEvent:
        return EventLogEvent({"timestamp": 101.0, "name": name, "context": context or {}})

    def check(label: str) -> None:
        counts = [bar.total, bar.count, bar.pending, bar.running, bar.complete, bar.failed]
        assert [str(bar).split("\u2502")[0], *counts] == recorded[label], label

    bar.add_jobs(*info)
    check("added")
    bar.process_event(1, ev("alloc"))
    check("1 alloc")
    bar.process_event(1, ev("finish", {"status": 0}))
    check("1 finish 0")
    bar.process_event(1, None)
    check("1 done")
    bar.process_event(2, ev("alloc"))
    bar.process_event(2, ev("finish", {"status": 256}))
    bar.process_event(2, None)
    check("2 failed")
    bar.process_event(3, ev("exception", {"severity": 0, "type": "cancel", "note": ""}))
    bar.process_event(3, None)
    check("3 canceled pending")
    bar.process_event(4, ev("alloc"))
    check("4 running")
    with pytest.raises(ValueError, match=recorded["dup"][0]):
        bar.add_job(info[0])
    with pytest.raises(ValueError, match=recorded["notjobinfo"][0]):
        bar.add_job(1)  # type: ignore[arg-type]
    wide = JobProgressBar(flux_handle, jps=True, counter_width=5)
    wide.size = os.terminal_size((80, 24))
    wide.add_jobs(JobInfo({"id": 9, "state": FLUX_JOB_STATE_SCHED, "t_submit": 1.0}))
    text = str(wide)
    assert [text.split("\u2502")[0], text.split("\u2502")[-1][:8]] == recorded["jps before"]
    assert text.endswith(" job/s")


def test_watcher_with_progress_bar(flux_handle: Flux, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryFile("w+") as out:
        watcher = JobWatcher(flux_handle, progress=True, stdout=out, stderr=out)
        jobid = job.submit(flux_handle, cmd("sh", "-c", "printf '\\033[1mbold\\033[0m\\n'"))
        watcher.add_jobid(jobid)
        watcher.start()
        flux_handle.reactor_run()
        watcher.stop()
        out.seek(0)
        assert out.read() == "bold\n"  # escape sequences are dropped under the bar
    bar = watcher.progress
    assert (bar.total, bar.count, bar.complete) == (1, 1, 1)
    # the bar's last state is left on the terminal
    assert "PD:0   R:0   CD:1   F:0" in capsys.readouterr().out


def test_job_records_example(fluxsdk_uri: str) -> None:
    env = dict(os.environ, FLUX_URI=fluxsdk_uri)
    proc = subprocess.run(
        [sys.executable, "examples/job_records.py"],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^ƒ\w+: 0: hello$", proc.stdout, re.MULTILINE)
    assert re.search(r"^ƒ\w+: 0: oops$", proc.stderr, re.MULTILINE)
    assert "largest exit code: 3" in proc.stdout
    assert "files ['J', 'R', 'eventlog', 'jobspec'], directories ['guest']" in proc.stdout
    assert "exec eventlog: init starting shell.init shell.start" in proc.stdout
    # (the test instance is shared: other tests' jobs are counted too)
    counts = re.search(r"inactive jobs: (\d+), successful: (\d+), failed: (\d+)", proc.stdout)
    assert counts is not None and all(int(n) >= 1 for n in counts.groups())
