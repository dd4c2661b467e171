"""Scale of the live model: 10,000 live tasks on one Connection.

Setup: ``--tasks`` tasks (default 10,000) of one job, all waiting on a gate
task, so every one of them stays active; the connection's objects are fed by
the job journal.

Figures:

* requests sent while reading every task's ``state`` 10 times (aim: 0);
  baseline, in the same run: Qarnot's SDK refreshes each object by itself once
  its 5 s cache is stale, one request per task (measured: ``job-list.list-id``
  for every task, one after the other, as its ``update()`` does);
* the time those 10 rounds of reads take, against the baseline's one round;
* the client's memory per live object (``tracemalloc``: everything the
  connection keeps per task once every object is live: object, snapshot,
  record, journal entry, description), including creating and submitting it;
* the client's CPU per job event: the gate is aborted, so every task ends
  (a dependency exception, then ``clean``...); the client's CPU time while
  ``process_events()`` applies those events, divided by their number.
  Baseline: the CPU one polling refresh (no stream) takes per job, to read the
  same tasks' ends from ``job-list``.

Run: ``python bench/bench_model.py [--tasks 10000] [--repeat 3]``
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from typing import Any

import _common
from _common import Figure, Figures, Target

from fluxsdk.core import RPC, Flux
from fluxsdk.model import Connection, Task
from fluxsdk.model._record import LIST_ATTRS

FIGURES = [
    Figure("live_rpcs", "live: requests, 10 reads of every state", "", ".0f"),
    Figure("base_rpcs", "baseline: requests, one stale round", "", ".0f"),
    Figure("live_read_s", "live: 10 rounds of reads", "s", ".3f"),
    Figure("base_read_s", "baseline: one round", "s", ".3f"),
    Figure("bytes_per_task", "client memory per live task", "B", ".0f"),
    Figure("cpu_us_per_event", "client CPU per job event", "us", ".1f"),
    Figure("poll_cpu_us_per_job", "baseline: CPU per job, one poll", "us", ".1f"),
    Figure("events", "job events applied", "", ".0f"),
]
TARGETS = [Target("live_rpcs", "<=", 0)]
ROUNDS = 10


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
        assert conn.live
        group = conn.create_job("bench", use_dependencies=True)
        group.submit()
        gate = conn.create_task("gate", ["sleep", "3600"], job=group)
        gate.submit()
        conn.process_events()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tasks: list[Task] = []
        for index in range(ntasks):
            task = conn.create_task(f"t{index}", ["true"], job=group)
            task.dependencies = [gate]
            tasks.append(task)
        conn.submit_tasks(tasks)
        conn._root.watcher.barrier()  # every task's events so far are applied
        {task.state for task in tasks}
        bytes_per_task = (tracemalloc.get_traced_memory()[0] - before) / ntasks
        tracemalloc.stop()

        send = Flux._send_request
        topics = count_requests()
        try:
            start = time.perf_counter()
            for _ in range(ROUNDS):
                states = {task.state for task in tasks}
            live_read_s = time.perf_counter() - start
            live_rpcs = len(topics)
            assert len(states) == 1, states

            topics.clear()
            start = time.perf_counter()
            for task in tasks:  # Qarnot's way: each stale object asks for itself
                payload = {"id": int(task.jobid or 0), "attrs": list(LIST_ATTRS)}
                conn.handle.rpc("job-list.list-id", payload).get()
            base_read_s = time.perf_counter() - start
            base_rpcs = len(topics)
        finally:
            Flux._send_request = send  # type: ignore[method-assign]

        watcher = conn._root.watcher
        ended: list[object] = []
        conn.on_state_change(lambda obj, state: ended.append(obj) if state.is_final else None)
        events = watcher.events
        gate.abort()
        cpu = 0.0
        while len(ended) < ntasks + 1:  # the tasks, and the gate
            start_cpu = time.process_time()
            conn.process_events(1.0)  # applies the events, pushes to objects, calls back
            cpu += time.process_time() - start_cpu
        events = watcher.events - events
        # Baseline: the same ends read by one polling refresh (the stream-less path).
        watcher._journal = None
        cpu_poll = time.process_time()
        watcher.refresh(0.0)
        cpu_poll = time.process_time() - cpu_poll
    return {
        "live_rpcs": live_rpcs,
        "base_rpcs": base_rpcs,
        "live_read_s": live_read_s,
        "base_read_s": base_read_s,
        "bytes_per_task": bytes_per_task,
        "cpu_us_per_event": cpu / events * 1e6,
        "poll_cpu_us_per_job": cpu_poll / ntasks * 1e6,
        "events": events,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000, help="live tasks (default 10000)")
    args = p.parse_args()
    return _common.main(
        f"model: {args.tasks} live tasks on one connection",
        lambda _: measure(args.tasks, args.cores),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
