"""The pluggy markers and names that tie fluxsdk's plugins together."""

from __future__ import annotations

from typing import Final

import pluggy

__all__ = ["ENTRY_POINT_GROUP", "PROJECT", "hookimpl", "hookspec"]

PROJECT: Final = "fluxsdk"
"""pluggy's project name: markers set ``fluxsdk_impl`` / ``fluxsdk_spec`` on functions."""

ENTRY_POINT_GROUP: Final = "fluxsdk"
"""The entry-point group installed plugins declare themselves in."""

hookspec: Final = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification (used by :mod:`fluxsdk.hooks.hookspecs`)."""

hookimpl: Final = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementation: ``@fluxsdk.hookimpl`` or
``@fluxsdk.hookimpl(tryfirst=True)`` / ``(trylast=True)`` to run earlier or later."""
