"""The API reference's discovery rules (docs/_ext/fluxsdk_api.py); .ci/run builds the site itself.

Public modules are found by walking the package, each object is described once at its home,
and every name of every public ``__all__`` gets an entry.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the docs extra is not installed")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
import fluxsdk_api


def test_public_modules_are_found_by_walking() -> None:
    modules = fluxsdk_api.public_modules()
    assert {"fluxsdk", "fluxsdk.job", "fluxsdk.job.contexts", "fluxsdk.model"} <= set(modules)
    assert not [m for m in modules if any(p.startswith("_") for p in m.split("."))]
    # Everything public under fluxsdk/ is there: compare with the files.
    root = Path(importlib.import_module("fluxsdk").__file__ or "").parent
    files = {
        ".".join(("fluxsdk", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for p in root.rglob("*.py")
    }
    public_files = {f for f in files if not any(p.startswith("_") for p in f.split("."))}
    # Files whose names are no identifiers (plugins loaded by path) are on their package's page.
    plugins = {f for f in public_files if not all(p.isidentifier() for p in f.split("."))}
    assert public_files - plugins == set(modules)
    for name in plugins:
        package = importlib.import_module(name.rsplit(".", 1)[0])
        shown = [p.stem for p in fluxsdk_api.plugin_files(package)]
        assert name.rsplit(".", 1)[1] in shown


def test_each_name_has_one_home_among_its_modules() -> None:
    entries = fluxsdk_api.collect()
    homes: dict[tuple[str, int], set[str]] = {}
    for module, module_entries in entries.items():
        assert [e.name for e in module_entries] == list(
            getattr(importlib.import_module(module), "__all__", [e.name for e in module_entries])
        )
        for entry in module_entries:
            homes.setdefault((entry.name, id(entry.obj)), set()).add(entry.home)
            if entry.kind != "module":
                assert entry.home in entries
                assert entry.name in [e.name for e in entries[entry.home]]
    assert all(len(h) == 1 for h in homes.values())

    def home(module: str, name: str) -> str:
        (entry,) = [e for e in entries[module] if e.name == name]
        return entry.home

    assert home("fluxsdk.job", "result") == "fluxsdk.job.wait"  # defined in a public module
    assert home("fluxsdk.job", "JobInfo") == "fluxsdk.job.info"
    assert home("fluxsdk", "Flux") == "fluxsdk.core"  # defined in fluxsdk.core._handle
    assert home("fluxsdk.job", "MAIN_EVENTS") == "fluxsdk.job.event"  # data: where assigned


def test_a_page_describes_its_own_names_and_links_the_others() -> None:
    entries = fluxsdk_api.collect()
    modules = set(entries)
    exported = {id(e.obj) for es in entries.values() for e in es}
    page = fluxsdk_api._module_page("fluxsdk.job", entries["fluxsdk.job"], modules, exported)
    assert ".. automodule:: fluxsdk.job\n" in page
    assert ".. py:data:: JobInfo\n   :module: fluxsdk.job\n" in page
    assert "The class :py:obj:`fluxsdk.job.info.JobInfo`." in page
    wait = fluxsdk_api._module_page(
        "fluxsdk.job.wait", entries["fluxsdk.job.wait"], modules, exported
    )
    assert ".. autoclass:: fluxsdk.job.wait.JobResultFuture\n" in wait
    assert ".. py:data:: JobResultInfo\n   :module: fluxsdk.job.wait\n" in wait
    assert ".. autofunction:: fluxsdk.job.wait.result\n" in wait
