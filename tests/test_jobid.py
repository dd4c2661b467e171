"""Tests for fluxsdk.job._jobid: RFC 19 job ID encodings and JobID."""

from __future__ import annotations

import copy
import importlib.resources
import json
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fluxsdk.errors import InvalidInputError, InvalidJobIDError
from fluxsdk.job import _jobid
from fluxsdk.job._jobid import ENCODINGS, JobID, id_encode, id_parse

MAX_ID = 2**64 - 1
SHARED = Path(__file__).resolve().parents[2] / "shared"
VECTOR_FILE = SHARED / "vectors" / "jobid.json"
WORDS_FILE = SHARED / "vectors" / "mnemonicode-words.txt"
BASEMOJI_FILE = SHARED / "specs" / "data" / "spec_19" / "basemoji.h"
MISSING = f"shared RFC 19 conformance data not found under {SHARED}"

ids = st.integers(min_value=0, max_value=MAX_ID)


def _vectors() -> dict[str, Any]:
    if not VECTOR_FILE.is_file():
        return {}
    data: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
    return data


VECTORS = _vectors()


def _cases(values: list[Any]) -> list[Any]:
    """Parametrize over ``values``, or one skipped case naming the missing data."""
    if not VECTORS:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))]
    return values


# One case per (vector, encoding) pair; the f58plain form is the f58 text with "f".
ENCODING_CASES = _cases(
    [
        pytest.param(entry["int"], name, text, id=f"{entry['int']}-{name}")
        for entry in VECTORS.get("encodings", [])
        for name, text in [
            *((k, v) for k, v in entry.items() if k != "int"),
            *([("f58plain", "f" + entry["f58"][1:])] if "f58" in entry else []),
        ]
    ]
)
INVALID_CASES = _cases([pytest.param(s, id=repr(s)) for s in VECTORS.get("invalid", [])])


def _packaged(name: str) -> str:
    resource = importlib.resources.files("fluxsdk") / "job" / "_data" / name
    return resource.read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# --------------------------------------------------------------------------
# Conformance vectors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "encoding", "text"), ENCODING_CASES)
def test_vector_encodes_exactly(value: int, encoding: str, text: str) -> None:
    assert id_encode(value, encoding) == text
    assert JobID(value).encode(encoding) == text
    assert getattr(JobID(value), encoding) == text


@pytest.mark.parametrize(("value", "encoding", "text"), ENCODING_CASES)
def test_vector_parses_exactly(value: int, encoding: str, text: str) -> None:
    assert id_parse(text) == value
    jobid = JobID(text)
    assert jobid == value
    assert jobid.orig == text


@pytest.mark.parametrize("text", INVALID_CASES)
def test_vector_invalid_is_rejected(text: str) -> None:
    with pytest.raises(InvalidJobIDError, match=re.escape(repr(text))):
        id_parse(text)
    with pytest.raises(ValueError, match="not a valid job ID"):
        JobID(text)


# --------------------------------------------------------------------------
# RFC 19 examples and hand-checked values (independent of the shared files)
# --------------------------------------------------------------------------


def test_rfc_examples() -> None:
    assert id_encode(6731191091817518, "f58") == "ƒuZZybuNNy"
    assert id_parse("0x17e9fb8df16c2e") == id_parse("0017.e9fb.8df1.6c2e")
    assert id_parse("0xedaf97d000000") == id_parse("000e.daf9.7d00.0000")
    assert id_encode(0x17E9FB8DF16C2E, "dothex") == "0017.e9fb.8df1.6c2e"
    assert id_encode(0xEDAF97D000000, "hex") == "0xedaf97d000000"
    assert id_parse("reform-remote-galileo--heart-package-academy") == 6731191091817518
    # The RFC's other examples must survive a decode/encode round trip.
    for text, encoding in [
        ("ƒZemgA8Bzf", "f58"),
        ("ƒ278oEf7zGf", "f58"),
        ("random-idea-yoyo--sugar-printer-academy", "words"),
        ("🚹💂🙌😳💱🏃", "emoji"),
        ("😄😹🎇📥🏧🙉🔞", "emoji"),
        ("🚹💂🈳💰🎩🏃", "emoji"),
    ]:
        assert id_encode(id_parse(text), encoding) == text


def test_digit_order_and_alphabets() -> None:
    # F58 and emoji put the most significant digit first; 0 is one zero digit.
    assert id_encode(0, "f58") == "ƒ1"
    assert id_encode(57, "f58") == "ƒz"
    assert id_encode(58, "f58") == "ƒ21"
    assert id_encode(0, "emoji") == "😃"
    assert id_encode(575, "emoji") == "🎌"
    assert id_encode(576, "emoji") == "😄😃"
    assert id_encode(MAX_ID, "hex") == "0xffffffffffffffff"
    assert id_encode(MAX_ID, "dothex") == "ffff.ffff.ffff.ffff"
    assert id_encode(MAX_ID, "dec") == "18446744073709551615"
    assert id_encode(0xABCD, "kvs") == "job.0000.0000.0000.abcd"


def test_words_layout_low_group_first() -> None:
    words = _lines(_packaged("mnemonicode.txt"))
    # Low 32 bits first, least significant base-1626 digit first.
    assert id_encode(1626, "words") == f"{words[0]}-{words[1]}-{words[0]}--" + "-".join(
        [words[0]] * 3
    )
    assert id_encode(1 << 32, "words") == "-".join([words[0]] * 3) + f"--{words[1]}-" + (
        "-".join([words[0]] * 2)
    )


# --------------------------------------------------------------------------
# Prefixes, whitespace and lenient-but-unambiguous input
# --------------------------------------------------------------------------


@given(ids)
@example(0)
@example(MAX_ID)
def test_both_f58_prefixes(value: int) -> None:
    f58 = id_encode(value, "f58")
    plain = id_encode(value, "f58plain")
    assert f58.startswith("ƒ")
    assert plain == "f" + f58[1:]
    assert id_parse(f58) == value
    assert id_parse(plain) == value


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("before", "after"), [(" ", ""), ("", " "), ("\t\n ", " \r\n\v\f")])
def test_surrounding_whitespace_is_ignored(encoding: str, before: str, after: str) -> None:
    value = 6787342413402046
    text = before + id_encode(value, encoding) + after
    assert id_parse(text) == value
    jobid = JobID(text)
    assert jobid == value
    assert jobid.orig == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0018.1D0D.4D85.0FBE", 6787342413402046),
        ("18.1d0d.4d85.fbe", 6787342413402046),
        ("job.0.0.0.1", 1),
        ("0xFFFF", 65535),
        ("0x0000000000000000ff", 255),
        ("000123", 123),
        ("ƒ11", 0),
        ("😃😄", 1),
        ("Cake-PLUME-nepal--neuron-pencil-academy", 6787342413402046),
    ],
)
def test_accepted_variants(text: str, value: int) -> None:
    assert id_parse(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ƒ",
        "f",
        "ƒuzzy bunny",
        "fl",
        "ƒ1111111111111",  # 13 digits: longer than any 64-bit ID
        "ƒzzzzzzzzzzzz",  # overflows 64 bits
        "0x",
        "0xg",
        "0x-1",
        "0X10",
        "0x10000000000000000",
        "18446744073709551616",
        "99999999999999999999999",
        "1" * 5000,
        "+5",
        "1_000",
        "1 000",
        "١٢٣",
        "1e3",
        "12abc",
        "0.0.0.00000",
        "0..0.0",
        "0.0.0.0.",
        ".0.0.0.0",
        " 0.0.0.-1",
        "0x0.0.0.0",
        "job.123",
        "job.ƒ2",
        "JOB.0.0.0.0",
        "-1",
        "-0",
        "academy-academy-academy-academy-academy-academy",
        "academy-academy-academy--academy-academy",
        "academy-academy-academy---academy-academy-academy",
        "academy-academy-academy--academy-academy-academy--academy",
        "academy-academy-academy--academy-academy-yes",  # a 24-bit tail word
        "academy-academy-academy--academy-academy-\u212aiwi",  # Kelvin sign
        "😃😃😃😃😃😃😃😃",  # 8 emoji: longer than any 64-bit ID
        "🎌🎌🎌🎌🎌🎌🎌",  # overflows 64 bits
        "😃a",
        "🦄😃",
    ],
)
def test_rejected_text(text: str) -> None:
    with pytest.raises(InvalidJobIDError, match="not a valid job ID"):
        id_parse(text)


def test_negative_number_message() -> None:
    with pytest.raises(InvalidJobIDError, match="never negative"):
        id_parse("-42")


def test_words_group_overflowing_32_bits_is_rejected() -> None:
    words = _lines(_packaged("mnemonicode.txt"))
    low = "-".join([words[0]] * 3)
    # The base-1626 digits of 2**32: one past the largest 32-bit group.
    value = 2**32
    digits = [value % 1626, value // 1626 % 1626, value // 1626**2]
    assert value == digits[0] + 1626 * digits[1] + 1626**2 * digits[2]
    overflow = "-".join(words[d] for d in digits)
    with pytest.raises(InvalidJobIDError, match="32 bits"):
        id_parse(f"{overflow}--{low}")
    with pytest.raises(InvalidJobIDError, match="32 bits"):
        id_parse(f"{low}--{overflow}")
    # ... while the largest group still decodes.
    assert id_parse(id_encode(0xFFFFFFFF, "words")) == 0xFFFFFFFF


@given(st.text())
@example("ƒ\x00")
@example("0x\U0001f603")
def test_any_text_parses_in_range_or_raises_invalid_jobid(text: str) -> None:
    try:
        value = id_parse(text)
    except InvalidJobIDError:
        return
    assert 0 <= value <= MAX_ID


# --------------------------------------------------------------------------
# Round trips over the whole 64-bit range
# --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(value=ids)
@example(value=0)
@example(value=1)
@example(value=MAX_ID)
@example(value=2**32 - 1)
@example(value=2**32)
def test_round_trip(encoding: str, value: int) -> None:
    text = id_encode(value, encoding)
    assert id_parse(text) == value
    assert JobID(JobID(value).encode(encoding)) == value
    assert JobID(text).orig == text


@given(ids)
def test_dothex_sorts_like_the_integer(value: int) -> None:
    # Fixed-width dothex keeps KVS directory order equal to job ID order.
    other = MAX_ID - value
    assert (id_encode(value, "dothex") < id_encode(other, "dothex")) == (value < other)


# --------------------------------------------------------------------------
# JobID behaviour
# --------------------------------------------------------------------------


def test_jobid_is_an_int() -> None:
    jobid = JobID(5)
    assert isinstance(jobid, int)
    assert jobid == 5
    assert hash(jobid) == hash(5)
    assert {5: "x"}[jobid] == "x"
    assert jobid in {5}
    assert jobid + 1 == 6
    assert JobID("ƒ6") == JobID(5)
    assert sorted([JobID(3), 1, JobID(2)]) == [1, 2, 3]


def test_repr_str_format() -> None:
    jobid = JobID(6787342413402046)
    assert repr(jobid) == "JobID(6787342413402046)"
    assert str(jobid) == "ƒuzzybunny"
    assert f"{jobid}" == "ƒuzzybunny"
    assert jobid.dec == "6787342413402046"
    assert jobid.encode() == "6787342413402046"


def test_orig() -> None:
    assert JobID(42).orig == "42"
    assert JobID("ƒ2").orig == "ƒ2"
    assert JobID(" 0x2a ").orig == " 0x2a "
    # A JobID made from a JobID keeps the first one's original text.
    assert JobID(JobID("0x2a")).orig == "0x2a"
    assert JobID(JobID("0x2a")) == 42
    assert JobID(True) == 1
    assert JobID(True).orig == "1"


@pytest.mark.parametrize("value", [-1, 2**64, -(2**70)])
def test_out_of_range_ints_are_rejected(value: int) -> None:
    with pytest.raises(InvalidJobIDError, match=str(value)):
        JobID(value)
    with pytest.raises(InvalidJobIDError, match=re.escape("0..18446744073709551615")):
        id_encode(value)


@pytest.mark.parametrize("value", [1.0, None, b"123", [1], 1j])
def test_wrong_types_raise_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match=type(value).__name__):
        JobID(value)
    with pytest.raises(TypeError, match=type(value).__name__):
        id_encode(value)


def test_id_parse_needs_str() -> None:
    with pytest.raises(TypeError, match="int"):
        id_parse(123)  # type: ignore[arg-type]


def test_unknown_encoding() -> None:
    with pytest.raises(InvalidInputError, match=r"'bogus'.*dec, hex, dothex, kvs"):
        id_encode(1, "bogus")
    with pytest.raises(ValueError, match="f58plain, words, emoji"):
        JobID(1).encode("base64")


def test_encoding_names_ignore_case() -> None:
    assert id_encode(65535, "HEX") == "0xffff"
    assert id_encode(65535, "F58") == "ƒLUv"


def test_default_encodings() -> None:
    assert id_encode(65535) == "ƒLUv"
    assert JobID(65535).encode() == "65535"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int) -> None:
    jobid = JobID(" ƒuzzybunny")
    restored = pickle.loads(pickle.dumps(jobid, protocol=protocol))
    assert type(restored) is JobID
    assert restored == 6787342413402046
    assert restored.orig == " ƒuzzybunny"
    assert str(restored) == "ƒuzzybunny"


def test_copy_keeps_value_and_orig() -> None:
    jobid = JobID("0x2a")
    for clone in (copy.copy(jobid), copy.deepcopy(jobid)):
        assert type(clone) is JobID
        assert clone == 42
        assert clone.orig == "0x2a"


# --------------------------------------------------------------------------
# Packaged data tables
# --------------------------------------------------------------------------


def test_packaged_tables_are_well_formed() -> None:
    words = _lines(_packaged("mnemonicode.txt"))
    assert len(words) == 1633  # 1626 base words and 7 words for 24-bit tails
    assert len(set(words)) == len(words)
    assert all(re.fullmatch("[a-z]+", w) for w in words)
    assert words[0] == "academy"
    emoji = _lines(_packaged("basemoji.txt"))
    assert len(emoji) == 576
    assert len(set(emoji)) == 576
    assert all(len(e) == 1 and e.encode()[:2] == b"\xf0\x9f" for e in emoji)
    assert emoji[0] == "\U0001f603"
    assert emoji[1] == "\U0001f604"


@pytest.mark.skipif(not WORDS_FILE.is_file(), reason=MISSING)
def test_packaged_words_equal_shared_table() -> None:
    shared = _lines(WORDS_FILE.read_text(encoding="utf-8"))
    assert _lines(_packaged("mnemonicode.txt")) == shared


@pytest.mark.skipif(not BASEMOJI_FILE.is_file(), reason=MISSING)
def test_packaged_emoji_equal_shared_table() -> None:
    shared = re.findall(r'"([^"]+)"', BASEMOJI_FILE.read_text(encoding="utf-8"))
    assert _lines(_packaged("basemoji.txt")) == shared


def test_tables_are_loaded_once() -> None:
    assert _jobid._mnemonic_table() is _jobid._mnemonic_table()
    assert _jobid._emoji_table() is _jobid._emoji_table()
