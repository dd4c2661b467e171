"""Running a job's tasks: spawn, capture output, signal, reap.

Each task is its own session (so a signal reaches the whole process group it
starts), pinned to the CPUs the scheduler gave it: the broker pins its own
thread to those CPUs around the spawn, and the child inherits the mask before
it executes anything. Exits are noticed through pidfds, output through
non-blocking pipes, all on the broker's event loop; nothing blocks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import attrs

__all__ = ["JobExec", "SpawnError", "TaskPlan"]

log = logging.getLogger("fluxsdk.instance")

_READ_SIZE = 65536
_ALL_CPUS = frozenset(os.sched_getaffinity(0))

OutputCallback = Callable[[int, str, bytes], None]
EofCallback = Callable[[int, str], None]
ExitCallback = Callable[[int], None]


def _shell_status(status: int) -> int:
    """The wait status a Flux job shell reports for a task: a task killed by
    signal S counts as an exit with code 128+S, as flux's shell does."""
    if os.WIFSIGNALED(status):
        return (128 + os.WTERMSIG(status)) << 8
    return status


class SpawnError(Exception):
    """A task could not be started (``note`` is the message for the job's exception)."""

    def __init__(self, note: str, status: int) -> None:
        super().__init__(note)
        self.note = note
        self.status = status


@attrs.frozen
class TaskPlan:
    """Where one task runs: its global rank, node, index on the node, CPUs, GPUs."""

    rank: int
    node_rank: int
    local_id: int
    cpus: tuple[int, ...]
    gpus: tuple[int, ...]


@attrs.define(eq=False)
class _Task:
    plan: TaskPlan
    proc: subprocess.Popen[bytes]
    pidfd: int
    open_streams: int
    status: int | None = None
    partial: dict[str, bytearray] = attrs.field(factory=dict)


class JobExec:
    """The running tasks of one job.

    ``on_output(rank, stream, data)`` receives output (whole lines unless
    unbuffered), ``on_eof(rank, stream)`` each stream's end, and
    ``on_exit(status)`` the largest wait status once every task has exited
    and every stream has ended.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None,
        tasks: Sequence[TaskPlan],
        *,
        on_output: OutputCallback,
        on_eof: EofCallback,
        on_exit: ExitCallback,
        stdin_path: str | None = None,
        stdout_path: str | None = None,
        stderr_path: str | None = None,
        unbuffered: bool = False,
        hostname: str = "localhost",
    ) -> None:
        self._loop = loop
        self._hostname = hostname
        self._argv = list(argv)
        self._env = env
        self._cwd = cwd
        self._plans = list(tasks)
        self._on_output = on_output
        self._on_eof = on_eof
        self._on_exit = on_exit
        self._stdin_path = stdin_path
        self._stdout_path = stdout_path
        self._stderr_path = stderr_path
        self._unbuffered = unbuffered
        self._tasks: list[_Task] = []
        self._remaining = 0
        self._finished = False

    @property
    def running(self) -> bool:
        return not self._finished

    def start(self, task_env: Callable[[TaskPlan], Mapping[str, str]]) -> None:
        """Spawn every task; ``task_env`` gives each task's extra variables.

        :raises SpawnError: a task could not be started; tasks already started
            are killed and reaped before this returns through ``on_exit``.
        """
        self._remaining = len(self._plans)
        for plan in self._plans:
            try:
                self._tasks.append(self._spawn(plan, task_env(plan)))
            except OSError as exc:
                self._remaining -= len(self._plans) - len(self._tasks)
                note = (
                    f"task {plan.rank} (host {self._hostname}): start failed: "
                    f"{self._argv[0]}: {exc.strerror}"
                )
                status = (
                    127 << 8 if isinstance(exc, (FileNotFoundError, PermissionError)) else 1 << 8
                )
                self.kill(signal.SIGKILL)
                if not self._tasks:
                    self._finished = True
                raise SpawnError(note, status) from None

    def _spawn(self, plan: TaskPlan, extra_env: Mapping[str, str]) -> _Task:
        env = dict(self._env)
        env.update(extra_env)
        files: list[IO[Any]] = []
        stdin: Any = subprocess.DEVNULL
        stdout: Any = subprocess.PIPE
        stderr: Any = subprocess.PIPE
        try:
            if self._stdin_path is not None:
                stdin = open(self._stdin_path, "rb")  # noqa: SIM115 - closed below
                files.append(stdin)
            if self._stdout_path is not None:
                stdout = open(self._stdout_path, "ab")  # noqa: SIM115 - closed below
                files.append(stdout)
            if self._stderr_path is not None:
                stderr = open(self._stderr_path, "ab")  # noqa: SIM115 - closed below
                files.append(stderr)
            elif self._stdout_path is not None:
                stderr = subprocess.STDOUT
            pin = set(plan.cpus) != _ALL_CPUS
            if pin:
                os.sched_setaffinity(0, plan.cpus)
            try:
                proc = subprocess.Popen(
                    self._argv,
                    env=env,
                    cwd=self._cwd,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                    close_fds=True,
                )
            finally:
                if pin:
                    os.sched_setaffinity(0, _ALL_CPUS)
        finally:
            for file in files:
                file.close()
        pidfd = os.pidfd_open(proc.pid)
        streams = [(s, p) for s, p in (("stdout", proc.stdout), ("stderr", proc.stderr)) if p]
        task = _Task(plan, proc, pidfd, open_streams=len(streams))
        for stream, pipe in streams:
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            task.partial[stream] = bytearray()
            self._loop.add_reader(fd, self._read, task, stream, pipe)
        self._loop.add_reader(pidfd, self._reap, task)
        return task

    def _read(self, task: _Task, stream: str, pipe: IO[bytes]) -> None:
        fd = pipe.fileno()
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        rank = task.plan.rank
        partial = task.partial[stream]
        if data:
            if self._unbuffered:
                self._on_output(rank, stream, data)
                return
            partial += data
            cut = partial.rfind(b"\n") + 1
            if cut:
                self._on_output(rank, stream, bytes(partial[:cut]))
                del partial[:cut]
            return
        self._loop.remove_reader(fd)
        pipe.close()
        if partial:
            self._on_output(rank, stream, bytes(partial))
            partial.clear()
        self._on_eof(rank, stream)
        task.open_streams -= 1
        self._maybe_done(task)

    def _reap(self, task: _Task) -> None:
        try:
            pid, status = os.waitpid(task.proc.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = task.proc.pid, 0
        if pid == 0:
            return
        self._loop.remove_reader(task.pidfd)
        os.close(task.pidfd)
        task.status = status
        # Tell Popen the child is reaped, so it does not try again.
        task.proc.returncode = os.waitstatus_to_exitcode(status)
        self._maybe_done(task)

    def _maybe_done(self, task: _Task) -> None:
        if task.status is None or task.open_streams:
            return
        self._remaining -= 1
        if self._remaining == 0 and not self._finished:
            self._finished = True
            statuses = [_shell_status(t.status) for t in self._tasks if t.status is not None]
            self._on_exit(max(statuses, default=0))

    def kill(self, signum: int) -> None:
        """Send ``signum`` to the process group of every task not yet finished.

        A task whose leader exited may still have descendants holding its
        output open; they are in its process group and get the signal too.
        """
        for task in self._tasks:
            if task.status is None or task.open_streams:
                try:
                    os.killpg(task.proc.pid, signum)
                except ProcessLookupError:
                    pass
                except PermissionError:
                    log.warning("cannot signal task %d", task.plan.rank)
