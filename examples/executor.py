"""Run jobs with FluxExecutor, the concurrent.futures way.

Each submitted jobspec becomes a future whose result is the job's exit status;
the futures work with ``concurrent.futures.as_completed`` and ``wait``, and
tell callbacks about the job's ID and events. Run it inside an instance:

    fluxsdk start python examples/executor.py
"""

from __future__ import annotations

import concurrent.futures

import fluxsdk
from fluxsdk import job
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobException, JobspecV1
from fluxsdk.job.executor import FluxExecutor, FluxExecutorFuture


def main() -> None:
    specs = [JobspecV1.from_command(["sh", "-c", f"exit {n}"]) for n in (0, 0, 0, 1, 2)]
    with FluxExecutor() as executor:
        # Submit, then take the results in the order the jobs end.
        futures = [executor.submit(spec) for spec in specs]
        for future in concurrent.futures.as_completed(futures):
            print(f"a job exited with {future.result()}")
        print(f"{len(futures)} jobs: results {[f.result() for f in futures]}")

        # Callbacks: the job ID as soon as it is known, then the job's events.
        seen: list[str] = []

        def on_event(future: FluxExecutorFuture, event: EventLogEvent) -> None:
            seen.append(event.name)

        future = executor.submit(JobspecV1.from_command(["true"]))
        future.add_jobid_callback(lambda f: print(f"submitted {f.jobid()}"))
        future.add_event_callback("start", on_event).add_event_callback("finish", on_event)
        future.result()
        print(f"events of {future.jobid()}: {', '.join(seen)}")

        # A job ended by an exception (here: cancelled) sets a JobException.
        future = executor.submit(JobspecV1.from_command(["sleep", "30"]))
        with fluxsdk.Flux() as handle:
            job.event_wait(handle, future.jobid(), "start")
            job.cancel(handle, future.jobid())
        error = future.exception()
        assert isinstance(error, JobException)
        print(f"sleep 30: JobException type={error.type}")


if __name__ == "__main__":
    main()
