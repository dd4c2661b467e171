"""``fluxsdk version``: versions in ``flux version``'s layout.

Inside an instance (``FLUX_URI`` set) it also names the instance's version and URI, as
``flux version`` does, so scripts that read that output keep working.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from fluxsdk import __version__


def register(commands: Any) -> None:
    version = commands.add_parser(
        "version",
        help="print fluxsdk's version (and the instance's, inside one)",
        description="Print versions as `flux version` lays them out.",
    )
    version.set_defaults(func=_version)


def _version(args: argparse.Namespace) -> int:
    print(f"commands:    \t\t{__version__} (fluxsdk)")
    uri = os.environ.get("FLUX_URI")
    if uri:
        from fluxsdk.core import Flux

        try:
            with Flux(uri) as handle:
                broker = handle.attr_get("version")
        except OSError:
            broker = None
        if broker is not None:
            print(f"broker:  \t\t{broker}")
        print(f"FLUX_URI:\t\t{uri}")
    print("build-options:\t\t")
    return 0
