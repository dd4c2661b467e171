"""Follow a batch of jobs with flux's progress bar, then print a job's eventlog as flux does.

On a terminal the bar stays on the last line while the rest scrolls above it;
piped, each state of the bar is printed as a line. Run it inside an instance:

    fluxsdk start python examples/progress_and_eventlog.py
"""

from __future__ import annotations

import concurrent.futures
import sys

import fluxsdk
from fluxsdk import job
from fluxsdk.eventlog import EventLogFormatter
from fluxsdk.job import JobspecV1
from fluxsdk.job.executor import FluxExecutor, FluxExecutorFuture
from fluxsdk.progress import ProgressBar

JOBS = 8


def main() -> None:
    on_terminal = sys.stdout.isatty()
    bar = ProgressBar(
        total=JOBS, style="bar", before="{count}/{total} jobs ", after=" {percent:3.0f}%"
    )
    if on_terminal:
        bar.start()
    spec = JobspecV1.from_command(["sleep", "0.1"])
    with FluxExecutor() as executor:
        futures = [executor.submit(spec) for _ in range(JOBS)]
        for future in concurrent.futures.as_completed(futures):
            assert isinstance(future, FluxExecutorFuture)  # as_completed is typed for any Future
            print(f"job {future.jobid().f58} exited with {future.result()}")
            bar.update()
            if not on_terminal:
                print(bar)
    bar.stop()

    # The first job's eventlog, timed from its submission, as `flux job eventlog -T offset`.
    formatter = EventLogFormatter(timestamp_format="offset")
    with fluxsdk.Flux() as handle:
        for event in job.event_watch(handle, futures[0].jobid()):
            print(formatter.format(event))


if __name__ == "__main__":
    main()
