"""Task and the Connection's task API, against a real embedded instance."""

from __future__ import annotations

import collections.abc
import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job as flux_job
from fluxsdk.errors import InvalidInputError
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.model import (
    BulkSubmitError,
    Connection,
    MissingJobException,
    MissingPoolException,
    MissingTaskException,
    Task,
    TaskState,
    UnauthorizedException,
    _watcher,
)
from fluxsdk.model._states import RankedState
from fluxsdk.testing import instance_running
from tests.test_model_helpers import RPCCounter, fresh_state, state_of, uid, until


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An instance of this module's own (the model keeps records in it)."""
    with instance_running(tmp_path_factory.mktemp("model-tasks"), cores=4) as uri:
        yield uri


@pytest.fixture
def conn(uri: str) -> Iterator[Connection]:
    with Connection(uri) as conn:
        yield conn


@pytest.fixture
def tag(request: pytest.FixtureRequest) -> str:
    """A tag no other test uses."""
    return str(request.node.name)


def test_a_task_runs_as_one_flux_job_with_its_properties(conn: Connection, tag: str) -> None:
    task = conn.create_task(
        "greet", ["sh", "-c", 'echo "$GREETING $FLUX_TASK_RANK"'], instancecount=2
    )
    task.constants = {"GREETING": "hello"}
    task.labels = {"team": "render"}
    task.tags = [tag, "greeting"]
    task.shortname = "greet-1"
    task.max_wall_time = "00:05:00"
    assert state_of(task) is TaskState.UnSubmitted
    assert (task.uuid, task.creation_date, task.exit_code) == (None, None, None)
    before = datetime.now(timezone.utc)
    task.submit()
    assert isinstance(uid(task), JobID)
    assert task.wait(timeout=30) is True
    assert state_of(task) is TaskState.Success
    assert state_of(task) == "Success"
    assert task.exit_code == 0 and task.errors == []
    assert sorted(task.stdout().splitlines()) == ["hello 0", "hello 1"]
    assert task.stderr() == ""
    assert task.instancecount == 2
    assert task.command == ["sh", "-c", 'echo "$GREETING $FLUX_TASK_RANK"']
    assert (task.name, task.shortname, task.max_wall_time) == ("greet", "greet-1", "00:05:00")
    assert task.tags == [tag, "greeting"]
    created, changed = task.creation_date, task.state_transition_time
    assert created is not None and changed is not None
    assert before.timestamp() - 1 <= created.timestamp() <= changed.timestamp()
    assert created.tzinfo is not None
    # The flux job behind it: named after the task, running the instances.
    info = flux_job.get_job(conn.handle, uid(task))
    assert info is not None and info["name"] == "greet" and info["ntasks"] == 2


def test_pre_submission_properties_are_frozen_once_submitted(conn: Connection) -> None:
    task = conn.create_task("frozen", ["true"])
    task.labels = {"a": "1"}
    task.submit()
    for name, value in [
        ("name", "other"),
        ("shortname", "other"),
        ("instancecount", 2),
        ("labels", {}),
        ("constants", {}),
        ("dependencies", []),
        ("max_wall_time", "00:00:10"),
        ("pool", None),
    ]:
        with pytest.raises(AttributeError, match="already submitted"):
            setattr(task, name, value)
    with pytest.raises(TypeError):
        labels: Any = task.labels  # read-only once submitted
        labels["b"] = "2"
    assert task.labels == {"a": "1"}
    task.tags = ["still", "editable"]  # tags stay editable (see commit)
    task.submit()  # a second submit does nothing
    assert task.wait(30)


def test_bad_task_descriptions_say_what_to_fix(conn: Connection) -> None:
    with pytest.raises(TypeError, match="list of words"):
        conn.create_task("x", "echo hi")
    with pytest.raises(InvalidInputError, match="instancecount"):
        conn.create_task("x", ["true"], instancecount=0)
    task = conn.create_task("x", ["true"])
    with pytest.raises(InvalidInputError, match="DNS-compliant"):
        task.shortname = "Not_DNS"
    with pytest.raises(ValueError, match=r"hh:mm:ss"):
        task.max_wall_time = "ten minutes"


def test_a_task_from_a_jobspec(conn: Connection) -> None:
    jobspec = JobspecV1.from_command(["echo", "spec"], num_tasks=3)
    task = conn.create_task("from-spec", jobspec)
    assert task.instancecount == 3 and task.command is None
    task.submit()
    assert task.wait(30) and task.stdout() == "spec\n" * 3
    with pytest.raises(KeyError):
        jobspec.getattr("user.fluxsdk")  # the caller's jobspec was copied, not changed
    with pytest.raises(InvalidInputError, match="contradicts the jobspec"):
        conn.create_task("bad", jobspec, instancecount=2)


def test_fresh_output_returns_only_what_is_new(conn: Connection, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo one; echo e1 >&2; while [ ! -e {go} ]; do sleep 0.02; done; echo two"
    task = conn.create_task("talker", ["sh", "-c", script])
    assert task.fresh_stdout() == "" and task.stdout() == ""  # unsubmitted: nothing
    task.submit()
    until(lambda: task.stdout() == "one\n")
    assert task.fresh_stdout() == "one\n"
    assert task.fresh_stdout() == ""
    assert task.fresh_stderr() == "e1\n"
    go.touch()
    assert task.wait(30)
    assert task.fresh_stdout() == "two\n"
    assert task.stdout() == "one\ntwo\n"
    assert task.fresh_stderr() == ""


def test_wait_times_out_then_abort_cancels(conn: Connection) -> None:
    task = conn.create_task("sleeper", ["sleep", "60"])
    task.submit()
    started = time.monotonic()
    assert task.wait(timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 5
    until(lambda: fresh_state(task) is TaskState.FullyExecuting)
    task.abort()
    assert task.wait(timeout=30) is True
    assert state_of(task) is TaskState.Cancelled
    assert [e.code for e in task.errors] == ["cancel"]
    with pytest.raises(UnauthorizedException, match="not running"):
        task.abort()


def test_wait_reports_progress(conn: Connection) -> None:
    seen: list[TaskState] = []
    task = conn.create_task("progress", ["sleep", "0.2"])
    task.submit()
    assert task.wait(30, live_progress=lambda t, state: seen.append(state))
    assert seen[-1] is TaskState.Success
    assert [s.rank for s in seen] == sorted(s.rank for s in seen)
    assert len(set(seen)) == len(seen)


def test_failures_have_exit_codes_and_errors(conn: Connection) -> None:
    failing = conn.create_task("fails", ["sh", "-c", "exit 3"])
    missing = conn.create_task("missing", ["/nonexistent/command"])
    timeout = conn.create_task("slow", ["sleep", "30"])
    timeout.max_wall_time = "00:00:00.3"
    conn.submit_tasks([failing, missing, timeout])
    for task in (failing, missing, timeout):
        assert task.wait(30)
        assert state_of(task) is TaskState.Failure
    assert failing.exit_code == 3
    assert [(e.code, e.exit_code) for e in failing.errors] == [("exit", 3)]
    assert missing.exit_code == 127 and missing.errors[0].code == "exec"
    assert timeout.errors[0].code == "timeout"
    assert "expired" in timeout.errors[0].message


def test_dependencies_between_tasks(conn: Connection, tmp_path: Path) -> None:
    job = conn.create_job("pipeline", use_dependencies=True)
    job.submit()
    data = tmp_path / "data"
    make = conn.create_task("make", ["sh", "-c", f"sleep 0.3; echo made > {data}"], job=job)
    use = conn.create_task("use", ["cat", str(data)], job=job)
    use.dependencies = [make]
    broken = conn.create_task("broken", ["false"], job=job)
    after_broken = conn.create_task("after-broken", ["echo", "never"], job=job)
    after_broken.dependencies = [broken]
    conn.submit_tasks([make, use, broken, after_broken])
    assert use.dependencies == [make.jobid]
    assert use.wait(30) and state_of(use) is TaskState.Success
    assert use.stdout() == "made\n"
    assert after_broken.wait(30) and state_of(after_broken) is TaskState.Failure
    assert after_broken.errors[0].code == "dependency"
    assert after_broken.stdout() == ""  # it never ran
    # A task retrieved elsewhere shows its dependencies by uuid.
    assert conn.retrieve_task(uid(use)).dependencies == [make.jobid]
    job.terminate()


def test_dependencies_need_a_job_with_use_dependencies(conn: Connection) -> None:
    job = conn.create_job("no-deps")
    job.submit()
    first = conn.create_task("first", ["true"], job=job)
    second = conn.create_task("second", ["true"], job=job)
    second.dependencies = [first]
    first.submit()
    with pytest.raises(InvalidInputError, match="use_dependencies=True"):
        second.submit()
    lonely = conn.create_task("lonely", ["true"])
    lonely.dependencies = [first]
    with pytest.raises(InvalidInputError, match="use_dependencies=True"):
        lonely.submit()
    job.terminate()


def test_submit_tasks_reports_each_bad_task(conn: Connection, tag: str) -> None:
    job = conn.create_job("bulk", use_dependencies=True)
    job.submit()
    good = [conn.create_task(f"good{i}", ["echo", str(i)], job=job) for i in range(3)]
    outsider = conn.create_task("outsider", ["true"])
    orphan = conn.create_task("orphan", ["true"], job=job)
    orphan.dependencies = [outsider]  # never submitted
    chained = conn.create_task("chained", ["true"], job=job)
    chained.dependencies = [good[0]]  # earlier in the same batch: fine
    batch = [*good, orphan, chained]
    report = conn.submit_tasks(batch, raise_on_error=False)
    assert [t.name for t in report.submitted] == ["good0", "good1", "good2", "chained"]
    assert [f.task.name for f in report.failed] == ["orphan"]
    assert "not submitted" in str(report.failed[0].error)
    assert report.total == 5 and not report.ok
    for task in report.submitted:
        assert task.wait(30) and state_of(task) is TaskState.Success
    again = conn.create_task("again", ["true"], job=job)
    again.dependencies = [outsider]
    with pytest.raises(BulkSubmitError) as caught:
        conn.submit_tasks([conn.create_task("fine", ["true"], job=job), again])
    assert [t.name for t in caught.value.report.submitted] == ["fine"]
    assert "'again'" in str(caught.value)
    job.terminate()


def test_a_task_larger_than_the_instance_fails_as_on_flux(conn: Connection, tag: str) -> None:
    """Flux accepts an oversized request and ends it with a fatal `alloc` exception."""
    huge = conn.create_task("huge", ["true"], instancecount=1000)
    huge.submit()
    assert huge.wait(30) and state_of(huge) is TaskState.Failure
    assert any("unsatisfiable" in str(error) for error in huge.errors)


def test_tags_are_queried_any_of_and_all_of_and_stream(conn: Connection, tag: str) -> None:
    specs = {"red": [tag, "red"], "blue": [tag, "blue"], "both": [tag, "red", "blue"]}
    tasks = []
    for name, tags in specs.items():
        task = conn.create_task(name, ["true"])
        task.tags = tags
        tasks.append(task)
    conn.submit_tasks(tasks)
    listing = conn.tasks(tags=[tag])
    assert isinstance(listing, collections.abc.Iterator)  # streams, not a list
    assert sorted(t.name for t in listing) == ["blue", "both", "red"]
    assert sorted(t.name for t in conn.tasks(tags=["red", "nothing"])) >= ["both", "red"]
    assert [t.name for t in conn.tasks(tags_intersect=[tag, "red", "blue"])] == ["both"]
    assert [t.name for t in conn.tasks(tags=[tag], tags_intersect=["blue", "red"])] == ["both"]
    assert list(conn.tasks(tags=[f"{tag}-none"])) == []


def test_tags_edits_stay_local_until_commit(conn: Connection, tmp_path: Path) -> None:
    go = tmp_path / "go"
    task = conn.create_task("retag", ["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.02; done"])
    task.tags = ["before"]
    task.submit()
    task.tags = ["after"]
    task.update(flushcache=True)
    assert task.tags == ["after"]  # a refresh keeps the local edit
    assert [t.name for t in conn.tasks(tags=["after"]) if t.uuid == task.uuid] == []
    task.commit()
    assert [t.uuid for t in conn.tasks(tags=["after"])] == [task.uuid]
    assert conn.retrieve_task(uid(task)).tags == ["after"]
    go.touch()
    assert task.wait(30)
    task.tags = ["too-late"]
    with pytest.raises(UnauthorizedException, match="has ended"):
        task.commit()


@pytest.fixture
def polled(uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connection]:
    """A connection to an instance that streams no journal (its topic is unknown:
    ENOSYS), as where none can be had: objects are polled."""
    monkeypatch.setattr(_watcher, "JOURNAL_TOPIC", "job-manager.no-such-journal")
    with Connection(uri) as conn:
        assert not conn.live
        yield conn


def test_the_scenario_of_the_issue_prep_is_live_without_update(conn: Connection) -> None:
    """final depends on prep: once final.wait() returns, prep reads Success, no update()."""
    job = conn.create_job("scenario", use_dependencies=True)
    job.submit()
    prep = conn.create_task("prep", ["true"], job=job)
    final = conn.create_task("final", ["true"], job=job)
    final.dependencies = [prep]
    conn.submit_tasks([prep, final])
    assert conn.live
    assert final.wait(30)
    assert final.state == "Success"
    assert prep.state == "Success"
    job.terminate()
    job.delete(forceAbort=True)


def test_live_reads_send_no_request(conn: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [conn.create_task(f"quiet{i}", ["true"]) for i in range(50)]
    conn.submit_tasks(tasks)
    counter = RPCCounter(monkeypatch)
    until(lambda: all(state_of(t).is_final for t in tasks), 60)
    assert {t.state for t in tasks} == {TaskState.Success}
    assert all(t.exit_code == 0 and t.errors == [] for t in tasks)
    assert counter.topics == []


def test_state_callbacks_per_object_and_per_connection(conn: Connection) -> None:
    task = conn.create_task("called", ["sh", "-c", "exit 2"])
    mine: list[RankedState] = []
    every: list[tuple[str, str]] = []
    task.on_state_change(lambda obj, state: mine.append(state))
    conn.on_state_change(lambda obj, state: every.append((obj.name, str(state))))
    task.submit()
    until(lambda: conn.process_events(timeout=1.0) >= 0 and bool(mine) and mine[-1].is_final, 30)
    assert mine[-1] is TaskState.Failure
    assert mine == sorted(mine, key=lambda state: state.rank)  # never backwards
    assert ("called", "Failure") in every


def test_async_iterator_of_states(conn: Connection) -> None:
    import asyncio

    task = conn.create_task("iterated", ["true"])
    task.submit()

    async def collect() -> list[TaskState]:
        return [state async for state in task.states()]

    states = asyncio.run(asyncio.wait_for(collect(), 30))
    assert states[-1] is TaskState.Success
    assert all(a.rank < b.rank for a, b in itertools.pairwise(states))


def test_auto_update_off_keeps_the_old_value_until_update(conn: Connection) -> None:
    task = conn.create_task("stale", ["true"])
    task.submit()
    task.auto_update = False
    frozen = state_of(task)
    flux_job.result(conn.handle, uid(task))  # it ended meanwhile
    conn.process_events()
    assert state_of(task) is frozen and not frozen.is_final
    task.update(flushcache=True)
    assert state_of(task) is TaskState.Success


def test_without_a_stream_the_cache_is_served_for_update_cache_time(polled: Connection) -> None:
    task = polled.create_task("cached", ["true"])
    task.update_cache_time = 3600
    task.submit()
    flux_job.result(polled.handle, uid(task))
    assert task.auto_update and state_of(task) is TaskState.Submitted
    task.update()  # not stale yet: nothing to do
    assert state_of(task) is TaskState.Submitted
    task.update(flushcache=True)
    assert state_of(task) is TaskState.Success
    task.update_cache_time = 0
    with pytest.raises(ValueError, match=">= 0"):
        task.update_cache_time = -1
    waiter = polled.create_task("waited", ["true"])
    waiter.submit()
    assert waiter.wait(30) and waiter.state is TaskState.Success


def test_states_never_move_backwards(conn: Connection) -> None:
    task = conn.create_task("forward", ["true"])
    task.submit()
    assert task.wait(30)
    stale = {"id": int(uid(task)), "state": 16, "t_submit": 1.0, "name": "forward"}
    site = conn._root
    site.watcher.ingest(stale)  # a late answer from before the end
    task.update(flushcache=True)
    assert state_of(task) is TaskState.Success
    record = site.watcher.record(uid(task))
    assert record is not None and record.final


def test_without_a_stream_one_refresh_serves_every_task(
    polled: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [polled.create_task(f"many{i}", ["true"]) for i in range(300)]
    for task in tasks:
        task.update_cache_time = 0.2
    polled.submit_tasks(tasks)
    until(lambda: all(state_of(t).is_final for t in tasks), 60)  # (warms the site up)
    time.sleep(0.3)
    counter = RPCCounter(monkeypatch)
    states = [t.state for t in tasks]  # every snapshot is stale: all refresh
    assert set(states) == {TaskState.Success}
    assert counter.topics == ["job-list.list"]  # one listing of the active jobs
    # A task still running: each refresh is still two listings for all of them.
    sleeper = polled.create_task("sleeper", ["sleep", "30"])
    sleeper.update_cache_time = 0.2
    sleeper.submit()
    time.sleep(0.3)
    counter.topics.clear()
    assert {state_of(t) for t in [*tasks, sleeper]} >= {TaskState.Success}
    assert counter.topics == ["job-list.list"] * 2  # active jobs, and those ended since
    sleeper.abort()


def test_delete_a_running_and_a_finished_task(conn: Connection, uri: str) -> None:
    running = conn.create_task("doomed", ["sleep", "60"])
    finished = conn.create_task("done", ["true"])
    conn.submit_tasks([running, finished])
    assert finished.wait(30)
    running.delete()
    finished.delete()
    assert state_of(running) is TaskState.Deleted and state_of(finished) is TaskState.Deleted
    running.update(flushcache=True)  # nothing to refresh any more
    assert flux_job.result(conn.handle, uid(running)).result == "CANCELED"
    for uuid in (uid(running), uid(finished)):
        with pytest.raises(MissingTaskException):
            conn.retrieve_task(uuid)
    with Connection(uri) as other:  # another connection does not see them either
        listed = {t.uuid for t in other.tasks()}
        assert running.uuid not in listed and finished.uuid not in listed
        with pytest.raises(MissingTaskException):
            other.retrieve_task(uid(finished))
    with pytest.raises(MissingTaskException):
        finished.stdout()
    with pytest.raises(MissingTaskException):
        finished.delete()
    draft = conn.create_task("never", ["true"])
    draft.delete()
    assert state_of(draft) is TaskState.Deleted


def test_retrieve_a_task_and_the_missing_ones(conn: Connection) -> None:
    task = conn.create_task("findme", ["true"])
    task.tags = ["found"]
    task.submit()
    assert isinstance(task.uuid, str) and task.uuid == uid(task).f58  # Qarnot: a str
    for key in (task.uuid, uid(task), int(uid(task)), uid(task).words, uid(task).dothex):
        found = conn.retrieve_task(key)
        assert (found.uuid, found.name, found.tags) == (task.uuid, "findme", ["found"])
    plain = flux_job.submit(conn.handle, JobspecV1.from_command(["true"]))
    with pytest.raises(MissingTaskException, match=r"Connection\.tasks"):
        conn.retrieve_task(plain)  # a flux job the model did not create
    job = conn.create_job("not-a-task")
    job.submit()
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(uid(job))
    with pytest.raises(MissingTaskException):
        conn.retrieve_task(JobID("ƒ2222222222"))
    for malformed in ("", "not-a-uuid", "ƒ0OIl", "-1", "1.5", "9" * 40):
        with pytest.raises(MissingTaskException, match="not a uuid"):
            conn.retrieve_task(malformed)
        with pytest.raises(MissingJobException):
            conn.retrieve_job(malformed)
        with pytest.raises(MissingPoolException):
            conn.retrieve_pool(malformed)
    job.delete()


def test_qarnot_exception_names_come_from_one_module() -> None:
    from fluxsdk import exceptions, model

    for name in ("MissingTaskException", "MissingJobException", "MissingPoolException",
                 "UnauthorizedException", "MaxJobException"):  # fmt: skip
        assert getattr(exceptions, name) is getattr(model, name)
    assert issubclass(exceptions.MissingTaskException, exceptions.QarnotException)


def test_json_round_trip(conn: Connection) -> None:
    task = conn.create_task("json", ["echo", "j"], instancecount=2)
    task.labels = {"k": "v"}
    task.tags = ["t"]
    task.max_wall_time = "01:00:00"
    draft = Task.from_json(conn, task.to_json())
    assert draft.to_json() == task.to_json()
    task.submit()
    assert task.wait(30)
    payload = task.to_json()
    assert payload["state"] == "Success" and payload["exitCode"] == 0
    again = Task.from_json(conn, payload)
    assert again.uuid == task.uuid and again.labels == {"k": "v"}
    assert again.to_json() == payload


def test_the_connection_is_a_context_manager_sharing_its_handle(uri: str) -> None:
    with Connection(uri) as conn:
        assert conn.uri == uri
        jobid = flux_job.submit(conn.handle, JobspecV1.from_command(["true"]))
        assert flux_job.result(conn.handle, jobid).returncode == 0
    with pytest.raises(OSError):
        conn.handle.rpc("broker.getattr", {"name": "rank"}).get()
