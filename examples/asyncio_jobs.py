"""Run jobs from asyncio: await submissions and results, read output with ``async for``.

The loop itself drives the connection to the instance (no threads), so one
task per job scales to thousands of jobs. Run it inside an instance:

    fluxsdk start python examples/asyncio_jobs.py
"""

from __future__ import annotations

import asyncio

import fluxsdk
from fluxsdk import job
from fluxsdk.job import JobspecV1, aio


async def run_one(h: fluxsdk.Flux, index: int) -> int | str:
    """Submit one job, print its output as it comes, and return its ``returncode``."""
    spec = JobspecV1.from_command(["sh", "-c", f"echo hello from task {index}"])
    jobid = await aio.asubmit(h, spec)
    async for stream, line in aio.aoutput_watch_lines(h, jobid):
        print(f"task {index}: {stream}: {line}")
    info = await aio.aresult(h, jobid)
    return info.returncode


async def main() -> None:
    with fluxsdk.Flux() as h:
        codes = await asyncio.gather(*(run_one(h, index) for index in range(10)))
        print(f"{len(codes)} jobs, returncodes {set(codes)}")

        # Giving up on a wait cancels the watch, never the job.
        jobid = await aio.asubmit(h, JobspecV1.from_command(["sleep", "30"]))
        await aio.aevent_wait(h, jobid, "start")
        try:
            await asyncio.wait_for(aio.aresult(h, jobid), timeout=0.5)
        except asyncio.TimeoutError:
            listed = job.get_job(h, jobid)  # a quick blocking call is fine too
            state = listed["state"] if listed else "gone"
            print(f"sleep 30: watch cancelled, job still {state}")
        await aio.acancel(h, jobid)
        info = await aio.aresult(h, jobid)
        print(f"sleep 30: {info.result.lower()}")


if __name__ == "__main__":
    asyncio.run(main())
