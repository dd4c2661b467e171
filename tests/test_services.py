"""Client-provided services: service_register, request messages, respond, on both connectors."""

from __future__ import annotations

import errno
import threading
from typing import Any

import pytest

from fluxsdk.constants import FLUX_MSGTYPE_REQUEST, FLUX_RPC_STREAMING
from fluxsdk.core import Flux, MessageWatcher
from fluxsdk.core._message import Message


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def uri(request: pytest.FixtureRequest) -> str:
    """The embedded instance's URI, then a real Flux broker's (if there is one)."""
    name = "fluxsdk_uri" if request.param == "embedded" else "flux_uri"
    value: str = request.getfixturevalue(name)
    return value


class Provider:
    """A service run by its own handle in its own thread, until ``NAME.stop``."""

    def __init__(self, uri: str, name: str) -> None:
        self.uri = uri
        self.name = name
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.seen: list[tuple[str, Any, int]] = []
        self.thread = threading.Thread(target=self._run)

    def __enter__(self) -> Provider:
        self.thread.start()
        assert self.ready.wait(30)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        with Flux(self.uri) as h:
            h.rpc(f"{self.name}.stop", {}).wait_for(30).get()
        self.thread.join(30)

    def _run(self) -> None:
        try:
            with Flux(self.uri) as h:
                h.service_register(self.name).get()
                watcher = h.msg_watcher_create(
                    self._on_request, FLUX_MSGTYPE_REQUEST, f"{self.name}.*"
                ).start()
                self.ready.set()
                h.reactor_run()
                watcher.destroy()
        except BaseException as exc:  # reported to the test thread
            self.error = exc
            self.ready.set()

    def _on_request(self, h: Flux, watcher: MessageWatcher, msg: Message, arg: Any) -> None:
        method = msg.topic.split(".", 1)[1]
        self.seen.append((method, msg.payload, msg.userid))
        if method == "echo":
            h.respond(msg, {"echo": msg.payload})
        elif method == "count":
            for i in range(int(msg.payload["n"])):
                h.respond(msg, {"i": i})
            h.respond_error(msg, errno.ENODATA)
        elif method == "deny":
            h.respond_error(msg, errno.EPERM, "not today")
        elif method == "stop":
            h.respond(msg)
            watcher.stop()


def test_requests_reach_the_service_and_answers_come_back(uri: str) -> None:
    with Provider(uri, "fluxsdk-svc1") as provider, Flux(uri) as h:
        assert h.rpc("fluxsdk-svc1.echo", {"x": 1}).wait_for(30).get() == {"echo": {"x": 1}}
        stream = h.rpc("fluxsdk-svc1.count", {"n": 3}, flags=FLUX_RPC_STREAMING)
        got = []
        while True:
            try:
                got.append(stream.wait_for(30).get()["i"])
            except OSError as exc:
                assert exc.errno == errno.ENODATA
                break
            stream.reset()
        assert got == [0, 1, 2]
        with pytest.raises(PermissionError, match="not today"):
            h.rpc("fluxsdk-svc1.deny", {}).wait_for(30).get()
    # As flux's broker: a requester that goes away is announced to the services it used.
    assert [m for m, _, _ in provider.seen] == ["echo", "count", "deny", "disconnect", "stop"]


def test_a_taken_name_is_eexist(uri: str) -> None:
    with Provider(uri, "fluxsdk-svc2"), Flux(uri) as h, pytest.raises(FileExistsError):
        h.service_register("fluxsdk-svc2").wait_for(30).get()


def test_no_provider_is_enosys(uri: str) -> None:
    with Flux(uri) as h, pytest.raises(OSError) as info:
        h.rpc("fluxsdk-nobody.here", {}).wait_for(30).get()
    assert info.value.errno == errno.ENOSYS


def test_builtin_service_names_are_taken(fluxsdk_uri: str) -> None:
    with Flux(fluxsdk_uri) as h, pytest.raises(FileExistsError):
        h.service_register("job-info").get()


def test_requests_left_by_a_provider_that_goes_away_fail(fluxsdk_uri: str) -> None:
    with Flux(fluxsdk_uri) as provider, Flux(fluxsdk_uri) as h:
        provider.service_register("fluxsdk-svc3").get()
        pending = h.rpc("fluxsdk-svc3.hello", {})
        with pytest.raises(OSError):
            pending.wait_for(0.2)  # nobody answers while the provider does not look
        provider.close()
        with pytest.raises(OSError) as info:
            pending.get()
        assert info.value.errno == errno.ENOSYS
        with pytest.raises(OSError) as info:
            h.rpc("fluxsdk-svc3.hello", {}).get()
        assert info.value.errno == errno.ENOSYS


def test_unregister(fluxsdk_uri: str) -> None:
    with Flux(fluxsdk_uri) as provider, Flux(fluxsdk_uri) as h:
        provider.service_register("fluxsdk-svc4").get()
        with pytest.raises(FileNotFoundError):
            h.service_unregister("fluxsdk-svc4").get()  # not this handle's
        provider.service_unregister("fluxsdk-svc4").get()
        with pytest.raises(OSError) as info:
            h.rpc("fluxsdk-svc4.hello", {}).get()
        assert info.value.errno == errno.ENOSYS
