"""Build hook: the editable path, and fluxsdk's PMI-1 client library compiled for this machine.

**The editable path.** An editable install (``pip install -e .``) is a ``.pth`` file naming a
directory that is put on ``sys.path``. A plain path is what type checkers (mypy, pyright) and
IDEs follow; an import hook, as setuptools installs for this flat layout, they cannot. But the
project root as that path would also make ``tests``, ``bench``, ``examples``... importable in
every program of the environment. So the path is ``build/editable``, and this hook makes it hold
one symbolic link, ``fluxsdk -> ../../fluxsdk``: new modules appear without reinstalling, and
nothing else leaks.

**The PMI-1 client library.** Flux's job shell gives every task ``FLUX_PMI_LIBRARY_PATH``, its
own ``libpmi.so``; the embedded instance gives its tasks fluxsdk's, written in C
(``csrc/libpmi``) and compiled here with ``$CC`` (else ``cc``, else ``gcc``; ``$CFLAGS`` and
``$LDFLAGS`` are added) into ``fluxsdk/instance/_lib/`` as ``libpmi.so`` and its soname
``libpmi.so.0``: in the source tree for an editable install, into the wheel (then tagged for
this platform, ``py3-none-<platform>``) otherwise. Without a compiler, or if compiling fails,
the install goes on with a warning and a pure-Python wheel; the instance's tasks then get no
``FLUX_PMI_LIBRARY_PATH`` (everything else works).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EDITABLE_DIR = Path("build", "editable")
PMI_SOURCES = (Path("csrc", "libpmi", "pmi.c"), Path("csrc", "libpmi", "taskmap.c"))
# Where the package looks for the library (fluxsdk/instance/_pmilib.py), relative to the root.
PMI_LIBRARY_DIR = Path("fluxsdk", "instance", "_lib")
PMI_LIBRARY = "libpmi.so"
PMI_SONAME = "libpmi.so.0"
# Where a (non-editable) wheel's copy is built, outside the package sources.
WHEEL_BUILD_DIR = Path("build", "libpmi")


def find_compiler(environ: dict[str, str] | None = None) -> list[str] | None:
    """The C compiler command: ``$CC`` (split as a shell would), else ``cc`` or ``gcc``."""
    env = os.environ if environ is None else environ
    cc = env.get("CC", "").strip()
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc"):
        path = shutil.which(name, path=env.get("PATH"))
        if path:
            return [path]
    return None


def build_pmi_library(
    root: Path,
    out_dir: Path,
    warn: Callable[[str], None],
    *,
    link_soname: bool,
    environ: dict[str, str] | None = None,
) -> Path | None:
    """Compile ``libpmi.so`` into ``out_dir``; its path, or None (``warn`` says why).

    The soname ``libpmi.so.0`` is there too, as a symbolic link with ``link_soname`` (the
    source tree), else as a copy (wheels hold no links). A library left from an earlier
    build is removed when this one fails, so what is installed matches what was said.
    """
    env = dict(os.environ if environ is None else environ)
    target = out_dir / PMI_LIBRARY
    soname = out_dir / PMI_SONAME

    def give_up(reason: str, detail: str = "") -> None:
        for stale in (target, soname):
            if stale.is_symlink() or stale.exists():
                stale.unlink()
        warn(
            f"fluxsdk: {reason}: its PMI-1 client library ({PMI_LIBRARY}) is not built, so "
            "the embedded instance's jobs get no FLUX_PMI_LIBRARY_PATH. Install a C compiler "
            "(e.g. gcc) and reinstall fluxsdk to have it." + (f"\n{detail}" if detail else "")
        )

    compiler = find_compiler(env)
    if compiler is None:
        give_up("no C compiler found ($CC, cc, gcc)")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".{PMI_LIBRARY}.partial"
    argv = [
        *compiler,
        "-shared",
        "-fPIC",
        "-O2",
        "-fvisibility=hidden",
        *shlex.split(env.get("CFLAGS", "")),
        f"-Wl,-soname,{PMI_SONAME}",
        *shlex.split(env.get("LDFLAGS", "")),
        "-o",
        str(partial),
        *(str(root / source) for source in PMI_SOURCES),
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    except OSError as exc:
        give_up(f"the C compiler {compiler[0]!r} could not run ({exc.strerror})")
        return None
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = (proc.stderr or proc.stdout).strip()
        give_up(f"compiling {PMI_LIBRARY} failed ({shlex.join(argv)})", detail)
        return None
    os.replace(partial, target)
    if soname.is_symlink() or soname.exists():
        soname.unlink()
    if link_soname:
        soname.symlink_to(PMI_LIBRARY)
    else:
        shutil.copy2(target, soname)
    return target


def platform_tag() -> str:
    """This platform's wheel tag (``linux_x86_64``, ...)."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


class FluxsdkBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Makes ``build/editable/fluxsdk`` for editable wheels; compiles the PMI-1 library."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Before hatchling writes the wheel (or the ``.pth`` naming the editable path)."""
        root = Path(self.root)
        if version == "editable":
            self._editable_link(root)
            build_pmi_library(root, root / PMI_LIBRARY_DIR, self._warn, link_soname=True)
            return
        built = build_pmi_library(root, root / WHEEL_BUILD_DIR, self._warn, link_soname=False)
        if built is None:
            return
        for name in (PMI_LIBRARY, PMI_SONAME):
            build_data["force_include"][str(built.parent / name)] = str(PMI_LIBRARY_DIR / name)
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform_tag()}"

    def _warn(self, message: str) -> None:
        self.app.display_warning(message)

    @staticmethod
    def _editable_link(root: Path) -> None:
        directory = root / EDITABLE_DIR
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
