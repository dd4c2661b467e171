"""A real Flux broker for tests and benchmarks: ``flux start`` in the background.

:func:`find_flux` names the ``flux`` command to use (``$FLUXSDK_FLUX``, else
``flux`` on ``PATH``) and :func:`flux_broker` runs an instance for the
duration of a ``with`` block, yielding its ``local://`` URI. The instance's
initial program only writes the URI and sleeps; at the end of the block
``flux shutdown`` stops it, and if that fails the whole process group the
block started is killed, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ["FluxBrokerError", "find_flux", "flux_broker"]

ENV_VAR: Final = "FLUXSDK_FLUX"
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 60.0
# Writes the URI atomically (a reader never sees half of it), then idles.
_INITIAL_PROGRAM: Final = 'echo "$FLUX_URI" > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 86400'


class FluxBrokerError(RuntimeError):
    """``flux start`` did not come up (the message holds its output)."""


def find_flux() -> str | None:
    """The ``flux`` command: ``$FLUXSDK_FLUX`` if set, else ``flux`` on ``PATH``."""
    explicit = os.environ.get(ENV_VAR, "").strip()
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("flux")


@contextlib.contextmanager
def flux_broker(
    flux: str, *, test_size: int | None = None, config_path: str | os.PathLike[str] | None = None
) -> Iterator[str]:
    """Run ``flux start`` for the block; yields the instance's ``FLUX_URI``.

    ``config_path`` is a directory of TOML files the broker is configured with.
    """
    with tempfile.TemporaryDirectory(prefix="fluxsdk-flux-") as tmp:
        urifile = Path(tmp) / "uri"
        log = Path(tmp) / "broker.log"
        argv = [flux, "start"]
        if test_size is not None:
            argv.append(f"--test-size={test_size}")
        if config_path is not None:
            argv.append(f"-o,--config-path={config_path}")
        argv += ["sh", "-c", _INITIAL_PROGRAM, str(urifile)]
        env = dict(os.environ)
        env.pop("FLUX_URI", None)  # a fresh instance, not a nested one
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # one process group to clean up
            )
        try:
            uri = _wait_for_uri(proc, urifile, log)
            yield uri
        finally:
            _stop(flux, proc, urifile)


def _wait_for_uri(proc: subprocess.Popen[bytes], urifile: Path, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if urifile.exists():
            return urifile.read_text().strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    output = log.read_text(errors="replace") if log.exists() else ""
    raise FluxBrokerError(f"flux start did not come up (exit {proc.poll()}): {output.strip()}")


def _stop(flux: str, proc: subprocess.Popen[bytes], urifile: Path) -> None:
    if proc.poll() is None and urifile.exists():
        env = dict(os.environ, FLUX_URI=urifile.read_text().strip())
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [flux, "shutdown", "--quiet"],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=STOP_TIMEOUT,
                check=False,
            )
    try:
        proc.wait(timeout=STOP_TIMEOUT)
        return
    except subprocess.TimeoutExpired:
        pass
    # Shutdown failed: end the process group this module started (the broker
    # is not reaped yet, so its pid, the group's id, is still ours).
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue
