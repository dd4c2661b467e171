"""Per-submit cost of the plugin hooks: 0, 1 and 10 plugins against hooks disabled.

Each configuration submits the same held jobs (urgency 0: they never run, so
the instance does the same work whatever the plugins) to one instance, with
at most ``--window`` submissions in flight. Measured per configuration: the
client's CPU time inside ``job.submit_async`` per job, plus that of the
helper threads the plugin passes run in (where the hooks run:
copy the jobspec, call the transforms and validators, re-encode; then sign
and send; CPU time, not wall time, so that other processes on a busy machine
do not count), and the submit rate (jobs/s until the last ID is back).

Configurations, in the same run and interleaved round by round (the machine
is noisy): hooks disabled (``with fluxsdk.hooks.disabled()``: the baseline),
0 plugins (hooks on, no implementation), 1 and 10 plugins whose transform
and validator do nothing (the machinery alone), and 10 plugins that each set
an attribute and read it back (``10w``: a small site policy's work on top),
and the 10 no-op plugins again without a deadline (``10i``,
``FLUXSDK_PLUGIN_TIMEOUT=0``: the pass runs in the caller's thread, so the
difference with ``10`` is what the deadline's thread handoff costs).
Installed plugins are kept out (``FLUXSDK_PLUGINS=none``).

Target: with 10 plugins that do nothing, a submit costs the client at most 3x
its CPU time with hooks disabled (the hooks then cost less than the instance's
own ~150 µs of work per submission, which bounds the rate anyway).

Run: ``python bench/bench_hooks.py [--jobs 2000] [--rounds 4] [--repeat 3]``
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator

import _common
from _common import Figure, Figures, Target

import fluxsdk
from fluxsdk import hooks, job
from fluxsdk.job.submit import SubmitFuture

CONFIGS = ("disabled", "0", "1", "10", "10w", "10i")

FIGURES = [
    *(Figure(f"us_{c}", f"client CPU µs per submit, {c} plugins", "µs", ".1f") for c in CONFIGS),
    *(Figure(f"ratio_{c}", f"ratio {c} plugins / disabled", "", ".2f") for c in CONFIGS[1:]),
    *(Figure(f"rate_{c}", f"submit rate, {c} plugins", "jobs/s", ".0f") for c in CONFIGS),
    Figure("rate_ratio_10", "rate ratio 10w plugins / disabled", "", ".2f"),
]
TARGETS = [Target("ratio_10", "<=", 3.0)]


class NoopPlugin:
    """A transform and a validator that do nothing: what the machinery costs."""

    @hooks.hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: job.Jobspec) -> None:
        """Leave the job as it is."""

    @hooks.hookimpl
    def fluxsdk_jobspec_validate(self, jobspec: job.Jobspec) -> str | None:
        """Accept the job."""
        return None


class WorkingPlugin:
    """What a small site policy does: tag the job, check the tag."""

    def __init__(self, index: int) -> None:
        self.key = f"user.bench{index}"

    @hooks.hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: job.Jobspec) -> None:
        """Tag the job."""
        jobspec.setattr(self.key, True)

    @hooks.hookimpl
    def fluxsdk_jobspec_validate(self, jobspec: job.Jobspec) -> str | None:
        """Check the tag is there."""
        return None if jobspec.getattr(self.key) else "untagged"


@contextlib.contextmanager
def configured(config: str) -> Iterator[None]:
    """The hooks as ``config`` says, for the duration of the block."""
    if config == "disabled":
        with hooks.disabled():
            yield
        return
    working = config.endswith("w")
    count = int(config.rstrip("wi"))
    plugins = [WorkingPlugin(i) if working else NoopPlugin() for i in range(count)]
    names = [hooks.register(p, f"bench-{i}") for i, p in enumerate(plugins)]
    manager = hooks.get_plugin_manager()
    deadline = manager.deadline
    if config.endswith("i"):
        manager.deadline = 0  # FLUXSDK_PLUGIN_TIMEOUT=0: inline, no deadline
    try:
        yield
    finally:
        manager.deadline = deadline
        for name in names:
            hooks.unregister(name)


def helper_cpu() -> float:
    """CPU seconds spent so far by the threads that run the plugin passes.

    Transforms and validators run in helper threads (so that a deadline can
    bound them); their CPU counts as the submitting thread's.
    """
    total = 0.0
    for thread in threading.enumerate():
        if thread.name == "fluxsdk-plugin-pass" and thread.ident is not None:
            with contextlib.suppress(OSError):
                total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return total


def submit_chunk(handle: fluxsdk.Flux, count: int, window: int) -> tuple[float, float]:
    """Submit ``count`` held jobs; (CPU seconds inside submit_async, wall seconds in all)."""
    helpers = helper_cpu()
    spec = job.JobspecV1.from_command(["true"])
    in_flight: deque[SubmitFuture] = deque()
    inside = 0.0
    start = time.perf_counter()
    for _ in range(count):
        if len(in_flight) >= window:
            in_flight.popleft().get_id()
        before = time.thread_time()
        in_flight.append(job.submit_async(handle, spec, urgency=_common.URGENCY_HOLD))
        inside += time.thread_time() - before
    while in_flight:
        in_flight.popleft().get_id()
    return inside + helper_cpu() - helpers, time.perf_counter() - start


def measure(jobs: int, rounds: int, window: int, cores: int) -> Figures:
    inside = dict.fromkeys(CONFIGS, 0.0)
    total = dict.fromkeys(CONFIGS, 0.0)
    per_round = max(jobs // rounds, 1)
    with _common.bench_instance(cores) as (handle, _):
        with configured("0"):
            submit_chunk(handle, 50, window)  # warm-up: plugin loading, caches
        for index in range(rounds):
            order = CONFIGS if index % 2 == 0 else tuple(reversed(CONFIGS))
            for config in order:
                with configured(config):
                    spent, wall = submit_chunk(handle, per_round, window)
                inside[config] += spent
                total[config] += wall
    count = per_round * rounds
    figures: Figures = {}
    for config in CONFIGS:
        figures[f"us_{config}"] = inside[config] / count * 1e6
        figures[f"rate_{config}"] = count / total[config]
    for config in CONFIGS[1:]:
        figures[f"ratio_{config}"] = figures[f"us_{config}"] / figures["us_disabled"]
    figures["rate_ratio_10"] = figures["rate_10w"] / figures["rate_disabled"]
    return figures


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=2000, help="held jobs per configuration")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds per run")
    p.add_argument("--window", type=int, default=64, help="submissions in flight")
    args = p.parse_args()
    # Plugins load on first use, after this: installed ones stay out of the measurement.
    os.environ["FLUXSDK_PLUGINS"] = "none"
    title = f"hooks: {args.jobs} held jobs per configuration, {args.rounds} rounds"
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.rounds, args.window, args.cores),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
