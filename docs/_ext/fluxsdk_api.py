"""Sphinx extension: the API reference of every public fluxsdk module, found by walking the package.

* Public modules are found, not listed: every module under ``fluxsdk`` none of whose name parts
  starts with ``_``. Each gets a page in ``docs/api/`` (generated at each build; not in git).
* A module's public names are its ``__all__``. Each object is documented in full once, on the
  page of its home module (where it is defined, or the public package re-exporting it from a
  private module); every other module listing it gets a short entry that links there, so each
  public name ``module.name`` is a target of its own and nothing is described twice.
* After reading, the build checks that every name of every public module's ``__all__`` is in
  the site, and that each public class, function and module has a docstring; a miss is a
  warning, so ``sphinx-build -W`` (as ``.ci/run`` runs it) fails.
* Inline code in the pages naming a documented object (```fluxsdk.job.result```,
  ```flux.job.JobID```, or a bare ```result(h, jobid)``` on a page given default modules in
  ``conf.py``'s ``fluxsdk_page_modules``) becomes a link into the reference.
* ``docs/api/examples.rst`` renders each script of ``examples/``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from pygments.lexers.special import TextLexer
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

PACKAGE = "fluxsdk"
_log = logging.getLogger(__name__)
_ENTRIES: dict[Sphinx, dict[str, list[Entry]]] = {}


def public_modules(package: str = PACKAGE) -> list[str]:
    """The names of the public modules of ``package`` (itself included), sorted."""
    root = importlib.import_module(package)
    names = [package]
    errors: list[str] = []
    for info in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=errors.append):
        parts = info.name.split(".")
        # A name that is no identifier (flux's validator plugins, require-instance.py) is a
        # file loaded by path: its package's page shows it (plugin_files).
        if not any(p.startswith("_") or not p.isidentifier() for p in parts):
            names.append(info.name)
    if errors:
        raise ImportError(f"cannot walk the packages {errors}")
    return sorted(names)


def plugin_files(module: types.ModuleType) -> list[Path]:
    """The modules of a package whose names are no identifiers: files loaded by path."""
    files: list[Path] = []
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if not info.name.isidentifier() and not info.name.startswith("_"):
            base = Path(getattr(info.module_finder, "path", ""), info.name)
            files.append(base / "__init__.py" if info.ispkg else base.with_suffix(".py"))
    return sorted(files)


def public_names(module: types.ModuleType) -> list[str]:
    """``__all__``, or without one the public classes and functions defined in ``module``."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return list(declared)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def _defined_names(module: types.ModuleType) -> set[str]:
    """Names a module's own source binds at top level (assignments and definitions)."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


@dataclass
class Entry:
    """One public name of one module."""

    module: str
    name: str
    obj: Any
    home: str = ""  # the module whose page documents the object in full

    @property
    def kind(self) -> str:
        """The Python domain object type: module, class, exception, function or data."""
        if inspect.ismodule(self.obj):
            return "module"
        if inspect.isclass(self.obj):
            return "exception" if issubclass(self.obj, BaseException) else "class"
        if inspect.isroutine(self.obj):
            return "function"
        return "data"


def collect(package: str = PACKAGE) -> dict[str, list[Entry]]:
    """Every public module's entries, with the home of each object decided."""
    modules = {name: importlib.import_module(name) for name in public_modules(package)}
    entries = {
        name: [Entry(name, n, getattr(mod, n)) for n in public_names(mod) if hasattr(mod, n)]
        for name, mod in modules.items()
    }
    # Objects by (name, identity): the same name bound to the same object is the same thing.
    listed: dict[tuple[str, int], list[Entry]] = {}
    for module_entries in entries.values():
        for entry in module_entries:
            listed.setdefault((entry.name, id(entry.obj)), []).append(entry)
    defined = {name: _defined_names(mod) for name, mod in modules.items()}
    for group in listed.values():
        # ``module.name`` must not be a module's name too (flux.job.JobID is a module and a
        # class): such a module cannot be the home.
        free = [e for e in group if f"{e.module}.{e.name}" not in modules] or group
        home = _home(free, defined)
        for entry in group:
            entry.home = home
    return entries


def _home(group: list[Entry], defined: dict[str, set[str]]) -> str:
    first = group[0]
    candidates = [e.module for e in group]
    if first.kind == "module":
        return str(first.obj.__name__)
    origin = getattr(first.obj, "__module__", None) if first.kind != "data" else None
    if isinstance(origin, str):
        # The defining module if public, else its nearest public package listing the name.
        parts = origin.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in candidates and not any(p.startswith("_") for p in parts[:end]):
                return prefix
    else:
        # Data: the module whose source assigns it, else the deepest one listing it.
        for module in candidates:
            if first.name in defined.get(module, set()):
                return module
    return max(candidates, key=lambda m: (m.count("."), m))


# -- page generation -----------------------------------------------------------------------

_AUTO = {
    "class": "autoclass",
    "exception": "autoexception",
    "function": "autofunction",
    "data": "autodata",
}


def _module_page(
    module: str,
    module_entries: list[Entry],
    modules: set[str],
    exported: set[int],
    api_dir: Path | None = None,
) -> str:
    title = f"``{module}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {module}", "   :no-members:", ""]
    own = [e for e in module_entries if e.home == module and e.kind != "module"]
    others = [e for e in module_entries if e.home != module or e.kind == "module"]
    for entry in own:
        lines.append(f".. {_AUTO[entry.kind]}:: {module}.{entry.name}")
        if entry.kind in ("class", "exception"):
            lines += ["   :members:", "   :undoc-members:", "   :show-inheritance:"]
            # What it inherits from private fluxsdk classes is part of it (Task.uuid).
            bases = entry.obj.__mro__[1:]
            public_bases = [k.__name__ for k in bases if not _private(k, exported)]
            if len(public_bases) < len(entry.obj.__mro__) - 1:
                lines.append(f"   :inherited-members: {', '.join(public_bases)}")
        lines.append("")
    files = plugin_files(importlib.import_module(module))
    if files:
        lines += ["Plugin files", "------------", ""]
        lines += ["Loaded by path, not imported by name (their names are no identifiers).", ""]
    for path in files:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        title = f"``{path.name}``"
        lines += [title, "~" * len(title), "", *doc.splitlines(), ""]
        shown = Path(os.path.relpath(path, api_dir)) if api_dir else path
        lines += [f".. literalinclude:: {shown.as_posix()}", "   :language: python", ""]
    if others:
        lines += ["Also here", "---------", ""]
    for entry in others:
        # Each re-export is a target of its own (``fluxsdk.job.JobInfo``) of type data, so
        # that searches by class or exception find only the real description. A name that is
        # also a public module's (flux's ``flux.job.submit`` is a module and a function) is
        # that module's target already: it is described without a target.
        taken = f"{module}.{entry.name}" in modules
        lines += [f".. py:data:: {entry.name}", f"   :module: {module}"]
        lines += ["   :no-index:" if taken else "", ""]
        if entry.kind == "module":
            lines += [f"   The module :py:mod:`{entry.home}`.", ""]
        else:
            lines += [f"   The {entry.kind} :py:obj:`{entry.home}.{entry.name}`.", ""]
    return "\n".join(lines)


def _private(klass: type, exported: set[int]) -> bool:
    """True for a class of a private fluxsdk module, documented nowhere itself."""
    parts = klass.__module__.split(".")
    hidden = parts[0] == PACKAGE and any(p.startswith("_") for p in parts)
    return hidden and id(klass) not in exported


def _examples_page(examples: Path, api_dir: Path) -> str:
    lines = ["Examples", "========", ""]
    lines += ["Complete scripts from ``examples/``; each runs as its docstring says.", ""]
    for script in sorted(examples.glob("*.py")):
        tree = ast.parse(script.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree) or ""
        title = f"``{script.name}``"
        rel = Path("..", "..", "examples", script.name)  # from docs/api/
        lines += [title, "-" * len(title), "", *doc.splitlines(), ""]
        lines += [f".. literalinclude:: {rel.as_posix()}", "   :language: python"]
        if doc:  # the code after the docstring, which is shown above as text
            lines.append(f"   :lines: {(tree.body[0].end_lineno or 0) + 1}-")
        lines.append("")
    del api_dir
    return "\n".join(lines)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(app: Sphinx) -> None:
    """Write ``docs/api/``: an index, a page per public module, the examples page."""
    api_dir = Path(app.srcdir, "api")
    api_dir.mkdir(exist_ok=True)
    entries = collect()
    _ENTRIES[app] = entries  # not in the environment: it is pickled, modules are not
    wanted = {"index.rst", "examples.rst"} | {f"{m}.rst" for m in entries}
    exported = {id(e.obj) for module_entries in entries.values() for e in module_entries}
    for stale in api_dir.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for module, module_entries in entries.items():
        page = _module_page(module, module_entries, set(entries), exported, api_dir)
        _write_if_changed(api_dir / f"{module}.rst", page)
    index = ["API reference", "=============", ""]
    index += ["Every public module of fluxsdk, found by walking the package.", ""]
    index += [".. toctree::", "   :maxdepth: 1", "", *(f"   {m}" for m in entries), ""]
    _write_if_changed(api_dir / "index.rst", "\n".join(index))
    examples = Path(app.srcdir).parent / "examples"
    _write_if_changed(api_dir / "examples.rst", _examples_page(examples, api_dir))


# -- the completeness check ----------------------------------------------------------------


def _undocumented(entry: Entry) -> bool:
    if entry.kind == "data":
        return False  # data documents itself by its ``#:`` comment or its module's text
    return not (inspect.getdoc(entry.obj) or "").strip()


def check_names(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn for each public name missing from the site, or documented without a docstring."""
    entries = _ENTRIES.get(app, {})
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    for module, module_entries in entries.items():
        if module not in objects:
            _log.warning("public module %s is not in the API reference", module)
        if not (inspect.getdoc(importlib.import_module(module)) or "").strip():
            _log.warning("public module %s has no docstring", module)
        for entry in module_entries:
            if f"{module}.{entry.name}" not in objects:
                _log.warning("%s.%s is in __all__ but not in the site", module, entry.name)
            elif entry.home == module and _undocumented(entry):
                _log.warning("%s.%s has no docstring", module, entry.name)
        missing = [
            n
            for n in getattr(importlib.import_module(module), "__all__", [])
            if not hasattr(importlib.import_module(module), n)
        ]
        for name in missing:
            _log.warning("%s.__all__ names %s, which the module does not have", module, name)


# -- references: unqualified names, files outside docs/ -------------------------------------


def _canonical(app: Sphinx) -> dict[str, str]:
    """Every documented public name -> the name of its full description."""
    names: dict[str, str] = {}
    for module, module_entries in _ENTRIES.get(app, {}).items():
        for entry in module_entries:
            full = entry.home if entry.kind == "module" else f"{entry.home}.{entry.name}"
            names[f"{module}.{entry.name}"] = full
    return names


def resolve_unqualified(
    app: Sphinx, env: BuildEnvironment, node: Any, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve a Python reference by its last name parts when they name one object only.

    Docstrings say ``:class:`JobInfo``` in modules that import it without exporting it, and
    ``:meth:`then``` for an inherited method; Sphinx finds neither. Private names
    (``_start``) are left alone: they are not in the site.
    """
    if node.get("refdomain") != "py":
        return None
    target = str(node["reftarget"]).lstrip(".~")
    if not target or any(part.startswith("_") for part in target.split(".")):
        return None
    canonical = _canonical(app)
    objects = env.get_domain("py").objects  # type: ignore[attr-defined]
    public = [
        name
        for name, obj in objects.items()
        if not obj.aliased and not any(p.startswith("_") for p in name.split("."))
    ]
    found: set[str] = set()
    # In a class, a method or attribute may be inherited: look in each base class in turn.
    classes = _mro(node.get("py:module"), node.get("py:class"))
    for klass in classes:
        suffix = f".{klass.__name__}.{target}"
        found = {canonical.get(name, name) for name in public if name.endswith(suffix)}
        if found:
            break
    if not found and _internal(target, classes):
        return contnode  # an implementation name: shown as text, not a link
    if not found:
        suffix = f".{target}"
        found = {canonical.get(name, name) for name in public if name.endswith(suffix)}
    if len(found) != 1:
        return None
    (full,) = found
    entry = objects[full]
    uri = app.builder.get_relative_uri(node["refdoc"], entry.docname) + "#" + entry.node_id
    reference = nodes.reference("", "", internal=True, refuri=uri, reftitle=full)
    reference.append(contnode)
    return reference


def _mro(module: str | None, qualname: str | None) -> list[type]:
    """The classes of ``module.qualname``'s MRO (empty if it is no class)."""
    if not module or not qualname:
        return []
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return []
    return list(inspect.getmro(obj)) if inspect.isclass(obj) else []


def _internal(target: str, classes: list[type]) -> bool:
    """True if ``target`` names something of fluxsdk that no public module exports.

    A module-level name of a fluxsdk module (a private class or type alias in a signature,
    such as ``TasksetLike``), or an attribute a class of ``classes`` sets on its instances.
    Such a reference is not broken: its target is not part of the public API.
    """
    if "." in target:
        return False
    for name, module in list(sys.modules.items()):
        if (name == PACKAGE or name.startswith(f"{PACKAGE}.")) and target in vars(module):
            return True
    setter = re.compile(rf"\bself\.{re.escape(target)}\s*[:=]")
    for klass in classes:
        if not klass.__module__.startswith(PACKAGE):
            continue
        # The methods' own source: a class's may not be found (its __module__ is rewritten).
        for member in vars(klass).values():
            try:
                if inspect.isfunction(member) and setter.search(inspect.getsource(member)):
                    return True
            except (OSError, TypeError):
                continue
    return False


def _prose_is_no_type() -> None:
    """Keep napoleon from reading an attribute's first words as its type.

    For attributes and properties napoleon takes ``text: more text`` on the first line as
    ``type: description``, so a property documented ``Creation date of the job (UTC): ...``
    gets the type "Creation date of the job (UTC)". A type has no spaces outside ``|`` and
    brackets: text with spaces is given back to the description.
    """
    original = GoogleDocstring._consume_inline_attribute
    if getattr(original, "fluxsdk", False):
        return

    def consume(self: GoogleDocstring) -> tuple[str, list[str]]:
        kind, descs = original(self)
        if " " in re.sub(r"\s*\|\s*|\[.*\]", "", kind):
            descs = [f"{kind}: {descs[0]}" if descs else kind, *descs[1:]]
            kind = ""
        return kind, descs

    consume.fluxsdk = True  # type: ignore[attr-defined]
    GoogleDocstring._consume_inline_attribute = consume  # type: ignore[method-assign]


class OutsideLinks(SphinxTransform):
    """A Markdown link to a repository file outside ``docs/`` becomes a download of it.

    (``[the plugin](../plugins/audit/README.md)`` reads well on a forge; in the site the
    file is not a page.) A link to a file that does not exist stays, and fails the build.
    """

    default_priority = 100

    def apply(self, **kwargs: Any) -> None:
        srcdir = Path(self.env.srcdir)
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("refdomain") != "doc" or node.get("reftype") != "myst":
                continue
            target = Path(str(node["reftarget"]))
            if not target.is_absolute():
                target = srcdir / target
            source = target.with_suffix(".md")
            if srcdir in source.resolve().parents or not source.is_file():
                continue
            rel = Path(os.path.relpath(source, Path(self.env.doc2path(self.env.docname)).parent))
            download = addnodes.download_reference(
                "", "", reftarget=rel.as_posix(), refdoc=self.env.docname, refexplicit=True
            )
            download += node.children
            node.replace_self(download)


# -- links from inline code ----------------------------------------------------------------

_CODE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\(.*\))?$")


def _targets(text: str, page_modules: list[str]) -> Iterator[str]:
    match = _CODE.match(text)
    if not match:
        return
    name = match["name"]
    if name == PACKAGE or name.startswith(f"{PACKAGE}."):
        yield name
    elif name == "flux" or name.startswith("flux."):
        yield PACKAGE + name[4:]
    else:
        yield from (f"{module}.{name}" for module in page_modules)


def link_code(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Turn inline code naming a documented object into a link to it."""
    objects = app.env.get_domain("py").objects  # type: ignore[attr-defined]
    page_modules: list[str] = app.config.fluxsdk_page_modules.get(docname, [])
    for literal in list(doctree.findall(nodes.literal)):
        if isinstance(literal.parent, (nodes.reference, nodes.literal_block)):
            continue
        if "xref" in literal.get("classes", []) or "sig-name" in literal.get("classes", []):
            continue
        target = next((t for t in _targets(literal.astext(), page_modules) if t in objects), None)
        if target is None:
            continue
        entry = objects[target]
        uri = app.builder.get_relative_uri(docname, entry.docname) + "#" + entry.node_id
        reference = nodes.reference("", "", internal=True, refuri=uri, reftitle=target)
        literal.replace_self(reference)
        reference.append(literal)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the extension."""
    app.add_config_value("fluxsdk_page_modules", {}, "env")
    app.connect("builder-inited", generate)
    app.connect("env-check-consistency", check_names)
    app.connect("doctree-resolved", link_code)
    app.connect("missing-reference", resolve_unqualified)
    app.add_transform(OutsideLinks)
    _prose_is_no_type()
    app.add_lexer("mermaid", TextLexer)  # diagrams in docs/*.md are shown as their source
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
