"""The job shell's records of one job: its exec eventlog and its log messages.

Flux's exec service and job shell write ``guest.exec.eventlog`` as a job runs
(``init``, ``starting``, ``shell.init``, ``shell.start``, the first
``shell.task-exit``, ``shell-exit``, ``complete``, ``done``), and the shell
writes its log messages into the output eventlog as RFC 24 ``log`` events at
or below its log level (NOTICE, raised by the ``verbose`` shell option).
Clients rely on both: flux's ``job_output`` waits for ``shell.init`` before
reading output, and tools wait for ``shell.start`` before signalling tasks.
:class:`ShellRecord` writes them for the embedded instance, from what its
exec actually did.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from fluxsdk.eventlog import encode_entry
from fluxsdk.idset import IDSET_FLAG_BRACKETS, IDSET_FLAG_RANGE, IDset
from fluxsdk.instance._exec import TaskPlan
from fluxsdk.instance._store import Store
from fluxsdk.job._jobid import JobID

__all__ = ["LOG_FATAL", "LOG_INFO", "ShellRecord", "shell_service", "taskmap"]

EXEC_EVENTLOG: Final = "guest.exec.eventlog"
# Shell log levels (syslog's), as in RFC 24 ``log`` events.
LOG_FATAL: Final = 0
LOG_NOTICE: Final = 5
LOG_INFO: Final = 6
LOG_DEBUG: Final = 7


def shell_service(userid: int, jobid: int) -> str:
    """The service name of a job's shell: ``<userid>-shell-<jobid in f58plain>``, as flux's."""
    return f"{userid}-shell-{JobID(jobid).f58plain}"


def taskmap(plans: Sequence[TaskPlan], ranks: Sequence[int]) -> dict[str, Any]:
    """The RFC 34 task map of a job: blocks ``[node, nnodes, ppn, repeat]``.

    ``node`` counts the job's nodes (``ranks``, in order) from 0; tasks are
    taken in rank order, so consecutive nodes with as many tasks each share a
    block.
    """
    index = {rank: i for i, rank in enumerate(ranks)}
    runs: list[list[int]] = []  # [node, ntasks] per run of tasks on one node
    for plan in sorted(plans, key=lambda p: p.rank):
        node = index[plan.node_rank]
        if runs and runs[-1][0] == node:
            runs[-1][1] += 1
        else:
            runs.append([node, 1])
    blocks: list[list[int]] = []
    for node, ppn in runs:
        last = blocks[-1] if blocks else None
        if last is not None and last[2] == ppn and last[0] + last[1] == node:
            last[1] += 1
        else:
            blocks.append([node, 1, ppn, 1])
    return {"version": 1, "map": blocks}


def _exit_code(status: int) -> int:
    """A wait status as a shell's exit code: 128+S for a task killed by signal S."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _idset(ids: Sequence[int], flags: int = IDSET_FLAG_RANGE) -> str:
    return IDset(ids).encode(flags)


class ShellRecord:
    """What the job shell of one job writes: exec eventlog entries and log messages.

    Args:
        store: the instance's store (entries are durable at its next commit).
        jobid: the job.
        userid: the job's owner (names the shell's service, as in flux).
        ranks: the ranks of the job's nodes, leader first.
        verbose: the ``verbose`` shell option (0, 1 or 2).
        emit_log: writes a log message ``(level, message)`` to the output eventlog.
    """

    def __init__(
        self,
        store: Store,
        jobid: int,
        userid: int,
        ranks: Sequence[int],
        verbose: int,
        emit_log: Callable[[int, str], None],
    ) -> None:
        self._store = store
        self._jobid = jobid
        self._userid = userid
        self._ranks = list(ranks)
        self._level = LOG_NOTICE + min(max(verbose, 0), 2)
        self._emit_log = emit_log
        self._task_exited = False
        self._done = False

    def event(self, name: str, context: dict[str, Any] | None = None) -> None:
        """Append an entry to the job's exec eventlog."""
        entry = encode_entry(name, context if context is not None else {}, time.time())
        self._store.append(self._jobid, EXEC_EVENTLOG, entry)

    def log(self, level: int, message: str) -> None:
        """A shell log message, kept if ``level`` is within the shell's log level."""
        if level <= self._level:
            self._emit_log(level, message)

    def starting(self) -> None:
        """The exec service took the job: ``init`` and ``starting``."""
        self.event("init")
        self.event("starting")

    def shell_init(self, extra: dict[str, Any] | None = None) -> None:
        """The shell is up and its output eventlog exists: ``shell.init`` (with what
        shell plugins add to its context, ``extra``)."""
        service = shell_service(self._userid, self._jobid)
        context = {"service": service, "leader-rank": self._ranks[0], "size": len(self._ranks)}
        context.update(extra or {})
        self.event("shell.init", context)

    def shell_start(self, plans: Sequence[TaskPlan]) -> None:
        """Every task was started: ``shell.start`` with the task map, and its log lines."""
        self.event("shell.start", {"taskmap": taskmap(plans, self._ranks)})
        if self._level < LOG_INFO:
            return  # the lines below are not kept: not worth their idsets
        for node, rank in enumerate(self._ranks):
            mine = [p for p in plans if p.node_rank == rank]
            if mine:
                tasks = _idset([p.rank for p in mine], IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS)
                cpus = _idset(sorted({cpu for p in mine for cpu in p.cpus}))
                self.log(LOG_INFO, f"{node}: tasks {tasks} on cores {cpus}")

    def task_exit(self, plan: TaskPlan, pid: int, status: int) -> None:
        """A task exited with wait status ``status``; the first is recorded as flux does."""
        self.log(LOG_INFO, f"task {plan.rank} complete status={status}")
        if self._task_exited:
            return
        self._task_exited = True
        context = {
            "localid": plan.local_id,
            "rank": plan.rank,
            "state": "Exited",
            "pid": pid,
            "wait_status": status,
            "signaled": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
            "exitcode": _exit_code(status),
        }
        self.event("shell.task-exit", context)

    def finish(self, status: int) -> None:
        """The shell exited with wait status ``status``: ``shell-exit``, ``complete``, ``done``."""
        if self._done:
            return
        self._done = True
        self.log(LOG_INFO, f"exit {_exit_code(status)}")
        self.event("shell-exit", {"rank": self._ranks[0], "wait_status": status})
        self.event("complete", {"status": status})
        self.event("done")
