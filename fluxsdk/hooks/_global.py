"""The process's own plugins: found once, on first use, then registered at will.

Nothing is scanned at import time: the first hook call (opening a handle,
submitting a job) loads the built-in plugins and the installed ones, once per
process. Environment variables choose which installed plugins load:

- ``FLUXSDK_PLUGINS``: a comma-separated allowlist of entry-point (or
  distribution) names; empty or ``none`` loads no installed plugin. Unset: all.
- ``FLUXSDK_DISABLE_PLUGINS``: a comma-separated blocklist, applied after it.
- ``FLUXSDK_PLUGIN_SLOW``: seconds after which a hook call is logged as slow
  (default 0.1).
- ``FLUXSDK_ADVISORY_PLUGINS``: a comma-separated list of plugins that fail
  open: when one fails in a transform or validator, the submission goes ahead
  without it (by default it fails closed: nothing is submitted).
- ``FLUXSDK_PLUGIN_TIMEOUT``: seconds a transform or validator call may take
  before it counts as failed (default 10; 0: no deadline).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from typing import Any, Final

from fluxsdk.errors import InvalidInputError
from fluxsdk.hooks._manager import DEFAULT_DEADLINE, SOURCE_BUILTIN, PluginInfo, PluginManager

__all__ = [
    "CLIENT_BUILTINS",
    "ENV_ADVISORY",
    "ENV_ALLOW",
    "ENV_BLOCK",
    "ENV_SLOW",
    "ENV_TIMEOUT",
    "disabled",
    "get_plugin_manager",
    "is_disabled",
    "plugins",
    "register",
    "registered",
    "unregister",
]

ENV_ALLOW: Final = "FLUXSDK_PLUGINS"
ENV_BLOCK: Final = "FLUXSDK_DISABLE_PLUGINS"
ENV_SLOW: Final = "FLUXSDK_PLUGIN_SLOW"
ENV_ADVISORY: Final = "FLUXSDK_ADVISORY_PLUGINS"
ENV_TIMEOUT: Final = "FLUXSDK_PLUGIN_TIMEOUT"

CLIENT_BUILTINS: Final = ("fluxsdk.hooks._builtin",)
"""Modules registered as built-in plugins in every process (the embedded connector)."""

DEFAULT_SLOW_SECONDS: Final = 0.1

_lock = threading.RLock()
_manager: PluginManager | None = None
# The manager being loaded, for calls made while loading (a plugin's import).
_loading: PluginManager | None = None
_disabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "fluxsdk_hooks_disabled", default=False
)


def _names(value: str) -> list[str]:
    return [name for name in (part.strip() for part in value.split(",")) if name]


def _slow_seconds() -> float:
    try:
        return float(os.environ.get(ENV_SLOW, DEFAULT_SLOW_SECONDS))
    except ValueError:
        return DEFAULT_SLOW_SECONDS


def _deadline() -> float:
    text = os.environ.get(ENV_TIMEOUT)
    if text is None:
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise InvalidInputError(
            f"{ENV_TIMEOUT}={text!r}: expected seconds (a number >= 0; 0 for no deadline)"
        )
    return value


def _load() -> PluginManager:
    global _loading
    manager = PluginManager(
        slow_seconds=_slow_seconds(),
        deadline=_deadline(),
        advisory=_names(os.environ.get(ENV_ADVISORY, "")),
    )
    _loading = manager
    try:
        for module in CLIENT_BUILTINS:
            manager.add_module(module, source=SOURCE_BUILTIN)
        allow_text = os.environ.get(ENV_ALLOW)
        allow: list[str] | None = None
        if allow_text is not None:
            allow = [] if allow_text.strip().lower() in ("", "none") else _names(allow_text)
        manager.load_entry_points(allow, _names(os.environ.get(ENV_BLOCK, "")))
        manager.check_pending()
    finally:
        _loading = None
    return manager


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, loading the plugins on the first call."""
    global _manager
    manager = _manager
    if manager is not None:
        return manager
    with _lock:
        if _manager is None:
            if _loading is not None:  # re-entered while loading, in this thread
                return _loading
            _manager = _load()
        return _manager


def register(plugin: Any, name: str | None = None) -> str:
    """Register ``plugin`` (a module, class or object with ``@fluxsdk.hookimpl``
    functions) in this process; returns its name.

    Raises:
        PluginError: the plugin breaks the hook rules (the message says how),
            or it or its name is registered already.
    """
    return get_plugin_manager().register(plugin, name)


def unregister(plugin: Any) -> Any | None:
    """Unregister a plugin, given as the object or its name; returns it (None if unknown)."""
    manager = get_plugin_manager()
    if isinstance(plugin, str):
        return manager.unregister(name=plugin)
    if manager.get_name(plugin) is None:
        return None
    return manager.unregister(plugin)


@contextlib.contextmanager
def registered(plugin: Any, name: str | None = None) -> Iterator[str]:
    """Register ``plugin`` for the duration of the block; yields its name."""
    registered_name = register(plugin, name)
    try:
        yield registered_name
    finally:
        unregister(registered_name)


def plugins() -> list[PluginInfo]:
    """Every plugin of this process, loaded or failed, in registration order."""
    return get_plugin_manager().infos()


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Skip the jobspec and job-event hooks within the block (this thread or task only).

    Submissions go out as given and no plugin sees events; connectors still
    come from plugins, since handles must open.
    """
    token = _disabled.set(True)
    try:
        yield
    finally:
        _disabled.reset(token)


def is_disabled() -> bool:
    """True inside :func:`disabled`."""
    return _disabled.get()
