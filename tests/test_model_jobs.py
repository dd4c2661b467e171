"""Job (Qarnot's job: a named group of tasks), against a real embedded instance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fluxsdk import job as flux_job
from fluxsdk.errors import InvalidInputError
from fluxsdk.model import (
    Connection,
    Job,
    JobState,
    MaxJobException,
    MissingJobException,
    MissingTaskException,
    TaskState,
    UnauthorizedException,
)
from fluxsdk.testing import instance_running
from tests.test_model_helpers import fresh_state, state_of, uid, until


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An instance of this module's own (the model keeps records in it)."""
    with instance_running(tmp_path_factory.mktemp("model-jobs"), cores=4) as uri:
        yield uri


@pytest.fixture
def conn(uri: str) -> Iterator[Connection]:
    with Connection(uri) as conn:
        yield conn


def test_a_job_groups_tasks_and_follows_their_states(conn: Connection) -> None:
    job = conn.create_job("render", shortname="render-1", use_dependencies=True)
    job.tags = ["movie"]
    job.max_wall_time = timedelta(hours=1)
    job.completion_ttl = "1.00:00:00"
    job.auto_delete = True
    assert (state_of(job), job.uuid, job.tasks) == (JobState.UnSubmitted, None, [])
    created = job.creation_date
    assert created.tzinfo is not None
    job.submit()
    assert fresh_state(job) is JobState.Active
    assert (job.name, job.shortname, job.tags) == ("render", "render-1", ["movie"])
    assert (job.max_wall_time, job.completion_ttl) == ("01:00:00", "1.00:00:00")
    assert job.use_dependencies and job.auto_delete and job.pool is None
    assert abs(job.creation_date.timestamp() - datetime.now(timezone.utc).timestamp()) < 30
    for name, value in [
        ("name", "x"),
        ("shortname", "x"),
        ("pool", None),
        ("use_dependencies", False),
        ("max_wall_time", "00:00:01"),
        ("auto_delete", False),
        ("completion_ttl", "00:00:01"),
    ]:
        with pytest.raises(AttributeError, match="already submitted"):
            setattr(job, name, value)
    tasks = [conn.create_task(f"frame{i}", ["echo", str(i)], job=job) for i in range(3)]
    conn.submit_tasks(tasks)
    assert all(t.wait(30) for t in tasks)
    assert sorted(t.name for t in job.tasks) == ["frame0", "frame1", "frame2"]
    assert all(t.job_uuid == job.uuid for t in job.tasks)
    assert tasks[0].job is not None and tasks[0].job.uuid == job.uuid
    assert fresh_state(job) is JobState.Active  # stays active until terminated
    job.terminate()
    assert fresh_state(job) is JobState.Completed
    changed = job.state_transition_time
    assert changed is not None and changed >= job.creation_date
    with pytest.raises(UnauthorizedException, match="takes no new tasks"):
        conn.create_task("late", ["true"], job=job).submit()
    job.delete()
    assert state_of(job) is JobState.Deleting


def test_terminate_aborts_running_and_pending_tasks(conn: Connection) -> None:
    job = conn.create_job("stop-me", use_dependencies=True)
    job.submit()
    running = conn.create_task("running", ["sleep", "60"], job=job)
    pending = conn.create_task("pending", ["true"], job=job)
    pending.dependencies = [running]
    conn.submit_tasks([running, pending])
    until(lambda: fresh_state(running) is TaskState.FullyExecuting)
    pending.update(flushcache=True)
    assert state_of(pending) is TaskState.Submitted
    job.terminate()
    assert fresh_state(job) in (JobState.Terminating, JobState.Completed)
    assert running.wait(30) and pending.wait(30)
    assert (state_of(running), state_of(pending)) == (TaskState.Cancelled, TaskState.Cancelled)
    assert fresh_state(job) is JobState.Completed
    assert pending.stdout() == ""  # it never ran
    job.delete()


def test_delete_refuses_running_tasks_unless_forced(conn: Connection, uri: str) -> None:
    job = conn.create_job("busy")
    job.submit()
    done = conn.create_task("done", ["true"], job=job)
    busy = conn.create_task("busy", ["sleep", "60"], job=job)
    conn.submit_tasks([done, busy])
    assert done.wait(30)
    with pytest.raises(UnauthorizedException, match=r"running task.*forceAbort=True"):
        job.delete()
    assert fresh_state(job) is JobState.Active  # nothing was deleted
    job.delete(forceAbort=True)
    assert state_of(job) is JobState.Deleting
    assert flux_job.result(conn.handle, uid(busy)).result == "CANCELED"
    with Connection(uri) as other:
        with pytest.raises(MissingJobException):
            other.retrieve_job(uid(job))
        for task in (done, busy):
            with pytest.raises(MissingTaskException):
                other.retrieve_task(uid(task))
        assert job.uuid not in {j.uuid for j in other.jobs()}
    with pytest.raises(MissingJobException):
        job.delete()
    with pytest.raises(MissingTaskException):
        busy.update(flushcache=True)


def test_delete_a_completed_job_without_force(conn: Connection) -> None:
    job = conn.create_job("finished")
    job.submit()
    task = conn.create_task("quick", ["true"], job=job)
    task.submit()
    assert task.wait(30)
    job.delete()  # no running task: no force needed
    with pytest.raises(MissingJobException):
        conn.retrieve_job(uid(job))
    draft = conn.create_job("draft")
    draft.delete()
    assert state_of(draft) is JobState.Deleting


def test_completion_ttl_purges_a_completed_job(conn: Connection, uri: str) -> None:
    job = conn.create_job("short-lived")
    job.completion_ttl = "00:00:01"
    job.submit()
    task = conn.create_task("work", ["true"], job=job)
    task.submit()
    assert task.wait(30)
    job.terminate()
    assert fresh_state(job) is JobState.Completed
    assert job.uuid in {j.uuid for j in conn.jobs()}  # kept for its ttl
    time.sleep(1.2)
    with Connection(uri) as other:  # any connection applies the ttl
        assert job.uuid not in {j.uuid for j in other.jobs()}
        with pytest.raises(MissingJobException):
            other.retrieve_job(uid(job))
        with pytest.raises(MissingTaskException):
            other.retrieve_task(uid(task))
    with pytest.raises(MissingJobException):
        job.update(flushcache=True)


def test_max_jobs_and_auto_delete(uri: str) -> None:
    with Connection(uri) as admin:  # start from no jobs
        for job in list(admin.jobs()):
            job.delete(forceAbort=True)
    with Connection(uri, max_jobs=2) as conn:
        first, second = conn.create_job("one"), conn.create_job("two")
        first.auto_delete = True
        first.submit()
        second.submit()
        with pytest.raises(MaxJobException, match=r"max_jobs is 2.*auto_delete"):
            conn.create_job("three").submit()
        first.terminate()
        assert fresh_state(first) is JobState.Completed
        third = conn.create_job("three")
        third.submit()  # the completed auto_delete job made room
        assert {j.name for j in conn.jobs()} == {"two", "three"}
        with pytest.raises(MaxJobException):
            conn.create_job("four").submit()  # second is not auto_delete
        second.delete()
        third.delete()
    with pytest.raises(ValueError, match="max_jobs"):
        Connection(uri, max_jobs=0)


def test_shortnames_are_unique_and_default_to_the_uuid(conn: Connection) -> None:
    first = conn.create_job("a", shortname="unique-name")
    first.submit()
    with pytest.raises(InvalidInputError, match="taken by job"):
        conn.create_job("b", shortname="unique-name").submit()
    anonymous = conn.create_job("c")
    assert [anonymous.shortname] == [None]
    anonymous.submit()
    assert anonymous.shortname == uid(anonymous).words
    first.delete()
    again = conn.create_job("d", shortname="unique-name")
    again.submit()  # free again once deleted
    again.delete()
    anonymous.delete()


def test_a_jobs_max_wall_time_bounds_its_tasks(conn: Connection) -> None:
    job = conn.create_job("deadline")
    job.max_wall_time = "00:00:01"
    job.submit()
    task = conn.create_task("long", ["sleep", "30"], job=job)
    task.submit()
    assert task.wait(30)
    assert state_of(task) is TaskState.Failure and task.errors[0].code == "timeout"
    until(lambda: fresh_state(job) is JobState.Completed)  # terminated at the deadline
    job.delete()


def test_jobs_are_queried_by_tags_and_keep_committed_tags(conn: Connection, uri: str) -> None:
    made = []
    for name, tags in {"j-red": ["jq", "red"], "j-both": ["jq", "red", "blue"]}.items():
        job = conn.create_job(name)
        job.tags = tags
        job.submit()
        made.append(job)
    assert sorted(j.name for j in conn.jobs(tags=["jq"])) == ["j-both", "j-red"]
    assert [j.name for j in conn.jobs(tags_intersect=["red", "blue"])] == ["j-both"]
    made[0].tags = ["jq", "green"]
    made[0].commit()
    with Connection(uri) as other:
        assert [j.name for j in other.jobs(tags=["green"])] == ["j-red"]
        assert other.retrieve_job(uid(made[0])).tags == ["jq", "green"]
    for job in made:
        job.delete()


def test_job_json_round_trip(conn: Connection) -> None:
    job = conn.create_job("as-json", shortname="as-json", use_dependencies=True)
    job.tags = ["x"]
    job.max_wall_time = "02:00:00"
    job.completion_ttl = "00:10:00"
    draft = Job.from_json(conn, job.to_json())
    assert draft.to_json() | {"creationDate": None} == job.to_json() | {"creationDate": None}
    job.submit()
    payload = job.to_json()
    assert payload["uuid"] == str(job.uuid) and payload["state"] == "Active"
    again = Job.from_json(conn, payload)
    assert again.uuid == job.uuid and again.to_json()["shortname"] == "as-json"
    job.delete()


def test_tasks_need_a_submitted_job(conn: Connection, tmp_path: Path) -> None:
    job = conn.create_job("later")
    with pytest.raises(InvalidInputError, match="not submitted"):
        conn.create_task("early", ["true"], job=job).submit()
    with pytest.raises(MissingJobException):
        conn.retrieve_job("ƒ2222222222")


def test_records_cancelled_outside_the_model(conn: Connection, uri: str) -> None:
    """``flux cancel`` on a job's held record ends the job; deleted tasks stay deleted
    (purged by the instance, or tombstoned in the registry where purge-id is missing)."""
    job = conn.create_job("cancelled-record")
    job.submit()
    task = conn.create_task("kept", ["true"], job=job)
    gone = conn.create_task("gone", ["true"])
    conn.submit_tasks([task, gone])
    assert task.wait(30) and gone.wait(30)
    gone.delete()  # an ended task: a tombstone in the registry
    flux_job.cancel(conn.handle, uid(job))
    for registry in conn._root.registries():
        flux_job.cancel(conn.handle, registry.id)
        flux_job.result(conn.handle, registry.id)
    assert fresh_state(job) is JobState.Completed
    with Connection(uri) as other:
        assert other.retrieve_job(uid(job)).state is JobState.Completed
        assert uid(job) in {j.jobid for j in other.jobs()}
        with pytest.raises(MissingTaskException):
            other.retrieve_task(uid(gone))
    job.delete()
    with pytest.raises(MissingJobException):
        conn.retrieve_job(uid(job))
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(uid(task))


def test_qarnots_job_constructor(conn: Connection) -> None:
    job = Job(conn, "direct", None, "direct-job", True)
    assert (job.name, job.shortname, job.use_dependencies, job.pool) == (
        "direct",
        "direct-job",
        True,
        None,
    )
    job.submit()
    assert conn.retrieve_job(uid(job)).shortname == "direct-job"
    job.delete()
