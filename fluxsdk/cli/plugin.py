"""Command-line submission plugins: the import path of ``flux.cli.plugin``.

Plugins subclass :class:`CLIPlugin`; see :mod:`fluxsdk.job._cliplugin` for how
they are found and run.
"""

from __future__ import annotations

from fluxsdk.job._cliplugin import CLIPlugin, CLIPluginOption, CLIPluginRegistry, PluginArgsProxy

__all__ = ["CLIPlugin", "CLIPluginOption", "CLIPluginRegistry", "PluginArgsProxy"]
