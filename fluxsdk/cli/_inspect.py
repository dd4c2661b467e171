"""``fluxsdk eventlog``, ``fluxsdk id`` and ``fluxsdk resource``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from fluxsdk.core import Flux
from fluxsdk.eventlog import EventLogEvent, EventLogFormatter, decode_eventlog
from fluxsdk.job import JobID, event_watch
from fluxsdk.job._jobid import ENCODINGS


def register(commands: Any) -> None:
    eventlog = commands.add_parser("eventlog", help="print a job's eventlog")
    eventlog.add_argument(
        "-p", "--path", default="eventlog", help="eventlog: 'eventlog' (main) or 'guest.output'"
    )
    eventlog.add_argument("-f", "--follow", action="store_true", help="wait for more events")
    eventlog.add_argument(
        "--format", default="text", choices=("text", "json"), help="entries as text or JSON"
    )
    eventlog.add_argument(
        "-T",
        "--time-format",
        default="raw",
        choices=("raw", "iso", "offset", "human", "reltime"),
        help="timestamps: seconds since the epoch, ISO 8601, since the first entry, or human",
    )
    eventlog.add_argument(
        "-H", "--human", action="store_true", help="human timestamps and colour on a terminal"
    )
    eventlog.add_argument(
        "--color",
        default="auto",
        choices=("auto", "always", "never"),
        help="colour: auto (on a terminal, the default), always or never",
    )
    eventlog.add_argument(
        "-L", dest="color", action="store_const", const="always", help="same as --color=always"
    )
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
    time_format = "human" if args.human else args.time_format
    formatter = EventLogFormatter(args.format, time_format, args.color)
    with Flux() as handle:
        events: Iterable[EventLogEvent]
        if args.follow:
            events = event_watch(handle, jobid, args.path)
        else:
            key = args.path
            text = handle.rpc("job-info.lookup", {"id": jobid, "keys": [key], "flags": 0}).get()
            events = decode_eventlog(text[key])
        for event in events:
            print(formatter.format(event), flush=True)
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
