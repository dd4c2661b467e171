"""fluxsdk's PMI-1 client library, as flux's job shell offers its own to a job's tasks.

The library (``libpmi.so``, soname ``libpmi.so.0``; C sources in ``csrc/libpmi``) is compiled
at install by ``hatch_build.py`` into ``_lib/`` beside this module. As flux's shell (its ``pmi``
plugin, when it serves PMI-1), the embedded instance then gives every task
``FLUX_PMI_LIBRARY_PATH`` (the library's absolute path) and puts the library's directory first
in ``LD_LIBRARY_PATH``, before whatever the job's environment has there, so an MPI finds this
``libpmi.so.0`` before another (Slurm's) in the system's path. When no library was built (no C
compiler at install), tasks get neither variable.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["LIBRARY_DIR", "pmi_library", "pmi_library_env"]

log = logging.getLogger("fluxsdk.instance")

#: Where the install put the library (a directory inside the package).
LIBRARY_DIR: Final = Path(__file__).resolve().parent / "_lib"
_LIBRARY: Final = "libpmi.so"


@functools.cache
def pmi_library() -> Path | None:
    """The absolute path of the PMI-1 client library, or None if the install built none."""
    path = LIBRARY_DIR / _LIBRARY
    if path.is_file():
        return path
    log.warning(
        "no PMI-1 client library at %s (fluxsdk was installed without a C compiler): "
        "jobs get no FLUX_PMI_LIBRARY_PATH",
        path,
    )
    return None


def pmi_library_env(job_env: Mapping[str, str]) -> dict[str, str]:
    """The variables flux's shell adds for its PMI library, given the job's environment:
    ``FLUX_PMI_LIBRARY_PATH`` and ``LD_LIBRARY_PATH`` (the library's directory, then the
    job's own value after a colon if it has one, even an empty one, as flux joins them)."""
    library = pmi_library()
    if library is None:
        return {}
    search = str(library.parent)
    if "LD_LIBRARY_PATH" in job_env:
        search = f"{search}:{job_env['LD_LIBRARY_PATH']}"
    return {"FLUX_PMI_LIBRARY_PATH": str(library), "LD_LIBRARY_PATH": search}
