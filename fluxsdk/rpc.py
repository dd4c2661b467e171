"""RPCs, as ``flux.rpc``: :class:`RPC` is the future of one request.

``RPC(handle, topic, payload=None, nodeid=FLUX_NODEID_ANY, flags=0)`` sends
the request (as ``handle.rpc(...)`` does); ``get()`` returns the decoded
response, ``get_str()`` its JSON text.
"""

from __future__ import annotations

from fluxsdk.core import RPC

__all__ = ["RPC"]
