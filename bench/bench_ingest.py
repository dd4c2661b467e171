"""Instance-side cost of ingest plugins: submissions through transforms and validators.

Each configuration gets a fresh instance and submits the same held jobs
(urgency 0: they never run) with at most ``--window`` submissions in flight;
the client runs no plugin (hooks disabled), so only the instance's ingest
differs. Measured per configuration: the submit rate (jobs/s until the last
ID is back) and the instance's CPU time per job.

Configurations, interleaved run by run: no ingest plugin (the baseline: the
instance's own checks only), one fluxsdk plugin whose transform and validator
do nothing (``1``: the machinery, two calls in a plugin thread per job), and
Flux's usual stack in Flux's form (``flux``: the ``defaults`` frobnicator
and the ``require-instance`` validator, fluxsdk's versions).

Target: none yet; the figures say what a site pays for policy in the
instance.

Run: ``python bench/bench_ingest.py [--jobs 2000] [--window 64] [--repeat 3]``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import _common
import yaml
from _common import Figure, Figures

from fluxsdk import hooks, job

CONFIGS = ("none", "1", "flux")

FIGURES = [
    *(Figure(f"rate_{c}", f"submit rate, {c}", "jobs/s", ".0f") for c in CONFIGS),
    *(Figure(f"cpu_{c}", f"instance CPU per job, {c}", "µs", ".0f") for c in CONFIGS),
    *(Figure(f"ratio_{c}", f"rate ratio {c} / none", "", ".2f") for c in CONFIGS[1:]),
]

NOOP_PLUGIN = '''
from fluxsdk.hooks import hookimpl


@hookimpl
def fluxsdk_instance_jobspec_transform(jobspec):
    """Leave the job as it is."""


@hookimpl
def fluxsdk_instance_jobspec_validate(jobspec):
    """Accept the job."""
    return None
'''


def configured(config: str, directory: Path) -> tuple[list[str], str | None]:
    """The plugins and configuration file of ``config``."""
    if config == "none":
        return [], None
    if config == "1":
        path = directory / "noop_ingest.py"
        path.write_text(NOOP_PLUGIN)
        return [str(path)], None
    conf = directory / "flux.yaml"
    conf.write_text(
        yaml.safe_dump(
            {
                "ingest": {
                    "frobnicator": {"plugins": ["defaults"]},
                    "validator": {
                        "plugins": ["require-instance"],
                        "args": ["--require-instance-mincores=1000"],
                    },
                },
                "policy": {"jobspec": {"defaults": {"system": {"duration": 3600}}}},
            }
        )
    )
    return [], str(conf)


def measure(jobs: int, window: int, cores: int) -> Figures:
    spec = job.JobspecV1.from_command(["true"])
    figures: Figures = {}
    with tempfile.TemporaryDirectory(prefix="fluxsdk-bench-ingest-") as tmp:
        for config in CONFIGS:
            plugins, conf = configured(config, Path(tmp))
            with (
                _common.bench_instance(cores, plugins=plugins, config=conf) as (handle, pid),
                hooks.disabled(),
            ):
                _common.submit_windowed(handle, spec, 50, window=window, urgency=0)  # warm-up
                before = _common.cpu_seconds(pid)
                seconds = _common.submit_windowed(handle, spec, jobs, window=window, urgency=0)
                cpu = _common.cpu_seconds(pid) - before
            figures[f"rate_{config}"] = jobs / seconds
            figures[f"cpu_{config}"] = cpu / jobs * 1e6
    for config in CONFIGS[1:]:
        figures[f"ratio_{config}"] = figures[f"rate_{config}"] / figures["rate_none"]
    return figures


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--jobs", type=int, default=2000, help="held jobs per configuration")
    p.add_argument("--window", type=int, default=64, help="submissions in flight")
    args = p.parse_args()
    title = f"ingest: {args.jobs} held jobs per configuration"
    return _common.main(
        title,
        lambda index: measure(args.jobs, args.window, args.cores),
        FIGURES,
        [],
        args.repeat,
    )


if __name__ == "__main__":
    sys.exit(main())
