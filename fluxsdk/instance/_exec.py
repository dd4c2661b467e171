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
import resource
import select
import shutil
import signal
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "JobExec",
    "SpawnError",
    "TaskPlan",
    "find_executable",
    "reap_if_exited",
    "shell_status",
    "task_descriptors",
]

log = logging.getLogger("fluxsdk.instance")

_READ_SIZE = 65536
_ALL_CPUS = frozenset(os.sched_getaffinity(0))
# Where the broker returns after borrowing a task's working directory.
_HOME_FD = os.open(".", os.O_RDONLY | os.O_DIRECTORY)

OutputCallback = Callable[[int, str, bytes], None]
EofCallback = Callable[[int, str], None]
ExitCallback = Callable[[int], None]
LogCallback = Callable[[int, str, str | None], None]  # level, message, component

# Flux's shell rlimit option names (RLIMIT_* without the prefix, lower case).
_RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name)
    for name in dir(resource)
    if name.startswith("RLIMIT_")
}


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


def task_descriptors(loop: asyncio.AbstractEventLoop) -> _TaskFds:
    """The epoll of ``loop`` that watches tasks' descriptors (pipes, pidfds, PMI sockets)."""
    fds = _task_fds.get(loop)
    if fds is None:
        fds = _task_fds[loop] = _TaskFds(loop)
    return fds


def _rlimit_values(limits: Mapping[str, int]) -> dict[int, int]:
    """The rlimit option as (resource, soft limit); -1 is unlimited."""
    out: dict[int, int] = {}
    for name, value in limits.items():
        which = _RLIMITS.get(str(name).lower())
        if which is not None and isinstance(value, int):
            out[which] = resource.RLIM_INFINITY if value < 0 else value
    return out


def shell_status(status: int) -> int:
    """The wait status a Flux job shell reports for a task: a task killed by
    signal S counts as an exit with code 128+S, as flux's shell does."""
    if os.WIFSIGNALED(status):
        return (128 + os.WTERMSIG(status)) << 8
    return status


class SpawnError(Exception):
    """A task could not be started (``note`` is the message for the job's exception).

    ``shell_init`` is set when the job shell failed before any task (an output
    file that cannot be opened): flux then writes no redirect or data events.
    """

    def __init__(self, note: str, status: int, shell_init: bool = False) -> None:
        super().__init__(note)
        self.note = note
        self.status = status
        self.shell_init = shell_init


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


def _task_path(template: str | None, plan: TaskPlan) -> str | None:
    """An output path with the per-task templates of flux's shell expanded."""
    if template is None or "{{" not in template:
        return template
    return template.replace("{{taskid}}", str(plan.rank)).replace("{{node}}", str(plan.node_rank))


def _write_labelled(fd: int, rank: int, stream: str, data: bytes) -> None:
    """Write whole lines to an output file, each prefixed with the task rank."""
    prefix = f"{rank}: ".encode()
    lines = data.splitlines(keepends=True)
    os.write(fd, b"".join(prefix + line for line in lines))


def find_executable(name: str, env: Mapping[str, str]) -> str:
    """Resolve a command as execvp would, with the job's PATH (not the broker's)."""
    if "/" in name:
        return name
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


def reap_if_exited(pid: int) -> int | None:
    """The wait status of child ``pid`` if it has exited (it is reaped), else None.
    A child some other waiter already reaped counts as a clean exit."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return status if reaped else None


class JobExec:
    """The running tasks of one job.

    ``on_output(rank, stream, data)`` receives output (one line at a time,
    as flux's shell writes it, unless unbuffered), ``on_eof(rank, stream)``
    each stream's end, ``on_task_exit(plan, pid, status)`` each task's raw
    wait status as it exits, and ``on_exit(status)`` the largest wait status
    once every task has exited and every stream has ended.
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
        output_append: bool = False,
        output_label: Mapping[str, bool] | None = None,
        rlimits: Mapping[str, int] | None = None,
        on_log: LogCallback | None = None,
        on_task_exit: Callable[[TaskPlan, int, int], None] | None = None,
        task_fds: Callable[[TaskPlan], Mapping[int, int]] | None = None,
        terminal: Callable[[TaskPlan], tuple[str, bool] | None] | None = None,
    ) -> None:
        self._loop = loop
        self._fds = task_descriptors(loop)
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
        self._output_append = output_append
        self._output_label = dict(output_label or {})
        self._rlimits = _rlimit_values(rlimits or {})
        self._on_log = on_log
        self._on_task_exit = on_task_exit
        # Descriptors a task inherits besides stdio (a PMI socket): number -> the broker's fd.
        self._task_fds = task_fds
        # Tasks whose stdio is a terminal (the shell's pty option): the terminal's
        # path, and whether its output is captured (the task ends with the terminal).
        self._terminal = terminal
        # Output files, opened once per job (as flux's shell does): path -> fd.
        self._files: dict[str, int] = {}
        # Streams the instance writes to a file itself (labelled): (rank, stream) -> fd.
        self._labelled: dict[tuple[int, str], int] = {}
        # stdin without an input file: a pipe held open while the job runs, as
        # flux's shell keeps it open for ``flux job attach``.
        self._stdin_pipe: tuple[int, int] | None = None
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
        self._open_outputs()
        if self._stdin_path is None:
            try:
                self._stdin_pipe = os.pipe()
            except OSError as exc:
                self._close_files()
                self._finished = True
                raise SpawnError(f"shell_init: {exc.strerror}", 1 << 8, True) from None
        for plan in self._plans:
            try:
                self._tasks.append(self._spawn(plan, task_env(plan)))
            except Exception as exc:
                # Any failure (an OSError, or a command, environment or path
                # that cannot be passed to the kernel) fails the start alike.
                self._remaining -= len(self._plans) - len(self._tasks)
                # A chdir failure names itself and exits 1; a command that cannot
                # be found or run exits 127, as a shell's would.
                strerror = exc.strerror if isinstance(exc, OSError) else None
                if strerror and strerror.startswith("chdir "):
                    what, status = strerror, 1 << 8
                else:
                    reason = strerror or str(exc) or type(exc).__name__
                    what = f"{self._argv[0] if self._argv else '(no command)'}: {reason}"
                    # As a shell: 126 for a command found but not runnable, 127 not found.
                    if isinstance(exc, PermissionError):
                        status = 126 << 8
                    else:
                        status = (127 if isinstance(exc, FileNotFoundError) else 1) << 8
                what = what.encode("utf-8", "backslashreplace").decode("utf-8")
                note = f"task {plan.rank} (host {self._hostname}): start failed: {what}"
                self.kill(signal.SIGKILL)
                if not self._tasks:
                    self._finished = True
                    self._close_files()
                raise SpawnError(note, status) from None

    def _spawn(self, plan: TaskPlan, extra_env: Mapping[str, str]) -> _Task:
        env = dict(self._env)
        env.update(extra_env)
        if self._executable is None:
            self._executable = find_executable(self._argv[0], env)
        actions: list[tuple[Any, ...]] = []
        terminal = self._terminal(plan) if self._terminal is not None else None
        if terminal is not None:
            # Opened by the task, a session leader: its controlling terminal.
            actions.append((os.POSIX_SPAWN_OPEN, 0, terminal[0], os.O_RDWR, 0))
        elif self._stdin_pipe is not None:
            actions.append((os.POSIX_SPAWN_DUP2, self._stdin_pipe[0], 0))
        else:
            actions.append((os.POSIX_SPAWN_OPEN, 0, self._stdin_path, os.O_RDONLY, 0))
        pipes: dict[str, tuple[int, int]] = {}
        stdout_path = _task_path(self._stdout_path, plan)
        stderr_path = _task_path(self._stderr_path, plan) or stdout_path
        streams = ((1, "stdout", stdout_path), (2, "stderr", stderr_path))
        on_terminal: list[str] = []
        for fd, stream, path in streams:
            if terminal is not None and path is None:
                # Output to the terminal (as flux's shell: a stream sent to a file goes there).
                actions.append((os.POSIX_SPAWN_DUP2, 0, fd))
                on_terminal.append(stream)
                continue
            label = self._output_label.get(stream, self._output_label.get("stdout", False))
            if path is not None and not label:
                actions.append((os.POSIX_SPAWN_DUP2, self._file(path), fd))
            else:
                if path is not None:
                    self._labelled[(plan.rank, stream)] = self._file(path)
                # os.pipe() fds are close-on-exec; only the dup2'ed copy reaches the task.
                pipes[stream] = os.pipe()
                actions.append((os.POSIX_SPAWN_DUP2, pipes[stream][1], fd))
        if self._task_fds is not None:
            for number, fd in self._task_fds(plan).items():
                actions.append((os.POSIX_SPAWN_DUP2, fd, number))
        # The broker is single-threaded: borrowing its cwd and CPU mask for the
        # spawn is how the child gets them before it runs anything.
        pin = bool(plan.cpus) and set(plan.cpus) != _ALL_CPUS
        saved_limits: dict[int, tuple[int, int]] = {}
        try:
            if self._cwd is not None:
                try:
                    os.chdir(self._cwd)
                except OSError as exc:
                    # As flux's shell: warn, and run the task in /tmp.
                    if self._on_log is not None and not self._tasks:
                        self._on_log(
                            3,
                            f"host {self._hostname}: Could not change dir to {self._cwd}: "
                            f"{exc.strerror}. Going to /tmp instead",
                            None,
                        )
                    os.chdir("/tmp")
            if pin:
                os.sched_setaffinity(0, plan.cpus)
            for which, soft in self._rlimits.items():
                # Lent like the CPU mask: the child inherits the soft limit.
                saved_limits[which] = current = resource.getrlimit(which)
                hard = current[1]
                if hard != resource.RLIM_INFINITY and (
                    soft == resource.RLIM_INFINITY or soft > hard
                ):
                    soft = hard
                resource.setrlimit(which, (soft, hard))
            pid = os.posix_spawn(
                self._executable, self._argv, env, file_actions=actions, setsid=True
            )
        except BaseException:
            for read_end, write_end in pipes.values():
                os.close(read_end)
                os.close(write_end)
            raise
        finally:
            for which, limits in saved_limits.items():
                resource.setrlimit(which, limits)
            if pin:
                os.sched_setaffinity(0, _ALL_CPUS)
            if self._cwd is not None:
                os.fchdir(_HOME_FD)
        pidfd = os.pidfd_open(pid)
        if self._on_spawn is not None:
            self._on_spawn(plan.rank, pid)
        task = _Task(plan, pid, pidfd, open_streams=len(pipes))
        if terminal is not None:
            # As flux's shell: a stream on the terminal ends at once (stdout, when the
            # terminal is captured, with the terminal); told once the start is recorded.
            for stream in on_terminal:
                if stream == "stdout" and terminal[1]:
                    task.open_streams += 1
                else:
                    self._loop.call_soon(self._on_eof, plan.rank, stream)
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
        emit = self._on_output
        target = self._labelled.get((rank, stream))
        if target is not None:
            emit = functools.partial(_write_labelled, target)
        if data:
            partial += data
            start = 0
            end = partial.find(b"\n") + 1
            while end:
                emit(rank, stream, bytes(partial[start:end]))
                start = end
                end = partial.find(b"\n", start) + 1
            if self._unbuffered and target is None and start < len(partial):
                # As flux's shell unbuffered: each whole line, then what is left at once.
                emit(rank, stream, bytes(partial[start:]))
                start = len(partial)
            del partial[:start]
            return
        self._fds.remove(fd)
        os.close(fd)
        if partial:
            emit(rank, stream, bytes(partial))
            partial.clear()
        if target is None:
            self._on_eof(rank, stream)
        task.open_streams -= 1
        self._maybe_done(task)

    def terminal_output(self, rank: int, data: bytes) -> None:
        """What task ``rank``'s captured terminal showed: its stdout, unless that
        goes to a file (the terminal shows only what is typed, then)."""
        plan = self._plans[rank] if rank < len(self._plans) else None
        if plan is None or plan.rank != rank:
            return
        path = _task_path(self._stdout_path, plan)
        if path is None:
            self._on_output(rank, "stdout", data)

    def terminal_closed(self, rank: int) -> None:
        """The captured terminal of task ``rank`` was read to its end."""
        for task in self._tasks:
            if task.plan.rank == rank and task.open_streams:
                if _task_path(self._stdout_path, task.plan) is None:
                    self._on_eof(rank, "stdout")
                    task.open_streams -= 1
                self._maybe_done(task)

    def _reap(self, task: _Task) -> None:
        status = reap_if_exited(task.pid)
        if status is None:
            return
        self._fds.remove(task.pidfd)
        os.close(task.pidfd)
        task.status = status
        if self._on_task_exit is not None:
            self._on_task_exit(task.plan, task.pid, status)
        self._maybe_done(task)

    def _maybe_done(self, task: _Task) -> None:
        if task.status is None or task.open_streams:
            return
        self._remaining -= 1
        if self._remaining == 0 and not self._finished:
            self._finished = True
            self._close_files()
            statuses = [shell_status(t.status) for t in self._tasks if t.status is not None]
            self._on_exit(max(statuses, default=0))

    def _file(self, path: str) -> int:
        """The job's fd for an output file: opened once, truncated unless appending."""
        fd = self._files.get(path)
        if fd is None:
            mode = os.O_APPEND if self._output_append else os.O_TRUNC
            where = os.path.join(self._cwd, path) if self._cwd else path  # relative: job cwd
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | mode, 0o666)
            self._files[path] = fd
        return fd

    def _open_outputs(self) -> None:
        """Open every output file before any task starts, as flux's shell
        output plugin does at ``shell.init``; a failure fails the job."""
        for plan in self._plans:
            for template in (self._stdout_path, self._stderr_path):
                path = _task_path(template, plan)
                if path is None:
                    continue
                try:
                    self._file(path)
                except Exception as exc:  # OSError, or a path the kernel cannot take
                    self._close_files()
                    self._finished = True
                    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
                    if self._on_log is not None:
                        self._on_log(3, f"open: {path}: {reason}", "output.task")
                        self._on_log(3, "plugin 'output': shell.init failed", None)
                    raise SpawnError(f"shell_init: {reason}", 1 << 8, True) from None

    def _close_files(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()
        if self._stdin_pipe is not None:
            for fd in self._stdin_pipe:
                os.close(fd)
            self._stdin_pipe = None

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
