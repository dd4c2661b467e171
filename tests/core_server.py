"""A real embedded-instance broker in a background thread, for tests and benchmarks.

:class:`CoreServer` runs :class:`fluxsdk.instance._broker.Broker` on its own
asyncio loop in a thread, serving the handlers it is given, on a socket in a
fresh 0700 directory. Use it as a context manager; leaving the block closes
every connection, stops the loop, joins the thread and removes the directory::

    with CoreServer({"test.echo": lambda req: req.respond(req.payload)}) as server:
        with Flux(server.uri) as h:
            assert h.rpc("test.echo", {"x": 1}).get() == {"x": 1}

:func:`standard_handlers` returns the handlers the core tests use (echo,
errors, streams, out-of-order answers, delays, dropping the connection);
:func:`watchdog` turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future as ConcurrentFuture
from types import TracebackType
from typing import Any, TypeVar

from fluxsdk.core import embedded_uri
from fluxsdk.instance._broker import Broker, Request, RequestError

__all__ = ["CoreServer", "Handler", "standard_handlers", "watchdog"]

Handler = Callable[[Request], None]
_T = TypeVar("_T")


class CoreServer:
    """A Broker serving ``handlers`` in a background thread."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self.handlers = dict(standard_handlers() if handlers is None else handlers)
        # Short path: Unix socket addresses are limited to ~107 bytes.
        self.directory = tempfile.mkdtemp(prefix="fxcore-")
        os.chmod(self.directory, 0o700)
        self.uri = embedded_uri(self.directory)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def broker(self) -> Broker:
        """The running broker (only touch it from the server thread: see :meth:`call`)."""
        assert self._broker is not None
        return self._broker

    def start(self) -> CoreServer:
        """Start the thread; return once the socket is listening."""
        self._thread = threading.Thread(target=self._main, name="core-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError("core server failed to start") from self._error
        return self

    def call(self, function: Callable[[], _T]) -> _T:
        """Run ``function()`` in the server thread and return its result."""
        assert self._loop is not None
        done: ConcurrentFuture[_T] = ConcurrentFuture()

        def run() -> None:
            try:
                done.set_result(function())
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(10)

    def drop_connections(self) -> None:
        """Close every client connection from the server side."""

        def drop() -> None:
            for conn in list(self.broker._connections):
                conn.close()

        self.call(drop)

    def stop(self) -> None:
        """Stop the broker and its loop, join the thread, remove the directory."""
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            assert not self._thread.is_alive(), "core server thread did not stop"
        self._thread = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> CoreServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            broker = Broker(loop, os.path.join(self.directory, "local.sock"), os.getuid())
            for topic, handler in self.handlers.items():
                broker.register(topic, handler, any_payload=True)
            broker.listen()
            self._loop, self._broker = loop, broker
        except BaseException as exc:
            self._error = exc
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            broker.close()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def standard_handlers() -> dict[str, Handler]:
    """Handlers for the core tests; each documents its payload."""
    held: list[Request] = []

    def echo(req: Request) -> None:
        # Answers with the request's payload.
        req.respond(req.payload)

    def empty(req: Request) -> None:
        # -> a successful response without a payload.
        req.conn.send(req.message.response(None))

    def error(req: Request) -> None:
        # {"errnum": int, "errstr": str | None} -> that error response.
        raise RequestError(req.payload_get("errnum", int), req.payload_get("errstr", str, None))

    def stream(req: Request) -> None:
        # {"count": n, "errnum"?: int} -> n responses {"seq": i}, then ENODATA
        # (or errnum; errnum 0 leaves the stream open).
        if not req.streaming:
            raise RequestError(errno.EPROTO, "test.stream needs FLUX_RPC_STREAMING")
        for seq in range(req.payload_get("count", int)):
            req.respond({"seq": seq})
        end = req.payload_get("errnum", int, errno.ENODATA)
        if end:
            req.error(end)

    def reverse(req: Request) -> None:
        # {"n": n, "i": i} -> held until n requests arrived, then answered in reverse order.
        held.append(req)
        if len(held) >= req.payload_get("n", int):
            batch = held[:]
            held.clear()
            for r in reversed(batch):
                r.respond({"i": r.payload["i"], "matchtag": r.matchtag})

    def matchtag(req: Request) -> None:
        # -> {"matchtag": the request's matchtag}
        req.respond({"matchtag": req.matchtag})

    def delay(req: Request) -> None:
        # {"seconds": s, "value"?: any} -> {"value": value}, s seconds later.
        loop = req.conn.broker.loop
        value = req.payload.get("value") if isinstance(req.payload, dict) else None
        loop.call_later(req.payload_get("seconds", (int, float)), req.respond, {"value": value})

    def hold(req: Request) -> None:
        # Never answered (until the connection goes away).
        held.append(req)

    def drop(req: Request) -> None:
        # Closes the caller's connection without answering.
        req.conn.close()

    def record(req: Request) -> None:
        # Remembers the payload, and whether a response was asked for;
        # "test.recorded" returns the list.
        recorded.append({"payload": req.payload, "wants_response": req.wants_response})

    recorded: list[Any] = []

    def recorded_(req: Request) -> None:
        req.respond({"payloads": recorded})

    return {
        "test.echo": echo,
        "test.empty": empty,
        "test.error": error,
        "test.stream": stream,
        "test.reverse": reverse,
        "test.matchtag": matchtag,
        "test.delay": delay,
        "test.hold": hold,
        "test.drop": drop,
        "test.record": record,
        "test.recorded": recorded_,
    }


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError instead of hanging if the block takes longer than ``seconds``.

    Uses SIGALRM, so it only acts in the main thread (elsewhere it does nothing).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"test still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
