"""The connectors plugins provide, by URI scheme (the ``fluxsdk_connectors`` hook).

The table is built on first use and rebuilt after plugins are registered or
unregistered. Each factory is wrapped so that a plugin's bug surfaces as a
:class:`PluginError` naming the plugin, never as a stray exception from
``Flux()``.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, cast

from fluxsdk.core.connectors._base import Connector
from fluxsdk.hooks._call import FAILED
from fluxsdk.hooks._errors import PluginError
from fluxsdk.hooks._global import get_plugin_manager

if TYPE_CHECKING:
    from fluxsdk.core._uri import FluxURI
    from fluxsdk.core.connectors import ConnectorFactory

__all__ = ["PluginConnector", "plugin_connectors", "valid_scheme"]

log = logging.getLogger("fluxsdk.plugins")

CONNECTORS: Final = "fluxsdk_connectors"

_lock = threading.RLock()
# The table, and the (manager id, generation) it reflects; replaced whole, never edited.
_built: tuple[tuple[int, int], Mapping[str, PluginConnector]] | None = None


def valid_scheme(scheme: object) -> bool:
    """True for a URI scheme fluxsdk accepts: letters, digits, ``+``, ``-``, ``.``."""
    if not isinstance(scheme, str) or not scheme:
        return False
    return scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


class PluginConnector:
    """A plugin's connector factory, attributed: its failures name the plugin."""

    def __init__(self, plugin: str, scheme: str, factory: ConnectorFactory) -> None:
        self.plugin = plugin
        self.scheme = scheme
        self.factory = factory

    def __repr__(self) -> str:
        return f"<connector for {self.scheme}:// from plugin {self.plugin!r}>"

    def __call__(self, uri: FluxURI) -> Connector:
        """Open ``uri`` with the plugin's factory.

        Raises:
            OSError: the factory's own error (it could not connect).
            PluginError: the factory raised anything else, or returned no Connector.
        """
        try:
            connector = self.factory(uri)
        except OSError:
            raise
        except Exception as exc:
            raise PluginError(
                errno.EIO,
                f"plugin {self.plugin!r}: its connector for {self.scheme}:// failed "
                f"({type(exc).__name__}: {exc})",
            ) from exc
        if not isinstance(connector, Connector):
            raise PluginError(
                errno.EINVAL,
                f"plugin {self.plugin!r}: its connector factory for {self.scheme}:// "
                f"returned {type(connector).__name__}, not a Connector",
            )
        return connector


def plugin_connectors() -> Mapping[str, PluginConnector]:
    """Every scheme some plugin provides, with the factory that wins (first in call order)."""
    global _built
    manager = get_plugin_manager()
    key = (id(manager), manager.generation)
    built = _built
    if built is not None and built[0] == key:
        return built[1]
    with _lock:
        if _built is None or _built[0] != key:
            _built = (key, _build())
        return _built[1]


def _build() -> dict[str, PluginConnector]:
    manager = get_plugin_manager()
    table: dict[str, PluginConnector] = {}
    for impl in manager.impls(CONNECTORS):
        result = manager.calls.call(impl, CONNECTORS, {})
        if result is None or result is FAILED:
            continue
        if not isinstance(result, Mapping):
            manager.calls.garbage(
                impl.plugin_name,
                CONNECTORS,
                f"returned {type(result).__name__}; expected {{scheme: factory}}",
            )
            continue
        for scheme, factory in result.items():
            _add(table, impl.plugin_name, scheme, factory)
    return table


def _add(table: dict[str, PluginConnector], plugin: str, scheme: object, factory: object) -> None:
    calls = get_plugin_manager().calls
    if not valid_scheme(scheme) or not callable(factory):
        calls.garbage(plugin, CONNECTORS, f"bad entry {scheme!r}: {factory!r} (skipped)")
        return
    key = str(scheme).lower()
    if key in table:
        log.warning(
            "plugins %r and %r both provide %s://; %r's is used",
            table[key].plugin,
            plugin,
            key,
            table[key].plugin,
        )
        return
    table[key] = PluginConnector(plugin, key, cast("ConnectorFactory", factory))
