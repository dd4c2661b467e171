"""fluxsdk.future (flux.future) and fluxsdk.rpc (flux.rpc) at flux's module paths."""

from __future__ import annotations

import errno

import pytest

from fluxsdk.core import Flux
from fluxsdk.future import Future, WaitAllFuture
from fluxsdk.rpc import RPC


def test_wait_all_future_waits_for_every_child(flux_handle: Flux) -> None:
    good = RPC(flux_handle, "job-list.list-attrs", {})
    bad = flux_handle.rpc("job-list.list-id", {"id": 123, "attrs": []})
    waiter = WaitAllFuture([good])
    assert waiter.get_flux() is flux_handle  # the first child's handle
    waiter.push(bad)
    assert waiter.get() is None
    assert good.is_ready() and bad.is_ready()
    assert "userid" in good.get()["attrs"]
    with pytest.raises(FileNotFoundError):
        bad.get()


def test_wait_all_future_then(flux_handle: Flux) -> None:
    waiter = WaitAllFuture()
    with pytest.raises(OSError) as info:
        waiter.get_flux()
    assert info.value.errno == errno.EINVAL
    children = [flux_handle.rpc("job-list.list-attrs", {}) for _ in range(3)]
    for child in children:
        waiter.push(child)
    done: list[bool] = []
    waiter.then(lambda f: done.append(all(c.is_ready() for c in f.children)))
    flux_handle.reactor_run()
    assert done == [True]


def test_empty_wait_all_with_a_handle_is_ready(flux_handle: Flux) -> None:
    assert WaitAllFuture(flux_handle=flux_handle).wait_for(0.1).is_ready()


def test_rpc_get_str_and_future_type(flux_handle: Flux) -> None:
    rpc = RPC(flux_handle, "job-list.list-attrs", "{}")
    assert isinstance(rpc, Future)
    text = rpc.get_str()
    assert text is not None and '"attrs"' in text
