"""The live model on both sides: the embedded instance and a real Flux (libflux-core).

The issue's scenario: task ``final`` depends on ``prep``; once ``final.wait()``
returns, ``prep.state`` reads ``Success`` with no ``update()``, and reading
states sends no request while the journal stream is up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxsdk.model import Connection, TaskState
from tests.test_model_helpers import RPCCounter


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def conn(request: pytest.FixtureRequest, fluxsdk_uri: str) -> Iterator[Connection]:
    uri = fluxsdk_uri
    if request.param == "flux":
        uri = request.getfixturevalue("flux_uri")
    with Connection(uri) as connection:
        yield connection


def test_prep_reads_success_once_final_ran(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert conn.live
    job = conn.create_job("scenario", use_dependencies=True)
    job.submit()
    prep = conn.create_task("prep", ["sleep", "0.2"], job=job)
    final = conn.create_task("final", ["true"], job=job)
    final.dependencies = [prep]
    conn.submit_tasks([prep, final])
    assert final.wait(60)
    counter = RPCCounter(monkeypatch)
    assert final.state is TaskState.Success
    assert prep.state is TaskState.Success  # no update(): the journal said so
    assert prep.exit_code == 0 and prep.state_transition_time is not None
    assert counter.topics == []  # and reading it asked nothing
    job.terminate()
    job.delete(forceAbort=True)


def test_a_failure_shows_with_its_error(conn: Connection) -> None:
    task = conn.create_task("fails", ["sh", "-c", "exit 3"])
    seen: list[str] = []
    task.on_state_change(lambda obj, state: seen.append(str(state)))
    task.submit()
    while not task.state.is_final:
        conn.process_events(timeout=5)
    assert task.state is TaskState.Failure and task.exit_code == 3
    assert [e.code for e in task.errors] == ["exit"]
    assert seen[-1] == "Failure"
    task.delete()
