"""The class a Flux frobnicator plugin is written against
(``flux.job.frobnicator.frobnicator``).

A plugin module defines ``class Frobnicator(FrobnicatorPlugin)``; the
instance constructs it with an ``argparse`` group for its options, calls
:meth:`FrobnicatorPlugin.configure` once with the parsed options and the
instance configuration, then :meth:`FrobnicatorPlugin.frob` for every
submitted job, in the plugin's own thread, before the validators.
"""

from __future__ import annotations

import argparse
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluxsdk.job import Jobspec

__all__ = ["FrobnicatorPlugin"]


class FrobnicatorPlugin:
    """Base class of plugins that change jobspecs in place.

    ``self.flux`` is a handle on the instance the plugin runs in (opened on
    first use).
    """

    def __init__(self, parser: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
        """Add the plugin's options to ``parser`` (an argparse group)."""

    @property
    def flux(self) -> Any:
        """A handle on the instance (``fluxsdk.Flux``)."""
        if "_flux" not in self.__dict__:
            from fluxsdk.core import Flux

            self._flux: Any = Flux()
        return self._flux

    def configure(self, args: argparse.Namespace, config: Mapping[str, Any]) -> None:
        """Configure the plugin from its options and the instance configuration
        (Flux's broker configuration: ``queues``, ``policy``...)."""

    @abstractmethod
    def frob(self, jobspec: Jobspec, userid: int, urgency: int, flags: int) -> None:
        """Change ``jobspec`` in place; raise to refuse the job (EPERM, the message)."""
        raise NotImplementedError
