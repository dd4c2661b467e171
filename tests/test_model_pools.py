"""Pool: tasks scheduled inside a nested instance that runs as a job of the parent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxsdk import job as flux_job
from fluxsdk.core import Flux
from fluxsdk.model import (
    Connection,
    MissingPoolException,
    MissingTaskException,
    Pool,
    PoolState,
    TaskState,
    UnauthorizedException,
)
from fluxsdk.testing import instance_running
from tests.test_model_helpers import fresh_state, state_of, uid, until


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An instance of this module's own (pools take its cores)."""
    with instance_running(tmp_path_factory.mktemp("model-pools"), cores=4) as uri:
        yield uri


@pytest.fixture
def conn(uri: str) -> Iterator[Connection]:
    with Connection(uri) as conn:
        yield conn


def test_a_pool_runs_tasks_in_its_nested_instance(conn: Connection) -> None:
    pool = conn.create_pool("workers", instancecount=2, shortname="workers")
    pool.tags = ["farm"]
    assert (state_of(pool), pool.uri) == (PoolState.UnSubmitted, None)
    pool.submit()
    try:
        assert pool.wait_ready(timeout=30)
        assert fresh_state(pool) is PoolState.FullyExecuting
        assert pool.uri is not None and pool.uri != conn.uri
        with pytest.raises(AttributeError, match="already submitted"):
            pool.instancecount = 3
        # A task of the pool is scheduled by the nested instance.
        task = conn.create_task("inside", ["sh", "-c", 'echo "$FLUX_URI"'], pool=pool)
        task.submit()
        assert task.wait(30) and state_of(task) is TaskState.Success
        assert task.stdout().strip() == pool.uri
        assert task.pool_uuid == pool.uuid
        with Flux(pool.uri) as inner:
            assert flux_job.get_job(inner, uid(task)) is not None
        parent_names = {j["name"] for j in flux_job.job_list(conn.handle, max_entries=0).get_jobs()}
        assert "inside" not in parent_names and "workers" in parent_names
        # Tasks of a job in the pool run there too.
        job = conn.create_job("in-pool", pool=pool)
        job.submit()
        grouped = conn.create_task("grouped", ["echo", "grouped"], job=job)
        grouped.submit()
        assert grouped.wait(30) and grouped.pool_uuid == pool.uuid
        assert [t.name for t in job.tasks] == ["grouped"]
        assert sorted(t.name for t in pool.tasks) == ["grouped", "inside"]
        assert {"grouped", "inside"} <= {t.name for t in conn.tasks()}
        assert conn.retrieve_task(uid(grouped)).stdout() == "grouped\n"
        assert [p.uuid for p in conn.pools(tags=["farm"])] == [pool.uuid]
        same = conn.retrieve_pool(uid(pool))
        assert (same.name, same.instancecount, same.tags) == ("workers", 2, ["farm"])
        job.terminate()
    finally:
        pool.close()
    assert fresh_state(pool) in (PoolState.Closing, PoolState.Closed)
    assert pool.tasks == [] or state_of(pool) is PoolState.Closing
    with pytest.raises(UnauthorizedException, match="runs no more tasks"):
        conn.create_task("too-late", ["true"], pool=pool).submit()
    pool.delete()
    assert state_of(pool) is PoolState.Deleted
    # delete() returned once the pool was gone: its flux job ended.
    info = flux_job.get_job(conn.handle, uid(pool))
    assert info is None or info["state"] == "INACTIVE"
    with pytest.raises(MissingPoolException):
        conn.retrieve_pool(uid(pool))
    assert pool.uuid not in {p.uuid for p in conn.pools()}


def test_deleting_a_running_pool_returns_once_it_is_gone(conn: Connection) -> None:
    pool = conn.create_pool("deleted-running", instancecount=1)
    seen: list[str] = []
    pool.on_state_change(lambda obj, state: seen.append(str(state)))
    pool.submit()
    assert pool.wait_ready(timeout=30)
    assert seen[-1] == "FullyExecuting"  # the uri memo came through the journal
    inner = pool.uri
    assert inner is not None
    pool.delete()
    info = flux_job.get_job(conn.handle, uid(pool))
    assert info is None or info["state"] == "INACTIVE"
    with pytest.raises(OSError):
        Flux(inner)  # the nested instance is gone
    assert seen[-1] == "Deleted"


def test_closing_a_pool_ends_what_runs_in_it(conn: Connection) -> None:
    pool = conn.create_pool("short", instancecount=1)
    pool.submit()
    task = conn.create_task("stuck", ["sleep", "60"], pool=pool)
    task.submit()
    inner = pool.uri
    assert inner is not None
    pool.close()
    with Connection(conn.uri) as other:
        closed = other.retrieve_pool(uid(pool))
        until(lambda: fresh_state(closed).is_final)
        assert state_of(closed) is PoolState.Closed and closed.errors == []
    with pytest.raises(OSError):
        Flux(inner)  # the nested instance is gone
    with pytest.raises(MissingTaskException, match="was closed"):
        task.update(flushcache=True)  # and its tasks with it
    pool.delete()


def test_a_pool_round_trips_through_json(conn: Connection) -> None:
    pool = conn.create_pool("json-pool", instancecount=1, shortname="jp")
    pool.tags = ["j"]
    draft = Pool.from_json(conn, pool.to_json())
    assert draft.to_json() == pool.to_json()
    pool.submit()
    try:
        assert pool.wait_ready(30)
        again = Pool.from_json(conn, pool.to_json())
        assert again.uuid == pool.uuid and again.shortname == "jp"
    finally:
        pool.delete()
