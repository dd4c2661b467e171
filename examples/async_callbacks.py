"""Submit five jobs and handle their results in callbacks from the reactor.

This is the event-loop example of flux.job's documentation, unchanged but for
its imports. Run it inside an instance:

    fluxsdk start python examples/async_callbacks.py
"""

from __future__ import annotations

import fluxsdk as flux
from fluxsdk import job
from fluxsdk.job.submit import SubmitFuture
from fluxsdk.job.wait import JobResultFuture


def submit_cb(fut: SubmitFuture, flux_handle: flux.Flux) -> None:
    # When this callback fires, the jobid is ready.
    jobid = fut.get_id()
    # A future for the job's result, with a callback for when it finishes.
    job.result_async(flux_handle, jobid).then(result_cb)


def result_cb(fut: JobResultFuture) -> None:
    info = fut.get_info()
    result = info.result.lower()
    print(f"{info.id}: {result} with returncode {info.returncode}")


def main() -> None:
    flux_handle = flux.Flux()
    jobspec = job.JobspecV1.from_command(["/bin/true"])
    for _ in range(5):
        job.submit_async(flux_handle, jobspec).then(submit_cb, flux_handle)
    # Run the reactor until every callback has fired.
    flux_handle.reactor_run()


if __name__ == "__main__":
    main()
