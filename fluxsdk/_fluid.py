"""RFC 19 FLUID generation: unique, roughly time-ordered 64-bit job IDs.

A FLUID packs three fields into 64 bits, most significant first::

    [ timestamp: 40 bits | generator id: 14 bits | sequence: 10 bits ]

The timestamp counts milliseconds since the generator's epoch, the generator
id tells apart generators that run side by side, and the sequence numbers the
IDs one generator hands out within one millisecond (up to 1024).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import attrs

from fluxsdk.errors import FluidExhaustedError, InvalidInputError

__all__ = [
    "GENERATOR_BITS",
    "SEQUENCE_BITS",
    "TIMESTAMP_BITS",
    "FluidGenerator",
    "FluidParts",
    "fluid_decode",
]

#: Width of the millisecond timestamp field.
TIMESTAMP_BITS = 40
#: Width of the generator id field.
GENERATOR_BITS = 14
#: Width of the sequence field.
SEQUENCE_BITS = 10

_MAX_TIMESTAMP = (1 << TIMESTAMP_BITS) - 1
_MAX_GENERATOR = (1 << GENERATOR_BITS) - 1
_MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
_MAX_FLUID = (1 << 64) - 1
_GENERATOR_SHIFT = SEQUENCE_BITS
_TIMESTAMP_SHIFT = SEQUENCE_BITS + GENERATOR_BITS


def _check_range(name: str, value: object, high: int) -> int:
    """Return ``value`` if it is an int in ``0..high``, else raise."""
    # bool is an int, but passing one here is surely a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= high:
        raise InvalidInputError(f"{name} must be in 0..{high}, got {value}")
    return value


def _range_validator(high: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    """Return an attrs validator that checks a field is an int in ``0..high``."""

    def validate(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        _check_range(attribute.name, value, high)

    return validate


@attrs.frozen
class FluidParts:
    """The three fields of a FLUID, as returned by :func:`fluid_decode`.

    :param timestamp_ms: milliseconds since the generator's epoch (40 bits).
    :param generator: the generator id (14 bits, ``0..16383``).
    :param sequence: the sequence number within the millisecond (10 bits).
    """

    timestamp_ms: int = attrs.field(validator=_range_validator(_MAX_TIMESTAMP))
    generator: int = attrs.field(validator=_range_validator(_MAX_GENERATOR))
    sequence: int = attrs.field(validator=_range_validator(_MAX_SEQUENCE))

    def to_int(self) -> int:
        """Return the FLUID these fields make up (the inverse of :func:`fluid_decode`)."""
        return (
            (self.timestamp_ms << _TIMESTAMP_SHIFT)
            | (self.generator << _GENERATOR_SHIFT)
            | self.sequence
        )


def fluid_decode(fluid: int) -> FluidParts:
    """Split ``fluid`` into its timestamp, generator id and sequence fields.

    :raises InvalidInputError: (a ``ValueError``) if ``fluid`` is not in
        ``0 .. 2**64 - 1``.
    :raises TypeError: if ``fluid`` is not an int.
    """
    if not isinstance(fluid, int):
        raise TypeError(f"a FLUID must be an int, not {type(fluid).__name__}")
    value = int(fluid)
    if not 0 <= value <= _MAX_FLUID:
        raise InvalidInputError(f"a FLUID must be in 0..{_MAX_FLUID}, got {value}")
    return FluidParts(
        timestamp_ms=value >> _TIMESTAMP_SHIFT,
        generator=(value >> _GENERATOR_SHIFT) & _MAX_GENERATOR,
        sequence=value & _MAX_SEQUENCE,
    )


class FluidGenerator:
    """Hands out FLUIDs, each strictly greater than the one before.

    :param generator_id: this generator's id, ``0..16383``; generators that
        share an epoch and run at the same time need different ids.
    :param epoch: UNIX time in seconds that timestamp 0 stands for
        (default: the clock's time now). A FLUID's timestamp lasts about
        34.8 years from the epoch.
    :param after: the largest FLUID issued before a restart, if any. Every
        FLUID this generator issues is greater than ``after``, even if the
        wall clock has gone back or ``epoch`` is later than it was; a caller
        that stores its epoch and last FLUID can so never reuse an ID.
    :param clock: returns the current UNIX time in seconds (for tests).

    IDs are monotonic: if the clock stands still or goes back, the generator
    keeps the last timestamp and counts up the sequence; when the 1024
    sequence numbers of a millisecond are used up it moves on to the next
    millisecond instead of waiting for the clock.

    :meth:`next` is thread-safe.

    :raises InvalidInputError: (a ``ValueError``) if ``generator_id`` or
        ``after`` is out of range, or ``epoch`` is not a finite number.
    """

    def __init__(
        self,
        generator_id: int = 0,
        *,
        epoch: float | None = None,
        after: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a generator; see the class docs for the parameters."""
        self._generator = _check_range("generator_id", generator_id, _MAX_GENERATOR)
        if epoch is None:
            epoch = clock()
        elif isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
            raise TypeError(f"epoch must be a number, not {type(epoch).__name__}")
        if not math.isfinite(epoch):
            raise InvalidInputError(f"epoch must be a finite UNIX time, got {epoch}")
        self._epoch = float(epoch)
        if after is not None:
            after = _check_range("after", after, _MAX_FLUID)
        self._clock = clock
        self._last: int | None = after
        self._lock = threading.Lock()

    @property
    def generator_id(self) -> int:
        """This generator's id (the middle 14 bits of each FLUID it issues)."""
        return self._generator

    @property
    def epoch(self) -> float:
        """The UNIX time in seconds that timestamp 0 stands for."""
        return self._epoch

    @property
    def last(self) -> int | None:
        """The last FLUID issued, else the ``after`` given, else ``None``.

        Store this (with :attr:`epoch`) to restart a generator with ``after``.
        """
        return self._last

    def _now_ms(self) -> int:
        """Return the clock's milliseconds since the epoch (0 if before it)."""
        return max(0, math.floor((self._clock() - self._epoch) * 1000.0))

    def next(self) -> int:
        """Return a new FLUID, greater than every one issued before.

        :raises FluidExhaustedError: (a ``RuntimeError``) once the 40-bit
            timestamp has run out (about 34.8 years after the epoch).
        """
        with self._lock:
            last = self._last
            ts = self._now_ms()
            seq = 0
            if last is not None:
                last_ts = last >> _TIMESTAMP_SHIFT
                if ts <= last_ts:
                    # The clock has not moved past the last ID: build the next
                    # ID from the last one so as never to go backwards.
                    ts = last_ts
                    last_gen = (last >> _GENERATOR_SHIFT) & _MAX_GENERATOR
                    if self._generator == last_gen:
                        seq = (last & _MAX_SEQUENCE) + 1
                        if seq > _MAX_SEQUENCE:
                            ts, seq = ts + 1, 0
                    elif self._generator < last_gen:
                        # Only a later millisecond sorts above another
                        # generator's ID (e.g. an ``after`` from another id).
                        ts += 1
            if ts > _MAX_TIMESTAMP:
                raise FluidExhaustedError(
                    "FLUID generator exhausted: its 40-bit millisecond timestamp has run "
                    f"out (epoch {self._epoch}), so no greater ID exists"
                )
            fluid = (ts << _TIMESTAMP_SHIFT) | (self._generator << _GENERATOR_SHIFT) | seq
            self._last = fluid
            return fluid

    def __repr__(self) -> str:
        """Return a summary showing the generator id, epoch and last ID."""
        return (
            f"FluidGenerator(generator_id={self._generator}, epoch={self._epoch!r}, "
            f"last={self._last!r})"
        )
