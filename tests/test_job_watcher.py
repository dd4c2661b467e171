"""JobWatcher (flux.job.watcher) against what flux-core's JobWatcher did for the same jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.job.watcher import JobWatcher
from tests.test_flux_connector import flux_command, flux_uri  # noqa: F401 (fixtures)


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def h(request: pytest.FixtureRequest) -> Iterator[Flux]:
    """A handle on the embedded instance, then on a real Flux broker (if there is one)."""
    if request.param == "embedded":
        yield request.getfixturevalue("flux_handle")
        return
    with Flux(request.getfixturevalue("flux_uri")) as handle:
        yield handle


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


def test_progress_bar_is_not_offered(flux_handle: Flux) -> None:
    with pytest.raises(FluxSDKError, match="progress"):
        JobWatcher(flux_handle, progress=True)


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
