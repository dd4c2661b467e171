"""fluxsdk's own connectors, provided through the ``fluxsdk_connectors`` hook.

Built-in connectors are registered exactly as a plugin's would be (this module
is a built-in plugin, loaded in every process), so one code path opens every
scheme and an installed plugin can replace a built-in connector. It lives with
the hooks, not in :mod:`fluxsdk.core.connectors`, because core never imports
the layers above it.
"""

from __future__ import annotations

from fluxsdk.core._uri import EMBEDDED_SCHEME
from fluxsdk.core.connectors._base import ConnectorFactory
from fluxsdk.core.connectors._embedded import open_embedded
from fluxsdk.hooks._markers import hookimpl

__all__ = ["fluxsdk_connectors"]


@hookimpl(trylast=True)
def fluxsdk_connectors() -> dict[str, ConnectorFactory]:
    """``fluxsdk://``: the embedded instance, over its Unix socket."""
    return {EMBEDDED_SCHEME: open_embedded}
