"""Helpers the object model's tests share (this module holds no tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import pytest

from fluxsdk.core import Flux
from fluxsdk.job import JobID

__all__ = ["RPCCounter", "fresh_state", "state_of", "uid", "until"]

T = TypeVar("T", covariant=True)


class Stateful(Protocol[T]):
    """A Task, Job or Pool, as far as these helpers care."""

    @property
    def state(self) -> T: ...

    @property
    def uuid(self) -> str | None: ...

    @property
    def jobid(self) -> JobID | None: ...

    def update(self, flushcache: bool = False) -> None: ...


def state_of(obj: Stateful[T]) -> T:
    """``obj.state``, read through a call: mypy narrows a property it compared once,
    and would call the next comparison of the same property unreachable."""
    return obj.state


def fresh_state(obj: Stateful[T]) -> T:
    """The state after ``update(flushcache=True)``."""
    obj.update(flushcache=True)
    return obj.state


def uid(obj: Stateful[Any]) -> JobID:
    """The flux job ID of a submitted object."""
    assert obj.jobid is not None, "the object is not submitted"
    return obj.jobid


def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


class RPCCounter:
    """Counts the requests every handle sends (on the wire, whatever API sent them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.topics: list[str] = []
        send = Flux._send_request

        def counting(handle: Flux, rpc: Any, topic: str, *args: Any) -> int:
            self.topics.append(topic)
            return send(handle, rpc, topic, *args)

        monkeypatch.setattr(Flux, "_send_request", counting)
