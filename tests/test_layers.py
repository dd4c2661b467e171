"""The layers import one way: fluxsdk.core never imports instance, hooks, job or model.

Three checks, from the cheapest to the most behavioural:

* every module of ``fluxsdk/core`` read with ``ast``: no import statement
  (module level, in a function, or under ``TYPE_CHECKING``) and no string naming
  a module (``importlib.import_module("...")``) reaches an upper layer;
* the import graph of the whole package: no import cycle joins a core module to
  a module outside core;
* a fresh interpreter that loads core without the ``fluxsdk`` facade imports
  nothing above core, even while it opens handles; and with the facade, what
  the upper layers register (the default instance, plugin connectors) works.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import fluxsdk

PACKAGE_DIR = Path(fluxsdk.__file__).resolve().parent
CORE = "fluxsdk.core"
UPPER = ("fluxsdk.instance", "fluxsdk.hooks", "fluxsdk.job", "fluxsdk.model")
_MODULE_NAME = re.compile(r"^fluxsdk(\.\w+)+$")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _is_upper(name: str) -> bool:
    return any(name == up or name.startswith(up + ".") for up in UPPER)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (prose, not names used by code)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """(line, module) for every module ``path`` imports or names as a string."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from fluxsdk import job`` imports a module
                if f"{target}.{alias.name}" in modules:
                    yield node.lineno, f"{target}.{alias.name}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _MODULE_NAME.match(node.value)
        ):
            yield node.lineno, node.value


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, set())
        for _, target in _imports(name, path, modules):
            if target in modules and target != name:
                edges.add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_core_module_imports_an_upper_layer() -> None:
    modules = _modules()
    core = {n: p for n, p in modules.items() if n == CORE or n.startswith(CORE + ".")}
    assert len(core) > 10, "fluxsdk/core was not found"
    bad = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{line}: {target}"
        for name, path in core.items()
        for line, target in _imports(name, path, modules)
        if _is_upper(target)
    ]
    assert not bad, "fluxsdk.core imports an upper layer:\n" + "\n".join(bad)


def test_the_checker_sees_every_form_of_import(tmp_path: Path) -> None:
    # The check above is only as good as _imports: it must catch each way a module can import.
    source = (
        '"""Docstrings may name fluxsdk.job freely."""\n'
        "import fluxsdk.model\n"
        "from fluxsdk import hooks\n"
        "from ..instance import _broker\n"
        "def later():\n"
        "    import importlib\n"
        "    return importlib.import_module('fluxsdk.job.executor')\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    # Read as if it were fluxsdk/core/_layer_probe.py.
    found = {target for _, target in _imports("fluxsdk.core._layer_probe", probe, _modules())}
    assert {"fluxsdk.model", "fluxsdk.hooks", "fluxsdk.instance._broker"} <= found
    assert "fluxsdk.job.executor" in found
    assert "fluxsdk.job" not in found  # the docstring is prose


def test_no_import_cycle_joins_core_to_the_layers_above() -> None:
    graph = _graph()
    mixed = [
        sorted(c)
        for c in _cycles(graph)
        if any(n.startswith(CORE) for n in c) and not all(n.startswith(CORE) for n in c)
    ]
    assert not mixed, f"import cycles through fluxsdk.core: {mixed}"
    # And no edge from core goes up at all (the graph agrees with the file check).
    up = sorted(
        (n, t)
        for n, targets in graph.items()
        if n.startswith(CORE)
        for t in targets
        if _is_upper(t)
    )
    assert not up


_CORE_ALONE = """
import errno, pkgutil, sys, types
# Load fluxsdk.core without fluxsdk/__init__.py, which wires the upper layers in.
pkg = types.ModuleType("fluxsdk")
pkg.__path__ = [{pkgdir!r}]
sys.modules["fluxsdk"] = pkg
import importlib
core = importlib.import_module("fluxsdk.core")
for info in pkgutil.walk_packages(core.__path__, "fluxsdk.core."):
    importlib.import_module(info.name)
from fluxsdk.core import DefaultInstanceUnavailableError, Flux, InvalidURIError
try:
    Flux()
except DefaultInstanceUnavailableError as exc:
    assert "no default instance is registered" in str(exc), exc
else:
    raise AssertionError("Flux() with no URI and no provider opened something")
try:
    Flux("fluxsdk:///nowhere")
except InvalidURIError as exc:
    assert "unknown URI scheme" in str(exc), exc
upper = sorted(m for m in sys.modules if m.startswith({upper!r}))
print("UPPER", upper)
"""


def test_core_alone_loads_and_runs_without_the_upper_layers(tmp_path: Path) -> None:
    # A core that reached up would start a default instance: let it be this test's own.
    env = {k: v for k, v in os.environ.items() if k != "FLUX_URI"}
    env["FLUXSDK_STATEDIR"] = str(tmp_path / "default")
    script = _CORE_ALONE.format(pkgdir=str(PACKAGE_DIR), upper=UPPER)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        from fluxsdk._control import shutdown
        from fluxsdk.instance import is_running, uri_for

        if is_running(tmp_path / "default"):
            shutdown(uri_for(tmp_path / "default"))
    assert proc.returncode == 0, proc.stderr
    assert "UPPER []" in proc.stdout, proc.stdout


_PLUGIN_AFTER_IMPORT = """
import fluxsdk
from fluxsdk.core.connectors import EmbeddedConnector

class Plugin:
    @fluxsdk.hookimpl
    def fluxsdk_connectors(self):
        return {{"layertest": lambda uri: EmbeddedConnector({sock!r}, uri=uri.text)}}

fluxsdk.hooks.register(Plugin(), name="layertest")
with fluxsdk.Flux("layertest://anything") as h:
    print("URI", h.rpc("broker.getattr", {{"name": "local-uri"}}).get()["value"])
"""


def test_plugin_connectors_work_after_only_import_fluxsdk(fluxsdk_uri: str) -> None:
    from fluxsdk.core import parse_uri

    script = _PLUGIN_AFTER_IMPORT.format(sock=parse_uri(fluxsdk_uri).socket_path)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["URI", fluxsdk_uri]


def test_the_embedded_connector_comes_through_the_hooks(
    fluxsdk_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fluxsdk.core import Flux, InvalidURIError, connectors, set_connector_lookup

    # Installed by fluxsdk.hooks at import: without it core knows no fluxsdk:// scheme.
    previous = set_connector_lookup(None)
    assert previous is not None
    try:
        with pytest.raises(InvalidURIError, match="unknown URI scheme 'fluxsdk'"):
            Flux(fluxsdk_uri)
    finally:
        assert set_connector_lookup(previous) is None
    assert "fluxsdk" in connectors._lookup()
    with Flux(fluxsdk_uri) as h:
        assert h.rpc("broker.getattr", {"name": "local-uri"}).get()["value"] == fluxsdk_uri
    with pytest.raises(TypeError, match="must be callable"):
        set_connector_lookup({"x": None})  # type: ignore[arg-type]
