"""Loading libflux-core through cffi, in ABI mode, at run time.

:func:`load_libflux` tries the candidates of :mod:`fluxsdk._ffi._find` in
order and returns the first library that loads and has every function
fluxsdk declares, as a :class:`Libflux` (the ``ffi`` object, the ``lib``
object and where it came from). The outcome, success or failure, is cached
per ``$FLUXSDK_LIBFLUX`` and ``$PATH``, so a program pays for the search once.

When no library can be used, :class:`LibfluxUnavailableError` says what was
tried and how to point fluxsdk at one. ``cffi`` itself is imported here, and
only when a libflux-core connector is first opened: the rest of fluxsdk never
needs it.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import TYPE_CHECKING, Any

import attrs

from fluxsdk._ffi._cdef import CDEF, FUNCTIONS
from fluxsdk._ffi._find import ENV_VAR, SONAME, candidates
from fluxsdk.errors import FluxSDKError

if TYPE_CHECKING:
    from _libflux_core import LibfluxCore
    from cffi import FFI

__all__ = ["Libflux", "LibfluxUnavailableError", "load_libflux"]


class LibfluxUnavailableError(FluxSDKError, OSError):
    """libflux-core (or cffi) cannot be loaded; the message lists what was tried."""


@attrs.frozen
class Libflux:
    """A loaded libflux-core: ``ffi`` and ``lib`` for calls, ``path`` and ``version`` to report."""

    ffi: FFI
    lib: LibfluxCore
    path: str
    version: str


_lock = threading.Lock()
_ffi: FFI | None = None
_loaded: dict[tuple[str, str], Libflux | LibfluxUnavailableError] = {}


def load_libflux() -> Libflux:
    """The libflux-core to use (loaded on first call).

    Raises:
        LibfluxUnavailableError: cffi is missing, or no candidate loads
            (``errno`` ENOENT), or the library lacks a function (ENOSYS).
    """
    key = (os.environ.get(ENV_VAR, ""), os.environ.get("PATH", ""))
    with _lock:
        outcome = _loaded.get(key)
        if outcome is None:
            outcome = _loaded[key] = _load()
    if isinstance(outcome, LibfluxUnavailableError):
        # A fresh copy each time: a raised exception keeps its traceback.
        raise LibfluxUnavailableError(outcome.errno, outcome.strerror)
    return outcome


def _load() -> Libflux | LibfluxUnavailableError:
    try:
        ffi = _get_ffi()
    except ImportError as exc:
        return LibfluxUnavailableError(
            errno.ENOSYS, f"the cffi package is not installed ({exc}); `pip install cffi`"
        )
    tried: list[str] = []
    for name in candidates():
        try:
            lib: Any = ffi.dlopen(name)
        except OSError as exc:
            tried.append(f"{name}: {_first_line(exc)}")
            continue
        missing = [fn for fn in FUNCTIONS if not _has(lib, fn)]
        version = ffi.string(lib.flux_core_version_string()).decode() if not missing else "?"
        if missing:
            return LibfluxUnavailableError(
                errno.ENOSYS,
                f"{name} (flux-core {version}) lacks {', '.join(missing)}; "
                "fluxsdk needs a newer flux-core",
            )
        return Libflux(ffi, lib, name, version)
    explicit = os.environ.get(ENV_VAR, "").strip()
    hint = (
        f"fix {ENV_VAR} or unset it"
        if explicit
        else f"install flux-core, put its `flux` command on PATH, or set {ENV_VAR} "
        f"to the path of {SONAME}"
    )
    return LibfluxUnavailableError(
        errno.ENOENT, f"libflux-core was not found (tried {'; '.join(tried)}); {hint}"
    )


def _get_ffi() -> FFI:
    global _ffi
    if _ffi is None:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        _ffi = ffi
    return _ffi


def _has(lib: object, name: str) -> bool:
    try:
        getattr(lib, name)
    except AttributeError:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
