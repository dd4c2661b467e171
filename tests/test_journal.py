"""job-manager.events-journal and fluxsdk.job.JournalConsumer, against flux 0.88's answers.

``tests/data/flux088_journal.json`` holds what flux-core 0.88 answered to the same
requests (recorded with ``flux start --test-size=1``); the embedded instance must
answer alike: the same responses, keys, event names, sentinel and errors.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.core._message import FLUX_RPC_NORESPONSE, FLUX_RPC_STREAMING
from fluxsdk.job import JobspecV1, JournalConsumer, JournalEvent
from fluxsdk.job.journal import SENTINEL_EVENT

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux088_journal.json").read_text()
)
SENTINEL = {"id": -1, "events": []}


def shape(responses: list[dict[str, Any]]) -> list[tuple[bool, list[str], list[str]]]:
    """What must agree with flux: sentinel or not, event names, response keys."""
    return [
        (r.get("id") == -1, [e["name"] for e in r.get("events", [])], sorted(r)) for r in responses
    ]


def stream(h: Flux, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    rpc = h.rpc("job-manager.events-journal", payload, 0, FLUX_RPC_STREAMING)
    try:
        while True:
            response: dict[str, Any] = rpc.wait_for(30).get()
            rpc.reset()
            yield response
    finally:
        if rpc.is_pending():
            cancel = {"matchtag": rpc.matchtag}
            h.rpc("job-manager.events-journal-cancel", cancel, 0, FLUX_RPC_NORESPONSE)


def backlog(h: Flux, payload: dict[str, Any], ids: set[int]) -> list[dict[str, Any]]:
    """The backlog responses of ``ids`` (other tests' jobs share the instance) and the sentinel."""
    out = []
    for response in stream(h, payload):
        if response["id"] in ids or response == SENTINEL:
            out.append(response)
        if response == SENTINEL:
            return out
    raise AssertionError("no sentinel")


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def h(request: pytest.FixtureRequest, fluxsdk_uri: str) -> Iterator[Flux]:
    """A handle on the embedded instance, and on a real Flux (through libflux-core)."""
    uri = fluxsdk_uri if request.param == "embedded" else request.getfixturevalue("flux_uri")
    with Flux(uri) as handle:
        yield handle


def test_full_backlog_matches_flux(h: Flux) -> None:
    jobid = job.submit(h, JobspecV1.from_command(["true"]), waitable=True)
    job.wait(h, jobid)
    got = backlog(h, {"full": True}, {jobid})
    assert shape(got) == shape(RECORDED["full"])
    assert got[-1] == SENTINEL
    first = got[0]
    # The redacted jobspec (no environment) and R without "scheduling", as flux sends them.
    assert "environment" not in first["jobspec"]["attributes"]["system"]
    assert first["jobspec"]["tasks"][0]["command"] == ["true"]
    assert first["R"]["execution"]["R_lite"] and "scheduling" not in first["R"]
    assert isinstance(first["events"][0]["context"]["userid"], int)


def test_not_full_leaves_inactive_jobs_out(h: Flux) -> None:
    jobid = job.submit(h, JobspecV1.from_command(["true"]), waitable=True)
    job.wait(h, jobid)
    assert backlog(h, {"full": False}, {jobid}) == [SENTINEL]


def test_live_events_match_flux(h: Flux) -> None:
    responses = stream(h, {"full": False})
    for response in responses:
        if response == SENTINEL:
            break
    jobid = job.submit(h, JobspecV1.from_command(["sh", "-c", "exit 3"]))
    got = []
    for response in responses:
        if response["id"] == jobid:
            got.append(response)
            if response["events"][0]["name"] == "clean":
                break
    recorded = [r for r in RECORDED["active_then_live"] if r != SENTINEL]
    assert shape(got) == shape(recorded)
    finish = next(r for r in got if r["events"][0]["name"] == "finish")
    assert finish["events"][0]["context"] == {"status": 768}
    submit = got[0]
    assert submit["jobspec"]["tasks"][0]["command"] == ["sh", "-c", "exit 3"]


@pytest.mark.parametrize(
    ("payload", "recorded"),
    [
        ({"full": True, "allow": {"submit": 1, "clean": 1}}, "allow_filter_live"),
        ({"full": True, "deny": {"submit": 1}}, "deny_filter"),
    ],
)
def test_filters_match_flux(h: Flux, payload: dict[str, Any], recorded: str) -> None:
    ids = [job.submit(h, JobspecV1.from_command(["true"]), waitable=True) for _ in range(2)]
    for jobid in ids:
        job.wait(h, jobid)
    got = backlog(h, payload, set(ids))
    assert shape(got) == shape(RECORDED[recorded])


@pytest.mark.parametrize(
    ("name", "payload", "flags"),
    [
        ("not_streaming", {}, 0),
        ("bad_allow", {"allow": [1]}, FLUX_RPC_STREAMING),
        ("bad_full", {"full": 1}, FLUX_RPC_STREAMING),
    ],
)
def test_bad_requests_get_flux_errors(h: Flux, name: str, payload: Any, flags: int) -> None:
    with pytest.raises(OSError) as info:
        h.rpc("job-manager.events-journal", payload, 0, flags).get()
    assert info.value.errno == RECORDED[name]["errno"]
    assert info.value.strerror == RECORDED[name]["error"]


def test_cancel_ends_the_stream_with_enodata(h: Flux) -> None:
    rpc = h.rpc("job-manager.events-journal", {"full": False}, 0, FLUX_RPC_STREAMING)
    while rpc.get() != SENTINEL:
        rpc.reset()
    rpc.reset()
    h.rpc("job-manager.events-journal-cancel", {"matchtag": rpc.matchtag}, 0, FLUX_RPC_NORESPONSE)
    with pytest.raises(OSError) as info:
        while True:
            rpc.get()
            rpc.reset()
    assert info.value.errno == errno.ENODATA


def test_stats_get_reports_the_journal(h: Flux) -> None:
    stats = h.rpc("job-manager.stats-get", {}).get()
    assert sorted(stats) == sorted(RECORDED["stats_get"])
    assert sorted(stats["journal"]) == ["events", "listeners"]
    assert stats["housekeeping"] == RECORDED["stats_get"]["housekeeping"]


def test_consumer_orders_history_then_follows_live(h: Flux) -> None:
    done = job.submit(h, JobspecV1.from_command(["true"]), waitable=True)
    job.wait(h, done)
    consumer = JournalConsumer(h, include_sentinel=True).start()
    history = []
    while (event := consumer.poll(timeout=30)) is not None and not event.is_empty():
        history.append(event)
    assert event is SENTINEL_EVENT
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)
    mine = [e for e in history if e.jobid == done]
    assert mine[0].name == "submit" and mine[-1].name == "clean"
    assert mine[0].jobspec is not None and mine[0].R is None
    alloc = next(e for e in mine if e.name == "alloc")
    assert alloc.R is not None and alloc.jobspec is None
    live = job.submit(h, JobspecV1.from_command(["true"]))
    names = []
    while True:
        event = consumer.poll(timeout=30)
        assert isinstance(event, JournalEvent)
        if event.jobid == live:
            names.append(event.name)
            if event.name == "clean":
                break
    assert names[:2] == ["submit", "validate"] and "finish" in names
    consumer.stop()
    while consumer.poll(timeout=30) is not None:
        pass
    assert str(alloc).startswith(f"{alloc.jobid.f58}: ") and "R=" in str(alloc)


def test_poll_zero_returns_only_what_arrived(h: Flux) -> None:
    consumer = JournalConsumer(h, full=False).start()
    with pytest.raises(TimeoutError):
        consumer.poll(timeout=0)
    consumer.stop()
    assert consumer.poll(timeout=30) is None


def test_poll_before_start_is_an_error(h: Flux) -> None:
    with pytest.raises(RuntimeError, match="start"):
        JournalConsumer(h).poll(1.0)


GUEST_SCRIPT = """
import json
from fluxsdk.core import Flux
from fluxsdk.job import JournalConsumer
from fluxsdk.model import Connection

out = {}
with Flux() as h:
    try:
        JournalConsumer(h).start().poll(30)
    except OSError as exc:
        out["journal"] = [exc.errno, exc.strerror]
with Connection() as conn:
    out["live"] = conn.live
print(json.dumps(out))
"""


@pytest.mark.flux
def test_a_guest_gets_eperm_and_the_model_falls_back_on_polling(flux_uri: str) -> None:
    """On a real Flux, a guest (another user's credentials, as the instance owner may
    pose) is refused the journal, as recorded; the model then polls."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, FLUX_URI=flux_uri, FLUX_HANDLE_USERID="4242", FLUX_HANDLE_ROLEMASK="2")
    proc = subprocess.run(
        [sys.executable, "-c", GUEST_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["journal"] == [RECORDED["guest"]["errno"], RECORDED["guest"]["error"]]
    assert out["live"] is False
