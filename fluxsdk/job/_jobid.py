"""Flux job IDs and their RFC 19 text encodings.

A Flux job ID is an unsigned 64-bit integer (a FLUID, see :mod:`fluxsdk._fluid`).
RFC 19 defines several ways to write one as text; every one of them can be
produced with :func:`id_encode` and read back with :func:`id_parse` or
:class:`JobID`:

``dec``
    decimal: ``6787342413402046``
``hex``
    ``0x`` and lowercase hexadecimal: ``0x181d0d4d850fbe``
``dothex``
    four dot-separated groups of four hex digits: ``0018.1d0d.4d85.0fbe``
``kvs``
    ``job.`` and dothex, the job's KVS directory: ``job.0018.1d0d.4d85.0fbe``
``f58``
    ``ƒ`` and base58, the usual display form: ``ƒuzzybunny``
``f58plain``
    ``f`` and base58, for ASCII-only output: ``fuzzybunny``
``words``
    six mnemonicode words: ``cake-plume-nepal--neuron-pencil-academy``
``emoji``
    base 576 in emoji: ``👴😱🔚🎮🕙🚩``

All the examples show the ID 6787342413402046.

Parsing follows the RFC's decoding rules in order: text containing ``.`` is
dothex (or kvs when it starts with ``job.``), text containing ``-`` is words,
text starting with ``ƒ`` or ``f`` is F58, text starting with an emoji is
emoji, text starting with ``0x`` is hex, and anything else is decimal.
Leading and trailing ASCII whitespace is ignored. Hex digits and words may be
in either case; anything else must be written as shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fluxsdk.errors import InvalidInputError, InvalidJobIDError, JobIDOverflowError

__all__ = ["ENCODINGS", "JobID", "id_encode", "id_parse"]

#: The encoding names accepted by :func:`id_encode` and :meth:`JobID.encode`.
ENCODINGS: tuple[str, ...] = (
    "dec",
    "hex",
    "dothex",
    "kvs",
    "f58",
    "f58plain",
    "words",
    "emoji",
)

_MAX_ID = (1 << 64) - 1

# RFC 19 F58 alphabet: Bitcoin base58 (no 0, O, I or l).
_B58_DIGITS = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_VALUE = {c: i for i, c in enumerate(_B58_DIGITS)}
# 58**11 < 2**64 <= 58**12; longer text cannot be an ID (the reference agrees).
_B58_MAX_DIGITS = 12

# 576**6 < 2**64 <= 576**7.
_EMOJI_BASE = 576
_EMOJI_MAX_DIGITS = 7

# mnemonicode: a 32-bit group is three base-1626 digits, least significant first.
_MN_BASE = 1626
_MN_WORD_COUNT = 1633  # the table also holds 7 words only used for 24-bit tails

# Only ASCII whitespace, as the C reference (isspace in the C locale) strips.
_WHITESPACE = " \t\n\r\v\f"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# Valid emoji all start with the UTF-8 bytes F0 9F, that is U+1F000..U+1FFFF.
_EMOJI_FIRST = "\U0001f000"
_EMOJI_LAST = "\U0001ffff"


# --------------------------------------------------------------------------
# Data tables, read once on first use
# --------------------------------------------------------------------------


def _read_table(name: str) -> tuple[str, ...]:
    """Return the non-comment lines of the packaged data file ``name``."""
    # A plain path: importlib.resources cannot list data beside an editable install.
    text = (Path(__file__).parent / "_data" / name).read_text(encoding="utf-8")
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@functools.cache
def _mnemonic_table() -> tuple[tuple[str, ...], dict[str, int]]:
    """Return the 1626 base words and a word -> digit map."""
    words = _read_table("mnemonicode.txt")
    if len(words) != _MN_WORD_COUNT:
        raise RuntimeError(f"fluxsdk data file mnemonicode.txt is damaged: {len(words)} words")
    # The 7 extra words encode 24-bit tails, which 8-byte IDs never have, so a
    # decoder must not accept them.
    base = words[:_MN_BASE]
    return base, {word: i for i, word in enumerate(base)}


@functools.cache
def _emoji_table() -> tuple[tuple[str, ...], dict[str, int]]:
    """Return the 576 emoji digits and an emoji -> digit map."""
    emoji = _read_table("basemoji.txt")
    if len(emoji) != _EMOJI_BASE:
        raise RuntimeError(f"fluxsdk data file basemoji.txt is damaged: {len(emoji)} emoji")
    return emoji, {e: i for i, e in enumerate(emoji)}


# --------------------------------------------------------------------------
# Encoders: each takes an int already known to be in range
# --------------------------------------------------------------------------


def _enc_dec(value: int) -> str:
    return f"{value:d}"


def _enc_hex(value: int) -> str:
    return f"0x{value:x}"


def _enc_dothex(value: int) -> str:
    h = f"{value:016x}"
    return f"{h[0:4]}.{h[4:8]}.{h[8:12]}.{h[12:16]}"


def _enc_kvs(value: int) -> str:
    return "job." + _enc_dothex(value)


@functools.lru_cache(maxsize=4096)  # a job's ID is written in F58 several times while it runs
def _b58(value: int) -> str:
    if value == 0:
        return _B58_DIGITS[0]
    digits = []
    while value:
        value, rem = divmod(value, 58)
        digits.append(_B58_DIGITS[rem])
    digits.reverse()
    return "".join(digits)


def _enc_f58(value: int) -> str:
    return "ƒ" + _b58(value)


def _enc_f58plain(value: int) -> str:
    return "f" + _b58(value)


def _enc_words(value: int) -> str:
    words = _mnemonic_table()[0]
    base = _MN_BASE
    # The C reference encodes the ID's little-endian bytes, so the low 32
    # bits come first; within a group the least significant digit comes first.
    lo = value & 0xFFFFFFFF
    hi = value >> 32
    return (
        f"{words[lo % base]}-{words[lo // base % base]}-{words[lo // (base * base)]}--"
        f"{words[hi % base]}-{words[hi // base % base]}-{words[hi // (base * base)]}"
    )


def _enc_emoji(value: int) -> str:
    emoji = _emoji_table()[0]
    if value == 0:
        return emoji[0]
    digits = []
    while value:
        value, rem = divmod(value, _EMOJI_BASE)
        digits.append(emoji[rem])
    digits.reverse()
    return "".join(digits)


_ENCODERS: dict[str, Callable[[int], str]] = {
    "dec": _enc_dec,
    "hex": _enc_hex,
    "dothex": _enc_dothex,
    "kvs": _enc_kvs,
    "f58": _enc_f58,
    "f58plain": _enc_f58plain,
    "words": _enc_words,
    "emoji": _enc_emoji,
}


# --------------------------------------------------------------------------
# Decoders: each takes stripped text and returns the ID or a reason
# --------------------------------------------------------------------------


class _BadText(Exception):
    """Internal: why a piece of text is no job ID (becomes InvalidJobIDError)."""


_DOTHEX_HINT = "four dot-separated groups of 1-4 hex digits, like 0018.1d0d.4d85.0fbe"


def _dec_dothex(text: str) -> int:
    groups = text.split(".")
    if len(groups) != 4:
        raise _BadText(f"dothex needs {_DOTHEX_HINT}")
    value = 0
    for group in groups:
        if not 1 <= len(group) <= 4 or not _HEX_DIGITS.issuperset(group):
            raise _BadText(f"dothex needs {_DOTHEX_HINT}")
        value = (value << 16) | int(group, 16)
    return value


def _dec_words(text: str) -> int:
    index = _mnemonic_table()[1]
    halves = text.split("--")
    hint = "six mnemonicode words written like cake-plume-nepal--neuron-pencil-academy"
    if len(halves) != 2:
        raise _BadText(f"words needs {hint}")
    groups = []
    for half in halves:
        words = half.split("-")
        if len(words) != 3:
            raise _BadText(f"words needs {hint}")
        digits = []
        for word in words:
            # isascii() first: str.lower() maps some non-ASCII letters to ASCII.
            digit = index.get(word.lower()) if word.isascii() else None
            if digit is None:
                raise _BadText(f"{word!r} is not a mnemonicode word")
            digits.append(digit)
        group = digits[0] + _MN_BASE * (digits[1] + _MN_BASE * digits[2])
        if group > 0xFFFFFFFF:
            # About 0.09% of word triples name no 32-bit value.
            raise _BadText(f"the words {half!r} encode a value above 32 bits")
        groups.append(group)
    return groups[0] | (groups[1] << 32)


def _dec_f58(text: str) -> int:
    body = text[1:]
    if not body:
        raise _BadText("F58 needs base58 digits after the prefix")
    if len(body) > _B58_MAX_DIGITS:
        raise _BadText(f"F58 has at most {_B58_MAX_DIGITS} digits after the prefix")
    value = 0
    for char in body:
        digit = _B58_VALUE.get(char)
        if digit is None:
            raise _BadText(f"{char!r} is not a base58 digit (the alphabet is {_B58_DIGITS})")
        value = value * 58 + digit
    if value > _MAX_ID:
        raise _BadText("the F58 value does not fit in 64 bits")
    return value


def _dec_emoji(text: str) -> int:
    index = _emoji_table()[1]
    if len(text) > _EMOJI_MAX_DIGITS:
        raise _BadText(f"emoji IDs have at most {_EMOJI_MAX_DIGITS} emoji")
    value = 0
    for char in text:
        digit = index.get(char)
        if digit is None:
            raise _BadText(f"{char!r} is not one of the 576 RFC 19 emoji")
        value = value * _EMOJI_BASE + digit
    if value > _MAX_ID:
        raise _BadText("the emoji value does not fit in 64 bits")
    return value


def _dec_hex(text: str) -> int:
    body = text[2:]
    if not body or not _HEX_DIGITS.issuperset(body):
        raise _BadText("hex needs 0x followed by hex digits, like 0x181d0d4d850fbe")
    value = int(body, 16)
    if value > _MAX_ID:
        raise _BadText("the hex value does not fit in 64 bits")
    return value


def _dec_decimal(text: str) -> int:
    if not text:
        raise _BadText("the text is empty")
    if not (text.isascii() and text.isdigit()):
        raise _BadText(
            "expected a decimal number 0..18446744073709551615 or an RFC 19 encoding "
            "(0x hex, dothex, kvs, ƒ/f F58, words or emoji)"
        )
    # Bound the length first: int() of a huge digit string is slow and limited.
    if len(text.lstrip("0")) > 20 or int(text) > _MAX_ID:
        raise _BadText("the decimal value does not fit in 64 bits")
    return int(text)


def _decode(text: str) -> int:
    """Decode stripped ``text`` by the RFC 19 rules, raising ``_BadText``."""
    if "." in text:
        if text.startswith("job."):
            return _dec_dothex(text[4:])
        return _dec_dothex(text)
    if "-" in text:
        if text[:1] == "-" and text[1:].isascii() and text[1:].isdigit():
            raise _BadText("job IDs are never negative")
        return _dec_words(text)
    first = text[:1]
    if first in ("ƒ", "f"):
        return _dec_f58(text)
    if _EMOJI_FIRST <= first <= _EMOJI_LAST:
        return _dec_emoji(text)
    if text.startswith("0x"):
        return _dec_hex(text)
    return _dec_decimal(text)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def id_parse(jobid_str: str) -> int:
    """Return the job ID written in ``jobid_str`` in any RFC 19 encoding.

    The encoding is found from the text itself (see the module docs);
    leading and trailing ASCII whitespace is ignored.

    :raises InvalidJobIDError: (a ``ValueError``) if the text is not a job ID
        in any encoding, or names a value outside ``0 .. 2**64 - 1``.
    :raises TypeError: if ``jobid_str`` is not a ``str``.
    """
    if not isinstance(jobid_str, str):
        raise TypeError(f"a job ID string must be str, not {type(jobid_str).__name__}")
    try:
        return _decode(jobid_str.strip(_WHITESPACE))
    except _BadText as exc:
        raise InvalidJobIDError(f"{jobid_str!r} is not a valid job ID: {exc}") from None


def _check_int(jobid: object) -> int:
    """Return ``jobid`` as a plain int after checking its type and range."""
    if not isinstance(jobid, int):
        raise TypeError(f"a job ID must be an int, str or JobID, not {type(jobid).__name__}")
    value = int(jobid)
    if not 0 <= value <= _MAX_ID:
        raise JobIDOverflowError(
            f"{value} is not a valid job ID: expected an integer 0..18446744073709551615"
        )
    return value


def id_encode(jobid: int, encoding: str = "f58") -> str:
    """Return ``jobid`` written in ``encoding``.

    :param jobid: the job ID, an int (or :class:`JobID`) in ``0 .. 2**64 - 1``.
    :param encoding: one of ``ENCODINGS`` (case does not matter):
        ``dec``, ``hex``, ``dothex``, ``kvs``, ``f58``, ``f58plain``,
        ``words`` or ``emoji``.
    :raises InvalidInputError: (a ``ValueError``) for an unknown encoding.
    :raises InvalidJobIDError: (a ``ValueError``) if ``jobid`` is out of range.
    :raises TypeError: if ``jobid`` is not an int.
    """
    encoder = _ENCODERS.get(encoding) or _ENCODERS.get(str(encoding).lower())
    if encoder is None:
        raise InvalidInputError(
            f"unknown job ID encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}"
        )
    return encoder(_check_int(jobid))


_JobIDT = TypeVar("_JobIDT", bound="JobID")


class JobID(int):
    """A Flux job ID: an ``int`` that knows its RFC 19 encodings.

    ``JobID(value)`` accepts an int in ``0 .. 2**64 - 1`` (``bool`` counts as
    an int), another :class:`JobID` (whose :attr:`orig` is kept), or a string
    in any RFC 19 encoding (see :func:`id_parse`). A JobID compares and hashes
    equal to the same int, so it can be used wherever an int job ID is.
    ``str()`` gives the F58 form, ``repr()`` gives ``JobID(<decimal>)``.

    :raises InvalidJobIDError: (a ``ValueError``) for text that is not a job
        ID or a number out of range.
    :raises TypeError: for any other type (float, bytes, None, ...).
    """

    _orig: str

    def __new__(cls: type[_JobIDT], value: int | str) -> _JobIDT:
        """Create a JobID from an int, a JobID or an encoded string."""
        if isinstance(value, JobID):
            number = int(value)
            orig = value._orig
        elif isinstance(value, str):
            number = id_parse(value)
            orig = value
        else:
            number = _check_int(value)
            orig = f"{number:d}"
        self = super().__new__(cls, number)
        self._orig = orig
        return self

    def __reduce__(self) -> tuple[type[JobID], tuple[int], dict[str, str]]:
        """Pickle as the plain value plus the original text."""
        return (type(self), (int(self),), {"_orig": self._orig})

    def encode(self, encoding: str = "dec") -> str:
        """Return this job ID in ``encoding`` (one of ``ENCODINGS``).

        :raises InvalidInputError: (a ``ValueError``) for an unknown encoding.
        """
        return id_encode(self, encoding)

    @property
    def orig(self) -> str:
        """The string this JobID was created from (the decimal text for an int)."""
        return self._orig

    @property
    def dec(self) -> str:
        """The decimal form, e.g. ``6787342413402046``."""
        return _enc_dec(int(self))

    @property
    def hex(self) -> str:
        """The ``0x``-prefixed hexadecimal form, e.g. ``0x181d0d4d850fbe``."""
        return _enc_hex(int(self))

    @property
    def dothex(self) -> str:
        """The dotted-hexadecimal form, e.g. ``0018.1d0d.4d85.0fbe``."""
        return _enc_dothex(int(self))

    @property
    def kvs(self) -> str:
        """The job's KVS directory, e.g. ``job.0018.1d0d.4d85.0fbe``."""
        return _enc_kvs(int(self))

    @property
    def f58(self) -> str:
        """The F58 form with the ``ƒ`` prefix, e.g. ``ƒuzzybunny``."""
        return _enc_f58(int(self))

    @property
    def f58plain(self) -> str:
        """The F58 form with the ASCII ``f`` prefix, e.g. ``fuzzybunny``."""
        return _enc_f58plain(int(self))

    @property
    def words(self) -> str:
        """The mnemonic form, e.g. ``cake-plume-nepal--neuron-pencil-academy``."""
        return _enc_words(int(self))

    @property
    def emoji(self) -> str:
        """The emoji form, e.g. ``👴😱🔚🎮🕙🚩``."""
        return _enc_emoji(int(self))

    def __str__(self) -> str:
        """Return the F58 form, as Flux displays job IDs."""
        return _enc_f58(int(self))

    def __repr__(self) -> str:
        """Return ``JobID(<decimal>)``."""
        return f"JobID({int(self):d})"
