"""Run Flux jobs through a ``concurrent.futures``-style executor, as ``flux.job.executor``.

:class:`FluxExecutor` takes jobspecs (:meth:`FluxExecutor.submit`) or job IDs
(:meth:`FluxExecutor.attach`) and returns a :class:`FluxExecutorFuture` per
job, completed in the background: its result is the job's highest exit status
(or ``-signum`` if a signal ended it), or a :class:`~fluxsdk.job.JobException`
when a fatal exception ended the job. The futures work with
``concurrent.futures.wait`` and ``as_completed``, and report the job ID and
the job's events (RFC 21) to callbacks.

How it works, in flux's shape: each worker thread (:class:`_FluxExecutorThread`)
owns a Flux handle and runs its reactor. The executor puts work on the
worker's queue (a deque of :class:`_SubmitPackage` and :class:`_AttachPackage`)
and wakes its reactor through a socket pair, so nothing polls. The worker
submits, follows the job's main eventlog to its end, and forgets the job: a
finished job leaves nothing behind in the executor. A worker keeps running
while its executor is open or it has work (``__work_remains``); a worker whose
loop fails sets the executor's ``_broken_event`` and fails every future it
holds.

Where this differs from flux's executor, on purpose:

* ``poll_interval`` is accepted but not needed: workers are woken when work
  arrives, instead of every ``poll_interval`` seconds.
* A :class:`~fluxsdk.job.Jobspec` is encoded when :meth:`~FluxExecutor.submit`
  is called, so changing it afterwards does not change the submitted job.
* ``shutdown(cancel_futures=True)`` works (flux's raises ``AttributeError``).
* Callbacks of one future never run concurrently and run in the order their
  triggers happened, whichever thread registers them; :meth:`~FluxExecutorFuture.jobid`
  returns in another thread only once the job ID callbacks have run.
* :meth:`~FluxExecutor.attach` with a valid job ID in any RFC 19 form reports
  it as a :class:`~fluxsdk.job.JobID` (flux reports the value as given).
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
from typing import Any, ClassVar, Concatenate, Final, NamedTuple, ParamSpec, cast

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
from fluxsdk.job.submit import (
    FLUX_JOB_URGENCY_DEFAULT,
    JobspecArg,
    SubmitFuture,
    submit_async,
    submit_get_id,
)

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


def _any_arguments(
    method: Callable[Concatenate[FluxExecutor, _P], FluxExecutorFuture],
) -> Callable[Concatenate[FluxExecutor, _P], FluxExecutorFuture]:
    """Let :meth:`FluxExecutor.submit` take any arguments at run time, as flux's does.

    Arguments that do not fit its signature go to the worker as they are: its
    ``submit_async()`` call raises the same ``TypeError`` into the future. Type checkers
    and ``inspect.signature`` see the signature.
    """
    signature = inspect.signature(method)

    def method_or_failed_future(
        self: FluxExecutor, /, *args: Any, **kwargs: Any
    ) -> FluxExecutorFuture:
        try:
            signature.bind(self, *args, **kwargs)
        except TypeError:
            return self._queue(lambda future: _SubmitPackage(args, kwargs, future))
        return method(self, *args, **kwargs)

    functools.update_wrapper(method_or_failed_future, method)
    return method_or_failed_future


class JobIDAlreadySetError(concurrent.futures.InvalidStateError, RuntimeError):
    """A future's job ID was set twice (a ``RuntimeError``, as flux raises)."""


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
        # Set (under the lock) once the job ID or its error is known; waiters
        # are woken (_jobid_known) only after the job ID callbacks have run.
        self._jobid_set = False
        self._jobid_known = threading.Event()
        self._jobid_value: object = None
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

        A future of :meth:`FluxExecutor.attach` reports the job ID it was
        given, even when that is no job ID (the future then fails).
        """
        if not self._jobid_set:
            if timeout != 0:
                self._check_not_owner("jobid")
            if not self._jobid_known.wait(timeout):
                raise concurrent.futures.TimeoutError()
        if self._jobid_error is not None:
            raise self._jobid_error
        return cast(JobID, self._jobid_value)

    def add_jobid_callback(self, callback: JobIDCallback) -> FluxExecutorFuture:
        """Call ``callback(future)`` once the job ID is known (at once if it is).

        Callbacks run in the order they were added, possibly in another
        thread. One that raises an ``Exception`` is logged and ignored.
        Returns the future, so calls can be chained.
        """
        with self._lock:
            if not self._jobid_set:
                self._jobid_callbacks.append(callback)
                return self
            self._calls.append(functools.partial(self._call, callback))
        self._drain()
        return self

    def _set_jobid(self, jobid: object, exc: BaseException | None = None) -> None:
        """Set the job ID, or the error :meth:`jobid` raises (for executors and tests).

        Raises:
            JobIDAlreadySetError: the job ID was already set (a
                ``RuntimeError`` and ``concurrent.futures.InvalidStateError``).
        """
        if not self._set_jobid_once(jobid, exc):
            raise JobIDAlreadySetError("invalid state: the job ID is already set")

    def _set_jobid_once(self, jobid: object, exc: BaseException | None) -> bool:
        with self._lock:
            if self._jobid_set:
                return False
            self._jobid_value = jobid
            self._jobid_error = exc
            self._jobid_set = True
            callbacks, self._jobid_callbacks = self._jobid_callbacks, []
            self._calls.extend(functools.partial(self._call, cb) for cb in callbacks)
        try:
            self._drain()
        finally:
            self._jobid_known.set()
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


class _SubmitPackage(NamedTuple):
    """Work for a worker: submit a job with ``submit_async(h, *submit_args, **submit_kwargs)``."""

    submit_args: tuple[Any, ...]
    submit_kwargs: dict[str, Any]
    future: FluxExecutorFuture


class _AttachPackage:
    """Work for a worker: follow job ``jobid``. Sets the future's job ID at once."""

    __slots__ = ("future", "jobid")

    def __init__(self, jobid: object, future: FluxExecutorFuture) -> None:
        self.jobid = jobid
        self.future = future
        future._set_jobid(jobid)


_AnyPackage = _SubmitPackage | _AttachPackage


class _FluxExecutorThread(threading.Thread):
    """A worker: a thread with its own Flux handle that submits and follows jobs.

    It takes packages from ``packages_to_handle`` (filled by the executor,
    which calls :meth:`wake` after each), and runs until ``exit_event`` is set
    and no work remains. The handle is opened here, in the constructing
    thread (so a bad URI fails the executor's constructor), and handed over
    to the worker when it starts. :meth:`run` may also be called directly
    (then the handle stays open, for another call).

    If its loop fails, the worker sets ``broken_event``, fails every future
    it holds with the error and re-raises it. ``poll_interval`` is accepted
    for flux's signature and unused: the worker is woken when work arrives.
    ``lock``, shared with the executor, makes "check broken, then queue" and
    "break, then take the queue" exclusive.
    """

    def __init__(
        self,
        broken_event: threading.Event,
        exit_event: threading.Event,
        packages_to_handle: collections.deque[_AnyPackage],
        poll_interval: float,
        handle_args: Iterable[Any],
        handle_kwargs: Mapping[str, Any],
        *,
        name: str | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        del poll_interval  # see the class docstring
        self.__broken_event = broken_event
        self.__exit_event = exit_event
        self.__packages_to_handle = packages_to_handle
        self.__lock = lock or threading.Lock()
        self.__flux_handle = Flux(*handle_args, **handle_kwargs)
        self.__running_user_futures: set[FluxExecutorFuture] = set()
        self.failure: BaseException | None = None
        """Why this worker broke (its loop failed, or the connection was lost)."""
        self.__holds_reactor = False
        self.__signalled = False
        self.__batch_scheduled = False
        self.__wake_recv, self.__wake_send = socket.socketpair()
        self.__wake_recv.setblocking(False)
        self.__wake_send.setblocking(False)

    # -- any thread ---------------------------------------------------------------------

    def wake(self) -> None:
        """Make the worker look at its queue and at the exit event."""
        # Cleared by the worker before it reads the queue: at most one wake-up
        # byte is in flight, and none is lost.
        if not self.__signalled:
            self.__signalled = True
            with contextlib.suppress(OSError):  # the worker has exited (socket closed)
                self.__wake_send.send(b"\0")

    def idle(self) -> bool:
        """True when no work is queued and no job is being followed."""
        return not self.__packages_to_handle and not self.__running_user_futures

    def close(self) -> None:
        """Close the handle and the wake-up sockets (once the worker has stopped)."""
        self.__flux_handle.close()
        self.__wake_send.close()
        self.__wake_recv.close()

    # -- the worker's thread --------------------------------------------------------------

    def run(self) -> None:
        """Handle packages until the executor has shut down and no work remains."""
        try:
            self.__run()
        except Exception as exc:
            self.__break(exc)
            raise
        finally:
            if threading.current_thread() is self:
                self.close()

    def __run(self) -> None:
        handle = self.__flux_handle
        handle._hand_over()
        reactor = handle.get_reactor()
        reactor.add_fd(self.__wake_recv.fileno(), selectors.EVENT_READ, self.__on_wake)
        try:
            while self.__work_remains():
                if not self.__holds_reactor:
                    reactor.ref()  # released by __maybe_exit once no work remains
                    self.__holds_reactor = True
                self.__take_batch()
                if handle.reactor_run() < 0:
                    raise RuntimeError("reactor start failed")
        finally:
            reactor.remove_fd(self.__wake_recv.fileno())
            if self.__holds_reactor:
                self.__holds_reactor = False
                reactor.unref()

    def __work_remains(self) -> bool:
        """False once it is safe to stop: the executor is shut down and nothing is left."""
        return (
            not self.__exit_event.is_set()
            or bool(self.__packages_to_handle)
            or bool(self.__running_user_futures)
        )

    def __on_wake(self, mask: int) -> None:
        try:
            while self.__wake_recv.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        self.__signalled = False
        self.__take_batch()

    def __take_batch(self) -> None:
        self.__batch_scheduled = False
        for _ in range(_BATCH):
            try:
                package = self.__packages_to_handle.popleft()
            except IndexError:
                break
            self.__start(package)
        else:
            if self.__packages_to_handle and not self.__batch_scheduled:
                # More queued: continue after the reactor has done some I/O.
                self.__batch_scheduled = True
                self.__flux_handle.get_reactor().call_soon(self.__take_batch)
        self.__maybe_exit()

    def __start(self, package: _AnyPackage) -> None:
        future = package.future
        if not future.set_running_or_notify_cancel():
            return  # cancelled while queued
        if self.__broken_event.is_set():
            future.set_exception(self.failure or RuntimeError("the executor is broken"))
            return
        handle = self.__flux_handle
        try:
            if isinstance(package, _SubmitPackage):
                submit = submit_async(handle, *package.submit_args, **package.submit_kwargs)
                submit.then(self.__submission_callback, future)
            else:
                watch = event_watch_async(handle, cast(JobIDLike, package.jobid))
                watch.then(self.__event_update, future)
        except Exception as exc:
            future.set_exception(exc)
        else:
            self.__running_user_futures.add(future)

    def __submission_callback(self, submit: SubmitFuture, future: FluxExecutorFuture) -> None:
        try:
            jobid = submit_get_id(submit)
        except Exception as exc:  # the instance refused the job (OSError) or is gone
            self.__fail(future, exc)
            return
        future._set_jobid(jobid)
        try:
            event_watch_async(self.__flux_handle, jobid).then(self.__event_update, future)
        except Exception as exc:
            self.__fail(future, exc)

    def __event_update(self, watch: JobEventWatchFuture, future: FluxExecutorFuture) -> None:
        """One entry of the job's eventlog (or its end, or an error) for ``future``."""
        try:
            entry = watch.get_event()
        except FileNotFoundError as exc:
            jobid = future._jobid_value if future._jobid_set else "?"
            error = ValueError(f"job ID {jobid} does not match any job")
            error.__cause__ = exc
            self.__fail(future, error)
            return
        except Exception as exc:
            self.__fail(future, exc)
            return
        if entry is None:  # the eventlog is complete: the executor is done with the job
            if not future.done():
                future.set_exception(
                    OSError(errno.ENODATA, "the job's eventlog ended without a result")
                )
            self.__running_user_futures.discard(future)
            self.__maybe_exit()
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

    def __fail(self, future: FluxExecutorFuture, exc: BaseException) -> None:
        """The worker cannot follow ``future``'s job any further."""
        self.__running_user_futures.discard(future)
        if not future.done():
            future.set_exception(exc)
        if isinstance(exc, ConnectionLostError):
            with self.__lock:
                self.failure = self.failure or exc
                self.__broken_event.set()
        self.__maybe_exit()

    def __break(self, exc: BaseException) -> None:
        """The loop failed: fail every future held, and make the executor refuse work."""
        # The traceback goes to threading.excepthook when run() re-raises it.
        _log.error("FluxExecutor worker %s failed: %r", self.name, exc)
        with self.__lock:  # no submit() slips in between
            self.failure = self.failure or exc
            self.__broken_event.set()
            packages = list(self.__packages_to_handle)
            self.__packages_to_handle.clear()
        for future in self.__running_user_futures:
            if not future.done():
                future.set_exception(exc)
        self.__running_user_futures.clear()
        for package in packages:
            if package.future.set_running_or_notify_cancel():
                package.future.set_exception(exc)

    def __maybe_exit(self) -> None:
        """Let the reactor stop once the executor is shut down and no work remains."""
        if self.__holds_reactor and not self.__work_remains():
            self.__holds_reactor = False
            self.__flux_handle.get_reactor().unref()


def _stop_workers(exit_event: threading.Event, workers: Iterable[_FluxExecutorThread]) -> None:
    """Tell the workers to stop once their jobs are done (also run when the
    executor is garbage collected, so it takes no reference to it)."""
    exit_event.set()
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
        prefix = thread_name_prefix or f"{type(self).__name__}-{next(self._names)}"
        self._broken_event = threading.Event()
        """Set once a worker broke: the executor then refuses new work."""
        self._shutdown_event = threading.Event()
        self._lock = threading.Lock()
        args, kwargs = tuple(handle_args), dict(handle_kwargs)
        self._submission_queues: list[collections.deque[_AnyPackage]] = []
        self._executor_threads: list[_FluxExecutorThread] = []
        try:
            for index in range(threads):
                queue: collections.deque[_AnyPackage] = collections.deque()
                worker = _FluxExecutorThread(
                    self._broken_event,
                    self._shutdown_event,
                    queue,
                    poll_interval,
                    args,
                    kwargs,
                    name=f"{prefix}-{index}",
                    lock=self._lock,
                )
                self._submission_queues.append(queue)
                self._executor_threads.append(worker)
        except BaseException:
            for worker in self._executor_threads:
                worker.close()
            raise
        self._next_worker = 0
        for worker in self._executor_threads:
            worker.start()
        self._finalizer = weakref.finalize(
            self, _stop_workers, self._shutdown_event, self._executor_threads
        )

    @_any_arguments
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
        if isinstance(jobspec, Jobspec):
            jobspec = jobspec.dumps()
        arguments: dict[str, Any] = {
            "jobspec": jobspec,
            "urgency": urgency,
            "waitable": waitable,
            "debug": debug,
            "pre_signed": pre_signed,
            "novalidate": novalidate,
        }
        return self._queue(lambda future: _SubmitPackage((), arguments, future))

    def attach(self, jobid: JobIDLike) -> FluxExecutorFuture:
        """Return a :class:`FluxExecutorFuture` following an existing job.

        It behaves as the futures of :meth:`submit`: its job ID is set at
        once, and its result comes from the job's eventlog (a finished job's
        future completes at once). A job ID that matches no job sets a
        ``ValueError`` on the future; one that is no job ID at all sets the
        ``TypeError``, ``ValueError`` or (out of range) ``OverflowError`` of
        :class:`~fluxsdk.job.JobID`, and :meth:`~FluxExecutorFuture.jobid`
        reports the value as given.

        Raises:
            RuntimeError: after :meth:`shutdown`, or if the executor is broken.
        """
        try:
            target: object = JobID(jobid)
        except (TypeError, ValueError):
            target = jobid  # the worker's event_watch_async() raises into the future
        return self._queue(lambda future: _AttachPackage(target, future))

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
        with self._lock:
            self._shutdown_event.set()
        if cancel_futures:
            for queue in self._submission_queues:
                while True:
                    try:
                        package = queue.popleft()
                    except IndexError:
                        break
                    if package.future.cancel():
                        package.future.set_running_or_notify_cancel()  # wakes wait()ers
        for worker in self._executor_threads:
            worker.wake()
        if wait:
            current = threading.current_thread()
            for worker in self._executor_threads:
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

    def _queue(self, package: Callable[[FluxExecutorFuture], _AnyPackage]) -> FluxExecutorFuture:
        """Hand ``package(future)`` to the next worker, round robin; return the future."""
        with self._lock:
            if self._broken_event.is_set():
                why = [w.failure for w in self._executor_threads if w.failure is not None]
                reason = f": {why[0]}" if why else ""
                raise RuntimeError(f"Executor is broken, new futures cannot be scheduled{reason}")
            if self._shutdown_event.is_set():
                raise RuntimeError("cannot schedule new futures after shutdown")
            index = self._next_worker
            self._next_worker = (index + 1) % len(self._executor_threads)
            worker = self._executor_threads[index]
            future = FluxExecutorFuture(worker.ident or 0)
            self._submission_queues[index].append(package(future))
        worker.wake()
        return future

    def _idle(self) -> bool:
        """True when no job is queued or being followed (for tests and benchmarks)."""
        return all(worker.idle() for worker in self._executor_threads)
