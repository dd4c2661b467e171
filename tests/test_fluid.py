"""Tests for fluxsdk._fluid: the RFC 19 FLUID generator."""

from __future__ import annotations

import itertools
import math
import threading
import time
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fluxsdk._fluid import FluidGenerator, FluidParts, fluid_decode
from fluxsdk.errors import FluidExhaustedError, InvalidInputError

MAX_FLUID = 2**64 - 1
MAX_TS = 2**40 - 1
EPOCH = 1_700_000_000.0


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = EPOCH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def set_ms(self, ms: int) -> None:
        """Put the clock ``ms`` milliseconds after EPOCH (mid-millisecond)."""
        self.now = EPOCH + (ms + 0.5) / 1000.0


def make(
    generator_id: int = 0, *, ms: int = 0, after: int | None = None
) -> tuple[FluidGenerator, FakeClock]:
    clock = FakeClock()
    clock.set_ms(ms)
    return FluidGenerator(generator_id, epoch=EPOCH, after=after, clock=clock), clock


def fluid(ts: int, gen: int, seq: int) -> int:
    return FluidParts(ts, gen, seq).to_int()


# --------------------------------------------------------------------------
# Layout and decoding
# --------------------------------------------------------------------------


def test_layout() -> None:
    assert fluid(1, 2, 3) == (1 << 24) | (2 << 10) | 3
    assert fluid(MAX_TS, 16383, 1023) == MAX_FLUID
    assert fluid_decode(MAX_FLUID) == FluidParts(MAX_TS, 16383, 1023)
    assert fluid_decode(0) == FluidParts(0, 0, 0)


@given(st.integers(min_value=0, max_value=MAX_FLUID))
@example(0)
@example(MAX_FLUID)
def test_decode_round_trip(value: int) -> None:
    parts = fluid_decode(value)
    assert 0 <= parts.timestamp_ms <= MAX_TS
    assert 0 <= parts.generator <= 16383
    assert 0 <= parts.sequence <= 1023
    assert parts.to_int() == value


@given(
    st.integers(min_value=0, max_value=MAX_TS),
    st.integers(min_value=0, max_value=16383),
    st.integers(min_value=0, max_value=1023),
)
def test_compose_round_trip(ts: int, gen: int, seq: int) -> None:
    assert fluid_decode(fluid(ts, gen, seq)) == FluidParts(ts, gen, seq)


@pytest.mark.parametrize("value", [-1, 2**64])
def test_decode_rejects_out_of_range(value: int) -> None:
    with pytest.raises(InvalidInputError, match=str(value)):
        fluid_decode(value)


def test_decode_rejects_wrong_type() -> None:
    with pytest.raises(TypeError, match="str"):
        fluid_decode("12")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ts", "gen", "seq", "field"),
    [(2**40, 0, 0, "timestamp_ms"), (0, 16384, 0, "generator"), (0, 0, 1024, "sequence")],
)
def test_parts_validate_ranges(ts: int, gen: int, seq: int, field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        FluidParts(ts, gen, seq)


def test_parts_are_frozen() -> None:
    parts = fluid_decode(12345)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        parts.sequence = 1  # type: ignore[misc]


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def test_fields_of_generated_ids() -> None:
    gen, _ = make(7, ms=1500)
    first, second = gen.next(), gen.next()
    assert fluid_decode(first) == FluidParts(1500, 7, 0)
    assert fluid_decode(second) == FluidParts(1500, 7, 1)


def test_new_millisecond_restarts_sequence() -> None:
    gen, clock = make(1, ms=10)
    gen.next()
    gen.next()
    clock.set_ms(11)
    assert fluid_decode(gen.next()) == FluidParts(11, 1, 0)


def test_default_epoch_is_now() -> None:
    clock = FakeClock(1234.5)
    gen = FluidGenerator(3, clock=clock)
    assert gen.epoch == 1234.5
    assert gen.generator_id == 3
    assert fluid_decode(gen.next()) == FluidParts(0, 3, 0)
    clock.now = 1234.5 + 2.0
    assert fluid_decode(gen.next()).timestamp_ms == 2000


def test_clock_before_epoch_counts_as_zero() -> None:
    clock = FakeClock(EPOCH - 100.0)
    gen = FluidGenerator(0, epoch=EPOCH, clock=clock)
    assert fluid_decode(gen.next()) == FluidParts(0, 0, 0)


def test_monotonic_with_real_clock() -> None:
    gen = FluidGenerator(5)
    values = [gen.next() for _ in range(20000)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert gen.last == values[-1]


_calls = itertools.count()


def _yielding_clock() -> float:
    # Now and then give up the GIL inside next(), so that a missing lock
    # shows up as duplicate or out-of-order IDs.
    if next(_calls) % 8 == 0:
        time.sleep(0)
    return time.time()


def test_unique_and_monotonic_across_threads() -> None:
    gen = FluidGenerator(42, clock=_yielding_clock)
    per_thread: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def work(out: list[int]) -> None:
        start.wait()
        for _ in range(5000):
            out.append(gen.next())

    threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [v for out in per_thread for v in out]
    assert len(everything) == 40000
    assert len(set(everything)) == 40000
    for out in per_thread:
        assert all(a < b for a, b in itertools.pairwise(out))
    assert all(fluid_decode(v).generator == 42 for v in everything)
    assert gen.last == max(everything)


def test_sequence_rollover_within_one_millisecond() -> None:
    gen, clock = make(9, ms=100)  # the clock never moves
    batch = [fluid_decode(gen.next()) for _ in range(1024)]
    assert [p.sequence for p in batch] == list(range(1024))
    assert {p.timestamp_ms for p in batch} == {100}
    # The 1025th ID moves to the next millisecond instead of repeating one.
    assert fluid_decode(gen.next()) == FluidParts(101, 9, 0)
    assert fluid_decode(gen.next()) == FluidParts(101, 9, 1)
    # When the real clock catches up, numbering continues without a repeat.
    clock.set_ms(101)
    assert fluid_decode(gen.next()) == FluidParts(101, 9, 2)


def test_clock_going_backwards_never_repeats() -> None:
    gen, clock = make(2, ms=5000)
    before = [gen.next() for _ in range(3)]
    clock.set_ms(10)
    after = [gen.next() for _ in range(3)]
    assert min(after) > max(before)
    assert all(fluid_decode(v).timestamp_ms == 5000 for v in after)


@pytest.mark.parametrize(
    ("our_gen", "expected"),
    [
        (5, FluidParts(9000, 5, 8)),  # same generator: next sequence number
        (6, FluidParts(9000, 6, 0)),  # higher generator sorts above at the same ms
        (4, FluidParts(9001, 4, 0)),  # lower generator needs the next ms
    ],
)
def test_after_with_clock_behind(our_gen: int, expected: FluidParts) -> None:
    last = fluid(9000, 5, 7)
    gen, clock = make(our_gen, ms=100, after=last)
    assert gen.last == last
    first = gen.next()
    assert first > last
    assert fluid_decode(first) == expected
    clock.set_ms(50)  # and the clock goes further back
    assert gen.next() > first


def test_after_with_later_epoch() -> None:
    # Restart with an epoch a day later: raw timestamps start near 0 again,
    # but every new ID must still sort above the last one issued.
    old, _ = make(0, ms=3_600_000)
    issued = [old.next() for _ in range(10)]
    clock = FakeClock(EPOCH + 86400.0)
    new = FluidGenerator(0, epoch=EPOCH + 86400.0, after=old.last, clock=clock)
    fresh = [new.next() for _ in range(2000)]
    assert min(fresh) > max(issued)
    assert all(a < b for a, b in itertools.pairwise(fresh))


def test_after_is_overtaken_by_clock() -> None:
    gen, _ = make(3, ms=20000, after=fluid(100, 9, 1023))
    assert fluid_decode(gen.next()) == FluidParts(20000, 3, 0)


@given(
    after=st.integers(min_value=0, max_value=MAX_FLUID),
    our_gen=st.integers(min_value=0, max_value=16383),
    now_ms=st.integers(min_value=0, max_value=MAX_TS),
)
@example(after=MAX_FLUID, our_gen=16383, now_ms=0)
@example(after=fluid(MAX_TS, 100, 0), our_gen=200, now_ms=0)
def test_after_property(after: int, our_gen: int, now_ms: int) -> None:
    gen, _ = make(our_gen, ms=now_ms, after=after)
    largest_possible = fluid(MAX_TS, our_gen, 1023)
    if largest_possible <= after:
        with pytest.raises(FluidExhaustedError):
            gen.next()
        return
    value = gen.next()
    assert value > after
    assert fluid_decode(value).generator == our_gen
    assert fluid_decode(value).timestamp_ms >= now_ms


def test_last() -> None:
    gen, _ = make(0)
    assert gen.last is None
    value = gen.next()
    # A fresh lookup: mypy would otherwise keep the narrowing to None.
    assert getattr(gen, "last") == value  # noqa: B009
    assert make(0, after=77)[0].last == 77


# --------------------------------------------------------------------------
# Exhaustion and validation
# --------------------------------------------------------------------------


def test_exhausted_when_clock_passes_40_bits() -> None:
    clock = FakeClock(EPOCH + (2**40) / 1000.0 + 1.0)
    gen = FluidGenerator(0, epoch=EPOCH, clock=clock)
    with pytest.raises(FluidExhaustedError, match="exhausted"):
        gen.next()
    assert gen.last is None


def test_exhausted_after_last_sequence_of_last_millisecond() -> None:
    gen, _ = make(8, ms=MAX_TS)
    values = [gen.next() for _ in range(1024)]
    assert fluid_decode(values[-1]) == FluidParts(MAX_TS, 8, 1023)
    with pytest.raises(RuntimeError, match="exhausted"):
        gen.next()
    assert gen.last == values[-1]  # a failed call changes nothing


def test_exhausted_after_max_fluid() -> None:
    gen, _ = make(0, after=MAX_FLUID)
    with pytest.raises(FluidExhaustedError):
        gen.next()


@pytest.mark.parametrize("generator_id", [-1, 16384, 2**20])
def test_generator_id_range(generator_id: int) -> None:
    with pytest.raises(InvalidInputError, match=r"generator_id must be in 0\.\.16383"):
        FluidGenerator(generator_id)


def test_generator_id_bounds_accepted() -> None:
    assert fluid_decode(FluidGenerator(16383).next()).generator == 16383
    assert fluid_decode(FluidGenerator(0).next()).generator == 0


@pytest.mark.parametrize("generator_id", ["1", 1.0, None, True])
def test_generator_id_type(generator_id: Any) -> None:
    with pytest.raises(TypeError, match="generator_id"):
        FluidGenerator(generator_id)


@pytest.mark.parametrize("after", [-1, 2**64])
def test_after_range(after: int) -> None:
    with pytest.raises(InvalidInputError, match="after"):
        FluidGenerator(0, after=after)


@pytest.mark.parametrize("epoch", [math.nan, math.inf])
def test_epoch_must_be_finite(epoch: float) -> None:
    with pytest.raises(InvalidInputError, match="epoch"):
        FluidGenerator(0, epoch=epoch)


def test_repr() -> None:
    gen, _ = make(4, after=10)
    assert repr(gen) == f"FluidGenerator(generator_id=4, epoch={EPOCH!r}, last=10)"
