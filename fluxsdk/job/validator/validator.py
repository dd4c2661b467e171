"""The classes a Flux validator plugin is written against (``flux.job.validator.validator``).

A plugin module defines ``class Validator(ValidatorPlugin)``; the instance
constructs it with an ``argparse`` group for its options, calls
:meth:`ValidatorPlugin.configure` once with the parsed options, then
:meth:`ValidatorPlugin.validate` for every submitted job, in the plugin's own
thread. ``validate`` accepts by returning ``None`` (or ``(0, None)``) and
rejects by returning ``(errnum, errmsg)`` or raising ``ValueError``,
``TypeError`` or ``OSError`` (answered with EPERM and the message).
"""

from __future__ import annotations

import argparse
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

__all__ = ["ValidatorJobInfo", "ValidatorPlugin", "ValidatorResult"]


class ValidatorResult:
    """The combined answer of several validators: the largest errnum, every message."""

    def __init__(self) -> None:
        self.errnum = 0
        self.errmsgs: list[str] = []

    def push_result(self, errnum: int, errmsg: str | None = None) -> None:
        """Add one validator's answer (``errnum`` 0 for success)."""
        self.errnum = max(self.errnum, errnum)
        if errmsg and errmsg not in self.errmsgs:
            self.errmsgs.append(errmsg)

    @property
    def errmsg(self) -> str:
        """Every message, joined with ", "."""
        return ", ".join(self.errmsgs)

    @property
    def success(self) -> bool:
        """True if every validator accepted."""
        return self.errnum == 0

    def __str__(self) -> str:
        result: dict[str, Any] = {"errnum": self.errnum}
        if self.errmsgs:
            result["errstr"] = self.errmsg
        return json.dumps(result)


class ValidatorJobInfo:
    """The job a validator judges: ``jobspec`` (a dict), ``userid``, ``flags``,
    ``urgency``, and the whole request as ``jobinfo``."""

    required_keys = frozenset({"jobspec", "userid", "flags", "urgency"})

    def __init__(self, jobinfo: Mapping[str, Any]) -> None:
        missing = self.required_keys - set(jobinfo)
        if missing:
            raise ValueError(f"job information lacks {', '.join(sorted(missing))}")
        self.jobinfo = dict(jobinfo)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["jobinfo"][name]
        except KeyError:
            raise AttributeError(name) from None


class ValidatorPlugin(ABC):
    """Base class of validator plugins.

    ``self.flux`` is a handle on the instance the plugin runs in (opened on
    first use).
    """

    def __init__(  # noqa: B027 - optional, as in Flux
        self, parser: argparse._ArgumentGroup | argparse.ArgumentParser
    ) -> None:
        """Add the plugin's options to ``parser`` (an argparse group)."""

    @property
    def flux(self) -> Any:
        """A handle on the instance (``fluxsdk.Flux``)."""
        if "_flux" not in self.__dict__:
            from fluxsdk.core import Flux

            self._flux: Any = Flux()
        return self._flux

    def configure(self, args: argparse.Namespace) -> None:  # noqa: B027 - optional
        """Configure the plugin from its parsed options (called once, before any job)."""

    @abstractmethod
    def validate(self, job: ValidatorJobInfo) -> tuple[int, str | None] | None:
        """Judge ``job``: ``None`` to accept, ``(errnum, errmsg)`` or raise to reject."""
        raise NotImplementedError
