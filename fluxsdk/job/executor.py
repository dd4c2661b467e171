"""Run Flux jobs through a ``concurrent.futures``-style executor, as ``flux.job.executor``.

:class:`FluxExecutor` takes jobspecs (:meth:`FluxExecutor.submit`) or job IDs
(:meth:`FluxExecutor.attach`) and returns a :class:`FluxExecutorFuture` per
job, completed in the background: its result is the job's highest exit status
(or ``-signum`` if a signal ended it), or a :class:`~fluxsdk.job.JobException`
when a fatal exception ended the job. The futures work with
``concurrent.futures.wait`` and ``as_completed``, and report the job ID and
the job's events (RFC 21) to callbacks.

How it works: each worker thread owns a Flux handle (handles are confined to
their thread) and runs its reactor. Submissions reach a worker through a queue
and a socket pair that wakes its reactor at once, so nothing polls. The worker
submits, follows the job's main eventlog to its end, and forgets the job: a
finished job leaves nothing behind in the executor.

Where this differs from flux's executor, on purpose:

* ``poll_interval`` is accepted but not needed: workers are woken when work
  arrives, instead of every ``poll_interval`` seconds.
* A :class:`~fluxsdk.job.Jobspec` is encoded when :meth:`~FluxExecutor.submit`
  is called, so changing it afterwards does not change the submitted job.
* ``shutdown(cancel_futures=True)`` works (flux's raises ``AttributeError``).
* Callbacks of one future never run concurrently and run in the order their
  triggers happened, whichever thread registers them.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import errno
import functools
import inspect
import itertools
import logging
import os
import selectors
import socket
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Concatenate, Final, ParamSpec

from fluxsdk.core import Flux
from fluxsdk.core._errors import ConnectionLostError
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job._jobid import JobID
from fluxsdk.job._jobspec import Jobspec
from fluxsdk.job.event import (
    MAIN_EVENTS,
    JobEventWatchFuture,
    JobException,
    JobIDLike,
    event_watch_async,
)
from fluxsdk.job.submit import FLUX_JOB_URGENCY_DEFAULT, JobspecArg, SubmitFuture, submit_async

__all__ = ["FluxExecutor", "FluxExecutorFuture"]

_log = logging.getLogger(__name__)

JobIDCallback = Callable[["FluxExecutorFuture"], object]
"""``callback(future)``, called once the job ID is known."""
EventCallback = Callable[["FluxExecutorFuture", EventLogEvent], object]
"""``callback(future, event)``, called for each occurrence of an event."""

# How many queued submissions a worker handles before it lets its reactor read
# and write again (keeps replies flowing while a big batch is queued).
_BATCH: Final = 256
_P = ParamSpec("_P")


def _errors_to_future(
    method: Callable[Concatenate[FluxExecutor, _P], FluxExecutorFuture],
) -> Callable[Concatenate[FluxExecutor, _P], FluxExecutorFuture]:
    """Let ``method`` take any arguments at run time: ones that do not fit its signature
    give a future holding the ``TypeError`` (as flux's executor does), not a raise.

    Type checkers and ``inspect.signature`` still see ``method``'s own signature.
    """
    signature = inspect.signature(method)

    def method_or_failed_future(
        self: FluxExecutor, /, *args: Any, **kwargs: Any
    ) -> FluxExecutorFuture:
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            return self._failed_future(exc)
        return method(self, *args, **kwargs)

    functools.update_wrapper(method_or_failed_future, method)
    return method_or_failed_future


def _exit_code(status: int) -> int:
    """The future's result for a ``finish`` event's wait status."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    raise ValueError(f"the job's wait status {status} is neither an exit nor a signal")


class FluxExecutorFuture(concurrent.futures.Future[int]):
    """A ``concurrent.futures.Future`` standing for one Flux job.

    Besides everything a ``concurrent.futures.Future`` does, it offers the
    job ID (:meth:`jobid`, :meth:`add_jobid_callback`) and the job's events
    (:meth:`add_event_callback`). The names of the events are in
    :attr:`EVENTS`. Futures are made by :class:`FluxExecutor`, not by users.

    Callbacks that raise an ``Exception`` are logged (logger
    ``fluxsdk.job.executor``) and ignored. Waiting for the future
    (:meth:`result`, :meth:`exception`, :meth:`jobid`) from a callback run by
    the executor's own thread raises ``RuntimeError`` instead of hanging.
    """

    #: The names of the events a callback may be added for (RFC 21 main events).
    EVENTS: ClassVar[frozenset[str]] = MAIN_EVENTS

    def __init__(self, owning_thread_id: int) -> None:
        super().__init__()
        # The thread that completes this future: it must never wait for it.
        self._owner = owning_thread_id
        self._lock = threading.Lock()
        self._jobid_known = threading.Event()
        self._jobid_value: JobID | None = None
        self._jobid_error: BaseException | None = None
        self._jobid_callbacks: list[JobIDCallback] = []
        # Filled lazily: most futures see a handful of distinct events.
        self._events: dict[str, list[EventLogEvent]] = {}
        self._event_callbacks: dict[str, list[EventCallback]] = {}
        # Callback calls, run in order by one thread at a time (the "drainer").
        self._calls: collections.deque[Callable[[], None]] = collections.deque()
        self._drainer: int | None = None

    # -- the job ID -------------------------------------------------------------------

    def jobid(self, timeout: float | None = None) -> JobID:
        """The ID of the job, waiting up to ``timeout`` seconds (None: no limit) for it.

        Raises:
            concurrent.futures.TimeoutError: the ID is not known in time.
            concurrent.futures.CancelledError: the future was cancelled first.
            RuntimeError: the job could not be submitted (the reason is in
                the message and in :meth:`exception`), or the call was made
                from a callback run by the thread that would set the ID.
        """
        if not self._jobid_known.is_set():
            if timeout != 0:
                self._check_not_owner("jobid")
            if not self._jobid_known.wait(timeout):
                raise concurrent.futures.TimeoutError()
        if self._jobid_error is not None:
            raise self._jobid_error
        assert self._jobid_value is not None
        return self._jobid_value

    def add_jobid_callback(self, callback: JobIDCallback) -> FluxExecutorFuture:
        """Call ``callback(future)`` once the job ID is known (at once if it is).

        Callbacks run in the order they were added, possibly in another
        thread. One that raises an ``Exception`` is logged and ignored.
        Returns the future, so calls can be chained.
        """
        with self._lock:
            if not self._jobid_known.is_set():
                self._jobid_callbacks.append(callback)
                return self
            self._calls.append(functools.partial(self._call, callback))
        self._drain()
        return self

    def _set_jobid(self, jobid: JobID | None, exc: BaseException | None = None) -> None:
        """Set the job ID, or the error :meth:`jobid` raises (for executors and tests).

        Raises:
            concurrent.futures.InvalidStateError: the job ID was already set.
        """
        if not self._set_jobid_once(jobid, exc):
            raise concurrent.futures.InvalidStateError("invalid state: the job ID is already set")

    def _set_jobid_once(self, jobid: JobID | None, exc: BaseException | None) -> bool:
        with self._lock:
            if self._jobid_known.is_set():
                return False
            self._jobid_value = jobid
            self._jobid_error = exc
            self._jobid_known.set()
            callbacks, self._jobid_callbacks = self._jobid_callbacks, []
            self._calls.extend(functools.partial(self._call, cb) for cb in callbacks)
        self._drain()
        return True

    # -- events -----------------------------------------------------------------------

    def add_event_callback(self, event: str, callback: EventCallback) -> FluxExecutorFuture:
        """Call ``callback(future, event_log_event)`` whenever the job has event ``event``.

        If the event already happened, the callback is called for each past
        occurrence at once; later occurrences follow as they come, after the
        future is done too. Callbacks run in the order they were added,
        possibly in another thread; one that raises an ``Exception`` is
        logged and ignored. Returns the future.

        Raises:
            ValueError: ``event`` is not one of :attr:`EVENTS`.
        """
        if event not in self.EVENTS:
            raise ValueError(f"{event!r} is not a job event; valid events: {sorted(self.EVENTS)}")
        with self._lock:
            self._event_callbacks.setdefault(event, []).append(callback)
            past = self._events.get(event, ())
            self._calls.extend(functools.partial(self._call, callback, entry) for entry in past)
        self._drain()
        return self

    def _set_event(self, entry: EventLogEvent) -> None:
        """Record an event of the job and call its callbacks (for executors and tests).

        Raises:
            ValueError: the event's name is not one of :attr:`EVENTS`.
        """
        name = entry.name
        if name not in self.EVENTS:
            raise ValueError(f"{name!r} is not a job event")
        with self._lock:
            self._events.setdefault(name, []).append(entry)
            callbacks = self._event_callbacks.get(name, ())
            self._calls.extend(functools.partial(self._call, cb, entry) for cb in callbacks)
        self._drain()

    # -- running callbacks ------------------------------------------------------------

    def _drain(self) -> None:
        """Run queued callback calls, unless another frame or thread is already at it."""
        with self._lock:
            if self._drainer is not None:
                return  # it will run ours too, in order
            self._drainer = threading.get_ident()
        try:
            while True:
                with self._lock:
                    if not self._calls:
                        self._drainer = None
                        return
                    call = self._calls.popleft()
                call()
        except BaseException:
            with self._lock:
                self._drainer = None
            raise

    def _call(self, callback: Callable[..., object], *args: Any) -> None:
        try:
            callback(self, *args)
        except Exception:
            _log.exception("exception calling callback for %r", self)

    def _check_not_owner(self, what: str) -> None:
        if threading.get_ident() == self._owner:
            raise RuntimeError(
                f"cannot wait for {what}() of a FluxExecutorFuture from one of the "
                "executor's callbacks: the thread that would complete the future is the "
                "one waiting; use add_done_callback() or add_event_callback() instead"
            )

    # -- concurrent.futures.Future ----------------------------------------------------

    # Returns the future (flux's does, so calls chain), where the base returns None.
    def add_done_callback(  # type: ignore[override]
        self, fn: Callable[[concurrent.futures.Future[int]], object]
    ) -> FluxExecutorFuture:
        """Call ``fn(future)`` when the future is done (at once if it is); returns the future.

        As in ``concurrent.futures``: callbacks run in the order they were
        added, in the thread that completes the future.
        """
        super().add_done_callback(fn)
        return self

    def result(self, timeout: float | None = None) -> int:
        """The job's highest exit status, or ``-signum`` if a signal ended it.

        Waits up to ``timeout`` seconds (None: no limit).

        Raises:
            JobException: a fatal exception ended the job.
            OSError: the job could not be submitted (invalid jobspec...).
            ValueError: an attached job ID matches no job.
            concurrent.futures.CancelledError: the future was cancelled.
            concurrent.futures.TimeoutError: the job did not end in time.
            RuntimeError: called from a callback run by the thread that
                would complete this future (it would never return).
        """
        if not self.done():
            self._check_not_owner("result")
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception that ended the job (None if it ran to its end); see :meth:`result`."""
        if not self.done():
            self._check_not_owner("exception")
        return super().exception(timeout)

    def set_exception(self, exception: BaseException | None) -> None:
        """Complete the future with ``exception`` (for executors and tests).

        If the job ID is not known yet, :meth:`jobid` raises ``RuntimeError``
        from then on.
        """
        self._set_jobid_once(None, RuntimeError(f"job could not be submitted due to {exception!r}"))
        super().set_exception(exception)

    def cancel(self) -> bool:
        """Cancel the future if the executor has not started on it; True if cancelled.

        This never touches a job: cancel the job with
        :func:`fluxsdk.job.cancel`, and the future gets a ``JobException``.
        """
        cancelled = super().cancel()
        if cancelled:
            # Wake any thread waiting in jobid().
            self._set_jobid_once(None, concurrent.futures.CancelledError())
        return cancelled


class _Package:
    """One unit of work for a worker: submit a job, or follow an existing one."""

    __slots__ = ("arguments", "future", "jobid")

    def __init__(
        self,
        future: FluxExecutorFuture,
        *,
        arguments: dict[str, Any] | None = None,
        jobid: JobID | None = None,
    ) -> None:
        self.future = future
        self.arguments = arguments
        self.jobid = jobid


class _Shared:
    """What the executor and its workers share (never the executor itself, so
    that a forgotten executor can be garbage collected and its workers stopped)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shutdown = False
        self.broken: BaseException | None = None


class _Worker(threading.Thread):
    """A thread with its own Flux handle that submits and follows jobs."""

    def __init__(
        self,
        shared: _Shared,
        handle_args: tuple[Any, ...],
        handle_kwargs: dict[str, Any],
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.queue: collections.deque[_Package] = collections.deque()
        self.running: set[FluxExecutorFuture] = set()
        self.started_up = threading.Event()
        self.startup_error: BaseException | None = None
        self._shared = shared
        self._handle_args = handle_args
        self._handle_kwargs = handle_kwargs
        self._handle: Flux | None = None
        self._keeps_reactor = False
        self._signalled = False
        self._batch_scheduled = False
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_recv.setblocking(False)
        self._wake_send.setblocking(False)

    # -- any thread ---------------------------------------------------------------------

    def put(self, package: _Package) -> None:
        """Queue ``package`` and wake the worker."""
        self.queue.append(package)
        self.wake()

    def wake(self) -> None:
        """Make the worker look at its queue and at the shutdown flag."""
        # Cleared by the worker before it reads the queue: at most one wake-up
        # byte is in flight, and none is lost.
        if not self._signalled:
            self._signalled = True
            with contextlib.suppress(OSError):  # the worker has exited (socket closed)
                self._wake_send.send(b"\0")

    # -- the worker's thread --------------------------------------------------------------

    def run(self) -> None:
        try:
            handle = Flux(*self._handle_args, **self._handle_kwargs)
        except Exception as exc:
            self.startup_error = exc
            self.started_up.set()
            self._close_wake()
            return
        self._handle = handle
        self.started_up.set()
        try:
            reactor = handle.get_reactor()
            reactor.add_fd(self._wake_recv.fileno(), selectors.EVENT_READ, self._on_wake)
            reactor.ref()  # an open executor keeps the reactor running
            self._keeps_reactor = True
            self._on_wake(selectors.EVENT_READ)
            handle.reactor_run()
        except BaseException as exc:
            _log.exception("FluxExecutor worker %s failed", self.name)
            self._break(exc)
        finally:
            self._close_wake()
            handle.close()
            self._handle = None

    def _close_wake(self) -> None:
        self._wake_send.close()
        self._wake_recv.close()

    def _on_wake(self, mask: int) -> None:
        try:
            while self._wake_recv.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        self._signalled = False
        self._take_batch()

    def _take_batch(self) -> None:
        self._batch_scheduled = False
        for _ in range(_BATCH):
            try:
                package = self.queue.popleft()
            except IndexError:
                break
            self._start(package)
        else:
            if self.queue and not self._batch_scheduled:
                # More queued: continue after the reactor has done some I/O.
                assert self._handle is not None
                self._batch_scheduled = True
                self._handle.get_reactor().call_soon(self._take_batch)
        self._maybe_exit()

    def _start(self, package: _Package) -> None:
        future = package.future
        if not future.set_running_or_notify_cancel():
            return  # cancelled while queued
        broken = self._shared.broken
        if broken is not None:
            future.set_exception(broken)
            return
        assert self._handle is not None
        self.running.add(future)
        try:
            if package.arguments is not None:
                submit = submit_async(self._handle, **package.arguments)
                submit.then(self._on_submitted, future)
            else:
                assert package.jobid is not None
                self._follow(future, package.jobid)
        except Exception as exc:
            self._fail(future, exc)

    def _follow(self, future: FluxExecutorFuture, jobid: JobID) -> None:
        assert self._handle is not None
        event_watch_async(self._handle, jobid).then(self._on_event, future, jobid)

    def _on_submitted(self, submit: SubmitFuture, future: FluxExecutorFuture) -> None:
        try:
            jobid = submit.get_id()
        except Exception as exc:  # the instance refused the job (OSError) or is gone
            self._fail(future, exc)
            return
        future._set_jobid(jobid)
        try:
            self._follow(future, jobid)
        except Exception as exc:
            self._fail(future, exc)

    def _on_event(
        self, watch: JobEventWatchFuture, future: FluxExecutorFuture, jobid: JobID
    ) -> None:
        try:
            entry = watch.get_event()
        except FileNotFoundError as exc:
            error = ValueError(f"job ID {jobid} does not match any job")
            error.__cause__ = exc
            self._fail(future, error)
            return
        except Exception as exc:
            self._fail(future, exc)
            return
        if entry is None:  # the eventlog is complete: the executor is done with the job
            if not future.done():
                future.set_exception(
                    OSError(errno.ENODATA, f"the eventlog of job {jobid} ended without a result")
                )
            self.running.discard(future)
            self._maybe_exit()
            return
        if entry.name in future.EVENTS:
            future._set_event(entry)
        if future.done():
            return
        if entry.name == "finish":
            try:
                future.set_result(_exit_code(entry.context["status"]))
            except ValueError as exc:
                future.set_exception(exc)
        elif entry.name == "exception" and entry.context["severity"] == 0:
            future.set_exception(JobException(entry))

    def _fail(self, future: FluxExecutorFuture, exc: BaseException) -> None:
        """The executor cannot follow ``future``'s job any further."""
        self.running.discard(future)
        if not future.done():
            future.set_exception(exc)
        if isinstance(exc, ConnectionLostError):
            self._mark_broken(exc)
        self._maybe_exit()

    def _mark_broken(self, exc: BaseException) -> None:
        with self._shared.lock:
            if self._shared.broken is None:
                self._shared.broken = exc

    def _break(self, exc: BaseException) -> None:
        """The worker's loop failed: fail every future it holds, refuse new ones."""
        self._mark_broken(exc)
        with self._shared.lock:  # no submit() slips in between
            packages = list(self.queue)
            self.queue.clear()
        for future in self.running:
            if not future.done():
                future.set_exception(exc)
        self.running.clear()
        for package in packages:
            if package.future.set_running_or_notify_cancel():
                package.future.set_exception(exc)

    def _maybe_exit(self) -> None:
        """After shutdown, let the reactor stop once every job has been followed to its end."""
        if self._shared.shutdown and self._keeps_reactor and not self.queue and not self.running:
            assert self._handle is not None
            self._keeps_reactor = False
            self._handle.get_reactor().unref()


def _stop_workers(shared: _Shared, workers: Iterable[_Worker]) -> None:
    """Tell the workers to stop once their jobs are done (also run when the
    executor is garbage collected, so it takes no reference to it)."""
    with shared.lock:
        shared.shutdown = True
    for worker in workers:
        worker.wake()


class FluxExecutor:
    """Submits Flux jobs and completes a future per job in background threads.

    Inspired by ``concurrent.futures.Executor``, with two differences:
    :meth:`submit` takes a jobspec (not a callable) and returns a
    :class:`FluxExecutorFuture`, and there is no ``map``. Futures get their
    job ID as soon as the instance accepts the job, always before they
    complete, and receive the job's events (even after completing).
    :meth:`attach` follows a job submitted some other way.

    A future's result is the highest exit status of the job's processes
    (>= 0), or ``-signum`` for the signal that ended it. A job ended by a
    fatal exception (cancelled with :func:`fluxsdk.job.cancel`, killed,
    timed out, failed to start) sets a :class:`~fluxsdk.job.JobException`;
    an invalid jobspec sets an ``OSError``.

    A future is "running" (``cancel()`` no longer works) once a worker has
    taken it, which says nothing about the job.

    Args:
        threads: how many worker threads (each with its own handle) to start.
        thread_name_prefix: names the threads ``<prefix>-<n>``, for debugging.
        poll_interval: accepted for compatibility with flux; unused, because
            workers are woken as soon as work arrives.
        handle_args: positional arguments of each worker's
            :class:`~fluxsdk.Flux` handle (e.g. ``(uri,)``).
        handle_kwargs: keyword arguments of each worker's handle.

    Raises:
        ValueError: ``threads`` is less than 1.
        OSError: a worker could not open its handle (e.g. a bad URI).
    """

    #: The names of the events that callbacks may be added for.
    EVENTS: ClassVar[frozenset[str]] = MAIN_EVENTS

    _names: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(
        self,
        threads: int = 1,
        thread_name_prefix: str = "",
        poll_interval: float = 0.1,
        handle_args: Iterable[Any] = (),
        handle_kwargs: Mapping[str, Any] = {},  # flux's signature (only read, never kept)
    ) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"the number of threads must be at least 1, not {threads!r}")
        del poll_interval  # see the class docstring
        prefix = thread_name_prefix or f"{type(self).__name__}-{next(self._names)}"
        self._shared = _Shared()
        args, kwargs = tuple(handle_args), dict(handle_kwargs)
        self._workers = [
            _Worker(self._shared, args, kwargs, name=f"{prefix}-{index}")
            for index in range(threads)
        ]
        self._next_worker = 0
        for worker in self._workers:
            worker.start()
        for worker in self._workers:
            worker.started_up.wait()
        errors = [w.startup_error for w in self._workers if w.startup_error is not None]
        if errors:
            _stop_workers(self._shared, self._workers)
            for worker in self._workers:
                worker.join()
            raise errors[0]
        self._finalizer = weakref.finalize(self, _stop_workers, self._shared, self._workers)

    @_errors_to_future
    def submit(
        self,
        jobspec: JobspecArg,
        urgency: int = FLUX_JOB_URGENCY_DEFAULT,
        waitable: bool = False,
        debug: bool = False,
        pre_signed: bool = False,
        novalidate: bool = False,
    ) -> FluxExecutorFuture:
        """Submit a job and return the :class:`FluxExecutorFuture` standing for it.

        Takes the arguments of :func:`fluxsdk.job.submit` without its first,
        the handle. A :class:`~fluxsdk.job.Jobspec` is encoded now: later
        changes to it do not affect this job. Bad arguments do not raise here,
        as in flux: the future gets the error (``TypeError``, or ``OSError``
        for an invalid or missing jobspec); type checkers see the signature.

        Raises:
            RuntimeError: after :meth:`shutdown`, or if the executor is
                broken (e.g. the connection to the instance was lost).
        """
        try:
            spec = jobspec.dumps() if isinstance(jobspec, Jobspec) else jobspec
        except Exception as exc:
            return self._failed_future(exc)
        arguments: dict[str, Any] = {
            "jobspec": spec,
            "urgency": urgency,
            "waitable": waitable,
            "debug": debug,
            "pre_signed": pre_signed,
            "novalidate": novalidate,
        }
        return self._queue(arguments=arguments)

    def attach(self, jobid: JobIDLike) -> FluxExecutorFuture:
        """Return a :class:`FluxExecutorFuture` following an existing job.

        It behaves as the futures of :meth:`submit`: its job ID is set at
        once, and its result comes from the job's eventlog (a finished job's
        future completes at once). A job ID that matches no job sets a
        ``ValueError`` on the future; one that is no job ID at all sets the
        ``TypeError`` or ``ValueError`` of :class:`~fluxsdk.job.JobID`.

        Raises:
            RuntimeError: after :meth:`shutdown`, or if the executor is broken.
        """
        try:
            job_id = JobID(jobid)
        except (TypeError, ValueError) as exc:
            return self._failed_future(exc)
        return self._queue(jobid=job_id)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work and release the workers once their jobs have ended.

        Safe to call more than once; :meth:`submit` and :meth:`attach` raise
        ``RuntimeError`` afterwards. Jobs themselves are never cancelled.

        Args:
            wait: wait until every future is done, every job followed to its
                end, and the worker threads have exited.
            cancel_futures: cancel the futures no worker has taken yet (their
                jobs are never submitted); others are not affected.
        """
        with self._shared.lock:
            self._shared.shutdown = True
        if cancel_futures:
            for worker in self._workers:
                while True:
                    try:
                        package = worker.queue.popleft()
                    except IndexError:
                        break
                    if package.future.cancel():
                        package.future.set_running_or_notify_cancel()  # wakes wait()ers
        for worker in self._workers:
            worker.wake()
        if wait:
            current = threading.current_thread()
            for worker in self._workers:
                if worker is not current:  # shutdown() from a callback
                    worker.join()

    def __enter__(self) -> FluxExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(wait=True)

    # -- internals ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._shared.broken is not None:
            raise RuntimeError(
                f"the executor is broken, new futures cannot be scheduled: {self._shared.broken}"
            )
        if self._shared.shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")

    def _failed_future(self, exc: BaseException) -> FluxExecutorFuture:
        """A future for work refused before it reached a worker: done, with ``exc``."""
        with self._shared.lock:
            self._check_open()
            future = FluxExecutorFuture(self._workers[0].ident or 0)
        future.set_running_or_notify_cancel()
        future.set_exception(exc)
        return future

    def _queue(
        self, *, arguments: dict[str, Any] | None = None, jobid: JobID | None = None
    ) -> FluxExecutorFuture:
        """Hand work to the next worker, round robin, and return its future."""
        with self._shared.lock:
            self._check_open()
            worker = self._workers[self._next_worker]
            self._next_worker = (self._next_worker + 1) % len(self._workers)
            future = FluxExecutorFuture(worker.ident or 0)
            if jobid is not None:
                future._set_jobid(jobid)
            worker.put(_Package(future, arguments=arguments, jobid=jobid))
        return future

    def _idle(self) -> bool:
        """True when no job is queued or being followed (for tests and benchmarks)."""
        return not any(worker.queue or worker.running for worker in self._workers)
