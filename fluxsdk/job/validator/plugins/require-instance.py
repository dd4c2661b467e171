"""Require jobs of a given size to be Flux instances (batch jobs or brokers).

fluxsdk's counterpart of Flux's ``require-instance`` validator: a job with at
least ``minnodes`` nodes or ``mincores`` cores must be a batch job
(``attributes.system.batch``) or run ``flux broker`` / ``flux start`` (a
nested instance, as ``from_nest_command`` builds), so that its work is
scheduled inside it. With neither limit set, every job must be. Limits come
from the options ``--require-instance-minnodes=N`` and
``--require-instance-mincores=N`` (Flux's ``ingest.validator.args``), else
from the configuration's ``ingest.validator.require-instance`` section
(``minnodes``, ``mincores``). Setting only ``minnodes`` sets ``mincores``
to 16 per node, so that a cores-only request cannot slip through.
"""

from __future__ import annotations

import argparse
import errno
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fluxsdk.job.validator import ValidatorJobInfo, ValidatorPlugin

SECTION = "ingest.validator.require-instance"
CORES_PER_NODE = 16
INSTANCE_COMMANDS = ("broker", "start")


def resource_totals(resources: Sequence[Mapping[str, Any]], factor: int = 1) -> dict[str, int]:
    """How many of each resource type the request holds, in all."""
    totals: dict[str, int] = {}
    for resource in resources:
        count = resource.get("count", 1)
        if isinstance(count, Mapping):
            count = count.get("min", 1)
        number = factor * int(count)
        kind = str(resource.get("type"))
        totals[kind] = totals.get(kind, 0) + number
        for kind, inner in resource_totals(resource.get("with", []), number).items():
            totals[kind] = totals.get(kind, 0) + inner
    return totals


class Validator(ValidatorPlugin):
    """Refuse direct submission of jobs at or above the configured size."""

    def __init__(self, parser: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
        """Add the two size options."""
        super().__init__(parser)
        for what in ("nodes", "cores"):
            parser.add_argument(
                f"--require-instance-min{what}",
                type=int,
                default=-1,
                metavar="N",
                help=f"jobs with at least N {what} must be instances (default: configuration)",
            )
        self.minnodes = 0
        self.mincores = 0

    def configure(self, args: argparse.Namespace) -> None:
        """Take the limits from the options, else from the instance configuration."""
        nodes = int(args.require_instance_minnodes)
        cores = int(args.require_instance_mincores)
        if nodes < 0:
            nodes = int(self.flux.conf_get(f"{SECTION}.minnodes", 0))
        if cores < 0:
            cores = int(self.flux.conf_get(f"{SECTION}.mincores", 0))
        if nodes > 0 and cores == 0:
            cores = CORES_PER_NODE * nodes
        self.minnodes, self.mincores = nodes, cores

    def _applies(self, jobspec: Mapping[str, Any]) -> bool:
        totals = resource_totals(jobspec.get("resources", []))
        nodes, cores = totals.get("node"), totals.get("core")
        return (nodes is not None and nodes >= self.minnodes) or (
            cores is not None and cores >= self.mincores
        )

    def message(self) -> str:
        """What a refused user is told."""
        if self.minnodes <= 0 and self.mincores <= 0:
            scope = "for all jobs in this instance"
        else:
            limits = []
            if self.minnodes > 0:
                limits.append(f"{self.minnodes} nodes")
            if self.mincores > 0:
                limits.append(f"{self.mincores} cores")
            scope = "for jobs >= " + " or ".join(limits)
        return f"Direct job submission disabled {scope}. Please use flux-batch(1) or flux-alloc(1)"

    def validate(self, job: ValidatorJobInfo) -> tuple[int, str | None] | None:
        """Accept small jobs and instances; refuse the others with EINVAL."""
        jobspec = job.jobspec
        if not self._applies(jobspec):
            return None
        if "batch" in jobspec.get("attributes", {}).get("system", {}):
            return None
        command = jobspec["tasks"][0]["command"]
        if (
            len(command) > 1
            and os.path.basename(command[0]) in ("flux", "fluxsdk")
            and command[1] in INSTANCE_COMMANDS
        ):
            return None
        return errno.EINVAL, self.message()
