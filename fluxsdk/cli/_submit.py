"""``fluxsdk submit``, ``fluxsdk run`` and ``fluxsdk attach``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

from fluxsdk.core import Flux
from fluxsdk.idset import decode as decode_idset
from fluxsdk.job import JobID, JobspecV1, output_watch, result, submit, wait
from fluxsdk.job._dependency import dependency_array_create


def register(commands: Any) -> None:
    for name, func, text in (
        ("submit", _submit, "submit a job (or --cc copies of it) and print its ID"),
        ("run", _run, "submit a job and stream its output until it ends"),
    ):
        parser = commands.add_parser(name, help=text, description=text)
        _add_job_options(parser)
        if name == "submit":
            parser.add_argument(
                "--cc",
                metavar="IDSET",
                default=None,
                help="submit one copy per id in IDSET ({{cc}} in the command "
                "is replaced by the id), e.g. --cc 1-100",
            )
            parser.add_argument(
                "--wait",
                action="store_true",
                help="wait for the jobs to finish; exit with the highest exit code",
            )
            parser.add_argument(
                "--progress", action="store_true", help="with --wait, show a progress bar"
            )
        parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run")
        parser.set_defaults(func=func)
    attach = commands.add_parser("attach", help="stream a job's output until it ends")
    attach.add_argument("-l", "--label-io", action="store_true", help="label lines with ranks")
    attach.add_argument("jobid")
    attach.set_defaults(func=_attach)


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--ntasks", type=int, default=1, help="number of tasks")
    parser.add_argument("-c", "--cores-per-task", type=int, default=1)
    parser.add_argument("-g", "--gpus-per-task", type=int, default=None)
    parser.add_argument("-N", "--nodes", type=int, default=None, help="spread over N nodes")
    parser.add_argument("-x", "--exclusive", action="store_true", help="whole nodes")
    parser.add_argument("-t", "--time-limit", default=None, help="duration, e.g. 10s, 5m, 1h")
    parser.add_argument("--urgency", type=int, default=16, help="0 (hold) to 31 (expedite)")
    parser.add_argument("--job-name", default=None)
    parser.add_argument("-q", "--queue", default=None)
    parser.add_argument("--cwd", default=None, help="working directory (default: this one)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable in the job's environment",
    )
    parser.add_argument(
        "--dependency",
        action="append",
        default=[],
        metavar="DEP",
        help="RFC 26 dependency, e.g. afterok:ƒ2 (repeatable)",
    )
    parser.add_argument("--input", default=None, help="read stdin from this file")
    parser.add_argument("--output", default=None, help="write stdout to this file")
    parser.add_argument("--error", default=None, help="write stderr to this file")
    parser.add_argument("-l", "--label-io", action="store_true", help="label output with ranks")
    parser.add_argument("-u", "--unbuffered", action="store_true")


def _jobspec(args: argparse.Namespace, command: list[str]) -> JobspecV1:
    if not command:
        raise ValueError("no command given")
    environment = dict(os.environ)
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--env {item!r}: expected NAME=VALUE")
        environment[name] = value
    jobspec = JobspecV1.from_command(
        command,
        num_tasks=args.ntasks,
        cores_per_task=args.cores_per_task,
        gpus_per_task=args.gpus_per_task,
        num_nodes=args.nodes,
        exclusive=args.exclusive,
        duration=args.time_limit,
        environment=environment,
        cwd=args.cwd or os.getcwd(),
        name=args.job_name,
        input=args.input,
        output=args.output,
        error=args.error,
        label_io=args.label_io,
        unbuffered=args.unbuffered,
        queue=args.queue,
    )
    if args.dependency:
        jobspec.setattr("system.dependencies", dependency_array_create(args.dependency))
    return jobspec


def _command(args: argparse.Namespace) -> list[str]:
    command: list[str] = args.command
    return command[1:] if command[:1] == ["--"] else command


def _submit(args: argparse.Namespace) -> int:
    command = _command(args)
    ccs = list(decode_idset(args.cc)) if args.cc else [None]
    jobids: list[JobID] = []
    with Flux() as handle:
        for cc in ccs:
            argv = [a.replace("{{cc}}", str(cc)) for a in command] if cc is not None else command
            jobid = submit(handle, _jobspec(args, argv), urgency=args.urgency, waitable=args.wait)
            jobids.append(jobid)
            print(jobid.f58, flush=True)
        if not args.wait:
            return 0
        return _wait_all(handle, jobids, sys.stderr if args.progress else None)


def _wait_all(handle: Flux, jobids: list[JobID], progress: TextIO | None) -> int:
    """Wait for every job; show ``done/total`` as they end; return the worst exit code."""
    started = time.monotonic()
    worst = failed = 0
    for done in range(1, len(jobids) + 1):
        status = wait(handle)
        if not status.success:
            failed += 1
            code = result(handle, status.jobid).returncode
            worst = max(worst, code if isinstance(code, int) and code > 0 else 1)
        if progress is not None:
            _draw(progress, done, len(jobids), failed, time.monotonic() - started)
    if progress is not None:
        progress.write("\n")
    return min(abs(worst), 255)


def _draw(out: TextIO, done: int, total: int, failed: int, elapsed: float) -> None:
    width = 30
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    out.write(f"\r[{bar}] {done}/{total} done, {failed} failed, {elapsed:.1f}s")
    out.flush()


def _run(args: argparse.Namespace) -> int:
    with Flux() as handle:
        jobid = submit(handle, _jobspec(args, _command(args)), urgency=args.urgency)
        return _follow(handle, jobid, args.label_io)


def _attach(args: argparse.Namespace) -> int:
    with Flux() as handle:
        return _follow(handle, JobID(args.jobid), args.label_io)


def _follow(handle: Flux, jobid: JobID, labelio: bool) -> int:
    """Stream a job's output; return its exit code the way ``flux run`` does."""
    started = True
    try:
        for stream, data in output_watch(handle, jobid, labelio=labelio):
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(data)
            target.flush()
    except OSError:
        started = False  # canceled or failed while pending: the result says why
    info = result(handle, jobid)
    # A started job's exceptions were already shown on stderr by output_watch, as flux does.
    if not started and info.exception.occurred:
        note = f" {info.exception.note}" if info.exception.note else ""
        print(
            f"fluxsdk-job: {jobid.f58}: job.exception type={info.exception.type}{note}",
            file=sys.stderr,
        )
    code = info.returncode
    if code < 0:
        return 1 if code == -128 else 128 - code
    return min(code, 255)
