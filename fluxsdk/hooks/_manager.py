"""fluxsdk's plugin manager: pluggy's, with checked registration and contained loading.

A plugin is checked when it is registered, before it can be called: every
``fluxsdk_*`` function must be marked with ``@fluxsdk.hookimpl`` and name a
hook that exists (a typo is reported with the nearest hook name, as
``check_pending`` would), take only that hook's arguments, and not be a
wrapper (fluxsdk calls implementations one at a time, see ``_call``). A plugin
that fails the check is not registered.

Installed plugins are found through the ``fluxsdk`` entry-point group, in
alphabetical order of their names; one that cannot be imported or fails the
check is reported by name and skipped, and the others load as usual.
"""

from __future__ import annotations

import difflib
import errno
import importlib
import inspect
import logging
import os
import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import attrs
import pluggy

from fluxsdk.hooks import hookspecs
from fluxsdk.hooks._call import Calls
from fluxsdk.hooks._errors import PluginError
from fluxsdk.hooks._fluxstyle import FLUX_NAMESPACES
from fluxsdk.hooks._markers import ENTRY_POINT_GROUP, PROJECT

if TYPE_CHECKING:
    # Imported when plugins are first looked for, not with fluxsdk (it takes ~15 ms).
    import importlib.metadata

__all__ = [
    "ADVISORY_ATTRIBUTE",
    "DEFAULT_DEADLINE",
    "SOURCE_BUILTIN",
    "SOURCE_ENTRY_POINT",
    "PluginInfo",
    "PluginManager",
]

log = logging.getLogger("fluxsdk.plugins")

SOURCE_BUILTIN: Final = "built-in"
SOURCE_ENTRY_POINT: Final = "entry point"
SOURCE_REGISTER: Final = "register()"
SOURCE_MODULE: Final = "module"

_PREFIX: Final = PROJECT + "_"

ADVISORY_ATTRIBUTE: Final = "FLUXSDK_ADVISORY"
"""A plugin (module, class or object) with this attribute set to ``True`` fails open."""

DEFAULT_DEADLINE: Final = 10.0
"""Seconds a submission hook call may take by default before it counts as failed."""
_HOOK_NAMES: Final = tuple(name for name in hookspecs.__all__)


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One plugin as the manager knows it: what it is, where it came from, what it does."""

    name: str
    """The name it is registered under (an entry point's name, for installed plugins)."""
    source: str
    """How it came: ``built-in``, ``entry point``, ``register()`` or ``module``."""
    origin: str
    """Where it came from: distribution and version, or module and file."""
    hooks: tuple[str, ...] = ()
    """The hooks it implements (none if it failed to load)."""
    error: str | None = None
    """Why it is not loaded, or ``None`` when it is."""
    advisory: bool = False
    """True if it fails open: when it fails in a hook that changes or judges
    submissions, the failure is logged and the submission goes ahead without it."""

    @property
    def loaded(self) -> bool:
        """True if the plugin is registered and its hooks are called."""
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return {**attrs.asdict(self), "hooks": list(self.hooks)}


def _origin_of(plugin: object) -> str:
    module = plugin if isinstance(plugin, types.ModuleType) else inspect.getmodule(plugin)
    if module is None:
        return repr(plugin)
    where = getattr(module, "__file__", None)
    return f"{module.__name__} ({where})" if where else module.__name__


def _distribution(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str] | None:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None
    return str(dist.metadata["Name"]), str(dist.version)


def _normalized(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _names_of(entry_point: importlib.metadata.EntryPoint, dist: tuple[str, str] | None) -> set[str]:
    """The names a plugin may be selected by: its entry point's and its distribution's."""
    names = {_normalized(entry_point.name)}
    if dist is not None:
        names.add(_normalized(dist[0]))
    return names


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``fluxsdk`` hooks, with checked registration.

    ``register()`` raises :class:`PluginError` for a plugin that breaks the
    rules; :meth:`impls` gives a hook's implementations in call order (cached
    until the next registration change); :attr:`calls` calls them one by one.
    """

    def __init__(
        self,
        *,
        slow_seconds: float = 0.1,
        deadline: float = DEFAULT_DEADLINE,
        advisory: Iterable[str] = (),
    ) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.calls = Calls(slow_seconds)
        self.deadline = deadline
        """Seconds a call of a hook that changes or judges submissions may take
        (0: no deadline, calls run in the caller's thread)."""
        self.advisory_names = frozenset(_normalized(n) for n in advisory)
        """Plugins made advisory by configuration (entry-point, distribution or
        registered names)."""
        self._infos: dict[str, PluginInfo] = {}
        self._impls: dict[str, tuple[pluggy.HookImpl, ...]] = {}
        self.generation = 0
        """Incremented on every registration change, so callers can refresh caches."""
        self.adapter: Callable[[object, str], object | None] | None = None
        """Turns a module that is not a fluxsdk plugin into one (or None): an
        instance sets it to load Flux's validator and frobnicator plugins."""

    # -- registration ------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register ``plugin`` (a module, class or object with hook functions).

        Returns the name it is registered under.

        Raises:
            PluginError: EINVAL if it breaks the hook rules (unmarked or
                misspelt hook, unknown argument, wrapper), EEXIST if it or
                its name is registered already, EPERM if that name is blocked.
        """
        return self.add(plugin, name, source=SOURCE_REGISTER)

    def add(
        self,
        plugin: Any,
        name: str | None = None,
        *,
        source: str,
        origin: str = "",
        aliases: Iterable[str] = (),
    ) -> str:
        """Register ``plugin`` and record where it came from (see :meth:`register`).

        ``aliases`` are other names it is known by (its distribution's), which
        the advisory configuration may use.
        """
        label = name or self.get_canonical_name(plugin)
        self._check_markers(plugin, label)
        if self.is_blocked(label):
            raise PluginError(errno.EPERM, f"plugin {label!r} is disabled")
        try:
            registered = super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(errno.EINVAL, f"plugin {label!r} is not valid: {exc}") from None
        except ValueError as exc:
            raise PluginError(errno.EEXIST, f"plugin {label!r} is registered already") from exc
        if registered is None:
            raise PluginError(errno.EPERM, f"plugin {label!r} is disabled")
        try:
            hooks = self._check_impls(plugin, registered)
        except PluginError:
            super().unregister(plugin)
            self._changed()  # a call in another thread may have cached it meanwhile
            raise
        names = {_normalized(registered), *(_normalized(a) for a in aliases)}
        advisory = getattr(plugin, ADVISORY_ATTRIBUTE, False) is True or bool(
            names & self.advisory_names
        )
        info = PluginInfo(
            name=registered,
            source=source,
            origin=origin or _origin_of(plugin),
            hooks=hooks,
            advisory=advisory,
        )
        self._infos[registered] = info
        self._changed()
        return registered

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        """Unregister a plugin (by object or by name); returns it, or None if unknown."""
        label = name if name is not None else self.get_name(plugin)
        if label is None or self.get_plugin(label) is None:
            return None
        removed = super().unregister(plugin, label)
        self._infos.pop(label, None)
        self._changed()
        return removed

    def failed(self, name: str, *, source: str, origin: str, error: str) -> PluginInfo:
        """Record a plugin that could not be loaded, and log why."""
        info = PluginInfo(name=name, source=source, origin=origin, error=error)
        self._infos[name] = info
        log.warning("plugin %r (%s) not loaded: %s", name, origin, error)
        return info

    def _check_markers(self, plugin: Any, label: str) -> None:
        # An unmarked fluxsdk_* function would be silently ignored by pluggy.
        for attr in dir(plugin):
            if not attr.startswith(_PREFIX):
                continue
            value = inspect.getattr_static(plugin, attr, None)
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if callable(value) and self.parse_hookimpl_opts(plugin, attr) is None:
                raise PluginError(
                    errno.EINVAL,
                    f"plugin {label!r}: {attr} is not marked with @fluxsdk.hookimpl "
                    "(it would never be called)",
                )

    def _check_impls(self, plugin: Any, name: str) -> tuple[str, ...]:
        hooks: list[str] = []
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if impl.wrapper or impl.hookwrapper:
                    raise PluginError(
                        errno.EINVAL,
                        f"plugin {name!r}: {caller.name} is a wrapper; fluxsdk hooks take "
                        "plain implementations (use tryfirst/trylast to order them)",
                    )
                if not caller.has_spec() and not impl.optionalhook:
                    near = difflib.get_close_matches(caller.name, _HOOK_NAMES, n=1)
                    hint = f" (did you mean {near[0]}?)" if near else ""
                    raise PluginError(
                        errno.EINVAL, f"plugin {name!r}: {caller.name} is not a fluxsdk hook{hint}"
                    )
                hooks.append(caller.name)
        return tuple(sorted(set(hooks)))

    def _changed(self) -> None:
        self._impls = {}
        self.generation += 1

    # -- loading ---------------------------------------------------------------------

    def add_module(
        self, module_name: str, *, source: str = SOURCE_BUILTIN, name: str | None = None
    ) -> str:
        """Import ``module_name`` and register it under ``name`` (default: that name)."""
        module = importlib.import_module(module_name)
        return self._add_adapted(module, name or module_name, source, module_name)

    def add_file(self, path: str, *, source: str) -> str:
        """Import the Python file ``path`` and register it under its name (as Flux
        loads a plugin given by path)."""
        import importlib.util

        stem = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(f"fluxsdk_plugin_file.{stem}", path)
        if spec is None or spec.loader is None:
            raise PluginError(errno.ENOENT, f"plugin file {path!r} cannot be loaded")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return self._add_adapted(module, stem, source, os.path.abspath(path))

    def _add_adapted(self, module: types.ModuleType, name: str, source: str, origin: str) -> str:
        plugin: object = module
        # A module with hooks of its own is a fluxsdk plugin, whatever classes it has.
        if self.adapter is not None and not any(a.startswith(_PREFIX) for a in dir(module)):
            adapted = self.adapter(module, name)
            if adapted is not None:
                plugin, origin = adapted, f"{origin} (Flux plugin)"
        return self.add(plugin, name, source=source, origin=origin if plugin is not module else "")

    def load_entry_points(
        self, allow: Iterable[str] | None = None, block: Iterable[str] = ()
    ) -> None:
        """Load the installed plugins: all of them, or those named in ``allow``,
        except those named in ``block`` (entry-point or distribution names).

        A plugin that cannot be imported or registered is reported and skipped.
        """
        allowed = None if allow is None else {_normalized(n) for n in allow}
        blocked = {_normalized(n) for n in block}
        seen: set[str] = set()
        for entry_point in sorted(_entry_points(), key=lambda ep: ep.name):
            dist = _distribution(entry_point)
            names = _names_of(entry_point, dist)
            seen |= names
            if (allowed is not None and not names & allowed) or names & blocked:
                continue
            self._load_entry_point(entry_point, dist, SOURCE_ENTRY_POINT)
        for missing in sorted((allowed or set()) - seen):
            log.warning("plugin %r is named in FLUXSDK_PLUGINS but is not installed", missing)

    def load_named(self, name: str, *, source: str) -> PluginInfo:
        """Load the plugin ``name``: an entry point of the ``fluxsdk`` group (by its
        name or its distribution's), or else an importable module.

        A plugin that is found but fails to import or register is reported and
        recorded as failed (see :meth:`infos`), not raised.

        Raises:
            PluginError: ENOENT if no plugin by that name can be found.
        """
        wanted = _normalized(name)
        for entry_point in sorted(_entry_points(), key=lambda ep: ep.name):
            dist = _distribution(entry_point)
            if wanted in _names_of(entry_point, dist):
                return self._load_entry_point(entry_point, dist, source)
        if name.endswith(".py") or os.sep in name:
            if not os.path.isfile(name):
                raise PluginError(errno.ENOENT, f"no plugin file {name!r}")
            try:
                registered = self.add_file(name, source=source)
            except Exception as exc:
                return self.failed(name, source=source, origin=name, error=_why(exc))
            return self._infos[registered]
        candidates = [name]
        if self.adapter is not None:  # Flux's own plugin names: feasibility, defaults...
            candidates += [f"{space}.{name}" for space in FLUX_NAMESPACES]
        for module_name in candidates:
            if _module_exists(module_name):
                try:
                    self.add_module(module_name, source=source, name=name)
                except Exception as exc:
                    return self.failed(name, source=source, origin=module_name, error=_why(exc))
                return self._infos[name]
        installed = ", ".join(sorted({ep.name for ep in _entry_points()})) or "none"
        raise PluginError(
            errno.ENOENT,
            f"no plugin named {name!r}: it is neither an entry point of the "
            f"{ENTRY_POINT_GROUP!r} group (installed: {installed}) nor an importable module"
            + (" nor a Flux ingest plugin" if self.adapter is not None else ""),
        )

    def _load_entry_point(
        self,
        entry_point: importlib.metadata.EntryPoint,
        dist: tuple[str, str] | None,
        source: str,
    ) -> PluginInfo:
        origin = f"{dist[0]} {dist[1]}" if dist else entry_point.value
        name = entry_point.name
        if self.get_plugin(name) is not None:
            log.warning("plugin %r (%s) is registered already; this one is skipped", name, origin)
            return self._infos[name]
        try:
            plugin = entry_point.load()
            if (
                self.adapter is not None
                and isinstance(plugin, types.ModuleType)
                and not any(a.startswith(_PREFIX) for a in dir(plugin))
            ):
                plugin = self.adapter(plugin, name) or plugin
            self.add(plugin, name, source=source, origin=origin, aliases=[dist[0]] if dist else [])
        except Exception as exc:  # any failure to import is the plugin's, not ours
            return self.failed(name, source=source, origin=origin, error=_why(exc))
        return self._infos[name]

    # -- what is loaded --------------------------------------------------------------

    def infos(self) -> list[PluginInfo]:
        """Every plugin registered or tried, in registration order."""
        return list(self._infos.values())

    def info(self, name: str) -> PluginInfo | None:
        """What is known of the plugin ``name``, or ``None``."""
        return self._infos.get(name)

    def is_advisory(self, name: str) -> bool:
        """True if the plugin ``name`` fails open (see :attr:`PluginInfo.advisory`)."""
        info = self._infos.get(name)
        return info is not None and info.advisory

    def impls(self, hook: str) -> tuple[pluggy.HookImpl, ...]:
        """``hook``'s implementations in pluggy's call order (tryfirst, then the
        most recently registered, ..., trylast)."""
        cached = self._impls.get(hook)
        if cached is None:
            caller: pluggy.HookCaller = getattr(self.hook, hook)
            cached = self._impls[hook] = tuple(reversed(caller.get_hookimpls()))
        return cached


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    import importlib.metadata

    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # finding a submodule imports its parent, which may fail any way
        return False


def _why(exc: BaseException) -> str:
    if isinstance(exc, PluginError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
