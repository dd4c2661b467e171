"""``fluxsdk plugins``: which plugins are loaded, from where, and what they do.

Without ``--uri``, the plugins this process loads (those every script using
fluxsdk here gets: built-ins and installed entry points, as
``FLUXSDK_PLUGINS`` / ``FLUXSDK_DISABLE_PLUGINS`` select them). With
``--uri``, those an embedded instance loaded, with what each has done. Each
hook says which side calls it; an advisory plugin (one that fails open) is
marked.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fluxsdk.hooks import get_plugin_manager, hookspecs

_STAT_COLUMNS = (
    ("calls", "CALLS"),
    ("failures", "FAILED"),
    ("slow", "SLOW"),
    ("timeouts", "LATE"),
    ("dropped", "DROPPED"),
)


def register(commands: Any) -> None:
    plugins = commands.add_parser(
        "plugins",
        help="list loaded plugins and where they come from",
        description="List the plugins this process loads (built-in and installed), or with "
        "--uri those an embedded instance loaded, with their calls and failures.",
    )
    plugins.add_argument("--uri", default=None, help="list the plugins of this instance")
    plugins.add_argument(
        "--order", action="store_true", help="also show each hook's implementations in call order"
    )
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(func=_plugins)


def _plugins(args: argparse.Namespace) -> int:
    if args.uri:
        from fluxsdk.core import Flux

        with Flux(args.uri) as handle:
            entries: list[dict[str, Any]] = handle.rpc("plugin.list").get()["plugins"]
        title = f"plugins of the instance {args.uri}"
        order = None
    else:
        manager = get_plugin_manager()
        entries = [info.as_dict() for info in manager.infos()]
        title = "plugins of this process" + _selection()
        order = {h: [i.plugin_name for i in manager.impls(h)] for h in hookspecs.__all__}
    if args.json:
        out: dict[str, Any] = {"plugins": entries}
        if args.order and order is not None:
            out["order"] = order
        print(json.dumps(out, indent=2))
        return 0
    print(title)
    _table(entries)
    if args.order and order is not None:
        print("call order, by hook:")
        for hook, names in order.items():
            print(f"  {hook}: {', '.join(names) or '-'}")
    return 0


def _selection() -> str:
    chosen = [f"{var}={os.environ[var]}" for var in _ENV if var in os.environ]
    return f" ({', '.join(chosen)})" if chosen else ""


_ENV = (
    "FLUXSDK_PLUGINS",
    "FLUXSDK_DISABLE_PLUGINS",
    "FLUXSDK_ADVISORY_PLUGINS",
    "FLUXSDK_PLUGIN_TIMEOUT",
)


def _table(entries: Sequence[Mapping[str, Any]]) -> None:
    if not entries:
        print("  (none)")
        return
    width = max(len(str(e["name"])) for e in entries)
    for entry in entries:
        state = "loaded" if entry.get("error") is None else "FAILED"
        line = f"  {entry['name']:<{width}}  {state:<6}  {entry['source']:<12}  {entry['origin']}"
        print(line + ("  [advisory: fails open]" if entry.get("advisory") else ""))
        if entry.get("error") is not None:
            print(f"  {'':<{width}}  error: {entry['error']}")
        for hook in entry.get("hooks", []):
            stats = entry.get("stats", {}).get(hook)
            side = "instance" if hook.startswith("fluxsdk_instance_") else "client"
            line = f"  {'':<{width}}  - {hook} ({side})"
            if stats is not None:
                line += "  " + " ".join(f"{label.lower()}={stats[k]}" for k, label in _STAT_COLUMNS)
            print(line)
        if entry.get("queued"):
            print(f"  {'':<{width}}  queued: {entry['queued']}")
