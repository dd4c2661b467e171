"""Tests for fluxsdk.job._taskset.Taskset (flux.job.output.Taskset)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxsdk.errors import InvalidIdsetError
from fluxsdk.idset import IDset
from fluxsdk.job._taskset import Taskset


@pytest.mark.parametrize("spelling", ["all", "*"])
def test_all_tasks(spelling: str) -> None:
    tasks = Taskset(spelling)
    assert tasks.all is True
    assert tasks.ids is None
    assert str(tasks) == "all"
    assert bool(tasks)
    assert 0 in tasks and 12345 in tasks
    assert -1 not in tasks and "1" not in tasks


def test_idset_tasks() -> None:
    tasks = Taskset("0-3,7")
    assert tasks.all is False
    assert isinstance(tasks.ids, IDset)
    assert list(tasks.ids) == [0, 1, 2, 3, 7]
    assert str(tasks) == "0-3,7"
    assert 7 in tasks and 4 not in tasks


def test_other_idset_inputs() -> None:
    assert str(Taskset([3, 1, 2])) == "1-3"
    assert str(Taskset(5)) == "5"
    assert str(Taskset("[0-1]")) == "0-1"


def test_empty_taskset_is_false() -> None:
    tasks = Taskset("")
    assert not tasks
    assert str(tasks) == ""
    assert not tasks.all


def test_copy_from_taskset_and_idset_is_independent() -> None:
    ids = IDset("0-3")
    from_ids = Taskset(ids)
    ids.set(9)
    assert str(from_ids) == "0-3"
    copy = Taskset(from_ids)
    assert copy.ids is not from_ids.ids
    assert copy == from_ids
    all_copy = Taskset(Taskset("*"))
    assert all_copy.all and all_copy.ids is None


def test_intersect() -> None:
    assert str(Taskset("0-3").intersect("2-5")) == "2-3"
    assert str(Taskset("0-3").intersect(Taskset("3"))) == "3"
    assert str(Taskset("*").intersect("0-1")) == "0-1"
    assert str(Taskset("0-1").intersect("all")) == "0-1"
    both = Taskset("all").intersect("*")
    assert both.all
    assert not Taskset("0-3").intersect("4-5")
    assert Taskset("0-3").intersect([1])


def test_intersect_returns_new_objects() -> None:
    a = Taskset("0-3")
    result = a.intersect("*")
    assert result is not a
    assert result.ids is not a.ids
    assert result == a


def test_equality_and_hash() -> None:
    assert Taskset("*") == Taskset("all")
    assert Taskset("0-1") == Taskset([0, 1])
    assert Taskset("0-1") != Taskset("*")
    assert Taskset("0") != "0"
    with pytest.raises(TypeError):
        hash(Taskset("0"))


def test_repr() -> None:
    assert repr(Taskset("*")) == "Taskset('all')"
    assert repr(Taskset("0-2")) == "Taskset('0-2')"


@pytest.mark.parametrize("bad", ["ALL", "everything", "3-1", "0,,1", " *"])
def test_invalid_strings(bad: str) -> None:
    with pytest.raises(InvalidIdsetError):
        Taskset(bad)


@pytest.mark.parametrize("bad", [1.5, object()])
def test_invalid_types(bad: Any) -> None:
    with pytest.raises(TypeError):
        Taskset(bad)


small_sets = st.sets(st.integers(min_value=0, max_value=64), max_size=20)


@given(small_sets, small_sets)
def test_intersect_matches_set_intersection(a: set[int], b: set[int]) -> None:
    result = Taskset(a).intersect(Taskset(b))
    assert result.ids is not None
    assert set(result.ids) == a & b
    assert bool(result) == bool(a & b)
    assert set(Taskset("*").intersect(a).ids or ()) == a
