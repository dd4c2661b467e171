"""fluxsdk over the libflux-core connector against flux-core's own Python bindings,
on the same real Flux instance, in one run.

One ``flux start`` instance serves the whole run (``flux`` from ``--flux``,
``$FLUXSDK_FLUX`` or ``PATH``). Each run measures both sides, alternating
which goes first:

* fluxsdk, in this process, through ``fluxsdk.Flux(uri)`` (the libflux-core
  connector);
* flux-core's bindings, in a ``--flux-python`` subprocess (Debian's
  ``/usr/bin/python3``) with ``PYTHONPATH`` at flux-core's site-packages,
  running ``bench/_flux_bindings_side.py``, which mirrors every call.

Both submit the same jobspec text (``/bin/true``). Figures:

* submit rate: ``--submit-jobs`` held jobs (urgency 0, so none runs) submitted
  asynchronously, clock until every ID is back, after 50 unmeasured ones
  (job-ingest starts its validators on demand); the jobs are cancelled after
  (no ``result()`` on them: flux-core's bindings abort after ~500 of those);
* throughput: ``--jobs`` jobs submitted (waitable), then ``wait()`` for any job
  that many times; clock from the first submit to the last wait;
* latency: ``submit`` then ``result`` of one job at a time, median of
  ``--samples`` after 3 warm-up jobs;
* fds gained per blocking ``result()`` call (flux-core 0.88 leaks one).

Ratios are fluxsdk ÷ flux-core for rates (higher is better for fluxsdk) and
for latency (lower is better). Installed fluxsdk plugins are not loaded
(``FLUXSDK_PLUGINS=none``) unless ``--with-plugins``: their jobspec hooks run
on every submission and are not part of what is compared here.

Run: ``python bench/bench_flux.py [--jobs 1000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common
from _common import Figure, Figures, Target

import fluxsdk
from fluxsdk import job

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.flux_broker, shared with the test suite

from tests.flux_broker import find_flux, flux_broker  # noqa: E402

FLUX_SIDE = Path(__file__).with_name("_flux_bindings_side.py")
COMMAND = ["/bin/true"]
WARMUP = 3
WARMUP_JOBS = 50

FIGURES = [
    Figure("sdk_submit", "fluxsdk submit rate", "jobs/s", ".0f"),
    Figure("flux_submit", "flux-core submit rate", "jobs/s", ".0f"),
    Figure("submit_ratio", "ratio submit rate", "", ".2f"),
    Figure("sdk_tput", "fluxsdk throughput", "jobs/s", ".1f"),
    Figure("flux_tput", "flux-core throughput", "jobs/s", ".1f"),
    Figure("tput_ratio", "ratio throughput", "", ".2f"),
    Figure("sdk_lat", "fluxsdk latency, median", "ms", ".1f"),
    Figure("flux_lat", "flux-core latency, median", "ms", ".1f"),
    Figure("lat_ratio", "ratio latency", "", ".2f"),
    Figure("sdk_fd", "fluxsdk fds per result()", "", ".3f"),
    Figure("flux_fd", "flux-core fds per result()", "", ".3f"),
]
# Parity with flux-core's own client, within this machine's run-to-run noise
# (about 10 %); no fd may be gained per result().
TARGETS = [
    Target("submit_ratio", ">=", 0.9),
    Target("tput_ratio", ">=", 0.9),
    Target("lat_ratio", "<=", 1.1),
    Target("sdk_fd", "<=", 0.0),
]


# -- the fluxsdk side (mirrors bench/_flux_bindings_side.py) ----------------------------


def sdk_submit_rate(h: fluxsdk.Flux, jobspec: str, count: int) -> float:
    """Jobs/s for ``count`` held jobs submitted at once; they are cancelled after."""
    start = time.perf_counter()
    futures = [job.submit_async(h, jobspec, urgency=0) for _ in range(count)]
    ids = [f.get_id() for f in futures]
    elapsed = time.perf_counter() - start
    for jobid in ids:
        job.cancel(h, jobid)
    return count / elapsed


def sdk_throughput(h: fluxsdk.Flux, jobspec: str, count: int) -> float:
    """Jobs/s for ``count`` jobs: submit all (waitable), then wait for any, ``count`` times."""
    start = time.perf_counter()
    futures = [job.submit_async(h, jobspec, waitable=True) for _ in range(count)]
    for f in futures:
        f.get_id()
    for _ in range(count):
        job.wait(h)
    return count / (time.perf_counter() - start)


def sdk_latency(h: fluxsdk.Flux, jobspec: str, samples: int) -> list[float]:
    """Seconds from submit to result of one job at a time."""
    times = []
    for _ in range(WARMUP + samples):
        start = time.perf_counter()
        job.result(h, job.submit(h, jobspec))
        times.append(time.perf_counter() - start)
    return times[WARMUP:]


def sdk_fd_growth(h: fluxsdk.Flux, jobspec: str, calls: int) -> float:
    """Open fds gained per blocking ``result()`` call, over ``calls`` calls."""
    jobid = job.submit(h, jobspec)
    job.result(h, jobid)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(calls):
        job.result(h, jobid)
    return (len(os.listdir("/proc/self/fd")) - before) / calls


def sdk_side(uri: str, jobspec: str, args: argparse.Namespace) -> Figures:
    """The four figures for fluxsdk."""
    with fluxsdk.Flux(uri) as h:
        sdk_submit_rate(h, jobspec, WARMUP_JOBS)  # job-ingest starts its validators on demand
        return {
            "submit_rate": sdk_submit_rate(h, jobspec, args.submit_jobs),
            "throughput": sdk_throughput(h, jobspec, args.jobs),
            "latency": statistics.median(sdk_latency(h, jobspec, args.samples)),
            "fd_per_result": sdk_fd_growth(h, jobspec, args.fd_calls),
        }


# -- the flux-core side --------------------------------------------------------------


def flux_pythonpath(flux: str) -> str:
    """flux-core's site-packages, found from its ``flux`` command's prefix."""
    prefix = Path(os.path.realpath(flux)).parents[1]
    found = sorted(glob.glob(str(prefix / "lib" / "python3*" / "site-packages" / "flux")))
    if not found:
        raise SystemExit(f"flux-core's Python bindings were not found under {prefix}/lib")
    return str(Path(found[-1]).parent)


def flux_side(uri: str, jobspec: str, args: argparse.Namespace) -> Figures:
    """The four figures for flux-core's bindings, measured in their own process."""
    request = {
        "uri": uri,
        "jobspec": jobspec,
        "submit_jobs": args.submit_jobs,
        "jobs": args.jobs,
        "samples": args.samples,
        "warmup": WARMUP,
        "fd_calls": args.fd_calls,
    }
    env = dict(os.environ, PYTHONPATH=args.flux_pythonpath, FLUX_URI=uri)
    proc = subprocess.run(
        [args.flux_python, str(FLUX_SIDE)],
        input=json.dumps(request),
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the flux-core side failed ({proc.returncode}): {proc.stderr[-2000:]}")
    figures: Figures = json.loads(proc.stdout)
    return figures


# -- the run ------------------------------------------------------------------------------


def measure(uri: str, args: argparse.Namespace, index: int) -> Figures:
    """One run: both sides (alternating which goes first), then the ratios."""
    jobspec = job.JobspecV1.from_command(COMMAND).dumps()
    if index % 2 == 0:
        sdk = sdk_side(uri, jobspec, args)
        base = flux_side(uri, jobspec, args)
    else:
        base = flux_side(uri, jobspec, args)
        sdk = sdk_side(uri, jobspec, args)
    return {
        "sdk_submit": sdk["submit_rate"],
        "flux_submit": base["submit_rate"],
        "submit_ratio": sdk["submit_rate"] / base["submit_rate"],
        "sdk_tput": sdk["throughput"],
        "flux_tput": base["throughput"],
        "tput_ratio": sdk["throughput"] / base["throughput"],
        "sdk_lat": sdk["latency"] * 1e3,
        "flux_lat": base["latency"] * 1e3,
        "lat_ratio": sdk["latency"] / base["latency"],
        "sdk_fd": sdk["fd_per_result"],
        "flux_fd": base["fd_per_result"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs (default 3)")
    p.add_argument("--jobs", type=int, default=1000, help="throughput jobs (default 1000)")
    p.add_argument("--submit-jobs", type=int, default=500, help="held jobs for the submit rate")
    p.add_argument("--samples", type=int, default=30, help="latency samples (default 30)")
    p.add_argument("--fd-calls", type=int, default=200, help="result() calls for the fd count")
    p.add_argument("--flux", default=find_flux(), help="the flux command (default: on PATH)")
    p.add_argument("--flux-python", default="/usr/bin/python3", help="flux-core's Python")
    p.add_argument("--flux-pythonpath", help="flux-core's site-packages (default: found)")
    p.add_argument(
        "--with-plugins",
        action="store_true",
        help="keep installed fluxsdk plugins (their jobspec hooks run on every submit); "
        "by default none is loaded, to compare the two clients alone",
    )
    args = p.parse_args()
    if not args.with_plugins:
        os.environ["FLUXSDK_PLUGINS"] = "none"
    if not args.flux:
        raise SystemExit("no flux command: put flux-core's bin on PATH or pass --flux")
    if args.flux_pythonpath is None:
        args.flux_pythonpath = flux_pythonpath(args.flux)
    with flux_broker(args.flux) as uri:
        return _common.main(
            f"fluxsdk (libflux-core connector) vs flux-core bindings, {uri}",
            lambda index: measure(uri, args, index),
            FIGURES,
            TARGETS,
            args.repeat,
        )


if __name__ == "__main__":
    sys.exit(main())
