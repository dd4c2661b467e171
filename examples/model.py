"""The object model end to end: a pool, a job of dependent tasks, tags, output, cleanup,
state callbacks and an async iterator of states.

Run it inside an instance (the instance stops when the script ends), an embedded
one or a real Flux:

    fluxsdk start python examples/model.py
    flux start python examples/model.py

Objects are live: the instance's job journal pushes every state change to them,
so ``prep.state`` reads ``Success`` once a task depending on it ran, with no
``update()``. Everything it creates is deleted before it ends.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from fluxsdk.model import (
    Connection,
    Job,
    MissingJobException,
    Pool,
    Task,
    TaskState,
    UnauthorizedException,
)


def show(task: Task, state: TaskState) -> None:
    """A progress callback for Task.wait()."""
    print(f"  {task.name}: {state}")


async def follow(task: Task) -> list[str]:
    """Every state a task takes, from an asyncio program (no thread of ours)."""
    return [str(state) async for state in task.states()]


def build(conn: Connection, pool: Pool) -> tuple[Job, list[Task]]:
    """A job in the pool: two renders, then an assembly that depends on both."""
    job = conn.create_job("movie", pool=pool, shortname="movie", use_dependencies=True)
    job.tags = ["example", "movie"]
    job.max_wall_time = timedelta(minutes=10)
    job.completion_ttl = "00:05:00"
    job.submit()
    renders = []
    for part in ("intro", "outro"):
        task = conn.create_task(
            f"render-{part}", ["sh", "-c", 'echo "$PART rendered by $FLUX_TASK_RANK"'], 2, job
        )
        task.constants = {"PART": part}
        task.labels = {"part": part}
        task.tags = ["example", "render"]
        renders.append(task)
    assemble = conn.create_task("assemble", ["echo", "movie assembled"], job=job)
    assemble.dependencies = list(renders)
    assemble.tags = ["example"]
    assemble.max_wall_time = "00:01:00"
    return job, [*renders, assemble]


def main() -> int:
    with Connection() as conn:
        ended: list[str] = []
        # Called whenever an object of this connection changes state.
        conn.on_state_change(
            lambda obj, state: ended.append(obj.name) if state == "Success" else None
        )
        pool = conn.create_pool("farm", instancecount=2)
        pool.tags = ["example"]
        pool.submit()
        try:
            if not pool.wait_ready(timeout=60):
                print(f"pool {pool.uuid} did not start: {pool.state}", file=sys.stderr)
                return 1
            print(f"pool {pool.name} ({pool.uuid}) runs a nested instance at {pool.uri}")
            job, tasks = build(conn, pool)
            # A task that asks for more cores than exist is accepted, as on Flux, and then
            # fails with an `alloc` exception; it does not sink the others.
            greedy = conn.create_task("greedy", ["true"], 1000, job)
            conn.submit_tasks([*tasks, greedy])
            assemble = tasks[-1]
            print(f"waiting for {assemble.name} ({assemble.uuid}):")
            finished = assemble.wait(timeout=60, live_progress=show)
            print(f"finished={finished} exit_code={assemble.exit_code} errors={assemble.errors}")
            greedy.wait(timeout=60)
            print(f"{greedy.name}: {greedy.state}: {'; '.join(map(str, greedy.errors))}")
            # Live: the renders read Success without update(), as assemble ran after them.
            print(f"renders: {[str(t.state) for t in tasks[:-1]]}; callback saw {sorted(ended)}")
            for task in tasks[:-1]:
                print(f"{task.name} [{task.labels['part']}]: {task.stdout().strip()}")
            print(f"{assemble.name}: {assemble.fresh_stdout().strip()}")

            # Tags are stored in the instance: listings filter on them.
            renders = sorted(t.name for t in conn.tasks(tags_intersect=["example", "render"]))
            print(f"render tasks: {renders}")
            assert job.uuid is not None
            found = conn.retrieve_job(job.uuid)  # as another process would
            print(f"job {found.name} is {found.state} with {len(found.tasks)} tasks")

            encore = conn.create_task("encore", ["sleep", "0.5"], job=job)
            encore.submit()
            print(f"encore went through {asyncio.run(follow(encore))}")

            job.terminate()
            job.update(flushcache=True)
            print(f"after terminate: {job.state} (kept {job.completion_ttl} once completed)")
            try:
                conn.create_task("late", ["true"], job=job).submit()
            except UnauthorizedException as exc:
                print(f"refused: {exc}")
            job.delete()
            try:
                conn.retrieve_job(job.uuid)
            except MissingJobException:
                print("job deleted")
        finally:
            pool.delete()
        print(f"pool {pool.state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
