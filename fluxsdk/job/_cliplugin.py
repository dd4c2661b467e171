"""Command-line submission plugins, as ``flux.cli.plugin`` (public at :mod:`fluxsdk.cli.plugin`).

A plugin is a :class:`CLIPlugin` subclass in a ``.py`` file found on the
plugin search path. It may add ``--PREFIX-NAME`` options (:meth:`CLIPlugin.add_option`),
see the parsed options before the jobspec is built (:meth:`~CLIPlugin.preinit`),
change the jobspec (:meth:`~CLIPlugin.modify_jobspec`) and check it
(:meth:`~CLIPlugin.validate`). :class:`CLIPluginRegistry` loads the plugins
for one command (``"submit"``, ``"run"``, ``"batch"``, ``"alloc"``);
:meth:`fluxsdk.job.JobspecV1.apply_options` runs them.

The search path is ``$FLUX_CLI_PLUGINPATH`` (colon-separated), or only
``$FLUX_CLI_PLUGINPATH_OVERRIDE`` when that is set. Unlike flux, fluxsdk has no
system plugin directory and no built-in plugins (flux's ``shape`` plugin
belongs to flux's own command line).

This lives in the job layer because :meth:`~fluxsdk.job.JobspecV1.apply_options`
runs plugins; :mod:`fluxsdk.cli.plugin` is the import path plugins use.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import inspect
import os
import sys
import types
from typing import TYPE_CHECKING, Any

from fluxsdk.errors import InvalidInputError

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["CLIPlugin", "CLIPluginOption", "CLIPluginRegistry", "PluginArgsProxy"]


class PluginArgsProxy:
    """The options namespace as one plugin sees it.

    A plugin option's value is stored under its prefixed name
    (``--site-mode`` -> ``site_mode``); the plugin may read and write it under
    the name it registered (``args.mode``). Other names pass through.
    """

    __slots__ = ("_alias", "_ns")

    def __init__(self, args: Any, alias: dict[str, str]) -> None:
        object.__setattr__(self, "_ns", args)
        object.__setattr__(self, "_alias", alias)

    def __getattr__(self, name: str) -> Any:
        alias: dict[str, str] = object.__getattribute__(self, "_alias")
        return getattr(object.__getattribute__(self, "_ns"), alias.get(name, name))

    def __setattr__(self, name: str, value: Any) -> None:
        alias: dict[str, str] = object.__getattribute__(self, "_alias")
        setattr(object.__getattribute__(self, "_ns"), alias.get(name, name), value)


class CLIPluginOption:
    """One long option a plugin adds; ``kwargs`` go to ``ArgumentParser.add_argument``.

    With a prefix, ``--name`` becomes ``--PREFIX-name`` and its ``dest`` the
    prefixed name with ``_`` for ``-`` (unless ``dest=`` is given).

    Raises:
        InvalidInputError: ``name`` is not a long option (``--...``).
    """

    def __init__(self, name: str, prefix: str | None, **kwargs: Any) -> None:
        if not name.startswith("--"):
            raise InvalidInputError(f"plugins must register only long options, not {name!r}")
        self.name = name.replace("--", f"--{prefix}-", 1) if prefix else name
        self._unprefixed_dest: str | None = None
        if "dest" not in kwargs:
            self._unprefixed_dest = name[2:].replace("-", "_")
            kwargs["dest"] = self.name[2:].replace("-", "_")
        self.kwargs: dict[str, Any] = kwargs

    @property
    def dest(self) -> str:
        """The attribute name the option's value is stored under."""
        return str(self.kwargs["dest"])


class CLIPlugin:
    """Base class of a submission plugin; override the callbacks you need.

    Attributes:
        prog: the command the plugin is loaded for (``"submit"``, ...).
        prefix: prepended to the plugin's option names (default ``ex``).
        options: the options added with :meth:`add_option`.
        path: the file the plugin was loaded from.
    """

    def __init__(self, prog: str, prefix: str | None = "ex", version: str | None = None) -> None:
        self.prog = prog[len("flux ") :] if prog.startswith("flux ") else prog
        self.path: str | None = None
        self.prefix = prefix
        self.version = version
        self.options: list[CLIPluginOption] = []

    def help(self, option: CLIPluginOption) -> None:
        """Print the plugin's docstring as help for ``option``."""
        doc = inspect.getdoc(self)
        if doc is None or doc == inspect.getdoc(CLIPlugin):
            print(f"No extra documentation for option `{option.name}` found.", file=sys.stderr)
            return
        print(f"\nDocumentation for plugin providing option `{option.name}`:\n\n{doc}")

    def add_option(self, name: str, **kwargs: Any) -> None:
        """Add a long option (``--name``, prefixed with :attr:`prefix`)."""
        self.options.append(CLIPluginOption(name, prefix=self.prefix, **kwargs))

    def preinit(self, args: Any) -> None:
        """Called with the parsed options before the jobspec is built."""

    def modify_jobspec(self, args: Any, jobspec: Jobspec) -> None:
        """Called with the parsed options and the jobspec, which it may change."""

    def validate(self, jobspec: Jobspec) -> None:
        """Check the final jobspec; raise ValueError to reject it."""


def _import_path(path: str) -> types.ModuleType:
    """Import the Python file at ``path`` as a module of its own."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    name = f"fluxsdk_cli_plugin_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInputError(f"cannot load CLI plugin {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class CLIPluginRegistry:
    """The plugins (and their options) for one command, loaded from the search path.

    Plugins whose option names clash with an earlier plugin's are dropped.
    """

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.plugins: list[CLIPlugin] = []
        self.options: list[CLIPluginOption] = []
        self.plugindirs = self._get_searchpath()
        self._load_plugins(prog)

    @staticmethod
    def _get_searchpath() -> list[str]:
        raw = os.environ.get("FLUX_CLI_PLUGINPATH_OVERRIDE")
        if raw is None:
            raw = os.environ.get("FLUX_CLI_PLUGINPATH", "")
        return [entry for entry in raw.split(":") if entry.strip()]

    def _add_plugins_from_module(self, module: types.ModuleType, prog: str) -> None:
        for attr in dir(module):
            entry = getattr(module, attr)
            if (
                not attr.startswith("_")
                and isinstance(entry, type)
                and issubclass(entry, CLIPlugin)
                and entry is not CLIPlugin
            ):
                plugin = entry(prog)
                plugin.path = module.__file__
                self.plugins.append(plugin)

    def _load_plugins(self, prog: str) -> CLIPluginRegistry:
        for plugindir in self.plugindirs:
            for path in sorted(glob.glob(os.path.join(plugindir, "*.py"))):
                self._add_plugins_from_module(_import_path(path), prog)
        dests: dict[str, CLIPluginOption] = {}
        for plugin in list(self.plugins):
            if any(opt.dest in dests for opt in plugin.options):
                self.plugins.remove(plugin)  # a clash: the earlier plugin wins
                continue
            dests.update((opt.dest, opt) for opt in plugin.options)
        self.options = list(dests.values())
        return self

    def print_help(self, name: str) -> None:
        """Print the help of the plugin providing option ``name`` and exit.

        Raises:
            InvalidInputError: no plugin provides ``name``.
        """
        for plugin in self.plugins:
            for option in plugin.options:
                if name in (option.name, option.name.lstrip("-")):
                    plugin.help(option)
                    sys.exit(0)
        raise InvalidInputError(f"--help: no such option {name}")

    def print_plugins(self) -> None:
        """Print the loaded plugins and their options."""
        print("Options provided by plugins:")
        print(f"  Search path: {':'.join(self.plugindirs)}\n")
        for plugin in self.plugins:
            print(f"{type(plugin).__name__} loaded from {plugin.path}")
            for option in plugin.options:
                print(f"  {option.name:<20}  {option.kwargs.get('help', '')}")
            print()

    @staticmethod
    def _alias(plugin: CLIPlugin) -> dict[str, str]:
        return {
            opt._unprefixed_dest: opt.dest
            for opt in plugin.options
            if opt._unprefixed_dest is not None and opt._unprefixed_dest != opt.dest
        }

    def preinit(self, args: Any) -> None:
        """Run every plugin's :meth:`CLIPlugin.preinit`."""
        for plugin in self.plugins:
            plugin.preinit(PluginArgsProxy(args, self._alias(plugin)))

    def modify_jobspec(self, args: Any, jobspec: Jobspec) -> None:
        """Run every plugin's :meth:`CLIPlugin.modify_jobspec`."""
        for plugin in self.plugins:
            plugin.modify_jobspec(PluginArgsProxy(args, self._alias(plugin)), jobspec)

    def validate(self, jobspec: Jobspec) -> None:
        """Run every plugin's :meth:`CLIPlugin.validate`."""
        for plugin in self.plugins:
            plugin.validate(jobspec)
