"""The Flux handle: URIs, connectors, the reactor, timers, connection loss."""

from __future__ import annotations

import errno
import gc
import os
import sys
import threading
import types
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import fluxsdk.core
from fluxsdk.core import (
    FLUX_REACTOR_NOWAIT,
    FLUX_RPC_STREAMING,
    RPC,
    ConnectError,
    ConnectionLostError,
    ConnectorUnavailableError,
    DefaultInstanceUnavailableError,
    Flux,
    FluxURI,
    HandleThreadError,
    InvalidURIError,
    ReactorStoppedError,
    TimerWatcher,
    embedded_uri,
    parse_uri,
    register_connector,
)
from fluxsdk.core import connectors as connectors_module
from fluxsdk.core.connectors import Connector, EmbeddedConnector
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
    threads = set(threading.enumerate())
    with CoreServer() as srv:
        yield srv
    gc.collect()
    assert _open_fds() <= before, "a socket or other fd was left open"
    assert set(threading.enumerate()) <= threads, "a thread was left running"


@pytest.fixture
def h(server: CoreServer) -> Iterator[Flux]:
    with Flux(server.uri) as handle:
        yield handle


@pytest.fixture
def no_flux_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUX_URI", raising=False)


# -- URIs and connectors ---------------------------------------------------------


def test_explicit_uri_wins_over_flux_uri(
    server: CoreServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX_URI", "local:///run/flux/local")
    with Flux(server.uri) as h:
        assert h.uri == server.uri
        assert h.rpc("test.echo", {"a": 1}).get() == {"a": 1}


def test_flux_uri_is_used_without_an_explicit_uri(
    server: CoreServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX_URI", server.uri)
    with Flux() as h:
        assert h.uri == server.uri
        assert h.rpc("test.echo", {"env": True}).get() == {"env": True}


@pytest.mark.parametrize(
    "uri", ["local:///run/flux/local", "ssh://host/run/flux/local", "tcp://host:8050"]
)
def test_flux_schemes_need_the_libflux_connector(
    uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # As on a machine without Flux (tests/test_flux_connector.py covers it with Flux).
    monkeypatch.setenv("FLUXSDK_LIBFLUX", str(tmp_path / "absent" / "libflux-core.so.2"))
    with pytest.raises(ConnectorUnavailableError) as info:
        Flux(uri)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, FluxSDKError)
    assert "real Flux broker" in str(info.value)
    assert "libflux-core connector is not available" in str(info.value)


def test_local_uri_from_flux_uri_gives_the_same_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("FLUXSDK_LIBFLUX", str(tmp_path / "absent" / "libflux-core.so.2"))
    monkeypatch.setenv("FLUX_URI", "local:///run/flux/local")
    with pytest.raises(ConnectorUnavailableError, match="libflux-core"):
        Flux()


@pytest.mark.parametrize(
    "uri",
    [
        "nonsense",
        "/just/a/path",
        "fluxsdk:relative/dir",
        "fluxsdk://otherhost/dir",
        "fluxsdk://relative",
        "fluxsdk:///dir?query=1",
        "bogus:///x",
    ],
)
def test_bad_uris_raise_invalid_uri_error(uri: str) -> None:
    with pytest.raises(InvalidURIError) as info:
        Flux(uri)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FluxSDKError)


def test_uri_parsing_round_trip(tmp_path: Any) -> None:
    uri = embedded_uri(str(tmp_path / "with space"))
    parsed = parse_uri(uri)
    assert parsed == FluxURI("fluxsdk", "", str(tmp_path / "with space"), uri)
    assert parsed.socket_path == str(tmp_path / "with space" / "local.sock")
    assert parse_uri("fluxsdk://localhost/x").path == "/x"


def test_missing_instance_is_a_connect_error(tmp_path: Any) -> None:
    with pytest.raises(ConnectError) as info:
        Flux(embedded_uri(tmp_path))
    assert info.value.errno == errno.ENOENT
    assert isinstance(info.value, OSError)
    assert "is the instance running" in str(info.value)


def test_no_uri_uses_the_default_instance(
    server: CoreServer, no_flux_uri: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def provider() -> str:
        calls.append("called")
        return server.uri

    monkeypatch.setattr(fluxsdk.core._handle, "_default_uri_provider", None)
    assert fluxsdk.core.set_default_uri_provider(provider) is None
    with Flux() as h:
        assert h.uri == server.uri
        assert h.rpc("test.echo", {"d": 1}).get() == {"d": 1}
    assert calls == ["called"]
    # An explicit URI, or FLUX_URI, never asks the provider.
    with Flux(server.uri):
        pass
    monkeypatch.setenv("FLUX_URI", server.uri)
    with Flux():
        pass
    assert calls == ["called"]
    assert fluxsdk.core.set_default_uri_provider(None) is provider


def test_import_fluxsdk_registers_the_embedded_default_instance(
    no_flux_uri: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The provider that ``import fluxsdk`` installs asks fluxsdk.instance (imported only then).
    starts: list[bool] = []

    def default_uri(start: bool = False) -> str:
        starts.append(start)
        return "fluxsdk:///nowhere/at/all"

    fake = types.ModuleType("fluxsdk.instance")
    fake.default_uri = default_uri  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fluxsdk.instance", fake)
    assert fluxsdk.core._handle.resolve_uri() == "fluxsdk:///nowhere/at/all"
    assert starts == [True]


def test_no_uri_without_default_instance_support_is_a_clear_error(
    no_flux_uri: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fluxsdk.core._handle, "_default_uri_provider", None)
    with pytest.raises(DefaultInstanceUnavailableError, match="FLUX_URI is not set") as info:
        Flux()
    assert "no default instance is registered" in str(info.value)
    assert info.value.errno == errno.ENOSYS
    # The registered instance that cannot be imported says so.
    monkeypatch.setattr(fluxsdk.core._handle, "_default_uri_provider", _unimportable)
    with pytest.raises(DefaultInstanceUnavailableError, match="cannot be loaded: no instance"):
        Flux()
    monkeypatch.setattr(fluxsdk.core._handle, "_default_uri_provider", lambda: 42)
    with pytest.raises(DefaultInstanceUnavailableError, match="returned 42, not a URI"):
        Flux()
    with pytest.raises(TypeError, match="must be callable"):
        fluxsdk.core.set_default_uri_provider("fluxsdk:///x")  # type: ignore[arg-type]


def _unimportable() -> str:
    raise ImportError("no instance here")


def test_register_connector(server: CoreServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connectors_module, "_factories", dict(connectors_module._factories))
    monkeypatch.setattr(connectors_module, "_placeholders", set(connectors_module._placeholders))
    opened: list[FluxURI] = []

    def factory(uri: FluxURI) -> Connector:
        opened.append(uri)
        return EmbeddedConnector(os.path.join(server.directory, "local.sock"), uri=uri.text)

    register_connector("memtest", factory)
    with Flux("memtest://anything") as h:
        assert h.rpc("test.echo", {"m": 1}).get() == {"m": 1}
    assert [u.scheme for u in opened] == ["memtest"]
    # A working connector is not replaced by accident; Flux's placeholders are.
    with pytest.raises(ValueError, match="already registered"):
        register_connector("fluxsdk", factory)
    register_connector("local", factory)
    with Flux("local:///whatever") as h:
        assert h.rpc("test.echo", {"l": 1}).get() == {"l": 1}
    register_connector("memtest", factory, replace=True)
    with pytest.raises(InvalidURIError):
        register_connector("bad scheme", factory)


def test_exports_are_sorted_and_real() -> None:
    names = fluxsdk.core.__all__
    # isort-style order (constants, classes, functions), as ruff keeps it.
    assert list(names) == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(fluxsdk.core, name), name


# -- the reactor --------------------------------------------------------------------


def test_reactor_run_returns_at_once_when_idle(h: Flux) -> None:
    assert h.reactor_run() == 0
    # An RPC without a continuation does not keep the reactor running.
    f = h.rpc("test.delay", {"seconds": 5})
    assert h.reactor_run() == 0
    assert not f.is_ready()


def test_reactor_run_returns_after_the_last_callback(h: Flux) -> None:
    order: list[str] = []
    h.rpc("test.delay", {"seconds": 0.05}).then(lambda f: order.append("slow"))
    h.rpc("test.echo", {}).then(lambda f: order.append("fast"))
    assert h.reactor_run() == 0
    assert order == ["fast", "slow"]


def test_reactor_stop_from_a_callback(h: Flux) -> None:
    pending = h.rpc("test.hold", {}).then(lambda f: None)
    stopped: list[bool] = []

    def cb(f: RPC) -> None:
        stopped.append(True)
        h.reactor_stop()

    h.rpc("test.echo", {}).then(cb)
    # Without the stop, the held request would keep the reactor running forever.
    assert h.reactor_run() >= 1
    assert stopped == [True]
    assert not pending.is_ready()


def test_reactor_stop_error_raises(h: Flux) -> None:
    h.rpc("test.echo", {}).then(lambda f: h.reactor_stop_error())
    with pytest.raises(ReactorStoppedError):
        h.reactor_run()
    assert isinstance(ReactorStoppedError(), OSError)


def test_reactor_nowait_does_not_block(h: Flux) -> None:
    h.rpc("test.hold", {}).then(lambda f: None)
    assert h.reactor_run(flags=FLUX_REACTOR_NOWAIT) >= 1


# -- timers -------------------------------------------------------------------------


def test_one_shot_timer(h: Flux) -> None:
    fired: list[Any] = []

    def cb(handle: Flux, watcher: TimerWatcher, revents: int, args: Any) -> None:
        fired.append((handle, watcher, args))

    w = h.timer_watcher_create(0.01, cb, args="arg").start()
    active = [w.active]
    assert h.reactor_run() == 0
    active.append(w.active)
    assert fired == [(h, w, "arg")]
    assert active == [True, False]
    w.destroy()


def test_repeating_timer_stops_itself(h: Flux) -> None:
    count = [0]

    def cb(handle: Flux, watcher: TimerWatcher, revents: int, args: Any) -> None:
        count[0] += 1
        if count[0] == 3:
            watcher.stop()

    with h.timer_watcher_create(0.0, cb, repeat=0.01):
        assert h.reactor_run() == 0
    assert count == [3]


def test_stopped_timer_never_fires(h: Flux) -> None:
    fired: list[int] = []
    w = h.timer_watcher_create(0.01, lambda *_: fired.append(1)).start()
    w.stop()
    assert h.reactor_run() == 0
    assert fired == []
    # An unreferenced timer does not keep the reactor running.
    w.unref().start()
    assert h.reactor_run() == 0
    assert fired == []
    w.ref()
    assert h.reactor_run() == 0
    assert fired == [1]
    w.destroy()


def test_timer_reset_and_stop_from_another_callback(h: Flux) -> None:
    fired: list[str] = []
    slow = h.timer_watcher_create(10.0, lambda *_: fired.append("slow")).start()

    def stop_slow(handle: Flux, watcher: TimerWatcher, revents: int, args: Any) -> None:
        fired.append("fast")
        slow.stop()

    fast = h.timer_watcher_create(0.01, stop_slow).start()
    assert h.reactor_run() == 0
    assert fired == ["fast"]
    slow.reset(after=0.01)
    assert h.reactor_run() == 0
    assert fired == ["fast", "slow"]
    fast.destroy()
    slow.destroy()


def test_timer_callback_exception_is_raised_by_reactor_run(h: Flux) -> None:
    def cb(handle: Flux, watcher: TimerWatcher, revents: int, args: Any) -> None:
        raise RuntimeError("timer failed")

    w = h.timer_watcher_create(0.0, cb).start()
    with pytest.raises(RuntimeError, match="timer failed"):
        h.reactor_run()
    w.destroy()


# -- connection loss and lifetime ------------------------------------------------------


def test_connection_loss_fails_pending_futures(server: CoreServer, h: Flux) -> None:
    plain = h.rpc("test.hold", {})
    stream = h.rpc("test.hold", {}, flags=FLUX_RPC_STREAMING)
    errors: list[int | None] = []

    def cb(f: RPC) -> None:
        with pytest.raises(ConnectionLostError) as info:
            f.get()
        errors.append(info.value.errno)

    h.rpc("test.hold", {}).then(cb)
    assert h.rpc("test.echo", {}).get() == {}  # all three have reached the broker
    server.drop_connections()
    with pytest.raises(ConnectionLostError) as info:
        plain.get()
    assert info.value.errno == errno.ECONNRESET
    assert isinstance(info.value, ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        stream.get()
    assert h.reactor_run() == 0
    assert errors == [errno.ECONNRESET]
    with pytest.raises(ConnectionLostError):
        h.rpc("test.echo", {})


def test_connection_closed_by_the_server_during_a_request(h: Flux) -> None:
    f = h.rpc("test.drop", {})
    with pytest.raises(ConnectionLostError):
        f.get()


def test_responses_received_before_the_loss_are_kept(server: CoreServer, h: Flux) -> None:
    f = h.rpc("test.stream", {"count": 2, "errnum": 0}, flags=FLUX_RPC_STREAMING)
    # errnum 0 makes the stream end with no error, so it stays open.
    assert f.get() == {"seq": 0}
    h.rpc("test.echo", {}).get()
    server.drop_connections()
    f.reset()
    assert f.get() == {"seq": 1}
    f.reset()
    with pytest.raises(ConnectionLostError):
        f.get()


def test_close_fails_pending_futures(server: CoreServer) -> None:
    h = Flux(server.uri)
    f = h.rpc("test.hold", {})
    h.close()
    h.close()  # idempotent
    with pytest.raises(ConnectionLostError):
        f.get()
    with pytest.raises(ConnectionLostError):
        h.rpc("test.echo", {})


def test_dropped_handle_releases_its_socket_silently(server: CoreServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = Flux(server.uri)
        assert h.rpc("test.echo", {}).get() == {}
        h.rpc("test.echo", {}).then(lambda f: None)
        h.reactor_run()
        client_fd = h._conn.fileno()
        alive = weakref.ref(h)
        del h
        # Freed at once (no reference cycle), and its socket closed with it.
        assert alive() is None
        with pytest.raises(OSError):
            os.fstat(client_fd)
        h = Flux(server.uri)
        h.timer_watcher_create(1.0, lambda *_: None)
        h.rpc("test.hold", {})
        alive = weakref.ref(h)
        del h
        gc.collect()  # watchers and pending RPCs make cycles: the collector frees them
        assert alive() is None
    # (The server fixture checks that no fd is left once the server has stopped.)


def test_handle_is_confined_to_its_thread(h: Flux) -> None:
    errors: list[BaseException] = []
    f = h.rpc("test.delay", {"seconds": 0.01})

    def other() -> None:
        for action in (lambda: h.rpc("test.echo", {}), f.get, h.reactor_run):
            try:
                action()
            except HandleThreadError as exc:
                errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(errors) == 3
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert "one handle per thread" in str(errors[0])
    assert f.get() == {"value": None}


def test_a_handle_can_be_handed_over_to_the_thread_that_uses_it(h: Flux) -> None:
    # As the job executor does: opened in one thread, used only by the worker it starts.
    got: list[object] = []

    def worker() -> None:
        h._hand_over()
        got.append(h.rpc("test.echo", {"w": 1}).get())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert got == [{"w": 1}]
    with pytest.raises(HandleThreadError):  # the opening thread has given it away
        h.rpc("test.echo", {})
    h._hand_over()  # and back, for the fixture to close it
    h.close()
    with pytest.raises(ConnectionLostError, match="is closed"):
        h._hand_over()


def test_large_payloads_cross_partial_writes(h: Flux) -> None:
    # Several megabytes each way: the socket cannot take them in one write.
    blob = "x" * (3 << 20)
    futures = [h.rpc("test.echo", {"blob": blob, "i": i}) for i in range(4)]
    for i, f in enumerate(futures):
        assert f.get() == {"blob": blob, "i": i}
    got: list[int] = []
    for i in range(4):
        h.rpc("test.echo", {"blob": blob, "i": i}).then(lambda f: got.append(f.get()["i"]))
    assert h.reactor_run() == 0
    assert sorted(got) == [0, 1, 2, 3]
