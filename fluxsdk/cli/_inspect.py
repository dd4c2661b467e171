"""``fluxsdk eventlog``, ``fluxsdk id`` and ``fluxsdk resource``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from fluxsdk.core import Flux
from fluxsdk.job import JobID, event_watch
from fluxsdk.job._jobid import ENCODINGS


def register(commands: Any) -> None:
    eventlog = commands.add_parser("eventlog", help="print a job's eventlog")
    eventlog.add_argument(
        "-p", "--path", default="eventlog", help="eventlog: 'eventlog' (main) or 'guest.output'"
    )
    eventlog.add_argument("-f", "--follow", action="store_true", help="wait for more events")
    eventlog.add_argument("jobid")
    eventlog.set_defaults(func=_eventlog)

    ids = commands.add_parser("id", help="convert job IDs between RFC 19 encodings")
    ids.add_argument("-t", "--to", default="dec", choices=ENCODINGS)
    ids.add_argument("ids", nargs="+")
    ids.set_defaults(func=_id)

    resource = commands.add_parser("resource", help="show the instance's resources (R)")
    resource.set_defaults(func=_resource)


def _eventlog(args: argparse.Namespace) -> int:
    jobid = JobID(args.jobid)
    with Flux() as handle:
        if args.follow:
            events = event_watch(handle, jobid, args.path)
        else:
            key = args.path
            text = handle.rpc("job-info.lookup", {"id": jobid, "keys": [key], "flags": 0}).get()
            # Entries end in "\n" only: splitlines() would also cut at U+2028 in a string.
            events = (json.loads(line) for line in text[key].split("\n") if line)
        for event in events:
            context = event.get("context")
            extra = (
                " " + " ".join(f"{k}={json.dumps(v)}" for k, v in context.items())
                if context
                else ""
            )
            print(f"{event['timestamp']:.6f} {event['name']}{extra}", flush=True)
    return 0


def _id(args: argparse.Namespace) -> int:
    for value in args.ids:
        print(JobID(value).encode(args.to))
    return 0


def _resource(args: argparse.Namespace) -> int:
    with Flux() as handle:
        R = handle.rpc("resource.status", {}).get()["R"]
    print(f"{'RANK':>4} {'NCORES':>6} {'NGPUS':>5}  NODE")
    from fluxsdk.idset import decode

    nodelist = R["execution"]["nodelist"]
    for index, entry in enumerate(R["execution"]["R_lite"]):
        children = entry["children"]
        ngpus = len(decode(children["gpu"])) if "gpu" in children else 0
        print(
            f"{entry['rank']:>4} {len(decode(children['core'])):>6} {ngpus:>5}  {nodelist[index]}"
        )
    return 0
