"""Running a job's tasks: spawn, capture output, signal, reap.

Tasks are started with ``posix_spawn``: each in its own session (so a signal
reaches the whole process group it starts), in its working directory, pinned
to the CPUs the scheduler gave it. The single-threaded broker lends the child
its own cwd and CPU mask around the spawn, so the child has them before it
executes anything. Exits are noticed through pidfds, output through
non-blocking pipes, all on the broker's event loop; nothing blocks.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import os
import select
import shutil
import signal
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["JobExec", "SpawnError", "TaskPlan"]

log = logging.getLogger("fluxsdk.instance")

_READ_SIZE = 65536
_ALL_CPUS = frozenset(os.sched_getaffinity(0))
# Where the broker returns after borrowing a task's working directory.
_HOME_FD = os.open(".", os.O_RDONLY | os.O_DIRECTORY)

OutputCallback = Callable[[int, str, bytes], None]
EofCallback = Callable[[int, str], None]
ExitCallback = Callable[[int], None]


class _TaskFds:
    """The task pipes and pidfds of one event loop, watched by one epoll of their own.

    The loop watches only that epoll's descriptor; adding and removing a task's
    descriptors is then one system call each, without asyncio's per-descriptor
    bookkeeping (three of each per task).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], None]] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        if self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def _ready(self) -> None:
        for fd, _ in self._epoll.poll(0):
            callback = self._callbacks.get(fd)
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                log.exception("task descriptor callback failed")


_task_fds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TaskFds] = (
    weakref.WeakKeyDictionary()
)


def _fds_of(loop: asyncio.AbstractEventLoop) -> _TaskFds:
    fds = _task_fds.get(loop)
    if fds is None:
        fds = _task_fds[loop] = _TaskFds(loop)
    return fds


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
    pid: int
    pidfd: int
    open_streams: int
    status: int | None = None
    partial: dict[str, bytearray] = attrs.field(factory=dict)


def _find_executable(name: str, env: Mapping[str, str]) -> str:
    """Resolve a command as execvp would, with the job's PATH (not the broker's)."""
    if "/" in name:
        return name
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


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
        on_spawn: Callable[[int, int], None] | None = None,
    ) -> None:
        self._loop = loop
        self._fds = _fds_of(loop)
        self._hostname = hostname
        self._on_spawn = on_spawn
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
        self._executable: str | None = None
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
                # A chdir failure names itself and exits 1; a command that cannot
                # be found or run exits 127, as a shell's would.
                if exc.strerror and exc.strerror.startswith("chdir "):
                    what, status = exc.strerror, 1 << 8
                else:
                    what = f"{self._argv[0]}: {exc.strerror}"
                    unrunnable = isinstance(exc, (FileNotFoundError, PermissionError))
                    status = (127 if unrunnable else 1) << 8
                note = f"task {plan.rank} (host {self._hostname}): start failed: {what}"
                self.kill(signal.SIGKILL)
                if not self._tasks:
                    self._finished = True
                raise SpawnError(note, status) from None

    def _spawn(self, plan: TaskPlan, extra_env: Mapping[str, str]) -> _Task:
        env = dict(self._env)
        env.update(extra_env)
        if self._executable is None:
            self._executable = _find_executable(self._argv[0], env)
        actions: list[tuple[Any, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, self._stdin_path or os.devnull, os.O_RDONLY, 0)
        ]
        pipes: dict[str, tuple[int, int]] = {}
        append = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        for fd, stream, path in (
            (1, "stdout", self._stdout_path),
            (2, "stderr", self._stderr_path),
        ):
            if path is not None:
                actions.append((os.POSIX_SPAWN_OPEN, fd, path, append, 0o666))
            elif fd == 2 and self._stdout_path is not None:
                actions.append((os.POSIX_SPAWN_DUP2, 1, 2))  # stderr follows stdout's file
            else:
                # os.pipe() fds are close-on-exec; only the dup2'ed copy reaches the task.
                pipes[stream] = os.pipe()
                actions.append((os.POSIX_SPAWN_DUP2, pipes[stream][1], fd))
        # The broker is single-threaded: borrowing its cwd and CPU mask for the
        # spawn is how the child gets them before it runs anything.
        pin = set(plan.cpus) != _ALL_CPUS
        try:
            if self._cwd is not None:
                try:
                    os.chdir(self._cwd)
                except OSError as exc:
                    raise OSError(exc.errno, f"chdir {self._cwd}: {exc.strerror}") from None
            if pin:
                os.sched_setaffinity(0, plan.cpus)
            pid = os.posix_spawn(
                self._executable, self._argv, env, file_actions=actions, setsid=True
            )
        except OSError:
            for read_end, write_end in pipes.values():
                os.close(read_end)
                os.close(write_end)
            raise
        finally:
            if pin:
                os.sched_setaffinity(0, _ALL_CPUS)
            if self._cwd is not None:
                os.fchdir(_HOME_FD)
        pidfd = os.pidfd_open(pid)
        if self._on_spawn is not None:
            self._on_spawn(plan.rank, pid)
        task = _Task(plan, pid, pidfd, open_streams=len(pipes))
        for stream, (read_end, write_end) in pipes.items():
            os.close(write_end)
            os.set_blocking(read_end, False)
            task.partial[stream] = bytearray()
            self._fds.add(read_end, functools.partial(self._read, task, stream, read_end))
        self._fds.add(pidfd, functools.partial(self._reap, task))
        return task

    def _read(self, task: _Task, stream: str, fd: int) -> None:
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
        self._fds.remove(fd)
        os.close(fd)
        if partial:
            self._on_output(rank, stream, bytes(partial))
            partial.clear()
        self._on_eof(rank, stream)
        task.open_streams -= 1
        self._maybe_done(task)

    def _reap(self, task: _Task) -> None:
        try:
            pid, status = os.waitpid(task.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = task.pid, 0
        if pid == 0:
            return
        self._fds.remove(task.pidfd)
        os.close(task.pidfd)
        task.status = status
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
                    os.killpg(task.pid, signum)
                except ProcessLookupError:
                    pass
                except PermissionError:
                    log.warning("cannot signal task %d", task.plan.rank)
