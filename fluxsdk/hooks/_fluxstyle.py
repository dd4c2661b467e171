"""Flux's job-ingest plugins, loaded unchanged into the instance's ingest hooks.

A Flux validator plugin is a module with a ``Validator`` class (a
``flux.job.validator.ValidatorPlugin``: ``__init__(parser)`` adds options,
``configure(args)``, ``validate(job)`` returns ``None`` or ``(errnum,
errmsg)`` or raises); a frobnicator plugin has a ``Frobnicator`` class (a
``flux.job.frobnicator.FrobnicatorPlugin``: ``configure(args, config)``,
``frob(jobspec, userid, urgency, flags)`` edits the jobspec in place or
raises). :func:`adapt` wraps such a module as a fluxsdk plugin implementing
``fluxsdk_instance_jobspec_validate`` / ``_transform``, answering as Flux's
job-ingest does (see ``flux-job-validator`` and ``flux-job-frobnicator``):

- options come from the instance configuration's ``ingest.validator.args``
  and ``ingest.frobnicator.args`` lists (Flux's ``[ingest.*] args``);
- ``configure`` runs on the first call, in the plugin's thread, where the
  plugin's ``self.flux`` is a handle on the instance itself (with
  ``conf_get``), and the frobnicator's ``config`` is the instance
  configuration (with its queues under ``queues``);
- a validator that raises ``ValueError``, ``TypeError`` or ``OSError``
  rejects with EPERM and the exception's message; a frobnicator that raises
  anything does.
"""

from __future__ import annotations

import argparse
import errno
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from fluxsdk.hooks._errors import PluginError
from fluxsdk.hooks._markers import hookimpl
from fluxsdk.hooks._values import InstanceInfo, Submission

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["FLUX_NAMESPACES", "adapt", "broker_config"]

FLUX_NAMESPACES: Final = ("fluxsdk.job.validator.plugins", "fluxsdk.job.frobnicator.plugins")
"""Where plugins named like Flux's own (``feasibility``, ``defaults``...) are found."""


def is_flux_style(module: object) -> bool:
    """True if ``module`` is a Flux validator or frobnicator plugin."""
    return _plugin_class(module, "Validator", "validate") is not None or (
        _plugin_class(module, "Frobnicator", "frob") is not None
    )


def _plugin_class(module: object, name: str, method: str) -> type | None:
    cls = getattr(module, name, None)
    if isinstance(cls, type) and callable(getattr(cls, method, None)):
        return cls
    return None


def broker_config(instance: InstanceInfo) -> dict[str, Any]:
    """The instance configuration as Flux plugins expect the broker's: with a
    ``queues`` table naming the instance's queues if the file has none."""
    config = dict(instance.config)
    if "queues" not in config and instance.queues:
        config["queues"] = {name: {} for name in instance.queues}
    return config


class _InstanceHandle:
    """``self.flux`` of a Flux plugin: a handle on the instance, opened on first use.

    Opened lazily because plugins are constructed before the instance
    serves; used only from the plugin's own thread.
    """

    def __init__(self, info: InstanceInfo) -> None:
        self._info = info
        self._handle: Any = None

    def _open(self) -> Any:
        if self._handle is None:
            from fluxsdk.core import Flux

            self._handle = Flux(self._info.uri)
        return self._handle

    def conf_get(self, key: str | None = None, default: Any = None, update: bool = False) -> Any:
        """The instance configuration, or the value at dotted ``key`` (``default`` if unset)."""
        del update  # the configuration is read from the instance's own copy, always current
        value: Any = broker_config(self._info)
        if key is None:
            return value
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)


def _parse(
    plugin_name: str, build: Callable[[Any], Any], args: Sequence[str]
) -> tuple[Any, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog=plugin_name, add_help=False, exit_on_error=False)
    group = parser.add_argument_group(f"Options provided by {plugin_name}")
    try:
        instance = build(group)
        namespace, _ = parser.parse_known_args(list(args))
    except (argparse.ArgumentError, SystemExit) as exc:  # argparse may exit on errors
        raise PluginError(
            errno.EINVAL, f"plugin {plugin_name!r}: bad options {list(args)}: {exc}"
        ) from None
    return instance, namespace


class _Lazy:
    """Runs a plugin's ``configure`` once, on its first call."""

    def __init__(self, configure: Callable[[InstanceInfo], None]) -> None:
        self._configure = configure
        self._lock = threading.Lock()
        self._done = False

    def ensure(self, info: InstanceInfo) -> None:
        with self._lock:
            if not self._done:
                self._configure(info)  # raises: every call fails closed until it works
                self._done = True


def _validator(name: str, cls: type, args: Sequence[str]) -> Callable[..., Any]:
    plugin, namespace = _parse(name, lambda group: cls(parser=group), args)

    def configure(info: InstanceInfo) -> None:
        plugin._flux = _InstanceHandle(info)
        plugin.configure(namespace)

    lazy = _Lazy(configure)

    def fluxsdk_instance_jobspec_validate(
        jobspec: Jobspec, submission: Submission, instance: InstanceInfo
    ) -> tuple[int, str] | None:
        from fluxsdk.job.validator import ValidatorJobInfo

        lazy.ensure(instance)
        job = ValidatorJobInfo(
            {
                "jobspec": jobspec.jobspec,
                "userid": submission.userid,
                "flags": submission.flags,
                "urgency": submission.urgency,
            }
        )
        try:
            result = plugin.validate(job)
        except (ValueError, TypeError, OSError) as exc:  # what Flux's validator catches
            return errno.EPERM, str(exc)
        if result is None:
            return None
        number, message = result
        return (int(number), message) if number else None

    return hookimpl(fluxsdk_instance_jobspec_validate)


def _frobnicator(name: str, cls: type, args: Sequence[str]) -> Callable[..., Any]:
    plugin, namespace = _parse(name, lambda group: cls(parser=group), args)

    def configure(info: InstanceInfo) -> None:
        plugin._flux = _InstanceHandle(info)
        plugin.configure(namespace, config=broker_config(info))

    lazy = _Lazy(configure)

    def fluxsdk_instance_jobspec_transform(
        jobspec: Jobspec, submission: Submission, instance: InstanceInfo
    ) -> None:
        lazy.ensure(instance)
        # Positionally, as flux-job-frobnicator ends up calling it.
        plugin.frob(jobspec, submission.userid, submission.urgency, submission.flags)

    return hookimpl(fluxsdk_instance_jobspec_transform)


def adapt(
    module: object,
    name: str,
    *,
    validator_args: Sequence[str] = (),
    frobnicator_args: Sequence[str] = (),
) -> object | None:
    """``module`` as a fluxsdk plugin if it is a Flux validator or frobnicator
    plugin (its classes constructed, their options parsed), else None.

    Raises:
        PluginError: EINVAL if the options do not parse.
    """
    validator = _plugin_class(module, "Validator", "validate")
    frobnicator = _plugin_class(module, "Frobnicator", "frob")
    if validator is None and frobnicator is None:
        return None
    plugin = types.SimpleNamespace()
    plugin.__doc__ = getattr(module, "__doc__", None)
    plugin.__name__ = name
    plugin.__module__ = getattr(module, "__name__", name)
    if validator is not None:
        plugin.fluxsdk_instance_jobspec_validate = _validator(name, validator, validator_args)
    if frobnicator is not None:
        plugin.fluxsdk_instance_jobspec_transform = _frobnicator(
            name, frobnicator, frobnicator_args
        )
    return plugin
