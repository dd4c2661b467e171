"""Watch jobs as ``flux submit --watch`` does, then read what the instance keeps about them.

JobWatcher copies each job's output and keeps the largest exit code; the
job's KVS directory holds its eventlog, jobspec, R and what its shell wrote;
JobStats counts jobs by state and outcome. Run it inside an instance:

    fluxsdk start python examples/job_records.py
"""

from __future__ import annotations

import fluxsdk
from fluxsdk import job
from fluxsdk.job import JobspecV1
from fluxsdk.job.stats import JobStats
from fluxsdk.job.watcher import JobWatcher


def main() -> None:
    h = fluxsdk.Flux()
    watcher = JobWatcher(h, labelio=True)
    ids = []
    for command in (["echo", "hello"], ["sh", "-c", "echo oops >&2; exit 3"]):
        jobid = job.submit(h, JobspecV1.from_command(command), waitable=True)
        ids.append(jobid)
        watcher.add_jobid(jobid)
    watcher.start()
    h.reactor_run()  # until every job is done
    watcher.stop()
    print(f"largest exit code: {watcher.exitcode}")

    for jobid in ids:
        job.wait(h, jobid)
    records = job.job_kvs(h, ids[0])
    files, dirs = records.list_all()
    print(f"{records.path}: files {sorted(files)}, directories {sorted(dirs)}")
    print(f"command: {records['jobspec']['tasks'][0]['command']}")
    exec_log = records["guest"]["exec"]["eventlog"]
    print("exec eventlog:", " ".join(line.split('"name":"')[1].split('"')[0]
                                     for line in exec_log.splitlines()))  # fmt: skip

    stats = JobStats(h).update_sync()
    print(f"inactive jobs: {stats.inactive}, successful: {stats.successful}, "
          f"failed: {stats.failed}")  # fmt: skip


if __name__ == "__main__":
    main()
