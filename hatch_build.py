"""Build hook: the editable install's path exposes the ``fluxsdk`` package and nothing else.

An editable install (``pip install -e .``) is a ``.pth`` file naming a directory that is put on
``sys.path``. A plain path is what type checkers (mypy, pyright) and IDEs follow; an import
hook, as setuptools installs for this flat layout, they cannot. But the project root as that
path would also make ``tests``, ``bench``, ``examples``... importable in every program of the
environment. So the path is ``build/editable``, and this hook makes it hold one symbolic link,
``fluxsdk -> ../../fluxsdk``: new modules appear without reinstalling, and nothing else leaks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EDITABLE_DIR = Path("build", "editable")


class EditablePathHook(BuildHookInterface):  # type: ignore[type-arg]
    """Creates ``build/editable/fluxsdk`` (a link to the package) for editable wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Make the link before hatchling writes the ``.pth`` naming its directory."""
        if version != "editable":
            return
        directory = Path(self.root, EDITABLE_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        link = directory / "fluxsdk"
        target = Path(os.pardir, os.pardir, "fluxsdk")
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)  # not ours: build/ is scratch space
        elif link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
