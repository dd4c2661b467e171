"""Tests for fluxsdk.idset: RFC 22 idsets, checked against libidset's own cases."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxsdk import idset as idset_module
from fluxsdk.errors import InvalidIdsetError
from fluxsdk.idset import (
    IDSET_FLAG_BRACKETS,
    IDSET_FLAG_RANGE,
    IDSET_INVALID_ID,
    IDset,
    decode,
)

MAX_ID = 2**31 - 1
RB = IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS


def reference_encode(ids: set[int], flags: int) -> str:
    """An obviously-correct (slow) RFC 22 encoder to compare against."""
    items = sorted(ids)
    parts: list[str] = []
    if flags & IDSET_FLAG_RANGE:
        i = 0
        while i < len(items):
            j = i
            while j + 1 < len(items) and items[j + 1] == items[j] + 1:
                j += 1
            parts.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
            i = j + 1
    else:
        parts = [str(x) for x in items]
    body = ",".join(parts)
    return f"[{body}]" if flags & IDSET_FLAG_BRACKETS and len(items) > 1 else body


# --- constants -------------------------------------------------------------------


def test_flag_constants_match_libidset() -> None:
    assert IDSET_FLAG_BRACKETS == 2
    assert IDSET_FLAG_RANGE == 4
    assert IDSET_INVALID_ID == 2**32 - 2


def test_module_exports() -> None:
    assert set(idset_module.__all__) >= {
        "IDset",
        "decode",
        "IDSET_FLAG_BRACKETS",
        "IDSET_FLAG_RANGE",
        "IDSET_INVALID_ID",
    }


# --- decode/encode: libidset's test table --------------------------------------

# (input, flags, expected output) from libidset's test_codec table.
CODEC = [
    ("2", 0, "2"),
    ("7-9", 0, "7,8,9"),
    ("1,7-9", 0, "1,7,8,9"),
    ("1,7-9,16", 0, "1,7,8,9,16"),
    ("1,7-9,14,16", 0, "1,7,8,9,14,16"),
    ("1-3,7-9,14,16", 0, "1,2,3,7,8,9,14,16"),
    ("2,3,4,5", 0, "2,3,4,5"),
    ("", 0, ""),
    ("1048576", 0, "1048576"),
    ("[2]", 0, "2"),
    ("[7-9]", 0, "7,8,9"),
    ("[2,3,4,5]", 0, "2,3,4,5"),
    ("[0]", 0, "0"),
    ("[]", 0, ""),
    ("2", IDSET_FLAG_RANGE, "2"),
    ("7-9", IDSET_FLAG_RANGE, "7-9"),
    ("1,7-9", IDSET_FLAG_RANGE, "1,7-9"),
    ("1,7-9,16", IDSET_FLAG_RANGE, "1,7-9,16"),
    ("1,7-9,14,16", IDSET_FLAG_RANGE, "1,7-9,14,16"),
    ("1-3,7-9,14,16", IDSET_FLAG_RANGE, "1-3,7-9,14,16"),
    ("2,3,4,5", IDSET_FLAG_RANGE, "2-5"),
    ("", IDSET_FLAG_RANGE, ""),
    ("2", RB, "2"),
    ("7-9", RB, "[7-9]"),
    ("1,7-9", RB, "[1,7-9]"),
    ("1,7-9,16", RB, "[1,7-9,16]"),
    ("1,7-9,14,16", RB, "[1,7-9,14,16]"),
    ("1-3,7-9,14,16", RB, "[1-3,7-9,14,16]"),
    ("2,3,4,5", RB, "[2-5]"),
    ("", RB, ""),
]


@pytest.mark.parametrize(("text", "flags", "expected"), CODEC)
def test_codec_libidset_table(text: str, flags: int, expected: str) -> None:
    assert IDset(text).encode(flags) == expected


# RFC 22's own examples.
@pytest.mark.parametrize("text", ["1,2,3,5,6,42", "1-3,5-6,42", "[1-3,5-6,42]"])
def test_rfc22_examples_denote_the_same_set(text: str) -> None:
    ids = IDset(text)
    assert list(ids) == [1, 2, 3, 5, 6, 42]
    assert str(ids) == "1-3,5-6,42"
    assert ids.encode(RB) == "[1-3,5-6,42]"
    assert ids.encode(0) == "1,2,3,5,6,42"


def test_brackets_flag_alone_lists_ids_in_brackets() -> None:
    assert IDset("0-3").encode(IDSET_FLAG_BRACKETS) == "[0,1,2,3]"


def test_adjacent_input_ranges_merge() -> None:
    ids = IDset("1-3,4,5-6")
    assert str(ids) == "1-6"
    assert len(ids) == 6


def test_decode_largest_allowed_id() -> None:
    ids = IDset(f"{MAX_ID - 1}-{MAX_ID}")
    assert ids.last() == MAX_ID
    assert len(ids) == 2


# libidset's expected failures, plus RFC 22 grammar violations.
BAD = [
    "4.2",
    "x",
    "1-2x",
    "01,2",
    "00",
    "3,2",
    "3-0",
    "2,2,2,2",
    "[0",
    "0]",
    "[[0]]",
    "[[0,2]",
    "[0,2]]",
    "0,[2",
    "0]2",
    "0-",
    "[0-]",
    "-5",
    "[-5]",
    # beyond libidset's table
    "3-1",  # descending range
    "3-3",  # a range must ascend (libidset refuses hi <= lo)
    "1,,2",  # empty element
    ",1",
    "1,",
    ",",
    "a",
    "-1",
    " 1",  # no whitespace anywhere
    "1 ",
    "1, 2",
    "1 -2",
    "1- 2",
    "+1",
    "1-+2",
    "1-02",
    "0x1",
    "１",  # non-ASCII digit
    "1-3,2",  # overlapping, out of order
    "1-3,3",
    "[",
    "]",
    "][",
    "[1]]",
    "1--3",
    "1-2-3",
    str(MAX_ID + 1),  # exceeds libidset's universe
    f"0-{MAX_ID + 1}",
    "99999999999999999999999",
]


@pytest.mark.parametrize("text", BAD)
def test_decode_rejects(text: str) -> None:
    with pytest.raises(InvalidIdsetError) as excinfo:
        IDset(text)
    assert repr(text) in str(excinfo.value)
    with pytest.raises(InvalidIdsetError):
        decode(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("3-1", "does not ascend"),
        ("3,2", "out of order"),
        ("1,,2", "empty element"),
        ("[0", "brackets"),
        ("a", "'a'"),
        (str(MAX_ID + 1), "maximum"),
    ],
)
def test_decode_error_says_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidIdsetError, match=fragment):
        IDset(text)


def test_invalid_idset_is_value_error() -> None:
    with pytest.raises(ValueError):
        IDset("nope")


def test_decode_function() -> None:
    ids = decode("0-3,7")
    assert isinstance(ids, IDset)
    assert list(ids) == [0, 1, 2, 3, 7]
    with pytest.raises(TypeError):
        decode(5)  # type: ignore[arg-type]


# --- construction ---------------------------------------------------------------


def test_construct_empty() -> None:
    for ids in (IDset(), IDset(None), IDset(""), IDset([]), IDset("[]")):
        assert len(ids) == 0
        assert str(ids) == ""
        assert list(ids) == []
        assert not ids


def test_construct_from_iterable_sorts_and_dedupes() -> None:
    ids = IDset([7, 3, 1, 2, 3, 0])
    assert list(ids) == [0, 1, 2, 3, 7]
    assert str(ids) == "0-3,7"
    assert IDset({5, 4}) == IDset("4-5")
    assert IDset(x for x in (9, 8)) == IDset("8-9")


def test_construct_from_int_and_range() -> None:
    assert list(IDset(5)) == [5]
    assert str(IDset(range(3, 8))) == "3-7"
    assert str(IDset(range(0, 10, 3))) == "0,3,6,9"
    assert len(IDset(range(0))) == 0


def test_construct_from_idset_copies() -> None:
    a = IDset("0-3")
    b = IDset(a)
    b.set(10)
    assert str(a) == "0-3"
    assert str(b) == "0-3,10"


@pytest.mark.parametrize("bad", [1.5, object(), b"0-3", True])
def test_construct_bad_type(bad: Any) -> None:
    with pytest.raises(TypeError):
        IDset(bad)


@pytest.mark.parametrize("bad", [["1"], [1.0], [True], [None]])
def test_construct_iterable_of_non_ints(bad: Any) -> None:
    with pytest.raises(TypeError):
        IDset(bad)


@pytest.mark.parametrize("bad", [[-1], [MAX_ID + 1], -1, range(-1, 3)])
def test_construct_out_of_range_ids(bad: Any) -> None:
    with pytest.raises(InvalidIdsetError):
        IDset(bad)


def test_large_range_is_cheap() -> None:
    start = time.perf_counter()
    ids = IDset("0-1000000")
    big = IDset(f"0-{MAX_ID}")
    big.clear(5)
    both = ids & big
    assert time.perf_counter() - start < 0.1
    assert len(ids) == 1000001
    assert str(ids) == "0-1000000"
    assert 1000000 in ids and 1000001 not in ids
    assert len(big) == MAX_ID
    assert str(both) == "0-4,6-1000000"
    assert len(ids._los) == 1  # stored as ranges, not members


# --- queries ------------------------------------------------------------------------


def test_first_last_next() -> None:
    ids = IDset("2-4,9")
    assert ids.first() == 2
    assert ids.last() == 9
    assert ids.next(0) == 2
    assert ids.next(2) == 3
    assert ids.next(4) == 9
    assert ids.next(5) == 9
    assert ids.next(9) == IDSET_INVALID_ID
    assert ids.next(100) == IDSET_INVALID_ID


def test_first_last_of_empty() -> None:
    assert IDset().first() == IDSET_INVALID_ID
    assert IDset().last() == IDSET_INVALID_ID
    assert IDset().next(0) == IDSET_INVALID_ID


def test_iteration_with_next_like_flux() -> None:
    ids = IDset("0,5-6,100")
    walked = []
    i = ids.first()
    while i != IDSET_INVALID_ID:
        walked.append(i)
        i = ids.next(i)
    assert walked == list(ids) == ids.expand() == [0, 5, 6, 100]


def test_count_and_len() -> None:
    ids = IDset("0-9,20-29")
    assert ids.count() == len(ids) == 20


def test_test_and_contains() -> None:
    ids = IDset("1-3")
    assert ids.test(1) and ids.test(3)
    assert not ids.test(0) and not ids.test(4)
    assert 2 in ids and 0 not in ids
    assert 10**9 not in ids
    assert ids[2] is True and ids[5] is False


@pytest.mark.parametrize("bad", ["2", 2.0, True, None])
def test_contains_rejects_non_ids(bad: object) -> None:
    # As in flux.idset, `in` is test(): a value that is not an id raises.
    with pytest.raises(TypeError):
        bad in IDset("1-3")  # noqa: B015


def test_contains_rejects_negative_ids() -> None:
    with pytest.raises(InvalidIdsetError, match="negative"):
        -1 in IDset("1-3")  # noqa: B015


@pytest.mark.parametrize("other", ["1-3", None, 7, [1, 2, 3]])
def test_equality_with_non_idsets_raises(other: object) -> None:
    # flux.idset's == is equal(), which accepts only IDsets.
    ids = IDset("1-3")
    with pytest.raises(TypeError):
        ids == other  # noqa: B015
    with pytest.raises(TypeError):
        ids != other  # noqa: B015


def test_equality_and_inequality() -> None:
    assert IDset("1-3") == IDset([3, 2, 1])
    assert IDset("1-3") != IDset("1-4")
    assert (IDset("1-3") != IDset("1-3")) is False


def test_test_rejects_bad_ids() -> None:
    ids = IDset("1-3")
    with pytest.raises(TypeError):
        ids.test("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdsetError, match="negative"):
        ids.test(-1)
    with pytest.raises(InvalidIdsetError, match="negative"):
        ids.next(-1)
    with pytest.raises(TypeError):
        ids.next(1.5)  # type: ignore[arg-type]


def test_equality_and_hash() -> None:
    assert IDset("0-3") == IDset([0, 1, 2, 3])
    assert IDset("0-3") != IDset("0-4")
    assert IDset("0-3").equal(IDset("[0-3]"))
    with pytest.raises(TypeError):
        IDset("0-3").equal("0-3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hash(IDset("0"))


def test_repr_always_ranged() -> None:
    ids = IDset("0-3", flags=0)
    assert repr(ids) == "IDset('0-3')"
    assert str(ids) == "0,1,2,3"


def test_default_flags() -> None:
    ids = IDset("0-3")
    assert ids.default_flags == IDSET_FLAG_RANGE
    ids.set_flags(RB)
    assert str(ids) == "[0-3]"
    assert ids.encode() == "[0-3]"
    assert ids.encode(IDSET_FLAG_RANGE) == "0-3"
    assert str(IDset("0-3", flags=RB)) == "[0-3]"
    assert str(IDset("5", flags=RB)) == "5"  # no brackets for one id


@pytest.mark.parametrize("flags", [1, 8, 16, -1])
def test_invalid_flags(flags: int) -> None:
    with pytest.raises(ValueError, match="flags"):
        IDset("0").encode(flags)
    with pytest.raises(ValueError, match="flags"):
        IDset("0", flags=flags)
    with pytest.raises(ValueError, match="flags"):
        IDset("0").set_flags(flags)


# --- mutation --------------------------------------------------------------------


def test_set_and_clear_single_and_range() -> None:
    ids = IDset()
    assert ids.set(5) is ids
    ids.set(0, 3)
    assert str(ids) == "0-3,5"
    ids.set(4)
    assert str(ids) == "0-5"
    assert ids.clear(2) is ids
    assert str(ids) == "0-1,3-5"
    ids.clear(0, 4)
    assert str(ids) == "5"
    ids.clear(100)  # clearing a non-member is fine
    ids.clear(0, 3)
    assert str(ids) == "5"
    assert len(ids) == 1


def test_set_chains_like_flux() -> None:
    assert str(IDset().set(0, 3)) == "0-3"
    assert str(IDset("0-9").clear(0, 3)) == "4-9"


def test_set_range_bridging_several_ranges() -> None:
    ids = IDset("0,2,4,6,10-12")
    ids.set(1, 9)
    assert str(ids) == "0-12"
    assert len(ids) == 13


def test_clear_range_splitting_a_range() -> None:
    ids = IDset("0-100")
    ids.clear(10, 20)
    assert str(ids) == "0-9,21-100"
    assert len(ids) == 90


def test_set_clear_errors() -> None:
    ids = IDset()
    with pytest.raises(InvalidIdsetError, match="start > end"):
        ids.set(5, 3)
    with pytest.raises(InvalidIdsetError, match="start > end"):
        ids.clear(5, 3)
    with pytest.raises(InvalidIdsetError, match="negative"):
        ids.set(-1)
    with pytest.raises(InvalidIdsetError, match="maximum"):
        ids.set(MAX_ID + 1)
    with pytest.raises(TypeError):
        ids.set("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ids.clear(1.0)  # type: ignore[arg-type]
    assert len(ids) == 0


def test_setitem() -> None:
    ids = IDset()
    ids[3] = True
    ids[4] = 1
    assert str(ids) == "3-4"
    ids[3] = False
    ids[4] = 0
    assert len(ids) == 0
    with pytest.raises(TypeError):
        ids[1] = 2
    with pytest.raises(TypeError):
        ids[1] = "yes"  # type: ignore[assignment]


def test_copy_is_independent() -> None:
    a = IDset("0-3", flags=RB)
    b = a.copy()
    b.clear(0)
    assert str(a) == "[0-3]"
    assert str(b) == "[1-3]"


def test_add_and_subtract_in_place() -> None:
    ids = IDset("0-3")
    assert ids.add("5-6") is ids
    assert str(ids) == "0-3,5-6"
    assert ids.subtract([0, 6]) is ids
    assert str(ids) == "1-3,5"
    ids += IDset("4")
    assert str(ids) == "1-5"
    ids -= "1-2"
    assert str(ids) == "3-5"
    assert len(ids) == 3


def test_set_operations_return_new_sets() -> None:
    a = IDset("0-5")
    b = IDset("3-8")
    assert str(a.union(b)) == "0-8"
    assert str(a | b) == "0-8"
    assert str(a + b) == "0-8"
    assert str(a.intersect(b)) == "3-5"
    assert str(a & b) == "3-5"
    assert str(a.difference(b)) == "0-2"
    assert str(a - b) == "0-2"
    assert str(a) == "0-5" and str(b) == "3-8"


def test_set_operations_accept_other_forms_and_many_args() -> None:
    a = IDset("0-9")
    assert str(a.union("20", [30], 40)) == "0-9,20,30,40"
    assert str(a.intersect("0-5", range(3, 20))) == "3-5"
    assert str(a.difference("0", [9], "4-5")) == "1-3,6-8"
    assert str(a | "10-11") == "0-11"
    with pytest.raises(InvalidIdsetError):
        a.union("bad")


def test_set_operations_keep_default_flags() -> None:
    a = IDset("0-3", flags=RB)
    assert str(a | "5") == "[0-3,5]"


# --- properties against a plain Python set ---------------------------------------

small_sets = st.sets(st.integers(min_value=0, max_value=200), max_size=60)
id_sets = st.sets(st.integers(min_value=0, max_value=MAX_ID), max_size=30)
flag_values = st.sampled_from([0, IDSET_FLAG_RANGE, IDSET_FLAG_BRACKETS, RB])


@given(id_sets, flag_values)
def test_encode_decode_round_trip(ids: set[int], flags: int) -> None:
    encoded = IDset(ids).encode(flags)
    assert encoded == reference_encode(ids, flags)
    decoded = IDset(encoded)
    assert set(decoded) == ids
    assert list(decoded) == sorted(ids)
    assert len(decoded) == len(ids)


@given(small_sets, small_sets)
def test_set_algebra_matches_python_sets(a: set[int], b: set[int]) -> None:
    x, y = IDset(a), IDset(b)
    assert set(x | y) == a | b
    assert set(x & y) == a & b
    assert set(x - y) == a - b
    assert len(x | y) == len(a | b)
    assert len(x & y) == len(a & b)
    assert len(x - y) == len(a - b)
    assert (x == y) == (a == b)
    # Results stay normalized: the same set always encodes the same way.
    assert str(x | y) == reference_encode(a | b, IDSET_FLAG_RANGE)
    assert str(x & y) == reference_encode(a & b, IDSET_FLAG_RANGE)
    assert str(x - y) == reference_encode(a - b, IDSET_FLAG_RANGE)


operations = st.lists(
    st.tuples(
        st.sampled_from(["set", "clear"]),
        st.integers(min_value=0, max_value=100),
        st.integers(min_value=0, max_value=20),
    ),
    max_size=40,
)


@given(operations)
def test_set_clear_sequence_matches_python_set(ops: list[tuple[str, int, int]]) -> None:
    ids = IDset()
    model: set[int] = set()
    for op, start, width in ops:
        members = set(range(start, start + width + 1))
        if op == "set":
            ids.set(start, start + width)
            model |= members
        else:
            ids.clear(start, start + width)
            model -= members
        assert len(ids) == len(model)
    assert list(ids) == sorted(model)
    assert str(ids) == reference_encode(model, IDSET_FLAG_RANGE)
    for probe in range(0, 125):
        assert (probe in ids) == (probe in model)
        expected_next = min((m for m in model if m > probe), default=IDSET_INVALID_ID)
        assert ids.next(probe) == expected_next
    assert ids.first() == (min(model) if model else IDSET_INVALID_ID)
    assert ids.last() == (max(model) if model else IDSET_INVALID_ID)
