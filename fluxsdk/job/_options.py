"""What :meth:`fluxsdk.job.JobspecV1.apply_options` does: ``flux submit`` options onto a jobspec.

Kept apart from the jobspec classes: this module knows the option names,
their precedence (explicit keywords over an options namespace), and the
command-line plugins; :mod:`fluxsdk.job._utils` turns each value into jobspec
content.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from fluxsdk.constraint.parser import ConstraintSyntaxError
from fluxsdk.errors import InvalidInputError
from fluxsdk.job._cliplugin import CLIPluginRegistry
from fluxsdk.job._utils import (
    MiniConstraintParser,
    decode_duration,
    dependency_array_create,
    get_filtered_environment,
    get_filtered_rlimits,
    jobspec_add_file,
    parse_jobspec_keyval,
    parse_signal_option,
    uri_entry,
)

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["OPTION_NAMES", "apply_options"]

#: The options :meth:`~fluxsdk.job.JobspecV1.apply_options` takes as keywords.
OPTION_NAMES = (
    "env",
    "rlimit",
    "signal",
    "taskmap",
    "dependency",
    "requires",
    "shell_options",
    "time_limit",
    "attributes",
    "add_file",
)

# Options that are lists on the command line; a bare str is one entry.
_LIST_OPTIONS = ("requires", "dependency", "env", "rlimit", "add_file")


def _attribute_key(key: str) -> str:
    """``foo`` -> ``system.foo``; ``.user.x`` -> ``attributes.user.x``; others unchanged."""
    if key.startswith("."):
        return "attributes" + key
    if not key.startswith(("attributes.", "user.", "system.")):
        return "system." + key
    return key


def apply_options(
    jobspec: Jobspec,
    args: Any,
    *,
    prog: str | None,
    preinit: bool,
    options: Mapping[str, Any],
    plugin_options: Mapping[str, Any],
) -> None:
    """Apply ``options`` (and ``args``, a namespace they override) to ``jobspec``.

    ``plugin_options`` are keyword values for options that command-line
    plugins of ``prog`` add; a name no plugin adds is a TypeError.
    """
    registry = CLIPluginRegistry(prog) if prog else None
    if plugin_options:
        known = {opt.dest for opt in registry.options} if registry else set()
        unknown = sorted(set(plugin_options) - known)
        if unknown:
            raise TypeError(
                "apply_options() got unexpected keyword argument(s): "
                + ", ".join(repr(name) for name in unknown)
            )
    given = {**options, **plugin_options}
    merged = SimpleNamespace(
        **{
            **dict.fromkeys(given),
            **(vars(args) if args is not None else {}),
            **{k: v for k, v in given.items() if v is not None},
        }
    )
    for name in _LIST_OPTIONS:
        if isinstance(getattr(merged, name, None), str):
            setattr(merged, name, [getattr(merged, name)])

    # The environment and rlimits are propagated only when asked for: as a
    # keyword, or by passing a command-line namespace.
    if options.get("env") is not None or args is not None:
        env, env_expand = get_filtered_environment(merged.env)
        jobspec.environment = env
        if env_expand:
            jobspec.setattr_shell_option("env-expand", env_expand)
    if options.get("rlimit") is not None or args is not None:
        rlimits = get_filtered_rlimits(merged.rlimit)
        if rlimits:
            jobspec.setattr_shell_option("rlimit", rlimits)
    if merged.signal:
        jobspec.setattr_shell_option("signal", parse_signal_option(merged.signal))
    if merged.taskmap is not None:
        jobspec.setattr_shell_option("taskmap", uri_entry(merged.taskmap, "taskmap"))
    if merged.dependency is not None:
        jobspec.setattr("system.dependencies", dependency_array_create(merged.dependency))
    if merged.requires is not None:
        query = " ".join(merged.requires)
        try:
            constraint = MiniConstraintParser().parse(query)
        except ConstraintSyntaxError as exc:
            raise InvalidInputError(f"--requires='{query}': {exc}") from None
        jobspec.setattr("system.constraints", constraint)
    for keyval in getattr(merged, "setopt", None) or ():
        jobspec.setattr_shell_option(*parse_jobspec_keyval("--setopt", keyval))
    for key, val in (merged.shell_options or {}).items():
        jobspec.setattr_shell_option(key, val)
    if merged.time_limit is not None:
        jobspec.duration = decode_duration(merged.time_limit)
    for keyval in getattr(merged, "setattr", None) or ():
        key, val = parse_jobspec_keyval("--setattr", keyval)
        jobspec.setattr(_attribute_key(key), val)
    for key, val in (merged.attributes or {}).items():
        jobspec.setattr(_attribute_key(key), val)
    for arg in merged.add_file or ():
        jobspec_add_file(jobspec, arg)
    if registry is not None:
        if preinit:
            # Options a plugin adds start at their defaults, as after argparse.
            for opt in registry.options:
                if opt.dest not in vars(merged):
                    setattr(merged, opt.dest, opt.kwargs.get("default"))
            registry.preinit(merged)
        registry.modify_jobspec(merged, jobspec)
