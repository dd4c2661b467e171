"""What the benchmarks share: an instance of their own, timing, and reporting.

Every benchmark measures its baseline in the same run as the instance, runs
the whole measurement ``--repeat`` times (the machine is noisy), and prints
each run as it ends, then the median and every run of each figure, and
whether the target is met. Ratios are computed within each run (against that
run's baseline) and their median is reported.

Instances are started in a temporary directory with
:func:`fluxsdk.testing.instance_running` and are always stopped: on success,
on error, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType

import fluxsdk
from fluxsdk import job
from fluxsdk.job.submit import FLUX_JOB_URGENCY_DEFAULT, FLUX_JOB_URGENCY_HOLD, SubmitFuture
from fluxsdk.testing import instance_running

__all__ = [
    "URGENCY_DEFAULT",
    "URGENCY_HOLD",
    "Figure",
    "Figures",
    "Target",
    "bench_instance",
    "cpu_seconds",
    "instance_pid",
    "machine_cores",
    "main",
    "parser",
    "percentile",
    "reap",
    "reap_all",
    "rss_bytes",
    "spawn",
    "submit_windowed",
]

URGENCY_DEFAULT = FLUX_JOB_URGENCY_DEFAULT
URGENCY_HOLD = FLUX_JOB_URGENCY_HOLD

Figures = dict[str, float]
"""One run's results, by figure key."""

# How long a stopped instance's process may take to go away before it is killed.
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Figure:
    """How to print one figure: its key in :data:`Figures`, label, unit and format."""

    key: str
    label: str
    unit: str = ""
    fmt: str = ".1f"

    def show(self, value: float) -> str:
        text = format(value, self.fmt)
        return f"{text} {self.unit}" if self.unit else text


@dataclass(frozen=True)
class Target:
    """A goal for the median of one figure, e.g. ``Target("ratio", ">=", 0.5)``."""

    key: str
    op: str  # ">=", ">", "<=" or "<"
    value: float

    def met(self, median: float) -> bool:
        compare: dict[str, Callable[[float, float], bool]] = {
            ">=": lambda a, b: a >= b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            "<": lambda a, b: a < b,
        }
        return compare[self.op](median, self.value)


# -- arguments and the main loop ---------------------------------------------------


def machine_cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="how many times to run the whole measurement (default 3)",
    )
    p.add_argument(
        "--cores",
        type=int,
        default=machine_cores(),
        help="cores of the benchmark's instance (default: this machine's, %(default)s)",
    )
    return p


def main(
    title: str,
    measure: Callable[[int], Figures],
    figures: Sequence[Figure],
    targets: Sequence[Target],
    repeat: int,
) -> int:
    """Run ``measure(run_index)`` ``repeat`` times and print every figure's median and runs.

    Returns the exit status: 0 (targets are reported, not enforced), 130 on Ctrl-C.
    """
    if repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    _exit_on_sigterm()
    print(f"== {title}")
    print(f"   {time.strftime('%Y-%m-%d %H:%M:%S')}, {machine_cores()} CPU(s), {repeat} run(s)")
    runs: list[Figures] = []
    try:
        for index in range(repeat):
            result = measure(index)
            runs.append(result)
            shown = ", ".join(f"{f.label} {f.show(result[f.key])}" for f in figures)
            print(f"-- run {index + 1}/{repeat}: {shown}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        if not runs:
            return 130
    _summary(runs, figures, targets)
    return 0 if len(runs) == repeat else 130


def _summary(runs: list[Figures], figures: Sequence[Figure], targets: Sequence[Target]) -> None:
    print(f"== median of {len(runs)} run(s) (all runs in brackets)")
    width = max(len(f.label) for f in figures)
    for f in figures:
        values = [run[f.key] for run in runs]
        all_runs = ", ".join(format(v, f.fmt) for v in values)
        print(f"   {f.label:<{width}}  {f.show(statistics.median(values)):>14}  [{all_runs}]")
    labels = {f.key: f for f in figures}
    for target in targets:
        figure = labels[target.key]
        median = statistics.median(run[target.key] for run in runs)
        verdict = "met" if target.met(median) else "NOT met"
        print(
            f"   target: {figure.label} {target.op} {figure.show(target.value)}: {verdict} "
            f"(median {figure.show(median)})"
        )


def _exit_on_sigterm() -> None:
    # A SIGTERM becomes SystemExit, so the cleanup in `finally` blocks runs.
    def handler(signum: int, frame: FrameType | None) -> None:
        del frame
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# -- statistics ---------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of ``values`` (linear interpolation between samples)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * pct / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- the instance -------------------------------------------------------------------


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block ends, so that an instance is
    never left running between being started and being looked after, nor its
    shutdown cut short.

    (The signals are caught, not masked: a mask would be inherited by the
    instance and by its jobs.)
    """
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        del frame
        received.append(signum)

    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, record) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if signal.SIGINT in received:
        raise KeyboardInterrupt
    if received:
        raise SystemExit(128 + received[0])


def instance_pid(handle: fluxsdk.Flux) -> int:
    """The process ID of the instance ``handle`` is connected to."""
    return int(handle.rpc("broker.getattr", {"name": "broker.pid"}).get()["value"])


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (``VmRSS`` in ``/proc/PID/status``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, from ``/proc/PID/stat``."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name (which may hold spaces), from field 3 on.
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_sure_gone(pid: int) -> None:
    """Last resort after a failed shutdown: SIGTERM, then SIGKILL, the instance."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    if _alive(pid):
        print(f"warning: instance process {pid} is still running", file=sys.stderr)


@contextlib.contextmanager
def bench_instance(
    cores: int,
    size: int = 1,
    plugins: Sequence[str] = (),
    config: str | None = None,
) -> Iterator[tuple[fluxsdk.Flux, int]]:
    """A fresh instance in a temporary directory, loading ``plugins`` (and the
    YAML ``config`` file): yields ``(handle, instance pid)``.

    The instance is shut down when the block ends, however it ends (and killed
    if it does not stop), and its directory is removed.
    """
    with tempfile.TemporaryDirectory(prefix="fluxsdk-bench-") as statedir:
        stack = contextlib.ExitStack()
        pid: int | None = None
        try:
            with _signals_deferred():
                uri = stack.enter_context(
                    instance_running(
                        statedir, cores=cores, size=size, plugins=plugins, config=config
                    )
                )
                handle = stack.enter_context(fluxsdk.Flux(uri))
                pid = instance_pid(handle)
            yield handle, pid
        finally:
            with _signals_deferred():
                try:
                    stack.close()  # closes the handle, then shuts the instance down
                except Exception as exc:
                    print(f"warning: instance shutdown failed: {exc}", file=sys.stderr)
                finally:
                    if pid is not None:
                        _make_sure_gone(pid)


# -- submitting ---------------------------------------------------------------------


def submit_windowed(
    handle: fluxsdk.Flux,
    jobspec: job.JobspecV1,
    count: int,
    *,
    window: int,
    urgency: int = URGENCY_DEFAULT,
    waitable: bool = False,
) -> float:
    """Submit ``count`` copies of ``jobspec`` with at most ``window`` submissions
    in flight; return the seconds until the last job ID came back."""
    in_flight: deque[SubmitFuture] = deque()
    start = time.perf_counter()
    for _ in range(count):
        if len(in_flight) >= window:
            in_flight.popleft().get_id()
        in_flight.append(job.submit_async(handle, jobspec, urgency=urgency, waitable=waitable))
    while in_flight:
        in_flight.popleft().get_id()
    return time.perf_counter() - start


# -- the baseline: plain processes --------------------------------------------------


def spawn(argv: Sequence[str]) -> int:
    """Start ``argv`` directly with ``os.posix_spawn`` (stdin from /dev/null), the
    baselines' unit of work: the raw cost of a process, with nothing of
    ``subprocess`` around it. Returns the child's pid (reap it with :func:`reap`)."""
    return os.posix_spawn(argv[0], list(argv), os.environ, file_actions=_DEVNULL_STDIN)


_DEVNULL_STDIN = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]


def reap(pid: int) -> int:
    """Wait for child ``pid`` (``os.waitpid``); return its wait status."""
    return os.waitpid(pid, 0)[1]


def reap_all(pids: Sequence[int]) -> None:
    """Kill and reap whatever is left of ``pids`` (after an error or Ctrl-C)."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
