"""Fill in the system attributes a jobspec leaves unset, from the configuration.

fluxsdk's counterpart of Flux's ``defaults`` frobnicator. The instance
configuration's ``policy.jobspec.defaults.system`` mapping gives defaults
(``duration``, ``queue``, any other system attribute); each queue's own
``queues.<name>.policy.jobspec.defaults.system`` overrides them for jobs in
that queue. A duration of 0 counts as unset. When the instance has queues, a
job must end up in one: naming none without a default queue, or naming an
unknown one, refuses it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from fluxsdk.job import Jobspec
from fluxsdk.job.frobnicator import FrobnicatorPlugin


def system_defaults(table: Any) -> dict[str, Any]:
    """``table``'s ``policy.jobspec.defaults.system`` mapping (empty if absent)."""
    for key in ("policy", "jobspec", "defaults", "system"):
        if not isinstance(table, Mapping):
            return {}
        table = table.get(key, {})
    if not isinstance(table, Mapping):
        raise ValueError("policy.jobspec.defaults.system must be a table")
    return dict(table)


class Frobnicator(FrobnicatorPlugin):
    """Apply the instance's and the queue's defaults."""

    def __init__(self, parser: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
        """No options."""
        super().__init__(parser)
        self.defaults: dict[str, Any] = {}
        self.queues: dict[str, dict[str, Any]] = {}

    def configure(self, args: argparse.Namespace, config: Mapping[str, Any]) -> None:
        """Read and check the defaults; a bad configuration refuses every job."""
        queues = config.get("queues", {}) or {}
        if not isinstance(queues, Mapping):
            raise ValueError("queues must be a table")
        self.defaults = system_defaults(config)
        self.queues = {name: system_defaults(table) for name, table in queues.items()}
        default_queue = self.defaults.get("queue")
        if default_queue is not None and default_queue not in self.queues:
            raise ValueError(f"default queue '{default_queue}' must be in [queues]")

    def _for_queue(self, queue: str | None) -> dict[str, Any]:
        values = dict(self.defaults)
        if queue is not None and self.queues:
            if queue not in self.queues:
                raise ValueError(f"Invalid queue '{queue}' specified")
            values.update(self.queues[queue])
        return values

    def frob(self, jobspec: Jobspec, userid: int, urgency: int, flags: int) -> None:
        """Set each default the jobspec leaves unset."""
        queue = jobspec.queue or self.defaults.get("queue")
        if queue is None and self.queues:
            raise ValueError("no queue specified")
        system = jobspec.attributes.setdefault("system", {})
        for key, value in self._for_queue(queue).items():
            if key == "duration":
                if not jobspec.duration:
                    jobspec.duration = value
            elif key not in system:
                jobspec.setattr(f"system.{key}", value)
