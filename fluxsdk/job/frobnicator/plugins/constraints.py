"""Add each queue's required resource properties to its jobs' constraints.

fluxsdk's counterpart of Flux's ``constraints`` frobnicator: a job in queue
``q`` gets the properties listed in the configuration's ``queues.q.requires``
added to ``attributes.system.constraints`` (RFC 31): appended to a top-level
``properties`` list, else combined with the job's own constraints by
``and``. A job naming a queue the configuration does not have is refused.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from fluxsdk.job import Jobspec
from fluxsdk.job.frobnicator import FrobnicatorPlugin


class Frobnicator(FrobnicatorPlugin):
    """Constrain jobs to the properties their queue requires."""

    def __init__(self, parser: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
        """No options."""
        super().__init__(parser)
        self.queues: Mapping[str, Any] = {}

    def configure(self, args: argparse.Namespace, config: Mapping[str, Any]) -> None:
        """Read the queues table."""
        queues = config.get("queues", {}) or {}
        if not isinstance(queues, Mapping):
            raise ValueError("queues must be a table")
        self.queues = queues

    def frob(self, jobspec: Jobspec, userid: int, urgency: int, flags: int) -> None:
        """Add the queue's required properties."""
        queue = jobspec.queue
        if not queue:
            return
        if queue not in self.queues:
            raise ValueError(f"Invalid queue '{queue}' specified")
        required = list((self.queues[queue] or {}).get("requires") or [])
        if not required:
            return
        system = jobspec.attributes.setdefault("system", {})
        current = system.get("constraints")
        if current is None:
            jobspec.setattr("system.constraints", {"properties": required})
        elif isinstance(current.get("properties"), list):
            current["properties"] += [p for p in required if p not in current["properties"]]
        else:
            jobspec.setattr("system.constraints", {"and": [current, {"properties": required}]})
