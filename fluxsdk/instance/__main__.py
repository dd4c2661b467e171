"""``python -m fluxsdk.instance``: run an instance in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from fluxsdk.instance._instance import Instance, InstanceError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fluxsdk.instance")
    parser.add_argument("--statedir", required=True)
    parser.add_argument("--size", type=int, default=1)
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--gpus", type=int, default=None)
    parser.add_argument("--queues", default="", help="comma-separated queue names")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="NAME", help="load a plugin (repeatable)"
    )
    parser.add_argument("--config", default=None, help="instance configuration file (YAML)")
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--fork", action="store_true", help="detach: serve from a child process")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.fork and os.fork() > 0:
        # The starter reaps this parent at once; the instance lives on, reparented.
        os._exit(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    ready = os.fdopen(args.ready_fd, "w") if args.ready_fd is not None else None
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        queues = [q for q in args.queues.split(",") if q]
        instance = Instance(
            args.statedir,
            size=args.size,
            cores=args.cores,
            gpus=args.gpus,
            queues=queues,
            plugins=args.plugin,
            config=args.config,
        )
        return instance.run(command or None, ready=ready)
    except InstanceError as exc:
        print(f"fluxsdk instance: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        if ready is not None:
            ready.close()


if __name__ == "__main__":
    sys.exit(main())
