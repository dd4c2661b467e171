"""Where libflux-core is: the candidates to try, in order.

1. ``$FLUXSDK_LIBFLUX``, a path to the library. When set it is the only
   candidate: an explicit choice that fails should say so, not fall back.
2. The usual dynamic-linker search: the soname ``libflux-core.so.2``
   (``LD_LIBRARY_PATH``, the ld.so cache, the default directories), then
   whatever ``ctypes.util.find_library("flux-core")`` finds.
3. Next to a ``flux`` command on ``PATH``: ``<prefix>/bin/flux`` implies
   ``<prefix>/lib/libflux-core.so.2`` (also ``lib64``), which covers a
   flux-core installed in its own prefix, as sites and Spack do.

This module only lists paths; :mod:`fluxsdk._ffi._libflux` tries to load them.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Final

__all__ = ["ENV_VAR", "SONAME", "candidates"]

ENV_VAR: Final = "FLUXSDK_LIBFLUX"
SONAME: Final = "libflux-core.so.2"


def candidates(environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The names or paths to try with ``dlopen``, best first, without duplicates.

    A generator, so that the slow search (``find_library`` runs ``ldconfig``)
    only happens when the quick ones failed.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        yield explicit
        return
    seen = {SONAME}
    yield SONAME
    by_search = ctypes.util.find_library("flux-core")
    if by_search and by_search not in seen:
        seen.add(by_search)
        yield by_search
    flux = shutil.which("flux", path=env.get("PATH", os.defpath))
    if flux:
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux)))
        for libdir in ("lib", "lib64"):
            path = os.path.join(prefix, libdir, SONAME)
            if path not in seen and os.path.exists(path):
                seen.add(path)
                yield path
