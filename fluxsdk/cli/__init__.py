"""The ``fluxsdk`` command: start instances, submit and steer jobs.

Subcommands follow ``flux``'s own: ``start``, ``shutdown``, ``submit``,
``run``, ``jobs``, ``cancel``, ``kill``, ``attach``, ``eventlog``, ``id``,
``resource``, ``version``. Each lives in its own module and adds itself to the parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fluxsdk import __version__
from fluxsdk.errors import FluxSDKError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    from fluxsdk.cli import _inspect, _instance, _jobs, _plugins, _submit, _version

    parser = argparse.ArgumentParser(
        prog="fluxsdk", description="Submit, watch and steer jobs on a fluxsdk or Flux instance."
    )
    parser.add_argument("--version", action="version", version=f"fluxsdk {__version__}")
    # dest is not "command": `submit` and `run` have a positional of that name.
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for module in (_instance, _submit, _jobs, _inspect, _plugins, _version):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fluxsdk`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except (FluxSDKError, OSError, ValueError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"fluxsdk-{args.subcommand}: error: {message}", file=sys.stderr)
        return 1
    return status
