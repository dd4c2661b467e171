"""The terminus server of a job's shell: pseudo-terminal sessions over RPC.

Flux's job shell runs a terminus server (flux-core's libterminus) on the
service ``<shell service>.terminus``; ``flux terminus`` and ``flux job attach``
talk to it. :class:`TerminusServer` serves the same requests, payloads and
errors for a job of the embedded instance:

- ``NAME.list``: ``{"server": {"service", "rank", "ctime"}, "sessions": [{"id",
  "name", "clients", "pid", "exited", "ctime"}, ...]}``;
- ``NAME.new`` ``{"name"?, "cmd"?, "environ"?, "cwd"?}``: runs ``cmd`` (default
  ``$SHELL``) on a new pseudo-terminal, as the leader of its own session with
  the terminal as its controlling terminal, with ``FLUX_TERMINUS_SESSION`` set
  to the session's ID (the lowest free one); answers ``{"name",
  "pty_service", "id"}``;
- ``NAME.kill`` ``{"id", "signal", "wait"?}``: signals the terminal's foreground
  process group and the session's process group; with ``wait``, the answer
  is the session's ``exit`` message (then ``ENODATA``) when it has ended;
- ``NAME.kill-server``: kills every session with SIGKILL, answers once none is
  left, and stops answering ``list``, ``new``, ``kill`` (``ENOSYS``);
- ``NAME.ID`` (a session's ``pty_service``): the pty protocol, ``{"type":
  "attach", "mode": "rw"|"ro"|"wo", "winsize"?: {"rows", "cols"}}`` starts a
  stream (``{"type": "attach"}``, then ``{"type": "data", "data"}`` with the
  terminal's output, base64 with ``"encoding"`` when it is not UTF-8 text,
  and at the end ``{"type": "exit", "message", "status"}`` and ``ENODATA``);
  ``data`` (typed input), ``resize`` and ``detach`` come from an attached
  client.

A new session keeps what it writes until a client attaches (it waits for its
first reader, even once its process has exited); a session ends when its
process has exited and its terminal was read to the end (or it was killed).
A client whose connection closes is detached. :meth:`TerminusServer.close`
(the job ended) kills what is left, tells the attached clients, and leaves
no descriptor or process behind.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import errno
import fcntl
import logging
import os
import signal
import struct
import termios
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from fluxsdk.instance._broker import Broker, Connection, Request, RequestError
from fluxsdk.instance._exec import find_executable, reap_if_exited

__all__ = ["TaskTerminals", "TerminusServer", "TerminusSession"]

log = logging.getLogger("fluxsdk.instance")

_READ_SIZE: Final = 4096
# Linux's TIOCSIG (_IOW('T', 0x36, int)): signal a pty's foreground process group.
_TIOCSIG: Final = 0x40045436
_DEFAULT_WINSIZE: Final = (25, 80)
_WINSIZE: Final = struct.Struct("HHHH")


def _signal_pty(leader: int, signum: int) -> None:
    """Signal the foreground process group of the terminal whose leader is ``leader``."""
    try:
        fcntl.ioctl(leader, _TIOCSIG, signum)
        return
    except OSError:
        pass
    os.killpg(os.tcgetpgrp(leader), signum)


def _set_winsize(leader: int, rows: int, cols: int) -> None:
    fcntl.ioctl(leader, termios.TIOCSWINSZ, _WINSIZE.pack(rows, cols, 0, 0))


def data_message(data: bytes) -> dict[str, Any]:
    """A pty ``data`` message: the text itself, or base64 when it is not UTF-8
    text JSON can carry (a NUL is not), as flux's pty server encodes it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return {
            "type": "data",
            "encoding": "base64",
            "data": base64.b64encode(data).decode("ascii"),
        }
    return {"type": "data", "data": text}


def _data_of(request: Request) -> bytes:
    """The bytes of a ``data`` message (``EPROTO`` if malformed)."""
    data = request.payload.get("data")
    encoding = request.payload.get("encoding")
    if not isinstance(data, str) or not (encoding is None or isinstance(encoding, str)):
        raise RequestError(errno.EPROTO, "failed to unpack data msg")
    if encoding is None:
        return data.encode("utf-8", "surrogateescape")
    if encoding != "base64":
        raise RequestError(errno.EPROTO, f"invalid pty data encoding: {encoding}")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(errno.EINVAL, f"failed to decode {len(data)} bytes of base64") from None


class _Client:
    """An attached client (or a ``kill`` waiting for the end): where its stream goes."""

    __slots__ = ("conn", "read", "request", "write")

    def __init__(self, request: Request, read: bool = False, write: bool = False) -> None:
        self.request = request
        self.conn = request.conn
        self.read = read
        self.write = write

    def send_exit(self, message: str, status: int) -> None:
        self.request.respond({"type": "exit", "message": message, "status": status})
        self.request.error(errno.ENODATA)


class TerminusSession:
    """One pseudo-terminal session of a :class:`TerminusServer` (``NAME.ID``)."""

    def __init__(self, server: TerminusServer, sid: int, name: str, *, wait: bool) -> None:
        self.server = server
        self.id = sid
        self.name = name
        self.ctime = time.time()
        self.topic = f"{server.service}.{sid}"
        self.pid = -1
        self._group = -1  # the process group signalled (the session's own process's)
        self.exited = False
        self.status = 0
        self.clients: list[_Client] = []
        # Copies of the output (the shell's pty option captures it), b"" at the end.
        self.monitor: Callable[[bytes], None] | None = None
        self._wait_for_client = wait
        self._wait_on_close = True
        self._reading = False
        self._closed = False
        self._pidfd = -1
        # Both close-on-exec. The follower stays open here until the process has
        # opened it by name: the terminal's end (EIO) is when no process has it open.
        self.leader, self._follower = os.openpty()
        try:
            self.follower = os.ttyname(self._follower)
            _set_winsize(self.leader, *_DEFAULT_WINSIZE)
            os.set_blocking(self.leader, False)
        except BaseException:
            os.close(self.leader)
            os.close(self._follower)
            raise
        server.broker.register(self.topic, self._request)

    # -- the process -----------------------------------------------------------------

    def spawn(self, argv: list[str], env: Mapping[str, str], cwd: str | None) -> bool:
        """Run ``argv`` on the terminal (its controlling terminal, in a new session).

        Returns False if the working directory could not be entered: as in flux,
        the session then exists, its process never ran, and it has exited.

        :raises OSError: the command could not be run.
        """
        executable = find_executable(argv[0], env)
        actions: list[tuple[Any, ...]] = [
            # Opened by a session leader without O_NOCTTY: it becomes the controlling tty.
            (os.POSIX_SPAWN_OPEN, 0, self.follower, os.O_RDWR, 0),
            (os.POSIX_SPAWN_DUP2, 0, 1),
            (os.POSIX_SPAWN_DUP2, 0, 2),
        ]
        home = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if cwd is not None:
                try:
                    os.chdir(cwd)
                except OSError:
                    self.exited = True
                    return False
            self.pid = self._group = os.posix_spawn(
                executable, argv, dict(env), file_actions=actions, setsid=True
            )
        finally:
            os.fchdir(home)
            os.close(home)
            self._release_follower()
        self._pidfd = os.pidfd_open(self.pid)
        self.server.loop.add_reader(self._pidfd, self._reap)
        return True

    def adopt(self, pid: int) -> None:
        """The process on this terminal is ``pid`` (a task: started and reaped elsewhere,
        and listed without a pid, as flux lists a task's terminal)."""
        self._group = pid
        self._release_follower()

    def _release_follower(self) -> None:
        if self._follower >= 0:
            os.close(self._follower)
            self._follower = -1

    def process_exited(self, status: int) -> None:
        """The session's process exited with wait status ``status``."""
        self.exited = True
        self.status = status
        self._check_complete()

    def _reap(self) -> None:
        status = reap_if_exited(self.pid)
        if status is None:
            return
        self._close_pidfd()
        self.process_exited(status)

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            self.server.loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        self.server.dying.discard(self)

    def kill(self, signum: int) -> None:
        """Signal the terminal's foreground group, then the session's process group.

        :raises OSError: ``signum`` is not a signal, or nothing could be signalled.
        """
        self._wait_for_client = False
        if self.exited:
            self.destroy()
            return
        if signum <= 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if signum != signal.SIGWINCH:
            self._wait_on_close = False
        _signal_pty(self.leader, signum)
        if self._group <= 0:  # a task's terminal before its task started
            raise OSError(errno.ESRCH, os.strerror(errno.ESRCH))
        os.killpg(self._group, signum)

    # -- reading the terminal ----------------------------------------------------------

    def start_reading(self) -> None:
        if not self._reading and not self._closed:
            self._reading = True
            self.server.loop.add_reader(self.leader, self._read)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self.server.loop.remove_reader(self.leader)

    def _read(self) -> None:
        try:
            data = os.read(self.leader, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                log.warning("terminus session %s: read: %s", self.topic, exc.strerror)
                return
            data = b""
        if not data:  # every process closed the terminal: all of it has been read
            self._stop_reading()
            self._wait_on_close = False
            self._end_monitor()
            self._check_complete()
            return
        if self.monitor is not None:
            self.monitor(data)
        message: dict[str, Any] | None = None
        for client in self.clients:
            if client.read:
                message = message or data_message(data)
                client.request.respond(message)
        self.server.broker.request_flush()

    def _end_monitor(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            monitor(b"")

    def abandon(self) -> None:
        """Wait neither for a client nor for the terminal's end: the session ends
        with its process (its job is being stopped)."""
        self._wait_for_client = self._wait_on_close = False
        self._check_complete()

    def wait_for_client(self) -> None:
        """Wait for a first reader before ending (an interactive task's terminal)."""
        self._wait_for_client = True

    def _check_complete(self) -> None:
        if not (self._wait_for_client or self._wait_on_close) and self.exited:
            self.destroy()

    # -- requests on NAME.ID -----------------------------------------------------------

    def _client(self, conn: Connection) -> _Client | None:
        for client in self.clients:
            if client.conn is conn:
                return client
        return None

    def _request(self, request: Request) -> None:
        if request.userid != os.getuid():
            raise RequestError(errno.EPERM)
        payload = request.payload
        kind = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(kind, str):
            raise RequestError(errno.EPROTO)
        client = self._client(request.conn)
        if kind == "attach":
            if client is not None:
                raise RequestError(errno.EEXIST)
            self._attach(request)
            self._check_complete()
            return
        if client is None:
            raise RequestError(errno.ENOENT)
        if kind == "resize":
            self._resize(request)
        elif kind == "data":
            if client.write:
                self._write(_data_of(request))
        elif kind == "detach":
            self.detach(client)
        else:
            raise RequestError(errno.ENOSYS)
        request.respond()

    def _attach(self, request: Request) -> None:
        mode = request.payload.get("mode")
        if mode not in ("rw", "ro", "wo"):
            raise RequestError(errno.EPROTO)
        client = _Client(request, read="r" in mode, write="w" in mode)
        if not self.clients and client.read:
            self.start_reading()
            self._wait_for_client = False
        self.clients.append(client)
        try:
            if client.read and client.write:
                self._resize(request)
        except BaseException:
            self.clients.remove(client)
            raise
        self.server.watch(request.conn)
        request.respond({"type": "attach"})

    def _resize(self, request: Request) -> None:
        winsize = request.payload.get("winsize")
        rows = winsize.get("rows") if isinstance(winsize, dict) else None
        cols = winsize.get("cols") if isinstance(winsize, dict) else None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rows, cols)):
            raise RequestError(errno.EPROTO)
        assert isinstance(rows, int) and isinstance(cols, int)
        if not (0 < rows <= 0xFFFF and 0 < cols <= 0xFFFF):
            raise RequestError(errno.EINVAL)
        _set_winsize(self.leader, rows, cols)
        with contextlib.suppress(OSError):  # tell the foreground program (best effort)
            _signal_pty(self.leader, signal.SIGWINCH)

    def _write(self, data: bytes) -> None:
        """Type ``data`` into the terminal (``EAGAIN`` if its input queue is full)."""
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.leader, view)
            except InterruptedError:
                continue
            except OSError as exc:
                raise RequestError(exc.errno or errno.EIO, f"write: {exc.strerror}") from None
            view = view[written:]

    def detach(self, client: _Client) -> None:
        """A client leaves (asked, or its connection closed)."""
        client.send_exit("Client requested detach", 0)
        self.clients.remove(client)
        if not self.clients and self.monitor is None:  # captured output is still read
            self._stop_reading()

    def add_exit_watcher(self, request: Request) -> None:
        """``request`` is answered with the session's ``exit`` message when it ends."""
        self.clients.append(_Client(request))

    # -- the end ---------------------------------------------------------------------

    def destroy(self) -> None:
        """End the session: its clients are told, its terminal closed, its process
        killed if it still runs (and reaped when it exits)."""
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        self._end_monitor()  # what was not read of the terminal is lost with it
        if self._group > 0 and not self.exited:
            with contextlib.suppress(OSError):
                os.killpg(self._group, signal.SIGKILL)
        for client in self.clients:
            client.send_exit("session exiting", self.status)
        self.clients.clear()
        self.server.broker.unregister(self.topic)
        self._release_follower()
        os.close(self.leader)
        if self._pidfd >= 0:
            # Reaped when it exits (at once: it was sent SIGKILL).
            self.server.dying.add(self)
            self.server.loop.remove_reader(self._pidfd)
            self.server.loop.add_reader(self._pidfd, self._reap_killed)
        self.server.broker.request_flush()
        self.server.session_gone(self)

    def _reap_killed(self) -> None:
        if reap_if_exited(self.pid) is not None:
            self._close_pidfd()

    def reap_now(self) -> None:
        """Wait for a killed process (the instance is stopping)."""
        if self._pidfd >= 0:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self._close_pidfd()


class TerminusServer:
    """The terminus server of one job's shell, on ``service`` (``<shell service>.terminus``).

    Args:
        broker: the instance's broker (its topics are registered there).
        loop: the broker's event loop.
        service: the server's service name.
        rank: the broker rank the shell runs on.
        env: the environment of a ``new`` session that names none (the shell's;
            may be set later, as :attr:`session_env`).
        cwd: the working directory of a ``new`` session that names none.
    """

    def __init__(
        self,
        broker: Broker,
        loop: asyncio.AbstractEventLoop,
        service: str,
        rank: int,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.broker = broker
        self.loop = loop
        self.service = service
        self.rank = rank
        self.ctime = time.time()
        self.sessions: dict[int, TerminusSession] = {}
        # Ended sessions whose killed process is not reaped yet.
        self.dying: set[TerminusSession] = set()
        self.session_env: dict[str, str] = dict(env or {})
        self._cwd = cwd
        self._empty_waiters: list[Callable[[], None]] = []
        self._watched: set[Connection] = set()
        self._methods = {
            "list": self._list,
            "new": self._new,
            "kill": self._kill,
            "kill-server": self._kill_server,
        }
        for method, handler in self._methods.items():
            # flux's list and kill-server read no payload: any is accepted.
            broker.register(
                f"{service}.{method}", handler, any_payload=method in ("list", "kill-server")
            )

    # -- sessions ---------------------------------------------------------------------

    def _new_id(self) -> int:
        sid = 0
        while sid in self.sessions:
            sid += 1
        return sid

    def open_session(self, sid: int, name: str) -> TerminusSession:
        """A session for a task's terminal (the shell's pty option), with the task's ID.

        :raises ValueError: a session with this ID exists.
        """
        if sid in self.sessions:
            raise ValueError(f"terminus session {sid} exists")
        session = self.sessions[sid] = TerminusSession(self, sid, name, wait=False)
        return session

    def session_gone(self, session: TerminusSession) -> None:
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        if not self.sessions:
            waiters, self._empty_waiters = self._empty_waiters, []
            for waiter in waiters:
                waiter()

    def notify_empty(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once no session is left (at once if none is)."""
        if not self.sessions:
            callback()
        else:
            self._empty_waiters.append(callback)

    def watch(self, conn: Connection) -> None:
        """Detach ``conn``'s clients when it closes (flux's disconnect)."""
        if conn not in self._watched:
            self._watched.add(conn)
            conn.on_close(self._disconnected)

    def _disconnected(self, conn: Connection) -> None:
        self._watched.discard(conn)
        for session in list(self.sessions.values()):
            for client in [c for c in session.clients if c.conn is conn]:
                session.detach(client)

    # -- requests ----------------------------------------------------------------------

    @staticmethod
    def _check_user(request: Request) -> None:
        if request.userid != os.getuid():
            raise RequestError(errno.EPERM)

    def _list(self, request: Request) -> None:
        self._check_user(request)
        sessions = [
            {
                "id": s.id,
                "name": s.name,
                "clients": len(s.clients),
                "pid": s.pid,
                "exited": int(s.exited),
                "ctime": s.ctime,
            }
            for s in self.sessions.values()
        ]
        server = {"service": self.service, "rank": self.rank, "ctime": self.ctime}
        request.respond({"sessions": sessions, "server": server})

    def _new(self, request: Request) -> None:
        self._check_user(request)
        payload = request.payload or {}
        name = payload.get("name")
        if name is not None and not isinstance(name, str):
            raise RequestError(errno.EPROTO)
        cmd = payload.get("cmd")
        environ = payload.get("environ")
        cwd = payload.get("cwd")
        if (
            (cmd is not None and not isinstance(cmd, list))
            or (environ is not None and not isinstance(environ, dict))
            or (cwd is not None and not isinstance(cwd, str))
            or any(not isinstance(arg, str) for arg in cmd or ())
            or any(not isinstance(v, str) for v in (environ or {}).values())
        ):
            raise RequestError(errno.EPROTO, "failed to parse cmd field")
        env = dict(environ) if environ is not None else dict(self.session_env)
        argv = list(cmd) if cmd else [os.environ.get("SHELL") or "bash"]  # the shell's, as flux
        if not name:
            name = argv[0]
        sid = self._new_id()
        env["FLUX_TERMINUS_SESSION"] = str(sid)
        session = TerminusSession(self, sid, name, wait=True)
        self.sessions[sid] = session
        try:
            session.spawn(argv, env, cwd if cwd is not None else self._cwd)
        except (OSError, ValueError) as exc:
            session.destroy()
            number = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EINVAL
            raise RequestError(number, f"failed to run {argv[0]}") from None
        request.respond({"name": name, "pty_service": session.topic, "id": sid})

    def _kill(self, request: Request) -> None:
        self._check_user(request)
        sid = request.payload_get("id", int)
        signum = request.payload_get("signal", int)
        wait = request.payload_get("wait", int, 0)
        session = self.sessions.get(sid)
        if session is None:
            raise RequestError(errno.ENOENT)
        ended = session.exited
        try:
            session.kill(signum)
        except OSError as exc:
            raise RequestError(exc.errno or errno.EINVAL) from None
        if not wait:
            request.respond()
        elif ended:  # the session ended at once: its end is the answer
            _Client(request).send_exit("session exiting", session.status)
        else:
            session.add_exit_watcher(request)

    def _kill_server(self, request: Request) -> None:
        self._check_user(request)

        def stopped() -> None:
            request.respond()
            self._stop()
            self.broker.request_flush()

        self.notify_empty(stopped)
        for session in list(self.sessions.values()):
            with contextlib.suppress(OSError):
                session.kill(signal.SIGKILL)

    def _stop(self) -> None:
        """Stop serving ``list``, ``new``, ``kill``, ``kill-server`` (sessions go on)."""
        for method in self._methods:
            self.broker.unregister(f"{self.service}.{method}")

    def close(self) -> None:
        """The shell is gone: every session ends (killed if running), topics go away."""
        self._stop()
        for session in list(self.sessions.values()):
            session.destroy()
        self._empty_waiters.clear()

    def reap(self) -> None:
        """Wait for the processes of closed sessions (the instance is stopping)."""
        for session in list(self.dying):
            session.reap_now()


class TaskTerminals:
    """The terminals of a job's tasks (flux's shell option ``pty``), as terminus sessions.

    Task ``rank`` runs on session ``rank`` (named ``task<rank>``). With ``capture``
    (and always for tasks other than 0, which no client can attach to) what the
    terminal shows goes to ``on_output(rank, data)`` as it is read, and
    ``on_end(rank)`` follows once it was read to the end; with ``interactive``,
    task 0's terminal waits for a client before it ends.
    """

    def __init__(
        self,
        server: TerminusServer,
        ranks: frozenset[int],
        *,
        capture: bool,
        interactive: bool,
        on_output: Callable[[int, bytes], None],
        on_end: Callable[[int], None],
    ) -> None:
        self._capture = capture
        self.sessions: dict[int, TerminusSession] = {}
        for rank in sorted(ranks):
            session = server.open_session(rank, f"task{rank}")
            if interactive and rank == 0:
                session.wait_for_client()
            if capture or rank != 0:
                session.monitor = self._monitor(rank, on_output, on_end if capture else None)
                if not (interactive and rank == 0):
                    session.start_reading()
            self.sessions[rank] = session

    @staticmethod
    def _monitor(
        rank: int, on_output: Callable[[int, bytes], None], on_end: Callable[[int], None] | None
    ) -> Callable[[bytes], None]:
        def monitor(data: bytes) -> None:
            if data:
                on_output(rank, data)
            elif on_end is not None:
                on_end(rank)

        return monitor

    def terminal(self, rank: int) -> tuple[str, bool] | None:
        """Task ``rank``'s terminal path, and whether its output is captured."""
        session = self.sessions.get(rank)
        return None if session is None else (session.follower, self._capture)

    def spawned(self, rank: int, pid: int) -> None:
        session = self.sessions.get(rank)
        if session is not None:
            session.adopt(pid)

    def exited(self, rank: int, status: int) -> None:
        session = self.sessions.get(rank)
        if session is not None:
            session.process_exited(status)

    def abandon(self) -> None:
        """The job is being stopped: each terminal ends with its task."""
        for session in list(self.sessions.values()):
            session.abandon()
