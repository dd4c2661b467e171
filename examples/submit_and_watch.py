"""Submit jobs, stream their output, and print their results, the flux.job way.

Run it inside an instance (the instance stops when the script ends):

    fluxsdk start python examples/submit_and_watch.py

Without FLUX_URI it uses the per-user default instance, started on first use.
"""

from __future__ import annotations

import fluxsdk as flux
from fluxsdk import job


def main() -> None:
    handle = flux.Flux()

    # A two-task job: each task prints its rank; output is captured per task.
    hello = job.JobspecV1.from_command(
        ["sh", "-c", 'echo "hello from task $FLUX_TASK_RANK of $FLUX_JOB_SIZE"'], num_tasks=2
    )
    jobid = job.submit(handle, hello)
    print(f"submitted {jobid} ({jobid.words})")
    for event in job.event_watch(handle, jobid):
        print(f"  event {event.name} {event.context_string}".rstrip())
    print(job.job_output(handle, jobid, labelio=True).stdout, end="")

    # A job that fails, one that is cancelled while it runs, one held then released.
    failing = job.submit(handle, job.JobspecV1.from_command(["sh", "-c", "exit 3"]))
    sleeper = job.submit(handle, job.JobspecV1.from_command(["sleep", "60"]))
    job.event_wait(handle, sleeper, "start")
    job.cancel(handle, sleeper, "demo: no need to wait")
    held = job.submit(handle, job.JobspecV1.from_command(["true"]), urgency=0)
    job.set_urgency(handle, held, 16)

    # Streaming lines while a job runs.
    counter = job.submit(
        handle, job.JobspecV1.from_command(["sh", "-c", "for i in 1 2 3; do echo line $i; done"])
    )
    for stream, line in job.output_watch_lines(handle, counter):
        print(f"  {stream}: {line}")

    for jobid in (failing, sleeper, held, counter):
        info = job.result(handle, jobid)
        print(f"{info.id}: {info.result} returncode={info.returncode} runtime={info.runtime:.3f}s")


if __name__ == "__main__":
    main()
