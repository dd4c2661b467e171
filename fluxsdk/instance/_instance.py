"""The embedded instance as a whole: its directory, lifetime and services.

An instance lives in a state directory (mode 0700) holding ``local.sock``, the
socket clients connect to, ``state.db``, its SQLite state, and ``lock``,
which one live instance holds. Its URI is ``fluxsdk://<directory>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from fluxsdk._fluid import FluidGenerator
from fluxsdk._uri import SOCKET_NAME, embedded_uri, socket_path
from fluxsdk.errors import FluxSDKError
from fluxsdk.hooks import PluginError
from fluxsdk.hooks._instance import InstanceHooks
from fluxsdk.instance._broker import Broker, Request, RequestError
from fluxsdk.instance._events import EventService
from fluxsdk.instance._job import State
from fluxsdk.instance._jobinfo import JobInfoService
from fluxsdk.instance._jobmanager import JobManager
from fluxsdk.instance._journal import JournalService
from fluxsdk.instance._kvs import JobKVSService
from fluxsdk.instance._sched import Resources
from fluxsdk.instance._services import ServiceRouter
from fluxsdk.instance._store import Store

__all__ = ["SOCKET_NAME", "Instance", "InstanceError", "load_config", "uri_for"]

log = logging.getLogger("fluxsdk.instance")

# How long running jobs get to stop when the instance shuts down.
SHUTDOWN_GRACE = 10.0


class InstanceError(FluxSDKError, OSError):
    """The instance could not be started, found or stopped."""


def uri_for(statedir: str | os.PathLike[str]) -> str:
    """The URI of the instance whose state lives in ``statedir``."""
    return embedded_uri(statedir)


def _prepare_statedir(statedir: Path) -> None:
    statedir.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = statedir.stat()
    if st.st_uid != os.getuid():
        raise InstanceError(errno.EPERM, f"{statedir} belongs to another user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        # Only the owner may reach the socket: tighten what we own.
        os.chmod(statedir, 0o700)


class Instance:
    """An embedded Flux-like instance serving jobs from one state directory."""

    def __init__(
        self,
        statedir: str | os.PathLike[str],
        *,
        size: int = 1,
        cores: int | None = None,
        gpus: int | None = None,
        queues: Sequence[str] = (),
        plugins: Sequence[str] = (),
        config: str | os.PathLike[str] | None = None,
    ) -> None:
        """An instance over ``size`` nodes of ``cores`` cores (default: this machine's
        CPUs) and ``gpus`` GPUs (default: the NVIDIA GPUs found here), with named
        ``queues`` (default: none; the first is the default queue), loading the
        ``plugins`` named and those its YAML ``config`` file names."""
        if size < 1:
            raise InstanceError(errno.EINVAL, f"size must be at least 1, got {size}")
        self.statedir = Path(statedir).resolve()
        self.uri = uri_for(self.statedir)
        # Fail here, in the starting process, if the socket path is too long.
        self.socket_path = socket_path(self.statedir)
        self.size, self.cores, self.gpus = size, cores, gpus
        self.queues = tuple(queues)
        self.plugins = tuple(plugins)
        self.config = load_config(config)
        self._lockfile: IO[bytes] | None = None
        self._stopping = False
        self._exit_status = 0
        self._initial: subprocess.Popen[bytes] | None = None

    def _lock(self) -> None:
        _prepare_statedir(self.statedir)
        lockfile = open(self.statedir / "lock", "ab")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lockfile.close()
            raise InstanceError(
                errno.EBUSY, f"an instance is already running in {self.statedir}"
            ) from None
        self._lockfile = lockfile

    def run(self, command: Sequence[str] | None = None, *, ready: IO[str] | None = None) -> int:
        """Serve until shut down, or until ``command`` (run inside it) exits.

        Returns the command's exit status (0 without a command). ``ready``, if
        given, receives the URI once clients can connect.
        """
        self._lock()
        loop = asyncio.new_event_loop()
        store = Store(str(self.statedir / "state.db"))
        hooks: InstanceHooks | None = None
        try:
            hooks = self._load_plugins()
            epoch = store.meta_get("epoch")
            if epoch is None:
                epoch = time.time()
                store.meta_set("epoch", epoch)
            fluid = FluidGenerator(0, epoch=epoch, after=store.last_jobid())
            broker = Broker(loop, self.socket_path, os.getuid())
            store.on_write = broker.request_lazy_flush
            store.on_wanted = broker.request_flush
            broker.add_durability_check(lambda: store.wanted, lambda: store.dirty)
            resources = Resources(self.size, self.cores, self.gpus)
            manager = JobManager(
                loop,
                broker,
                store,
                resources,
                uri=self.uri,
                fluid=fluid,
                queues=self.queues,
                plugins=hooks,
            )
            # Before each durability point: allocate what freed resources can start, then commit.
            broker.add_pre_send_hook(manager.before_commit)
            broker.add_pre_send_hook(store.commit)
            JobInfoService(broker, store, manager)
            JournalService(broker, store, manager)
            JobKVSService(broker, store, manager)
            EventService(broker)
            ServiceRouter(broker)
            self._register_plugin_list(broker, hooks)
            self._register_misc(broker, manager, resources, loop)
            manager.restore()
            manager.resolve_restored_dependents()
            store.commit()
            broker.listen()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(signum, self._begin_shutdown, loop, manager)
            if command:
                self._start_initial_program(loop, manager, command)
            if ready is not None:
                ready.write(self.uri + "\n")
                ready.flush()
            loop.run_forever()
            manager.close()
            broker.close()
            store.commit()
        finally:
            if hooks is not None:
                hooks.close()  # plugins finish their queued events before the exit
            store.close()
            loop.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.statedir / SOCKET_NAME)
            if self._lockfile is not None:
                self._lockfile.close()
        return self._exit_status

    def _load_plugins(self) -> InstanceHooks:
        """The built-in plugins and the named ones; an unknown name stops the start."""
        try:
            return InstanceHooks.load(
                self.plugins,
                uri=self.uri,
                statedir=self.statedir,
                config=self.config,
                queues=self.queues,
            )
        except PluginError as exc:
            raise InstanceError(exc.errno or errno.ENOENT, str(exc)) from None
        except ValueError as exc:
            raise InstanceError(errno.EINVAL, f"instance configuration: {exc}") from None

    @staticmethod
    def _register_plugin_list(broker: Broker, hooks: InstanceHooks) -> None:
        def plugin_list(request: Request) -> None:
            request.respond({"plugins": hooks.describe()})

        broker.register("plugin.list", plugin_list)

    def _register_misc(
        self,
        broker: Broker,
        manager: JobManager,
        resources: Resources,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        attrs = {
            "rank": "0",
            "size": str(len(resources.nodes)),
            "local-uri": self.uri,
            "parent-uri": os.environ.get("FLUX_URI", ""),
            "statedir": str(self.statedir),
            "broker.pid": str(os.getpid()),
            "version": _version(),
        }

        def value(request: Request) -> str:
            name = request.payload_get("name", str)
            if name not in attrs:
                raise RequestError(errno.ENOENT, f"no such attribute {name!r}")
            return attrs[name]

        def getattr_(request: Request) -> None:
            request.respond({"value": value(request)})

        def attr_get(request: Request) -> None:
            # flux's attr.get: the value and its flags (0: the embedded ones are all fixed).
            request.respond({"value": value(request), "flags": 0})

        def shutdown(request: Request) -> None:
            request.respond({})
            self._begin_shutdown(loop, manager)

        def resource_status(request: Request) -> None:
            request.respond({"R": resources.R()})

        def config_get(request: Request) -> None:
            request.respond(self.config)  # the configuration file, as Flux's config.get

        broker.register("broker.getattr", getattr_)
        broker.register("attr.get", attr_get)
        broker.register("instance.shutdown", shutdown)
        broker.register("resource.status", resource_status)
        broker.register("config.get", config_get)

    def _start_initial_program(
        self, loop: asyncio.AbstractEventLoop, manager: JobManager, command: Sequence[str]
    ) -> None:
        env = dict(os.environ, FLUX_URI=self.uri)
        # Inside a Flux instance, programs (and the jobs they submit with their
        # environment) call `flux ...`; here that command is fluxsdk's.
        env["PATH"] = os.pathsep.join(
            filter(None, [str(flux_command_dir(self.statedir)), env.get("PATH")])
        )
        try:
            proc = subprocess.Popen(list(command), env=env)
        except OSError as exc:
            log.error("%s: %s", command[0], exc.strerror)
            self._exit_status = 127
            loop.call_soon(self._begin_shutdown, loop, manager)
            return
        self._initial = proc
        pidfd = os.pidfd_open(proc.pid)

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            status = proc.wait()
            self._exit_status = 128 - status if status < 0 else status
            self._begin_shutdown(loop, manager)

        loop.add_reader(pidfd, exited)

    def _begin_shutdown(self, loop: asyncio.AbstractEventLoop, manager: JobManager) -> None:
        """Stop running jobs (pending ones stay queued for the next start), then stop."""
        if self._stopping:
            return
        self._stopping = True
        manager.stop_ingest()
        if self._initial is not None and self._initial.poll() is None:
            self._initial.send_signal(signal.SIGTERM)
        running = [j for j in manager.jobs.values() if j.state in (State.RUN, State.CLEANUP)]
        for job in running:
            if job.exception is None:
                manager.post(
                    job,
                    "exception",
                    {"type": "shutdown", "severity": 0, "note": "instance is shutting down"},
                )
        manager.broker.request_flush()
        deadline = time.monotonic() + SHUTDOWN_GRACE

        def wait_for_jobs() -> None:
            busy = [j for j in running if j.state != State.INACTIVE]
            if (busy or manager.ingesting) and time.monotonic() < deadline:
                loop.call_later(0.02, wait_for_jobs)
                return
            loop.call_soon(loop.stop)

        loop.call_soon(wait_for_jobs)


def load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """An instance configuration file (YAML mapping) as a dict; ``{}`` for no file.

    Keys: ``plugins`` (names to load); ``plugin-timeout``, ``plugin-slow`` and
    ``plugin-drain`` (seconds); one section per plugin, named after it.

    Raises:
        InstanceError: the file cannot be read or is not a YAML mapping.
    """
    if path is None:
        return {}
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            doc = yaml.safe_load(stream)
    except OSError as exc:
        raise InstanceError(exc.errno or errno.EIO, f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InstanceError(errno.EINVAL, f"{path}: not valid YAML: {exc}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InstanceError(errno.EINVAL, f"{path}: the configuration must be a YAML mapping")
    return doc


def flux_command_dir(statedir: Path) -> Path:
    """A directory holding a ``flux`` command that runs fluxsdk's command line.

    Scripts and batch jobs written for Flux call ``flux run``, ``flux jobs``,
    ``flux version``...; a real ``flux`` could not reach this instance anyway.
    """
    bindir = statedir / "bin"
    bindir.mkdir(exist_ok=True)
    command = bindir / "flux"
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m fluxsdk.cli "$@"\n'
    if not command.exists() or command.read_text() != text:
        command.write_text(text)
        command.chmod(0o755)
    return bindir


def _version() -> str:
    from fluxsdk import __version__

    return __version__


def start_detached(
    statedir: str | os.PathLike[str],
    *,
    size: int = 1,
    cores: int | None = None,
    gpus: int | None = None,
    queues: Sequence[str] = (),
    plugins: Sequence[str] = (),
    config: str | os.PathLike[str] | None = None,
    timeout: float = 30.0,
) -> str:
    """Start an instance in the background (its own session) and return its URI
    once it accepts connections (``plugins`` and ``config`` as for :class:`Instance`)."""
    statedir = Path(statedir).resolve()
    _prepare_statedir(statedir)
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-m", "fluxsdk.instance", "--statedir", str(statedir)]
    argv += ["--size", str(size), "--ready-fd", str(write_fd), "--fork"]
    if cores is not None:
        argv += ["--cores", str(cores)]
    if gpus is not None:
        argv += ["--gpus", str(gpus)]
    if queues:
        argv += ["--queues", ",".join(queues)]
    for name in plugins:
        argv += ["--plugin", name]
    if config is not None:
        argv += ["--config", os.path.abspath(config)]
    logfile = open(statedir / "instance.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=logfile,
            start_new_session=True,
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
        logfile.close()
    proc.wait()  # the intermediate parent exits at once (see --fork)
    with os.fdopen(read_fd, "r") as ready:
        import select

        readable, _, _ = select.select([ready], [], [], timeout)
        line = ready.readline().strip() if readable else ""
    if not line:
        detail = (statedir / "instance.log").read_text(errors="replace")[-2000:].strip()
        raise InstanceError(
            errno.EIO,
            f"the instance in {statedir} did not start" + (f": {detail}" if detail else ""),
        )
    return line
