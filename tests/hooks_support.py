"""Helpers for the plugin tests: instances with plugins, recording plugins, logs."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from fluxsdk.core import Flux
from fluxsdk.hooks import hookimpl
from fluxsdk.instance import start_detached
from fluxsdk.testing import shutdown

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def plugin_instance(
    statedir: Path,
    *,
    plugins: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    cores: int = 2,
    queues: Sequence[str] = (),
) -> Iterator[str]:
    """An instance loading ``plugins`` (``tests.*`` modules importable in it) with
    ``config`` as its configuration file; yields its URI, stops it after."""
    config_path = None
    if config is not None:
        config_path = statedir.parent / f"{statedir.name}-config.yaml"
        config_path.write_text(yaml.safe_dump(dict(config)))
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), saved) if p)
    try:
        uri = start_detached(
            statedir, cores=cores, gpus=0, plugins=plugins, config=config_path, queues=queues
        )
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    try:
        yield uri
    finally:
        shutdown(uri)


def instance_log(statedir: Path) -> str:
    """What the instance in ``statedir`` logged so far."""
    path = statedir / "instance.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def plugin_list(uri: str) -> dict[str, dict[str, Any]]:
    """The instance's plugins by name, as ``fluxsdk plugins --uri`` gets them."""
    with Flux(uri) as handle:
        entries = handle.rpc("plugin.list").get()["plugins"]
    return {entry["name"]: entry for entry in entries}


def job_record(handle: Flux, jobid: int) -> dict[str, Any]:
    """The job-list record of ``jobid`` (which must exist)."""
    from fluxsdk import job

    record = job.get_job(handle, jobid)
    assert record is not None, f"no job {jobid}"
    return record


def submitted_jobspec(handle: Flux, jobid: int) -> dict[str, Any]:
    """The jobspec the instance stored for ``jobid`` (without its environment)."""
    import json

    response = handle.rpc("job-info.lookup", {"id": jobid, "keys": ["jobspec"], "flags": 0})
    value = response.get()["jobspec"]
    return dict(json.loads(value) if isinstance(value, str) else value)


def submitted_environment(handle: Flux, jobid: int) -> dict[str, Any]:
    """The environment of ``jobid`` as submitted (from its signed request J)."""
    import base64
    import json

    response = handle.rpc("job-info.lookup", {"id": jobid, "keys": ["J"], "flags": 0})
    payload = response.get()["J"].split(".")[1]
    doc = json.loads(base64.b64decode(payload))
    return dict(doc["attributes"]["system"].get("environment", {}))


class Recorder:
    """A client-side plugin that records every call made to it."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, str, str]] = []

    @hookimpl
    def fluxsdk_job_event(self, jobid: int, event: Any, eventlog: str, uri: str) -> None:
        """Record the event."""
        self.events.append((int(jobid), event.name, eventlog, uri))
