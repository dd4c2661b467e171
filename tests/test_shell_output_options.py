"""The job shell's output options on the embedded instance, against flux-core's recordings.

For each scenario of ``tests/data/flux_shell_output_options.json`` the same job
runs here; its output eventlog and output files must hold what flux's shell
wrote (tasks' writes may interleave differently, so lines are compared as sets
and events as multisets; redirect paths are compared by file name).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.job import JobspecV1

DATA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_shell_output_options.json").read_text()
)


def _events(entries: list[list[Any]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name, context in entries:
        context = dict(context)
        if "path" in context:
            context["path"] = Path(context["path"]).name
        out[f"{name} {json.dumps(context, sort_keys=True)}"] += 1
    return out


def _lines(text: str | None) -> Counter[str] | None:
    return None if text is None else Counter(text.splitlines(keepends=True))


@pytest.mark.parametrize("name", sorted(DATA["scenarios"]))
def test_output_option(flux_handle: Flux, tmp_path: Path, name: str) -> None:
    scenario = DATA["scenarios"][name]
    recorded = DATA["recorded"][name]
    spec = JobspecV1.from_command(
        ["sh", "-c", scenario["cmd"]], num_tasks=scenario.get("ntasks", 1)
    )
    for key, value in scenario.get("opts", {}).items():
        spec.setattr_shell_option(key, value)
    for stream in ("stdout", "stderr"):
        if stream in scenario:
            setattr(spec, stream, str(tmp_path / scenario[stream]))
    for filename, text in scenario.get("pre", {}).items():
        (tmp_path / filename).write_text(text)
    jobid = job.submit(flux_handle, spec, waitable=True)
    job.wait(flux_handle, jobid)
    eventlog = [[e.name, e.context] for e in job.event_watch(flux_handle, jobid, "guest.output")]
    assert _events(eventlog) == _events(recorded["output_eventlog"])
    for key, text in recorded.items():
        if key.startswith("<dir>/"):
            written = (tmp_path / key[len("<dir>/") :]).read_text()
            assert _lines(written) == _lines(text), key
