"""Build and validate jobspecs, then show a job ID in every RFC 19 encoding.

Run: python examples/jobspecs_and_ids.py
"""

from __future__ import annotations

import yaml

from fluxsdk.errors import JobspecError
from fluxsdk.job import JobID, Jobspec, JobspecV1


def main() -> None:
    # Four tasks, two cores each, spread over two nodes, ten minutes at most.
    jobspec = JobspecV1.from_command(
        ["sh", "-c", "echo hello from $FLUX_TASK_RANK"],
        num_tasks=4,
        cores_per_task=2,
        num_nodes=2,
        duration="10m",
        environment={"GREETING": "hello"},
        name="hello",
    )
    print("resource counts:", jobspec.resource_counts())
    print(yaml.safe_dump(jobspec.jobspec, sort_keys=False))

    # A jobspec read back from its own JSON is the same jobspec.
    assert Jobspec.from_yaml_stream(jobspec.dumps()).jobspec == jobspec.jobspec

    # Bad input says what to fix, and where.
    try:
        JobspecV1.from_yaml_stream(jobspec.dumps().replace('"count": 2', '"count": 0', 1))
    except JobspecError as exc:
        print("rejected:", exc)

    jobid = JobID("ƒuzzybunny")
    for encoding in ("dec", "hex", "dothex", "kvs", "f58", "words", "emoji"):
        print(f"{encoding:>7}: {jobid.encode(encoding)}")
    assert JobID(jobid.words) == jobid == JobID(jobid.emoji)


if __name__ == "__main__":
    main()
