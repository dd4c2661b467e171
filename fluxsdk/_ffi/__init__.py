"""cffi bindings (ABI mode) to the part of libflux-core fluxsdk uses.

Installing fluxsdk needs no compiler and no Flux headers: the declarations in
:mod:`fluxsdk._ffi._cdef` are parsed by cffi at run time and the library is
found then (:mod:`fluxsdk._ffi._find`: ``$FLUXSDK_LIBFLUX``, the dynamic
linker's search, then next to a ``flux`` on ``PATH``). Only the libflux-core
connector (:mod:`fluxsdk.core.connectors._flux`) imports this package's
loader, and only when a Flux URI is opened.

``typings/_libflux_core.pyi`` types the ``lib`` object for ``mypy --strict``.
"""

from __future__ import annotations

from fluxsdk._ffi._find import ENV_VAR, SONAME, candidates
from fluxsdk._ffi._libflux import Libflux, LibfluxUnavailableError, load_libflux

__all__ = [
    "ENV_VAR",
    "SONAME",
    "Libflux",
    "LibfluxUnavailableError",
    "candidates",
    "load_libflux",
]
