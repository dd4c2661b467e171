"""Comparing facts with the recording of real Flux, and where the recordings live."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

__all__ = [
    "EXPECTED_DIFFERENCES",
    "RECORDING",
    "Report",
    "compare",
    "find_live_flux",
    "load_expected",
    "load_recording",
]

HERE: Final = Path(__file__).resolve().parent
RECORDING: Final = HERE / "recordings" / "flux-0.88.json"
EXPECTED_DIFFERENCES: Final = HERE / "expected_differences.json"
#: Facts with this prefix are kept for reading (error texts) but not scored.
INFO_PREFIX: Final = "info:"


@attrs.define
class Report:
    """The outcome of comparing one run with the recording."""

    scenarios: int = 0
    compared: int = 0
    agreeing: int = 0
    #: ``scenario/fact`` -> (recorded, observed) for facts that differ and are not expected to.
    unexpected: dict[str, tuple[Any, Any]] = attrs.field(factory=dict)
    #: ``scenario/fact`` -> (recorded, observed, reason) for listed differences still present.
    expected: dict[str, tuple[Any, Any, str]] = attrs.field(factory=dict)
    #: listed differences that now agree (the list should be trimmed).
    fixed: list[str] = attrs.field(factory=list)
    #: scenarios whose program failed or that are missing on one side.
    broken: dict[str, str] = attrs.field(factory=dict)

    def summary(self) -> str:
        """A one-paragraph account of the comparison."""
        lines = [
            f"scenarios: {self.scenarios}, facts compared: {self.compared}, "
            f"facts agreeing: {self.agreeing}, expected differences: {len(self.expected)}, "
            f"unexpected differences: {len(self.unexpected)}, broken scenarios: {len(self.broken)}"
        ]
        for key, (rec, obs) in sorted(self.unexpected.items()):
            lines.append(f"  DIFF {key}\n    flux:     {_short(rec)}\n    observed: {_short(obs)}")
        for key, (_rec, _obs, why) in sorted(self.expected.items()):
            lines.append(f"  expected {key}: {why}")
        for key in self.fixed:
            lines.append(f"  FIXED (remove from expected_differences.json): {key}")
        for name, why in sorted(self.broken.items()):
            lines.append(f"  BROKEN {name}: {why}")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        """No unexpected difference, no stale expectation, no broken scenario."""
        return not (self.unexpected or self.fixed or self.broken)


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def scored(facts: Mapping[str, Any]) -> Iterator[str]:
    """The names of the facts that are scored."""
    return (name for name in facts if not name.startswith(INFO_PREFIX))


def compare(
    recorded: Mapping[str, Mapping[str, Any]],
    observed: Mapping[str, Mapping[str, Any]],
    expected: Mapping[str, str],
) -> Report:
    """Compare every scored fact of ``observed`` with ``recorded``."""
    report = Report()
    for name in sorted(set(recorded) | set(observed)):
        if name not in recorded or name not in observed:
            side = "recording" if name not in recorded else "this run"
            report.broken[name] = f"missing from {side}"
            continue
        report.scenarios += 1
        rec, obs = recorded[name], observed[name]
        for side, facts in (("flux", rec), ("observed", obs)):
            if "scenario-error" in facts:
                report.broken[name] = f"{side}: {facts['scenario-error'].strip().splitlines()[-1]}"
        for fact in sorted(set(scored(rec)) | set(scored(obs))):
            if fact == "scenario-error":
                continue
            key = f"{name}/{fact}"
            report.compared += 1
            a, b = rec.get(fact, "<absent>"), obs.get(fact, "<absent>")
            if a == b:
                report.agreeing += 1
                if key in expected:
                    report.fixed.append(key)
            elif key in expected:
                report.expected[key] = (a, b, expected[key])
            else:
                report.unexpected[key] = (a, b)
    return report


def load_recording(path: Path = RECORDING) -> dict[str, dict[str, Any]]:
    """The recorded facts of real Flux: ``{scenario: {fact: value}}``."""
    data = json.loads(path.read_text())
    scenarios: dict[str, dict[str, Any]] = data["scenarios"]
    return scenarios


def save_recording(
    facts: Mapping[str, Mapping[str, Any]], version: str, path: Path = RECORDING
) -> None:
    """Write a recording (stable order, one fact per line where short)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"flux-core": version, "instance": "flux start --test-size=1", "scenarios": facts}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def load_expected(path: Path = EXPECTED_DIFFERENCES) -> dict[str, str]:
    """``scenario/fact`` -> why the embedded instance differs there on purpose."""
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text())
    return data


def find_live_flux() -> str | None:
    """A real ``flux`` command: ``$FLUXSDK_FLUX``, ``flux`` on PATH, or /opt/flux/bin/flux."""
    explicit = os.environ.get("FLUXSDK_FLUX", "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("flux")
    if found:
        return found
    fallback = "/opt/flux/bin/flux"
    return fallback if os.access(fallback, os.X_OK) else None


def use_libflux_of(flux: str) -> None:
    """Point fluxsdk's libflux-core connector at the library next to ``flux``."""
    if os.environ.get("FLUXSDK_LIBFLUX"):
        return
    prefix = Path(os.path.realpath(flux)).parent.parent
    for libdir in ("lib", "lib64"):
        lib = prefix / libdir / "libflux-core.so.2"
        if lib.exists():
            os.environ["FLUXSDK_LIBFLUX"] = str(lib)
            return
