"""``fluxsdk start`` and ``fluxsdk shutdown``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import Any

from fluxsdk.instance import Instance, default_statedir, start_detached, uri_for


def register(commands: Any) -> None:
    start = commands.add_parser(
        "start",
        help="run a command inside a new instance (or serve one)",
        description="Like `flux start`: run CMD with FLUX_URI set to a new instance and stop "
        "the instance when CMD exits. Without CMD, serve in the foreground; with --detach, "
        "start in the background and print the URI.",
    )
    start.add_argument("-s", "--size", type=int, default=1, help="simulate N nodes (default 1)")
    start.add_argument("--cores", type=int, default=None, help="cores per node (default: CPUs)")
    start.add_argument(
        "--gpus", type=int, default=None, help="GPUs per node (default: the NVIDIA GPUs found here)"
    )
    start.add_argument(
        "--queues", default="", help="comma-separated named queues; the first is the default"
    )
    start.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="NAME",
        help="load the installed plugin NAME in the instance (repeatable; see `fluxsdk plugins`)",
    )
    start.add_argument(
        "--config", default=None, help="instance configuration file (YAML; may name plugins)"
    )
    start.add_argument(
        "--statedir",
        default=None,
        help="keep state here (default: a temporary directory for CMD, the per-user "
        "default instance's directory otherwise)",
    )
    start.add_argument("-d", "--detach", action="store_true", help="start in the background")
    start.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run inside")
    start.set_defaults(func=_start)

    shutdown = commands.add_parser("shutdown", help="stop an instance")
    shutdown.add_argument(
        "--uri",
        default=None,
        help="instance URI (default: FLUX_URI or the per-user default instance)",
    )
    shutdown.set_defaults(func=_shutdown)


def _start(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    queues = [q for q in args.queues.split(",") if q]
    if args.detach:
        statedir = args.statedir or default_statedir()
        print(
            start_detached(
                statedir,
                size=args.size,
                cores=args.cores,
                gpus=args.gpus,
                queues=queues,
                plugins=args.plugin,
                config=args.config,
            )
        )
        return 0
    temporary = None
    statedir = args.statedir
    if statedir is None:
        if cmd:
            temporary = statedir = tempfile.mkdtemp(prefix="fluxsdk-")
        else:
            statedir = str(default_statedir())
    instance = Instance(
        statedir,
        size=args.size,
        cores=args.cores,
        gpus=args.gpus,
        queues=queues,
        plugins=args.plugin,
        config=args.config,
    )
    try:
        if not cmd:
            print(uri_for(statedir), file=sys.stderr, flush=True)
        return instance.run(cmd or None)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _shutdown(args: argparse.Namespace) -> int:
    from fluxsdk._control import shutdown

    uri = args.uri or os.environ.get("FLUX_URI") or uri_for(default_statedir())
    shutdown(uri)
    return 0
