"""Refreshing many live Task objects: the model's shared watcher against per-object polling.

Setup: ``--tasks`` tasks (default 10,000) of one job, all waiting on a gate
task that never ends, so every one of them stays active: the worst case for a
refresh, which lists every active job.

Model: with every task's cache stale, read ``state`` of all of them. The
connection's one watcher refreshes once (a ``job-list.list`` of the active
jobs, plus one of those ended since) and every object reads from it. The
first refresh after submission builds every record and snapshot; the next
one (measured, requests counted) finds most unchanged.

Baseline, in the same run, on the same tasks: what Qarnot's SDK does, one
request per object (``job-list.list-id`` for each task, one after the other).

Targets: the model's refresh sends at most 2 requests whatever the number of
tasks, and takes at most half the baseline's time. (On the embedded
instance's local socket a request costs ~0.1 ms, so most of the model's time
is the instance listing 10,000 jobs and the client decoding that list; over
a network, where each request costs a round trip, the gap is far wider.)

Run: ``python bench/bench_model.py [--tasks 10000] [--repeat 3]``
"""

from __future__ import annotations

import sys
import time
from typing import Any

import _common
from _common import Figure, Figures, Target

from fluxsdk.core import RPC, Flux
from fluxsdk.model import Connection, Task
from fluxsdk.model._record import LIST_ATTRS

FIGURES = [
    Figure("first_s", "model: first refresh, all states", "s", ".3f"),
    Figure("model_s", "model: next refresh, all states", "s", ".3f"),
    Figure("model_rpcs", "model: requests sent", "", ".0f"),
    Figure("base_s", "baseline: one request per task", "s", ".3f"),
    Figure("base_rpcs", "baseline: requests sent", "", ".0f"),
    Figure("ratio", "speedup baseline / model", "x", ".1f"),
]
TARGETS = [Target("model_rpcs", "<=", 2), Target("ratio", ">=", 2)]
# The tasks' update_cache_time: reads after this long refresh.
STALE_AFTER = 1.0


def count_requests() -> list[str]:
    """Record the topic of every request any handle sends from now on."""
    topics: list[str] = []
    send = Flux._send_request

    def counting(handle: Flux, rpc: RPC, topic: str, payload: Any, nodeid: int, flags: int) -> int:
        topics.append(topic)
        return send(handle, rpc, topic, payload, nodeid, flags)

    Flux._send_request = counting  # type: ignore[method-assign,assignment]
    return topics


def measure(ntasks: int, cores: int) -> Figures:
    with _common.bench_instance(cores) as (handle, _), Connection(handle.uri) as conn:
        group = conn.create_job("bench", use_dependencies=True)
        group.submit()
        gate = conn.create_task("gate", ["sleep", "3600"], job=group)
        gate.submit()
        tasks: list[Task] = []
        for index in range(ntasks):
            task = conn.create_task(f"t{index}", ["true"], job=group)
            task.dependencies = [gate]
            task.update_cache_time = STALE_AFTER
            tasks.append(task)
        conn.submit_tasks(tasks)
        time.sleep(STALE_AFTER)  # every snapshot is stale now
        start = time.perf_counter()
        {task.state for task in tasks}  # the first refresh reads every record
        first_s = time.perf_counter() - start
        time.sleep(STALE_AFTER)

        send = Flux._send_request
        topics = count_requests()
        try:
            start = time.perf_counter()
            states = {task.state for task in tasks}  # the first read refreshes, for all
            model_s = time.perf_counter() - start
            model_rpcs = len(topics)
            assert len(states) == 1, states

            topics.clear()
            start = time.perf_counter()
            for task in tasks:  # Qarnot's way: each object asks for itself
                payload = {"id": int(task.uuid or 0), "attrs": list(LIST_ATTRS)}
                conn.handle.rpc("job-list.list-id", payload).get()
            base_s = time.perf_counter() - start
            base_rpcs = len(topics)
        finally:
            Flux._send_request = send  # type: ignore[method-assign]
        gate.abort()
    return {
        "first_s": first_s,
        "model_s": model_s,
        "model_rpcs": model_rpcs,
        "base_s": base_s,
        "base_rpcs": base_rpcs,
        "ratio": base_s / model_s,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000, help="live tasks (default 10000)")
    args = p.parse_args()
    return _common.main(
        f"model: refreshing {args.tasks} live tasks",
        lambda _: measure(args.tasks, args.cores),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
