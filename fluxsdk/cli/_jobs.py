"""``fluxsdk jobs``, ``fluxsdk cancel`` and ``fluxsdk kill``."""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from fluxsdk.core import Flux
from fluxsdk.job import JobID, cancel, job_list, kill

_STATE_ABBREV = {1: "N", 2: "D", 4: "P", 8: "S", 16: "R", 32: "C", 64: "I"}
_RESULT_ABBREV = {1: "CD", 2: "F", 4: "CA", 8: "TO"}


def register(commands: Any) -> None:
    jobs = commands.add_parser("jobs", help="list jobs")
    jobs.add_argument("-a", "--all", action="store_true", help="include inactive jobs")
    jobs.add_argument("-n", "--count", type=int, default=1000, help="at most this many")
    jobs.set_defaults(func=_jobs)

    cancel_ = commands.add_parser("cancel", help="cancel pending or running jobs")
    cancel_.add_argument("-m", "--message", default=None, help="reason, kept in the eventlog")
    cancel_.add_argument("jobids", nargs="+")
    cancel_.set_defaults(func=_cancel)

    kill_ = commands.add_parser("kill", help="send a signal to running jobs")
    kill_.add_argument("-s", "--signal", default="SIGTERM", help="name or number (SIGTERM)")
    kill_.add_argument("jobids", nargs="+")
    kill_.set_defaults(func=_kill)


def _jobs(args: argparse.Namespace) -> int:
    # Pending and running jobs, or every job with --all (flux's state bits).
    states = 0 if args.all else 2 | 4 | 8 | 16 | 32
    with Flux() as handle:
        rows = job_list(handle, max_entries=args.count, states=states).get_jobs()
    print(f"{'JOBID':>12} {'ST':>2} {'NTASKS':>6} {'NCORES':>6} {'TIME':>8}  NAME")
    now = time.time()
    for row in rows:
        state = _STATE_ABBREV.get(row["state"], "?")
        if row["state"] == 64:
            state = _RESULT_ABBREV.get(row.get("result", 0), state)
        start = row.get("t_run")
        end = row.get("t_cleanup") or now
        runtime = f"{end - start:.1f}s" if start else "-"
        print(
            f"{JobID(row['id']).f58:>12} {state:>2} {row.get('ntasks', 0):>6} "
            f"{row.get('ncores', 0):>6} {runtime:>8}  {row.get('name', '')}"
        )
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with Flux() as handle:
        for jobid in args.jobids:
            cancel(handle, JobID(jobid), args.message)
    return 0


def _kill(args: argparse.Namespace) -> int:
    name = args.signal.upper()
    if name.isdigit():
        signum = int(name)
    else:
        try:
            signum = signal.Signals[name if name.startswith("SIG") else "SIG" + name]
        except KeyError:
            raise ValueError(f"unknown signal {args.signal!r}") from None
    with Flux() as handle:
        for jobid in args.jobids:
            kill(handle, JobID(jobid), signum)
    return 0
