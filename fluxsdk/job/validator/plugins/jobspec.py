"""Check each jobspec with fluxsdk's jobspec validation, as Flux's default validator.

fluxsdk's counterpart of Flux's ``jobspec`` validator (the one Flux runs when
none is configured): the jobspec must be valid for ``validate_jobspec``
(version 1 unless ``--require-version=any``), and every command-line plugin's
``validate`` method (``$FLUX_CLI_PLUGINPATH``, see ``fluxsdk.cli.plugin``)
must accept it. An instance checks every jobspec structurally anyway; this
plugin exists so that a Flux configuration naming it loads unchanged.
"""

from __future__ import annotations

import argparse
import json

from fluxsdk.cli.plugin import CLIPluginRegistry
from fluxsdk.job import validate_jobspec
from fluxsdk.job.validator import ValidatorJobInfo, ValidatorPlugin


class Validator(ValidatorPlugin):
    """validate_jobspec, then the command-line plugins' validate methods."""

    def __init__(self, parser: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
        """Add ``--require-version``."""
        super().__init__(parser)
        parser.add_argument(
            "--require-version",
            metavar="V",
            default="1",
            help="require jobspec version V (1, or 'any')",
        )
        self.require_version: int | None = 1
        self.plugins: CLIPluginRegistry | None = None

    def configure(self, args: argparse.Namespace) -> None:
        """Read the version option; load the command-line plugins."""
        value = str(args.require_version)
        if value == "any":
            self.require_version = None
        elif value == "1":
            self.require_version = 1
        else:
            raise ValueError(f"--require-version: expected 1 or any, not {value!r}")
        self.plugins = CLIPluginRegistry("validate")

    def validate(self, job: ValidatorJobInfo) -> tuple[int, str | None] | None:
        """Raise (a rejection) if the jobspec or a command-line plugin says no."""
        _, jobspec = validate_jobspec(json.dumps(job.jobspec), self.require_version)
        if self.plugins is not None:
            self.plugins.validate(jobspec)
        return None
