"""The model's pure parts, without an instance: time spans, states, the cache, listings, errors."""

from __future__ import annotations

import errno
import time
from datetime import timedelta

import attrs
import pytest

import fluxsdk.model as model
from fluxsdk.errors import FluxSDKError, InvalidDurationError, InvalidInputError
from fluxsdk.model import (
    JobState,
    PoolState,
    TaskState,
    format_timespan,
    parse_timespan,
)
from fluxsdk.model._cache import LiveCache
from fluxsdk.model._errors import not_found, translate
from fluxsdk.model._live import check_shortname
from fluxsdk.model._meta import Listing, listing_of, model_meta
from fluxsdk.model._record import JobRecord
from fluxsdk.model._states import pool_state, task_state

# -- time spans ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("00:00:01", timedelta(seconds=1)),
        ("02:30:00", timedelta(hours=2, minutes=30)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("12.00:00:00", timedelta(days=12)),
        ("00:00:00.5", timedelta(seconds=0.5)),
        ("48:00:00", timedelta(hours=48)),
        (" 01:00:00 ", timedelta(hours=1)),
    ],
)
def test_timespans_parse(text: str, span: timedelta) -> None:
    assert parse_timespan(text) == span


@pytest.mark.parametrize("text", ["", "1:2:3", "00:60:00", "1.24:00:00", "1h", "-00:00:01", "x"])
def test_bad_timespans_say_the_format(text: str) -> None:
    with pytest.raises(InvalidDurationError, match=r"d\.hh:mm:ss or hh:mm:ss"):
        parse_timespan(text)


def test_timespans_of_other_types() -> None:
    assert parse_timespan(timedelta(minutes=3)) == timedelta(minutes=3)
    with pytest.raises(InvalidDurationError, match="negative"):
        parse_timespan(timedelta(seconds=-1))
    with pytest.raises(TypeError, match="hh:mm:ss"):
        parse_timespan(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(0), "00:00:00"),
        (timedelta(hours=1, seconds=2), "01:00:02"),
        (timedelta(days=2, hours=3), "2.03:00:00"),
        (timedelta(seconds=1.25), "00:00:01.25"),
    ],
)
def test_timespans_format_and_round_trip(span: timedelta, text: str) -> None:
    assert format_timespan(span) == text
    assert parse_timespan(text) == span


# -- states --------------------------------------------------------------------------


def record(**fields: object) -> JobRecord:
    entry = {"id": 1, "state": 8, "t_submit": 100.0, "name": "x"}
    entry.update(fields)
    return JobRecord.from_listing(entry)


def test_task_states_follow_rfc21_states_and_results() -> None:
    assert task_state(record(state=2)) is TaskState.Submitted
    assert task_state(record(state=8)) is TaskState.Submitted
    assert task_state(record(state=16, t_run=101.0)) is TaskState.FullyExecuting
    assert task_state(record(state=32)) is TaskState.Finishing
    assert task_state(record(state=64, result=1)) is TaskState.Success
    assert task_state(record(state=64, result=2)) is TaskState.Failure
    assert task_state(record(state=64, result=8)) is TaskState.Failure
    assert task_state(record(state=64, result=4)) is TaskState.Cancelled


def test_pool_states_need_the_uri_to_execute() -> None:
    assert pool_state(record(state=16), False) is PoolState.FullyDispatched
    running = record(state=16, annotations={"user": {"uri": "fluxsdk:///x"}})
    assert pool_state(running, False) is PoolState.FullyExecuting
    assert pool_state(record(state=32), False) is PoolState.Closing
    assert pool_state(record(state=64, result=2), True) is PoolState.Closed
    assert pool_state(record(state=64, result=2), False) is PoolState.Failure


def test_states_rank_and_compare_as_qarnot_names() -> None:
    assert TaskState.Success == "Success"
    assert str(JobState.Completed) == "Completed"
    order = [TaskState.UnSubmitted, TaskState.Submitted, TaskState.FullyExecuting]
    assert [s.rank for s in order] == sorted(s.rank for s in order)
    assert TaskState.Cancelled.is_final and not TaskState.Finishing.is_final
    assert JobState.Completed.rank > JobState.Terminating.rank > JobState.Active.rank
    assert PoolState.Deleted.rank > PoolState.Closed.rank


def test_records_never_go_back_to_an_earlier_state() -> None:
    running, done = record(state=16), record(state=64, result=1)
    assert done.newer_than(running) and not running.newer_than(done)
    # Pending states share a rank: a reprioritised job goes SCHED -> PRIORITY.
    assert record(state=4).newer_than(record(state=8))


def test_records_read_returncodes_and_exceptions() -> None:
    failed = record(
        state=64,
        result=2,
        waitstatus=3 << 8,
        exception_occurred=True,
        exception_type="exec",
        exception_note="no such command",
        exception_severity=0,
    )
    assert failed.returncode == 3
    assert (failed.exception_type, failed.exception_note) == ("exec", "no such command")
    assert record(state=8).returncode is None
    assert record(state=64, t_inactive=130.0, t_run=110.0).transition_time == 130.0


# -- the cache -----------------------------------------------------------------------


@attrs.frozen
class Snap:
    rank: int
    state: TaskState = TaskState.Submitted
    tags: tuple[str, ...] = ()


def counting_cache(values: list[Snap]) -> tuple[LiveCache[Snap], list[float]]:
    asked: list[float] = []

    def fetch(max_age: float) -> tuple[Snap, float]:
        asked.append(max_age)
        return values.pop(0), time.monotonic()

    return LiveCache(fetch, Snap(0)), asked


def test_cache_serves_a_snapshot_until_update_cache_time() -> None:
    cache, asked = counting_cache([Snap(1), Snap(2)])
    cache.update_cache_time = 60
    assert cache.snapshot.rank == 1  # stale at first: fetched
    assert cache.snapshot.rank == 1  # fresh: served from the cache
    assert asked == [60]
    cache.update(flushcache=True)
    assert cache.peek().rank == 2
    assert asked == [60, 0.0]  # a flush asks for data of any age


def test_cache_without_auto_update_keeps_the_old_value() -> None:
    cache, asked = counting_cache([Snap(1)])
    cache.auto_update = False
    cache.update_cache_time = 0
    assert cache.snapshot.rank == 0
    assert asked == []
    cache.update()
    assert cache.snapshot.rank == 1


def test_cache_never_moves_back_and_keeps_local_edits() -> None:
    cache, _ = counting_cache([Snap(3, tags=("new",)), Snap(1, tags=("older",))])
    cache.update(flushcache=True)
    cache.edit("tags", ["mine"])
    cache.update(flushcache=True)
    assert cache.peek().rank == 3  # the rank-1 snapshot was older: dropped
    assert cache.edited("tags", list(cache.peek().tags)) == ["mine"]
    cache.drop_edit("tags")
    assert cache.edited("tags", list(cache.peek().tags)) == ["new"]


def test_cache_refetches_from_the_source_after_an_own_change() -> None:
    cache, asked = counting_cache([Snap(1), Snap(2)])
    cache.update_cache_time = 60
    cache.update()
    cache.expire()
    cache.update()
    assert asked == [60, 0.0]


# -- listings and metadata -----------------------------------------------------------


def test_tag_filters_any_of_and_all_of() -> None:
    listing = Listing("task", tags=("a", "b"))
    assert listing.matches(None, None)
    assert listing.matches(["a", "z"], None)
    assert not listing.matches(["z"], None)
    assert listing.matches(None, ["a", "b"])
    assert not listing.matches(None, ["a", "z"])
    assert not listing.matches(["a"], ["z"])  # both filters must hold
    assert not attrs.evolve(listing, deleted=True).matches(None, None)


def test_listing_prefers_the_memo_to_the_jobspec() -> None:
    meta = {"kind": "task", "tags": ["old"], "job": "12"}
    assert listing_of({}, meta) == Listing("task", "12", ("old",))
    memo = {"fluxsdk": {"kind": "task", "tags": ["new"], "job": "12"}, "fluxsdk_deleted": 1.0}
    assert listing_of(memo, meta) == Listing("task", "12", ("new",), deleted=True)
    assert listing_of({}, None) is None
    assert listing_of({"fluxsdk": {"kind": "alien"}}, None) is None


def test_model_meta_reads_jobspec_user_attributes() -> None:
    jobspec = {"attributes": {"user": {"fluxsdk": {"kind": "pool", "name": "p"}}}}
    assert model_meta(jobspec) == {"kind": "pool", "name": "p"}
    assert model_meta({"attributes": {"system": {}}}) is None
    assert model_meta({"attributes": {"user": {"fluxsdk": "nope"}}}) is None


@pytest.mark.parametrize("name", ["a", "web-01", "x" * 63, "0abc"])
def test_dns_shortnames(name: str) -> None:
    assert check_shortname(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "Web", "a_b", "a.b", "é", "x" * 64])
def test_shortnames_that_are_no_dns_labels(name: str) -> None:
    with pytest.raises(InvalidInputError, match="DNS-compliant"):
        check_shortname(name)


# -- errors --------------------------------------------------------------------------


def test_every_model_error_is_under_the_root() -> None:
    for name in (
        "MissingJobException",
        "MissingTaskException",
        "MissingPoolException",
        "UnauthorizedException",
        "MaxJobException",
        "BulkSubmitError",
        "PoolNotReadyException",
    ):
        assert issubclass(getattr(model, name), FluxSDKError)
    assert issubclass(model.MissingTaskException, FileNotFoundError)
    assert issubclass(model.UnauthorizedException, PermissionError)
    assert issubclass(model.PoolNotReadyException, TimeoutError)


def test_errors_say_what_to_do() -> None:
    missing = not_found("job", "ƒabc")
    assert isinstance(missing, model.MissingJobException)
    assert missing.errno == errno.ENOENT
    assert "Connection.jobs()" in str(missing) and "ƒabc" in str(missing)
    denied = translate(PermissionError(errno.EPERM, "nope"), "task", "ƒx", "abort")
    assert isinstance(denied, model.UnauthorizedException)
    assert "another user" in str(denied)
    other = OSError(errno.EIO, "disk")
    assert translate(other, "task", "ƒx", "abort") is other


def test_public_names_are_exported_from_the_package() -> None:
    assert len(set(model.__all__)) == len(model.__all__)
    public = {n for n in vars(model) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(model.__all__)
    for name in model.__all__:
        obj = getattr(model, name)
        if isinstance(obj, type):
            assert obj.__module__ == "fluxsdk.model", name
