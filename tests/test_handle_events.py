"""The handle's broker attributes, events and message watchers, on both connectors."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from fluxsdk.constants import FLUX_MSGTYPE_EVENT
from fluxsdk.core import Flux, MessageWatcher
from fluxsdk.core._message import Message


@pytest.fixture
def any_handle(embedded_or_flux: Flux) -> Flux:
    """A handle on the embedded instance, then on a real Flux broker (if there is one)."""
    return embedded_or_flux


def test_attr_get(any_handle: Flux) -> None:
    assert any_handle.attr_get("size") == "1"
    assert any_handle.get_rank() == 0
    with pytest.raises(FileNotFoundError):
        any_handle.attr_get("no-such-attribute")


def test_subscribed_events_reach_message_watchers(any_handle: Flux) -> None:
    h = any_handle
    got: list[tuple[str, Any, int]] = []

    def on_event(handle: Flux, watcher: MessageWatcher, msg: Message, args: Any) -> None:
        got.append((msg.topic, msg.payload, args))
        if len(got) == 2:
            watcher.stop()

    h.event_subscribe("fluxsdk-test.")
    watcher = h.msg_watcher_create(on_event, FLUX_MSGTYPE_EVENT, "fluxsdk-test.*", args=7)
    watcher.start()
    first = h.event_send("fluxsdk-test.one", {"n": 1})
    h.event_send("other-topic.x", {"n": 0})  # not subscribed: never seen
    second = h.event_send("fluxsdk-test.two")
    assert second > first > 0
    h.reactor_run()  # returns once the watcher is stopped
    assert got == [("fluxsdk-test.one", {"n": 1}, 7), ("fluxsdk-test.two", None, 7)]
    h.event_unsubscribe("fluxsdk-test.")
    watcher.destroy()


def test_unmatched_glob_is_not_delivered(any_handle: Flux) -> None:
    h = any_handle
    got: list[str] = []
    h.event_subscribe("fluxsdk-glob.")
    watcher = h.msg_watcher_create(lambda *a: got.append(a[2].topic), topic_glob="*.b")
    watcher.start()
    h.event_send("fluxsdk-glob.a")
    h.event_send("fluxsdk-glob.b")
    timer = h.timer_watcher_create(0.5, lambda *a: watcher.stop()).start()
    h.reactor_run()
    timer.destroy()
    assert got == ["fluxsdk-glob.b"]
    h.event_unsubscribe("fluxsdk-glob.")


def test_bad_event_flags(any_handle: Flux) -> None:
    with pytest.raises(OSError) as info:
        any_handle.event_send("x", flags=0x1000)
    assert info.value.errno == errno.EINVAL
