"""wait_any, composite futures, and the smaller core additions they came with.

Against a real embedded-instance broker (tests/core_server.py): blocking on
several futures at once (no polling), :class:`fluxsdk.core.CompositeFuture`
driven blocking and from the reactor, ``RPC.is_pending``, ``Flux(url=...)``,
the upstream message flag, and the shared ``fluxsdk://`` URI format.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import _uri
from fluxsdk.core import (
    FLUX_NODEID_ANY,
    FLUX_NODEID_UPSTREAM,
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
    RPC,
    CompositeFuture,
    ConnectError,
    Flux,
    Future,
    InvalidURIError,
    embedded_uri,
    parse_uri,
    wait_any,
)
from fluxsdk.core._message import (
    FLUX_MSGFLAG_UPSTREAM,
    FLUX_MSGTYPE_REQUEST,
    Message,
    MessageError,
)
from fluxsdk.instance._broker import Request
from tests.core_server import CoreServer, standard_handlers, watchdog


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    with watchdog(30):
        yield


def route(req: Request) -> None:
    # -> the request's message flags and nodeid, as the broker received them.
    req.respond({"flags": req.message.flags, "nodeid": req.message.nodeid})


@pytest.fixture
def server() -> Iterator[CoreServer]:
    with CoreServer({**standard_handlers(), "test.route": route}) as srv:
        yield srv


@pytest.fixture
def h(server: CoreServer) -> Iterator[Flux]:
    with Flux(server.uri) as handle:
        yield handle


class PollRecorder:
    """Stands in for a handle's poll object and records each poll() timeout."""

    def __init__(self, poller: Any) -> None:
        self.poller = poller
        self.timeouts: list[Any] = []

    def poll(self, *args: Any) -> Any:
        self.timeouts.append(args[0] if args else None)
        return self.poller.poll(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.poller, name)


def record_polls(h: Flux) -> PollRecorder:
    recorder = PollRecorder(h._poller)
    h._poller = recorder  # type: ignore[assignment]
    return recorder


# -- wait_any ----------------------------------------------------------------------


def test_wait_any_returns_the_first_ready_future(h: Flux) -> None:
    slow = h.rpc("test.delay", {"seconds": 5, "value": "slow"})
    fast = h.rpc("test.delay", {"seconds": 0.05, "value": "fast"})
    start = time.monotonic()
    assert wait_any([slow, fast]) == [fast]
    assert time.monotonic() - start < 2
    assert fast.get() == {"value": "fast"}
    assert not slow.is_ready()


def test_wait_any_with_ready_futures_returns_them_at_once(h: Flux) -> None:
    a = h.rpc("test.echo", {"a": 1})
    b = h.rpc("test.echo", {"b": 2})
    a.get()
    b.get()
    held = h.rpc("test.hold")
    assert wait_any([held, a, b], timeout=0) == [a, b]


def test_wait_any_runs_no_continuation(h: Flux) -> None:
    seen: list[Any] = []
    quick = h.rpc("test.echo", {"x": 1}).then(lambda f: seen.append(f.get()))
    other = h.rpc("test.delay", {"seconds": 0.05})
    while not quick.is_ready():
        wait_any([quick, other])
    assert seen == []
    h.reactor_run()
    assert seen == [{"x": 1}]


def test_wait_any_timeout_deadlock_and_bad_arguments(h: Flux, server: CoreServer) -> None:
    held = h.rpc("test.hold")
    with pytest.raises(TimeoutError) as timeout:
        wait_any([held], timeout=0.05)
    assert timeout.value.errno == errno.ETIMEDOUT
    done = h.rpc("test.echo", {})
    done.get()
    done.reset()
    with pytest.raises(OSError) as deadlock:
        wait_any([done])
    assert deadlock.value.errno == errno.EDEADLOCK
    with pytest.raises(ValueError, match="at least one"):
        wait_any([])
    with Flux(server.uri) as other, pytest.raises(ValueError, match="same Flux handle"):
        wait_any([held, other.rpc("test.hold")])


# -- composite futures ---------------------------------------------------------------


class FirstOf(CompositeFuture):
    """Fulfilled with the first result of any of its RPCs; drops the others."""

    def __init__(self, h: Flux, *topics: tuple[str, dict[str, Any]]) -> None:
        super().__init__(h)
        self.topics = topics
        self.opened: list[RPC] = []

    def _start(self) -> None:
        for topic, payload in self.topics:
            rpc = self.get_flux().rpc(topic, payload)
            self.opened.append(rpc)
            self._follow(rpc, self._on_result)

    def _on_result(self, rpc: RPC) -> None:
        self.fulfill(rpc.get())
        self.cancel()


class Doubled(CompositeFuture):
    """Streams ``2 * seq`` for each response of a test.stream RPC, then None."""

    def __init__(self, h: Flux, count: int) -> None:
        super().__init__(h)
        self.count = count

    def _start(self) -> None:
        rpc = self.get_flux().rpc("test.stream", {"count": self.count}, flags=FLUX_RPC_STREAMING)
        self._follow(rpc, self._on_response)

    def _on_response(self, rpc: RPC) -> None:
        try:
            value = rpc.get()
        except OSError as exc:
            self._unfollow(rpc)
            if exc.errno == errno.ENODATA:
                self.fulfill(None)
            else:
                self._fail(exc)
            return
        rpc.reset()
        self.fulfill(2 * value["seq"])


class Nested(CompositeFuture):
    """Relays a child composite's stream, adding one to each value."""

    def __init__(self, h: Flux, child: CompositeFuture) -> None:
        super().__init__(h)
        self.child = child

    def _start(self) -> None:
        self._follow(self.child, self._on_child)

    def _on_child(self, child: CompositeFuture) -> None:
        value = child.get()
        child.reset()
        self.fulfill(None if value is None else value + 1)
        if value is None:
            self._unfollow(child)


def drain(future: Future) -> list[Any]:
    values = []
    while True:
        value = future.get()
        future.reset()
        values.append(value)
        if value is None:
            return values


def test_blocking_get_wakes_for_any_child_and_never_polls(h: Flux) -> None:
    recorder = record_polls(h)
    # The answer comes on the older child while the newer one stays silent.
    first = FirstOf(h, ("test.delay", {"seconds": 0.2, "value": 1}), ("test.hold", {}))
    start = time.monotonic()
    assert first.get() == {"value": 1}
    assert time.monotonic() - start < 2
    # Every poll blocked until input arrived: no timed wake-ups.
    assert recorder.timeouts and set(recorder.timeouts) == {None}
    assert not any(rpc.is_pending() and rpc.topic == "test.delay" for rpc in first.opened)


def test_composite_streams_blocking_and_with_then(h: Flux) -> None:
    assert drain(Doubled(h, 3)) == [0, 2, 4, None]
    seen: list[Any] = []

    def on_value(future: Doubled) -> None:
        seen.append(future.get())
        future.reset()

    Doubled(h, 3).then(on_value)
    assert seen == []
    h.reactor_run()
    assert seen == [0, 2, 4, None]


def test_nested_composites_blocking_and_with_then(h: Flux) -> None:
    assert drain(Nested(h, Doubled(h, 2))) == [1, 3, None]
    seen: list[Any] = []

    def on_value(future: Nested) -> None:
        seen.append(future.get())
        future.reset()

    Nested(h, Doubled(h, 2)).then(on_value)
    h.reactor_run()
    assert seen == [1, 3, None]


def test_wait_any_drives_composites(h: Flux) -> None:
    composite = Doubled(h, 1)
    held = h.rpc("test.hold")
    assert wait_any([held, composite]) == [composite]
    assert composite.get() == 0


def test_a_failing_handler_fails_the_composite_with_eproto(h: Flux) -> None:
    class Broken(CompositeFuture):
        def _start(self) -> None:
            self._follow(self.get_flux().rpc("test.echo", {}), self._on_result)

        def _on_result(self, rpc: RPC) -> None:
            rpc.get()["missing"]

    with pytest.raises(OSError) as info:
        Broken(h).get()
    assert info.value.errno == errno.EPROTO
    assert "malformed response" in str(info.value.strerror)


def test_unfollow_and_cancel_stop_children(h: Flux) -> None:
    cancelled: list[str] = []

    class Watch(Future):
        def cancel(self) -> None:
            cancelled.append("watch")

    class Parent(CompositeFuture):
        def _start(self) -> None:
            self.watch = Watch(self.get_flux())
            self._follow(self.watch, lambda child: None)

    parent = Parent(h)
    parent.then(lambda f: None)
    assert parent._children() == [parent.watch]
    parent.cancel(stop=True)
    assert cancelled == ["watch"] and parent._children() == [] and parent.stopped
    with pytest.raises(OSError) as info:
        parent.get()
    assert info.value.errno == errno.EDEADLOCK


def test_follow_rejects_other_handles_and_duplicates(h: Flux, server: CoreServer) -> None:
    composite = CompositeFuture(h)
    rpc = h.rpc("test.hold")
    composite._follow(rpc, lambda child: None)
    with pytest.raises(ValueError, match="already followed"):
        composite._follow(rpc, lambda child: None)
    with Flux(server.uri) as other, pytest.raises(ValueError, match="its handle"):
        composite._follow(other.rpc("test.hold"), lambda child: None)


def test_composite_wait_for_timeout(h: Flux) -> None:
    first = FirstOf(h, ("test.hold", {}))
    with pytest.raises(TimeoutError):
        first.wait_for(0.05)
    with pytest.raises(TimeoutError):
        first.wait_for(0)


# -- RPC.is_pending --------------------------------------------------------------------


def test_rpc_is_pending(h: Flux) -> None:
    held = h.rpc("test.hold")
    assert held.is_pending()
    answered = h.rpc("test.echo", {})
    answered.get()
    assert not answered.is_pending()
    open_stream = h.rpc("test.stream", {"count": 1, "errnum": 0}, flags=FLUX_RPC_STREAMING)
    open_stream.get()
    assert open_stream.is_pending()  # answered, but the stream has not ended
    stream = h.rpc("test.stream", {"count": 2}, flags=FLUX_RPC_STREAMING)
    while True:
        try:
            stream.get()
        except OSError:
            break
        stream.reset()
    assert not stream.is_pending()
    assert not h.rpc("test.record", {}, flags=FLUX_RPC_NORESPONSE).is_pending()


# -- Flux(url=...), routing flags, messages ------------------------------------------


def test_flux_accepts_url_as_flux_does(server: CoreServer) -> None:
    for handle in (Flux(server.uri), Flux(url=server.uri), Flux(uri=server.uri)):
        with handle:
            assert handle.uri == server.uri
            assert handle.rpc("test.echo", {"ok": 1}).get() == {"ok": 1}
    with Flux(server.uri, 0, None, uri=server.uri) as same:
        assert same.uri == server.uri
    with pytest.raises(TypeError, match="two different URIs"):
        Flux(url=server.uri, uri="fluxsdk:///elsewhere")
    with pytest.raises(TypeError, match="flux_t"):
        Flux(server.uri, handle=object())


def test_upstream_requests_carry_the_upstream_flag(h: Flux) -> None:
    upstream = h.rpc("test.route", {}, nodeid=FLUX_NODEID_UPSTREAM).get()
    assert upstream["flags"] & FLUX_MSGFLAG_UPSTREAM
    assert upstream["nodeid"] == 0  # the sender's own rank, as flux_rpc() sends it
    anywhere = h.rpc("test.route", {}).get()
    assert not anywhere["flags"] & FLUX_MSGFLAG_UPSTREAM
    assert anywhere["nodeid"] == FLUX_NODEID_ANY


def test_error_responses_need_a_positive_errnum() -> None:
    request = Message.request("a.b", {}, matchtag=3)
    assert request.error(errno.ENOENT, "gone").errnum == errno.ENOENT
    for errnum in (0, -1):
        with pytest.raises(ValueError, match="positive errnum"):
            request.error(errnum)


def test_message_json_is_compact_and_round_trips() -> None:
    payload = {"id": 2**63, "s": "é\u0000", "l": [1.5, None, True]}
    message = Message(FLUX_MSGTYPE_REQUEST, "t.x", payload, aux2=9)
    frame = message.encode()
    assert json.dumps(payload, separators=(",", ":")).encode() in frame
    assert Message.decode(frame[4:]).payload == payload
    bad = Message(FLUX_MSGTYPE_REQUEST, "t.x", "x").encode().replace(b'"x"', b'"\xff"')
    with pytest.raises(MessageError):
        Message.decode(bad[4:])


# -- the fluxsdk:// URI format (fluxsdk._uri) ------------------------------------------


def test_embedded_uri_round_trips_odd_paths(tmp_path: Path) -> None:
    directory = tmp_path / "with space%and#hash"
    directory.mkdir()
    uri = _uri.embedded_uri(directory)
    assert uri == "fluxsdk://" + str(directory).replace("%", "%25").replace(" ", "%20").replace(
        "#", "%23"
    )
    assert _uri.embedded_directory(uri) == str(directory)
    assert parse_uri(uri).path == str(directory)
    assert parse_uri(uri).socket_path == str(directory / _uri.SOCKET_NAME)
    assert embedded_uri(directory) == uri  # the core re-exports the same builder
    link = tmp_path / "link"
    link.symlink_to(directory)
    assert _uri.embedded_uri(link) == uri  # symlinks resolved: one URI per instance


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("fluxsdk://host/x", "takes no host"),
        ("fluxsdk:///x?q=1", r"no \?query"),
        ("fluxsdk:relative", "not a fluxsdk://"),
        ("local:///x", "not a fluxsdk://"),
    ],
)
def test_embedded_directory_rejects(uri: str, message: str) -> None:
    with pytest.raises(InvalidURIError, match=message):
        _uri.embedded_directory(uri)


def test_socket_path_length_is_checked(tmp_path: Path) -> None:
    fits = "/" + "d" * (_uri.MAX_SOCKET_PATH - 1 - len(_uri.SOCKET_NAME) - 1)
    assert _uri.socket_path(fits) == os.path.join(fits, _uri.SOCKET_NAME)
    long_dir = fits + "x"
    with pytest.raises(_uri.SocketPathTooLongError) as info:
        _uri.socket_path(long_dir)
    assert info.value.errno == errno.ENAMETOOLONG
    assert "Unix socket" in str(info.value.strerror)
    with pytest.raises(ConnectError) as connect:
        Flux(_uri.embedded_uri(long_dir))
    assert connect.value.errno == errno.ENAMETOOLONG
