"""Propagation: from a task's end (its ``clean`` event) to ``task.state`` showing it.

Model (live): tasks run ``true``, ``--window`` at a time (default 1: each
window is submitted, then waited for, so the loop is idle while they end),
on a connection whose objects are fed by the job
journal. The loop waits for job events with ``Connection.process_events()``
(no thread, no polling) and reads each pending task's ``state``; a task's
propagation is the time it is first read final,
minus the instance's timestamp of its ``clean`` event (its
``state_transition_time``; client and instance share this machine's clock).

Baseline, in the same run: the same loop on a connection without a journal
stream, where objects follow Qarnot's cache (refreshed on a read once older
than ``update_cache_time``, Qarnot's 5 s by default); the loop rereads every
millisecond. Fewer tasks (``--baseline-tasks``, 25 at a time): each takes seconds.

Target: a median under 5 ms for the live model.

Run: ``python bench/bench_propagation.py [--tasks 1000] [--repeat 3]``
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import _common
from _common import Figure, Figures, Target

from fluxsdk.model import Connection, _watcher
from fluxsdk.model._cache import DEFAULT_UPDATE_CACHE_TIME

FIGURES = [
    Figure("live_p50", "live: median propagation", "ms", ".2f"),
    Figure("live_p99", "live: p99 propagation", "ms", ".2f"),
    Figure("base_p50", "baseline (cache): median", "ms", ".0f"),
    Figure("base_p99", "baseline (cache): p99", "ms", ".0f"),
    Figure("ratio", "median baseline / live", "x", ".0f"),
]
TARGETS = [Target("live_p50", "<", 5.0)]


def propagation(
    conn: Connection, count: int, window: int, wait: Callable[[], object]
) -> list[float]:
    """Run ``count`` tasks, ``window`` at a time; each one's propagation in ms.

    Each window is submitted, then only waited for: the loop does nothing else
    while its tasks run, so what is measured is how fast their end shows.
    """
    delays: list[float] = []
    for start in range(0, count, window):
        pending = [
            conn.create_task(f"p{start + i}", ["true"]) for i in range(min(window, count - start))
        ]
        conn.submit_tasks(pending)
        while pending:
            wait()
            still = []
            for task in pending:
                if task.state.is_final:
                    seen = time.time()
                    ended = task.state_transition_time
                    assert ended is not None
                    delays.append((seen - ended.timestamp()) * 1000)
                else:
                    still.append(task)
            pending = still
    return delays


def measure(count: int, base_count: int, window: int, base_window: int, cores: int) -> Figures:
    with _common.bench_instance(cores) as (handle, _):
        with Connection(handle.uri) as conn:
            assert conn.live
            propagation(conn, window, window, lambda: conn.process_events(1.0))  # warm up
            live = propagation(conn, count, window, lambda: conn.process_events(1.0))
        topic = _watcher.JOURNAL_TOPIC
        _watcher.JOURNAL_TOPIC = "job-manager.no-journal"  # type: ignore[misc]
        try:
            with Connection(handle.uri, update_cache_time=DEFAULT_UPDATE_CACHE_TIME) as polled:
                assert not polled.live
                base = propagation(polled, base_count, base_window, lambda: time.sleep(0.001))
        finally:
            _watcher.JOURNAL_TOPIC = topic  # type: ignore[misc]
    live_p50 = _common.percentile(live, 50)
    base_p50 = _common.percentile(base, 50)
    return {
        "live_p50": live_p50,
        "live_p99": _common.percentile(live, 99),
        "base_p50": base_p50,
        "base_p99": _common.percentile(base, 99),
        "ratio": base_p50 / live_p50,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=1000, help="tasks of the live model (1000)")
    p.add_argument("--baseline-tasks", type=int, default=100, help="tasks of the baseline (100)")
    p.add_argument("--window", type=int, default=1, help="live tasks run at once (1)")
    p.add_argument("--baseline-window", type=int, default=25, help="baseline's (25)")
    args = p.parse_args()
    return _common.main(
        f"propagation: a task's clean event to task.state ({args.tasks} tasks)",
        lambda _: measure(
            args.tasks, args.baseline_tasks, args.window, args.baseline_window, args.cores
        ),
        FIGURES,
        TARGETS,
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
