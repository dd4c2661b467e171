"""``python -m tests.differential``: record real Flux, or compare a broker with the recording.

- ``record [--flux FLUX] [--only NAME ...]``: run the scenarios on a fresh
  ``flux start --test-size=1`` and write ``recordings/flux-0.88.json`` (with
  ``--only``, only those scenarios' entries are replaced);
- ``embedded [--only NAME ...]``: run them on a fresh embedded instance of
  the same size and compare with the recording;
- ``live [--flux FLUX]``: run them on a fresh real Flux and compare.

Exit status 0 when every scored fact agrees (differences listed in
``expected_differences.json`` are reported, not failed).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from tests.differential import compare as cmp
from tests.differential.harness import run_all

#: The embedded instance mirrors ``flux start --test-size=1`` on this 2-core machine.
CORES = 2


@contextlib.contextmanager
def embedded_instance() -> Iterator[str]:
    """A fresh embedded instance of the recorded size; yields its URI."""
    from fluxsdk.testing import instance_running

    with (
        tempfile.TemporaryDirectory(prefix="fluxsdk-diff-inst-") as statedir,
        instance_running(statedir, size=1, cores=CORES, gpus=0) as uri,
    ):
        yield uri


@contextlib.contextmanager
def live_instance(flux: str) -> Iterator[str]:
    """A fresh real ``flux start --test-size=1``; yields its URI."""
    from tests.flux_broker import flux_broker

    cmp.use_libflux_of(flux)
    with flux_broker(flux, test_size=1) as uri:
        yield uri


def run_embedded(names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every scenario's facts on a fresh embedded instance."""
    with embedded_instance() as uri:
        return run_all(uri, names=names, progress=_progress)


def run_live(flux: str, names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every scenario's facts on a fresh real Flux."""
    with live_instance(flux) as uri:
        return run_all(uri, flux_command=flux, names=names, progress=_progress)


_T0 = time.monotonic()


def _progress(name: str) -> None:
    print(f"  [{time.monotonic() - _T0:6.1f}s] {name}", file=sys.stderr, flush=True)


def flux_version(flux: str) -> str:
    """``flux version``'s libflux-core line."""
    out = subprocess.run([flux, "version"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("libflux-core:"):
            return line.split(":", 1)[1].strip()
    return out.strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m tests.differential")
    parser.add_argument("mode", choices=["record", "embedded", "live"])
    parser.add_argument("--flux", help="the flux command (default: PATH, /opt/flux/bin)")
    parser.add_argument("--only", nargs="*", help="only these scenarios")
    args = parser.parse_args(argv)
    names = args.only or None
    started = time.monotonic()
    if args.mode == "embedded":
        observed = run_embedded(names)
    else:
        flux = args.flux or cmp.find_live_flux()
        if not flux:
            print("no flux command found (use --flux or FLUXSDK_FLUX)", file=sys.stderr)
            return 2
        observed = run_live(flux, names)
        if args.mode == "record":
            facts = cmp.load_recording() if names and cmp.RECORDING.exists() else {}
            facts.update(observed)
            cmp.save_recording(dict(sorted(facts.items())), flux_version(flux))
            errors = [n for n, f in observed.items() if "scenario-error" in f]
            print(f"recorded {len(observed)} scenarios in {time.monotonic() - started:.1f}s")
            for name in errors:
                print(f"scenario {name} failed:\n{observed[name]['scenario-error']}")
            return 1 if errors else 0
    recorded = cmp.load_recording()
    if names:
        recorded = {n: recorded[n] for n in names if n in recorded}
    expected = cmp.load_expected() if args.mode == "embedded" else {}
    report = cmp.compare(recorded, observed, expected)
    print(report.summary())
    print(f"({args.mode} run took {time.monotonic() - started:.1f}s)")
    return 0 if report.ok else 1
