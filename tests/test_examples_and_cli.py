"""The examples and the ``fluxsdk`` command, run as a user runs them, against real instances."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fluxsdk import __version__
from fluxsdk.job import JobID

ROOT = Path(__file__).resolve().parents[1]


def run(
    argv: list[str], uri: str | None, timeout: float = 60, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FLUX_URI", None)
    if uri is not None:
        env["FLUX_URI"] = uri
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)  # fmt: skip


def cli(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "fluxsdk.cli", *args], uri)


def test_jobspecs_and_ids_example() -> None:
    proc = run([sys.executable, "examples/jobspecs_and_ids.py"], None)
    assert proc.returncode == 0, proc.stderr
    assert "rejected: resources[0].count" in proc.stdout
    assert "words: cake-plume-nepal--neuron-pencil-academy" in proc.stdout


def test_submit_and_watch_example(fluxsdk_uri: str) -> None:
    proc = run([sys.executable, "examples/submit_and_watch.py"], fluxsdk_uri)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # The two tasks' lines may come in either order.
    assert "0: hello from task 0 of 2\n" in out and "1: hello from task 1 of 2\n" in out
    assert "  stdout: line 1\n  stdout: line 2\n  stdout: line 3\n" in out
    results = [line.split(": ", 1)[1] for line in out.splitlines() if "returncode=" in line]
    assert [r.split(" runtime")[0] for r in results] == [
        "FAILED returncode=3", "CANCELED returncode=143", "COMPLETED returncode=0",
        "COMPLETED returncode=0",
    ]  # fmt: skip


def test_async_callbacks_example(fluxsdk_uri: str) -> None:
    proc = run([sys.executable, "examples/async_callbacks.py"], fluxsdk_uri)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    assert all(line.endswith(": completed with returncode 0") for line in lines)


def test_start_runs_a_command_in_a_new_instance_and_stops(tmp_path: Path) -> None:
    marker = tmp_path / "uri"
    script = f'echo "$FLUX_URI" > {marker}; fluxsdk run -n2 -l echo hi; exit 7'
    proc = run([sys.executable, "-m", "fluxsdk.cli", "start", "--", "sh", "-c", script], None)
    assert proc.returncode == 7, proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["0: hi", "1: hi"]
    statedir = marker.read_text().strip().removeprefix("fluxsdk://")
    assert not Path(statedir).exists(), "the temporary instance was not cleaned up"


def test_programs_in_an_instance_have_a_flux_command() -> None:
    """As inside a Flux instance, `flux ...` works in the initial program and its jobs."""
    env = dict(os.environ, PATH="/usr/bin:/bin")  # no fluxsdk, no real flux
    env.pop("FLUX_URI", None)
    script = (
        "flux version; flux run -n2 -l echo hi; "
        "flux run sh -c 'flux version | head -1'"  # a job that calls flux in turn
    )
    proc = subprocess.run(
        [sys.executable, "-m", "fluxsdk.cli", "start", "--", "sh", "-c", script],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("commands:") and "(fluxsdk)" in lines[0]
    assert any(line.startswith("FLUX_URI:\t\tfluxsdk://") for line in lines)
    assert sorted(line for line in lines if line.endswith(": hi")) == ["0: hi", "1: hi"]
    assert lines[-1].startswith("commands:")


def test_version_outside_an_instance() -> None:
    proc = run([sys.executable, "-m", "fluxsdk.cli", "version"], None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[1:] == [__version__, "(fluxsdk)"]
    assert "FLUX_URI" not in proc.stdout


def test_run_exit_codes(fluxsdk_uri: str) -> None:
    assert cli(fluxsdk_uri, "run", "sh", "-c", "exit 3").returncode == 3
    proc = cli(fluxsdk_uri, "run", "-t", "0.2s", "sleep", "10")
    assert proc.returncode == 142
    assert "type=timeout" in proc.stderr
    proc = cli(fluxsdk_uri, "run", "/nonexistent/cmd")
    assert proc.returncode == 127
    assert "start failed: /nonexistent/cmd: No such file or directory" in proc.stderr


def test_submit_cc_wait_progress(fluxsdk_uri: str) -> None:
    proc = cli(fluxsdk_uri, "submit", "--cc", "1-5", "--wait", "--progress", "sh", "-c",
               "exit $(( {{cc}} == 4 ? 2 : 0 ))")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    ids = [JobID(line) for line in proc.stdout.split()]
    assert len(ids) == 5
    assert "5/5 done, 1 failed" in proc.stderr


def test_progress_and_eventlog_example(fluxsdk_uri: str) -> None:
    proc = run([sys.executable, "examples/progress_and_eventlog.py"], fluxsdk_uri)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    bars = [line for line in lines if " jobs │" in line]
    assert bars[0].startswith("1/8 jobs │█") and bars[-1].startswith("8/8 jobs │█")
    assert bars[-1].endswith("│ 100%") and "─" not in bars[-1]
    assert sum(line.endswith("exited with 0") for line in lines) == 8
    log = lines[lines.index(bars[-1]) + 1 :]
    assert log[0].split() == ["0.000000", "submit", "userid=" + str(os.getuid()), "urgency=16",
                              "flags=0", "version=1"]  # fmt: skip
    assert log[-1].split()[1] == "clean" and "finish status=0" in " ".join(log)


def test_eventlog_formats(fluxsdk_uri: str) -> None:
    jobid = cli(fluxsdk_uri, "submit", "--urgency", "0", "true").stdout.strip()
    assert cli(fluxsdk_uri, "cancel", jobid).returncode == 0
    as_json = cli(fluxsdk_uri, "eventlog", "--format", "json", jobid)
    entries = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert entries[0]["name"] == "submit" and entries[-1]["name"] == "clean"
    assert all("context" not in e or e["context"] for e in entries)  # empty ones left out
    offsets = cli(fluxsdk_uri, "eventlog", "-T", "offset", "--color", "never", jobid).stdout
    first = offsets.splitlines()[0].split()
    assert first[:2] == ["0.000000", "submit"] and "\x1b[" not in offsets
    coloured = cli(fluxsdk_uri, "eventlog", "-H", "-L", jobid).stdout.splitlines()
    assert coloured[0].startswith("\x1b[1m\x1b[32m[") and "\x1b[33msubmit\x1b[0m" in coloured[0]


def test_cancel_jobs_eventlog_kill_attach(fluxsdk_uri: str) -> None:
    jobid = cli(fluxsdk_uri, "submit", "--urgency", "0", "--job-name", "heldjob", "true")
    jobid_text = jobid.stdout.strip()
    listing = cli(fluxsdk_uri, "jobs").stdout
    assert jobid_text in listing and "heldjob" in listing
    assert cli(fluxsdk_uri, "cancel", "-m", "not needed", jobid_text).returncode == 0
    log = cli(fluxsdk_uri, "eventlog", jobid_text).stdout.splitlines()
    assert [line.split()[1] for line in log] == ["submit", "validate", "depend", "priority",
                                                 "exception", "clean"]  # fmt: skip
    assert 'note="not needed"' in log[4]
    assert "CA" in cli(fluxsdk_uri, "jobs", "-a").stdout
    proc = cli(fluxsdk_uri, "kill", jobid_text)
    assert proc.returncode == 1 and "job is inactive" in proc.stderr
    assert cli(fluxsdk_uri, "attach", jobid_text).returncode == 1

    running = cli(fluxsdk_uri, "submit", "sleep", "30").stdout.strip()
    attach = subprocess.Popen([sys.executable, "-m", "fluxsdk.cli", "attach", running],
                            env=dict(os.environ, FLUX_URI=fluxsdk_uri), cwd=ROOT)  # fmt: skip
    assert cli(fluxsdk_uri, "kill", "-s", "KILL", running).returncode == 0
    assert attach.wait(timeout=30) == 137


def test_id_and_resource(fluxsdk_uri: str) -> None:
    proc = cli(fluxsdk_uri, "id", "--to", "f58", "6787342413402046")
    assert proc.stdout.strip() == "ƒuzzybunny"
    rows = cli(fluxsdk_uri, "resource").stdout.splitlines()
    assert rows[0].split() == ["RANK", "NCORES", "NGPUS", "NODE"]
    assert rows[1].split()[:3] == ["0", "4", "0"]


@pytest.mark.parametrize("argv", [["run"], ["submit", "--env", "NOEQUALS", "true"]])
def test_cli_bad_input_is_a_clear_error(fluxsdk_uri: str, argv: list[str]) -> None:
    proc = cli(fluxsdk_uri, *argv)
    assert proc.returncode == 1
    assert proc.stderr.startswith("fluxsdk-")
