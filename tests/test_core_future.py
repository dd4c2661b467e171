"""Futures and RPCs against a real embedded-instance broker (tests/core_server.py)."""

from __future__ import annotations

import errno
import gc
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fluxsdk.core import (
    FLUX_RPC_NORESPONSE,
    FLUX_RPC_STREAMING,
    RPC,
    Flux,
    Future,
    InvalidPayloadError,
)
from fluxsdk.errors import FluxSDKError
from tests.core_server import CoreServer, watchdog


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    with watchdog(30):
        yield


@pytest.fixture
def server() -> Iterator[CoreServer]:
    before = _open_fds()
    with CoreServer() as srv:
        yield srv
    gc.collect()
    assert _open_fds() <= before, "a socket or other fd was left open"


@pytest.fixture
def h(server: CoreServer) -> Iterator[Flux]:
    with Flux(server.uri) as handle:
        yield handle


def drain(future: RPC) -> list[Any]:
    """Every response of a streaming RPC, until the error that ends it."""
    out = []
    while True:
        try:
            out.append(future.get())
        except OSError as exc:
            assert exc.errno == errno.ENODATA
            return out
        future.reset()


# -- get / is_ready / wait_for ------------------------------------------------


def test_get_returns_the_decoded_payload(h: Flux) -> None:
    assert h.rpc("test.echo", {"a": [1, 2], "b": "x"}).get() == {"a": [1, 2], "b": "x"}
    assert h.rpc("test.echo", '{"text": true}').get() == {"text": True}
    assert h.rpc("test.echo", b'{"bytes": 1}').get() == {"bytes": 1}
    assert h.rpc("test.echo", [1, "two"]).get() == [1, "two"]
    assert h.rpc("test.echo", {}).get() == {}
    # A response without a payload gives None.
    empty = h.rpc("test.empty")
    assert empty.get() is None
    assert empty.get_str() is None


def test_get_str_returns_json_text(h: Flux) -> None:
    text = h.rpc("test.echo", {"k": "v"}).get_str()
    assert text == '{"k": "v"}'


def test_is_ready_and_wait_for(h: Flux) -> None:
    f = h.rpc("test.delay", {"seconds": 0.3, "value": 7})
    assert not f.is_ready()
    with pytest.raises(TimeoutError) as info:
        f.wait_for(0)
    assert info.value.errno == errno.ETIMEDOUT
    with pytest.raises(OSError) as info2:
        f.wait_for(0.02)
    assert info2.value.errno == errno.ETIMEDOUT
    assert not f.is_ready()
    assert f.wait_for() is f
    assert f.is_ready()
    assert f.get() == {"value": 7}
    # A fulfilled future answers at once, however often it is asked.
    assert f.wait_for(0) is f
    assert f.get() == {"value": 7}


def test_get_after_reset_of_an_answered_rpc_is_edeadlock(h: Flux) -> None:
    f = h.rpc("test.echo", {})
    f.get()
    f.reset()
    assert not f.is_ready()
    with pytest.raises(OSError) as info:
        f.get()
    assert info.value.errno == errno.EDEADLOCK


# -- errors ---------------------------------------------------------------------


def test_error_response_raises_oserror_with_errno_and_message(h: Flux) -> None:
    f = h.rpc("test.error", {"errnum": errno.ENOENT, "errstr": "no such job"})
    with pytest.raises(FileNotFoundError) as info:
        f.get()
    assert info.value.errno == errno.ENOENT
    assert info.value.strerror == "no such job"
    assert f.error_string() == "no such job"
    # Without an error string, the message is strerror(errnum).
    g = h.rpc("test.error", {"errnum": errno.EPERM})
    with pytest.raises(PermissionError) as info2:
        g.get()
    assert info2.value.strerror == os.strerror(errno.EPERM)
    assert g.error_string() == os.strerror(errno.EPERM)
    assert h.rpc("test.echo", {}).wait_for().error_string() is None


def test_unknown_topic_is_enosys(h: Flux) -> None:
    with pytest.raises(OSError) as info:
        h.rpc("no.such.service", {}).get()
    assert info.value.errno == errno.ENOSYS
    assert "no.such.service" in str(info.value)


def test_bad_payloads_and_flags_are_rejected_and_free_their_matchtag(h: Flux) -> None:
    tag = h.rpc("test.matchtag").get()["matchtag"]
    with pytest.raises(InvalidPayloadError):
        h.rpc("test.echo", "{not json")
    with pytest.raises(ValueError):  # InvalidPayloadError is a ValueError too
        h.rpc("test.echo", b"\xff")
    with pytest.raises(TypeError):
        h.rpc("test.echo", {"x": object()})
    with pytest.raises(OSError) as info:
        h.rpc("test.echo", {}, flags=0x100)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(ValueError):
        h.rpc("", {})
    assert issubclass(InvalidPayloadError, FluxSDKError)
    # The failed requests did not leak matchtags.
    assert h.rpc("test.matchtag").get()["matchtag"] == tag


# -- streaming -------------------------------------------------------------------


def test_streaming_responses_end_with_enodata(h: Flux) -> None:
    f = h.rpc("test.stream", {"count": 4}, flags=FLUX_RPC_STREAMING)
    assert drain(f) == [{"seq": i} for i in range(4)]
    # The stream stays ended; its matchtag went back to the pool.
    with pytest.raises(OSError) as info:
        f.get()
    assert info.value.errno == errno.ENODATA
    assert h.rpc("test.matchtag").get()["matchtag"] == f.matchtag


def test_streaming_ends_on_any_error(h: Flux) -> None:
    f = h.rpc("test.stream", {"count": 1, "errnum": errno.EPERM}, flags=FLUX_RPC_STREAMING)
    assert f.get() == {"seq": 0}
    f.reset()
    with pytest.raises(PermissionError):
        f.get()
    f.reset()
    with pytest.raises(OSError) as info:
        f.get()
    assert info.value.errno == errno.EDEADLOCK


def test_streaming_with_then_and_reset(h: Flux) -> None:
    seen: list[Any] = []

    def cb(f: RPC, tag: str) -> None:
        try:
            seen.append((tag, f.get()))
        except OSError as exc:
            seen.append((tag, exc.errno))
            return
        f.reset()

    h.rpc("test.stream", {"count": 3}, flags=FLUX_RPC_STREAMING).then(cb, "s")
    assert h.reactor_run() == 0
    assert seen == [("s", {"seq": 0}), ("s", {"seq": 1}), ("s", {"seq": 2}), ("s", errno.ENODATA)]


# -- then ------------------------------------------------------------------------


def test_then_is_never_called_from_inside_then(h: Flux) -> None:
    calls: list[Future] = []
    f = h.rpc("test.echo", {"x": 1})
    f.get()  # already fulfilled
    assert f.then(lambda fut: calls.append(fut)) is f
    assert calls == []
    assert h.reactor_run() == 0
    assert calls == [f]


def test_then_passes_args_and_kwargs(h: Flux) -> None:
    got: list[Any] = []

    def cb(f: RPC, a: int, b: int, *, c: int) -> None:
        got.append((f.get(), a, b, c))

    h.rpc("test.echo", {"v": 1}).then(cb, 1, 2, c=3)
    h.reactor_run()
    assert got == [({"v": 1}, 1, 2, 3)]


def test_get_never_runs_other_callbacks(h: Flux) -> None:
    calls: list[Any] = []
    first = h.rpc("test.echo", {"n": 1}).then(lambda f: calls.append(f.get()))
    second = h.rpc("test.delay", {"seconds": 0.05, "value": 2})
    assert second.get() == {"value": 2}
    # The first response arrived while get() pumped; it was stored, not run.
    assert first.is_ready()
    assert calls == []
    h.reactor_run()
    assert calls == [{"n": 1}]


def test_then_twice_is_eexist(h: Flux) -> None:
    f = h.rpc("test.echo", {})
    f.then(lambda _: None)
    with pytest.raises(OSError) as info:
        f.then(lambda _: None)
    assert info.value.errno == errno.EEXIST
    h.reactor_run()


def test_then_timeout_fulfils_with_etimedout(h: Flux) -> None:
    results: list[int | None] = []

    def cb(f: RPC) -> None:
        try:
            f.get()
            results.append(None)
        except OSError as exc:
            results.append(exc.errno)
        h.reactor_stop()  # the request itself is still pending

    h.rpc("test.hold", {}).then(cb, timeout=0.05)
    h.reactor_run()
    assert results == [errno.ETIMEDOUT]


def test_then_timeout_is_cancelled_by_a_response(h: Flux) -> None:
    results: list[Any] = []
    h.rpc("test.echo", {"ok": 1}).then(lambda f: results.append(f.get()), timeout=0.05)
    h.reactor_run()
    timer = h.timer_watcher_create(0.1, lambda *_: None).start()
    h.reactor_run()  # would run the callback again if the timeout still fired
    timer.destroy()
    assert results == [{"ok": 1}]
    # A disarmed timeout no longer keeps the reactor running either.
    h.rpc("test.echo", {}).then(lambda f: None, timeout=60)
    start = time.monotonic()
    h.reactor_run()
    assert time.monotonic() - start < 10


def test_callback_exception_is_raised_by_reactor_run(h: Flux) -> None:
    def cb(f: RPC) -> None:
        raise KeyError("boom")

    f = h.rpc("test.echo", {}).then(cb)
    with pytest.raises(KeyError):
        h.reactor_run()
    assert f.stopped
    assert h.reactor_run() == 0


# -- many at once ------------------------------------------------------------------


def test_many_concurrent_rpcs_answered_in_reverse_are_matched(h: Flux) -> None:
    n = 300
    futures = [h.rpc("test.reverse", {"n": n, "i": i}) for i in range(n)]
    tags = {f.matchtag for f in futures}
    assert len(tags) == n
    # Wait on the first, which is answered last.
    for i, f in enumerate(futures):
        assert f.get() == {"i": i, "matchtag": f.matchtag}


def test_many_concurrent_rpcs_with_callbacks(h: Flux) -> None:
    n = 100
    got: dict[int, Any] = {}
    for i in range(n):
        h.rpc("test.reverse", {"n": n, "i": i}).then(lambda f, i: got.update({i: f.get()}), i)
    assert h.reactor_run() == 0
    assert sorted(got) == list(range(n))
    assert all(got[i]["i"] == i for i in range(n))


def test_matchtags_are_recycled(h: Flux) -> None:
    tags = {h.rpc("test.matchtag").get()["matchtag"] for _ in range(20)}
    assert len(tags) == 1
    held = [h.rpc("test.matchtag") for _ in range(3)]
    assert len({f.matchtag for f in held}) == 3
    for f in held:
        assert f.get()["matchtag"] == f.matchtag


# -- noresponse ----------------------------------------------------------------------


def test_noresponse_is_fulfilled_at_once_and_delivered(h: Flux) -> None:
    f = h.rpc("test.record", {"x": 1}, flags=FLUX_RPC_NORESPONSE)
    assert f.is_ready()
    assert f.get() is None
    assert f.matchtag == 0
    calls: list[Future] = []
    f.then(calls.append)
    assert calls == []
    h.reactor_run()
    assert calls == [f]
    recorded = h.rpc("test.recorded").get()
    assert recorded == {"payloads": [{"payload": {"x": 1}, "wants_response": False}]}


# -- bare futures ----------------------------------------------------------------------


def test_bare_future_fulfil_queue_and_reset(h: Flux) -> None:
    f = Future(h)
    with pytest.raises(OSError) as info:
        f.get()  # nothing could ever fulfil it
    assert info.value.errno == errno.EDEADLOCK
    f.fulfill({"n": 1})
    f.fulfill({"n": 2})
    f.fulfill_error(errno.EPERM, "nope")
    assert f.get() == {"n": 1}
    f.reset()
    assert f.get() == {"n": 2}
    f.reset()
    with pytest.raises(PermissionError, match="nope"):
        f.get()
    f.reset()
    assert not f.is_ready()
    with pytest.raises(ValueError):
        f.fulfill_error(0)


def test_bare_future_then_runs_per_reset(h: Flux) -> None:
    f = Future(h)
    got: list[Any] = []

    def cb(fut: Future) -> None:
        got.append(fut.get())
        fut.reset()

    f.then(cb)
    f.fulfill(1)
    f.fulfill(2)
    assert got == []
    h.reactor_run()
    assert got == [1, 2]
    f.fulfill(3)
    h.reactor_run()
    assert got == [1, 2, 3]


def test_stop_prevents_the_callback(h: Flux) -> None:
    calls: list[Future] = []
    f = h.rpc("test.echo", {}).then(calls.append)
    f.stop()
    h.reactor_run()
    assert calls == []
    assert f.get() == {}
