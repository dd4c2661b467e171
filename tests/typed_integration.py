"""A typed integration, written as a fluxsdk user writes one.

tests/test_packaging.py installs fluxsdk (a wheel, and an editable install) into fresh virtual
environments and checks this file there with ``mypy --strict``: it must pass, and a copy with
planted errors must fail at each of them. It uses what integrations use: FluxExecutor,
``job.result()``, event and output watching, job listings and the object model. It also runs:
``fluxsdk start python tests/typed_integration.py``.
"""

from __future__ import annotations

import concurrent.futures

import fluxsdk
from fluxsdk import job
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job.contexts import event_context
from fluxsdk.model import Connection, Task, TaskState


def run_all(commands: list[list[str]]) -> dict[job.JobID, int]:
    """Run each command as a job through FluxExecutor; map job IDs to exit codes."""
    codes: dict[job.JobID, int] = {}
    with job.FluxExecutor() as executor:
        futures = [executor.submit(job.JobspecV1.from_command(cmd)) for cmd in commands]
        for done in concurrent.futures.as_completed(futures):
            code: int = done.result()
            assert code >= 0
        for future in futures:
            codes[future.jobid()] = future.result()
    return codes


def exit_code(handle: fluxsdk.Flux, jobid: job.JobID) -> int:
    """The return code of an ended job: an int, as result() answers for ended jobs."""
    info = job.result(handle, jobid)
    rc: int = info.returncode
    runtime: float = info.runtime
    assert runtime >= 0.0 and info.result in ("COMPLETED", "FAILED", "CANCELED", "TIMEOUT")
    return rc


def finish_statuses(handle: fluxsdk.Flux, jobid: job.JobID) -> list[int]:
    """Watch a job's events: the wait status of each finish, the note of each exception."""
    statuses: list[int] = []
    for event in job.event_watch(handle, jobid):
        if event.name == "finish":
            status: int = event_context(event, "finish")["status"]
            statuses.append(status)
        elif event.name == "exception":
            context = event_context(event, "exception")
            note: str = context["note"]
            print(f"exception {context['type']} (severity {context['severity']}): {note}")
    return statuses


def output_lines(handle: fluxsdk.Flux, jobid: job.JobID) -> list[str]:
    """Watch a job's output, line by line."""
    lines: list[str] = []
    for stream, line in job.output_watch_lines(handle, jobid):
        text: str = line
        lines.append(f"{stream}: {text}")
    return lines


def names_of_jobs(handle: fluxsdk.Flux) -> list[str]:
    """List jobs: JobInfo's fields are typed."""
    names: list[str] = []
    for info in job.job_list(handle).get_jobinfos():
        name: str = info.name
        submitted: float = info.t_submit
        assert submitted > 0.0
        names.append(f"{info.id.f58} {name} {info.state}")
    return names


def render(connection: Connection) -> TaskState:
    """The object model: a task, waited for, with its state and output."""
    task: Task = connection.create_task("hello", ["echo", "hello"], 1)
    task.submit()
    finished: bool = task.wait(timeout=60)
    assert finished
    state: TaskState = task.state
    stdout: str = task.stdout()
    assert stdout.strip() == "hello"
    return state


def on_event(future: job.FluxExecutorFuture, event: EventLogEvent) -> None:
    """An executor event callback."""
    print(f"{future.jobid()}: {event.name}")


def main() -> None:
    """Run everything above against the instance of FLUX_URI."""
    codes = run_all([["true"], ["sh", "-c", "exit 3"]])
    assert sorted(codes.values()) == [0, 3]
    with fluxsdk.Flux() as handle:
        jobid = job.submit(handle, job.JobspecV1.from_command(["echo", "out"]))
        assert exit_code(handle, jobid) == 0
        assert finish_statuses(handle, jobid) == [0]
        assert output_lines(handle, jobid) == ["stdout: out"]
        assert len(names_of_jobs(handle)) >= 3
    with Connection() as connection:
        assert render(connection) == TaskState.Success


if __name__ == "__main__":
    main()
