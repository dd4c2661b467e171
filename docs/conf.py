"""Sphinx configuration of the fluxsdk site: docs/*.md pages and the API reference.

Build it with ``python -m sphinx -W -n docs docs/_build/html`` (``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import fluxsdk

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "fluxsdk"
author = "the fluxsdk authors"
copyright = "the fluxsdk authors"
version = release = fluxsdk.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "fluxsdk_api",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]

# Every broken reference is an error (-n -W), except to names outside fluxsdk: there is no
# network at build time to fetch Python's or attrs' inventories.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(.*\.)?_\w*(\..*)?"),  # private names (TypeVars, implementation classes)
    (r"py:.*", r"(?!fluxsdk\.)[\w]+\.[\w.]+"),  # dotted names of other packages
    (r"py:.*", r"(int|str|float|bool|bytes|object|dict|list|tuple|set|frozenset|type|None)"),
    (r"py:.*", r"(Any|NotRequired|Callable|Iterable|Iterator|Mapping|Sequence|Generator)"),
    (r"py:.*", r"(Awaitable|Coroutine|AsyncIterator|Literal|Self|Final|ClassVar|TypeVar)"),
    (r"py:.*", r"(Path|datetime|timedelta|Enum|Exception|BaseException|OSError|ValueError)"),
    (r"py:.*", r"(TypeError|RuntimeError|KeyError|TimeoutError|TracebackType)"),
]

autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # attributes are documented by autodoc, once

myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"fluxsdk {release}"
html_theme_options = {"description": "A typed SDK for Flux jobs", "sidebar_collapse": True}

# Pages whose inline code names objects of these modules unqualified (``result(h, jobid)``).
fluxsdk_page_modules = {
    "job-api": ["fluxsdk.job", "fluxsdk.job.output", "fluxsdk.job.info", "fluxsdk.job.wait"],
    "executor": ["fluxsdk.job.executor", "fluxsdk.job"],
    "asyncio": ["fluxsdk.job.aio", "fluxsdk.job"],
    "model": ["fluxsdk.model"],
    "jobspecs-and-ids": ["fluxsdk.job"],
    "plugins": ["fluxsdk.hooks", "fluxsdk.hooks.hookspecs"],
    "instance": ["fluxsdk.instance"],
    "protocol": ["fluxsdk.core"],
    "flux-cluster": ["fluxsdk.core"],
    "types": ["fluxsdk.job", "fluxsdk.job.contexts", "fluxsdk.job.wait"],
}
