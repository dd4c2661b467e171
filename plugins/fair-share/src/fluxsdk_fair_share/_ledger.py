"""Who used how much, lately: usage in core-seconds that decays with time.

Each key (a user or a tag) has a usage that halves every ``half_life``
seconds. Jobs that have been given a priority but not ended count too, with
an estimate (cores times their time limit, or a default), so one user's
burst of submissions is spread out at once rather than after it has run.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Ledger", "Settings"]


@attrs.frozen(kw_only=True)
class Settings:
    """How usage becomes priority."""

    half_life: float = 86400.0
    """Seconds after which past usage counts half."""
    usage_scale: float = 3600.0
    """Core-seconds of usage that halve a key's fair-share factor."""
    default_duration: float = 60.0
    """The estimated run time of a pending job without a time limit."""

    def factor(self, usage: float) -> float:
        """The fair-share factor of ``usage``: 1 for none, towards 0 for much."""
        return 1.0 / (1.0 + max(usage, 0.0) / self.usage_scale)


@attrs.define
class Ledger:
    """Decayed usage per key, the estimates of jobs still to end, and where it is saved."""

    settings: Settings
    path: Path | None = None
    usage: dict[str, tuple[float, float]] = attrs.field(factory=dict)
    """key -> (core-seconds, as of when)."""
    jobs: dict[int, tuple[str, float]] = attrs.field(factory=dict)
    """job id -> (key, estimated core-seconds), for jobs given a priority, not ended."""

    def decayed(self, key: str, now: float) -> float:
        """``key``'s past usage as of ``now``."""
        value, since = self.usage.get(key, (0.0, now))
        return value * math.pow(0.5, max(now - since, 0.0) / self.settings.half_life)

    def outstanding(self, key: str) -> float:
        """The estimated usage of ``key``'s jobs that have not ended."""
        return sum(estimate for owner, estimate in self.jobs.values() if owner == key)

    def total(self, key: str, now: float) -> float:
        """Past usage plus what is on its way."""
        return self.decayed(key, now) + self.outstanding(key)

    def expect(self, jobid: int, key: str, estimate: float) -> None:
        """Count job ``jobid`` of ``key`` as on its way (once, whatever the calls)."""
        self.jobs.setdefault(jobid, (key, estimate))

    def ended(self, jobid: int, key: str, used: float, now: float) -> None:
        """Job ``jobid`` ended having used ``used`` core-seconds."""
        owner, _ = self.jobs.pop(jobid, (key, 0.0))
        if used > 0:
            self.usage[owner] = (self.decayed(owner, now) + used, now)

    def key_of(self, jobid: int) -> str | None:
        """The key job ``jobid`` was counted under, if it was."""
        entry = self.jobs.get(jobid)
        return entry[0] if entry else None

    # -- persistence -------------------------------------------------------------------

    def save(self) -> None:
        """Write the ledger to :attr:`path` (atomically: a crash keeps the old one)."""
        if self.path is None:
            return
        doc = {
            "version": 1,
            "usage": {key: list(value) for key, value in self.usage.items()},
            "jobs": {str(jobid): list(entry) for jobid, entry in self.jobs.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(doc, separators=(",", ":")))
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, settings: Settings, path: Path | None) -> Ledger:
        """The ledger saved in ``path``, or an empty one (also for an unreadable file)."""
        ledger = cls(settings, path)
        if path is None or not path.is_file():
            return ledger
        try:
            doc: Any = json.loads(path.read_text())
            ledger.usage = {
                str(k): (float(v[0]), float(v[1])) for k, v in doc.get("usage", {}).items()
            }
            ledger.jobs = {int(k): (str(v[0]), float(v[1])) for k, v in doc.get("jobs", {}).items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            ledger.usage, ledger.jobs = {}, {}
        return ledger
