"""Plugins: pluggy hooks that change, judge and observe what fluxsdk does.

A plugin is a module (or object) with functions marked ``@fluxsdk.hookimpl``
and named after hooks in :mod:`fluxsdk.hooks.hookspecs`, which is the
reference. Client-side hooks transform and validate jobspecs before
submission, observe job events and provide connectors; instance-side hooks
transform and validate every jobspec submitted to an embedded instance,
observe every job event inside it and compute priorities. Flux's own
validator and frobnicator plugins load into the instance's ingest hooks.

Installed plugins declare an entry point in the ``fluxsdk`` group and load on
first use in every process (``FLUXSDK_PLUGINS`` / ``FLUXSDK_DISABLE_PLUGINS``
choose which); an instance loads the plugins its configuration or command
line names. :func:`register` adds one at run time. Hooks that change or judge
submissions fail closed (a failing plugin stops the submission, unless it is
advisory); the others fail open. A plugin that raises, hangs or returns
garbage is reported by name and never takes fluxsdk down. See
``docs/plugins.md``.

Importing this package (``import fluxsdk`` does) installs the plugins'
connectors into :mod:`fluxsdk.core.connectors`, which never imports upward.
"""

from __future__ import annotations

from fluxsdk.core.connectors import set_connector_lookup
from fluxsdk.hooks import hookspecs
from fluxsdk.hooks._connectors import plugin_connectors
from fluxsdk.hooks._errors import JobspecRejectedError, PluginError, PluginFailedError
from fluxsdk.hooks._global import (
    disabled,
    get_plugin_manager,
    plugins,
    register,
    registered,
    unregister,
)
from fluxsdk.hooks._manager import PluginInfo, PluginManager
from fluxsdk.hooks._markers import ENTRY_POINT_GROUP, hookimpl, hookspec
from fluxsdk.hooks._values import InstanceInfo, InstanceJob, Rejection, Submission

__all__ = [
    "ENTRY_POINT_GROUP",
    "InstanceInfo",
    "InstanceJob",
    "JobspecRejectedError",
    "PluginError",
    "PluginFailedError",
    "PluginInfo",
    "PluginManager",
    "Rejection",
    "Submission",
    "disabled",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "hookspecs",
    "plugins",
    "register",
    "registered",
    "unregister",
]

# Core opens URIs with the connectors plugins provide (the built-in fluxsdk:// one included).
set_connector_lookup(plugin_connectors)
