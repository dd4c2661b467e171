"""The audit plugin: the log file itself, and every event of real jobs through it."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import fluxsdk
from fluxsdk import job
from fluxsdk.instance import start_detached
from fluxsdk.job.submit import SubmitFuture
from fluxsdk.testing import shutdown

from fluxsdk_audit import AuditLog, read_records


def _eventlogs(uri: str) -> dict[int, list[tuple[float, str, dict[str, Any]]]]:
    """Every job's main eventlog, as (timestamp, name, context) entries."""
    out: dict[int, list[tuple[float, str, dict[str, Any]]]] = {}
    with fluxsdk.Flux(uri) as handle:
        for record in job.job_list(handle, states=0, max_entries=100000).get_jobs():
            jobid = record["id"]
            events = (
                job.event_watch(handle, jobid) if record["state"] == 64 else _current(handle, jobid)
            )
            out[jobid] = [(e.timestamp, e.name, e.context) for e in events]
    return out


def _current(handle: fluxsdk.Flux, jobid: int) -> list[Any]:
    from fluxsdk.eventlog import EventLogEvent

    text = handle.rpc("job-info.lookup", {"id": jobid, "keys": ["eventlog"], "flags": 0}).get()
    return [EventLogEvent(line) for line in text["eventlog"].splitlines()]


def _audited(path: Path) -> dict[int, list[tuple[float, str, dict[str, Any]]]]:
    out: dict[int, list[tuple[float, str, dict[str, Any]]]] = {}
    for record in read_records(path):
        out.setdefault(record["id"], []).append(
            (record["timestamp"], record["name"], record["context"])
        )
    return out


def test_lines_are_whole_and_a_torn_line_is_ended(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.write({"n": 1, "text": "ünïcode"})
    log.close()
    with open(path, "ab") as torn:
        torn.write(b'{"n": 2, "tr')  # a crash in mid-write
    log = AuditLog(path)
    log.write({"n": 3})
    log.close()
    assert path.read_text().splitlines()[-1] == '{"n":3}'
    assert [r["n"] for r in read_records(path)] == [1, 3]


def test_every_event_of_every_job_across_a_restart(tmp_path: Path) -> None:
    statedir = tmp_path / "sd"
    path = statedir / "audit.jsonl"
    uri = start_detached(statedir, cores=2, gpus=0, plugins=["audit"])  # its entry point
    try:
        with fluxsdk.Flux(uri) as handle:
            spec = job.JobspecV1.from_command(["true"])
            ran = [job.submit(handle, spec) for _ in range(3)]
            held = job.submit(handle, spec, urgency=0)
            for jobid in ran:
                job.result(handle, jobid)
            plugins = handle.rpc("plugin.list").get()["plugins"]
        assert any(p["name"] == "audit" and p["source"] == "command line" for p in plugins)
    finally:
        shutdown(uri)  # drains the plugin's queue
    first = _audited(path)
    assert set(first) == {*ran, held}
    lines_before = path.read_text().count("\n")
    # A restart appends: the held job gets its flux-restart event, then runs.
    uri = start_detached(statedir, cores=2, gpus=0, plugins=["audit"])
    try:
        with fluxsdk.Flux(uri) as handle:
            job.set_urgency(handle, held, 16)
            assert job.result(handle, held).returncode == 0
        expected = _eventlogs(uri)
    finally:
        shutdown(uri)
    audited = _audited(path)
    assert audited == {jobid: [(t, n, c) for t, n, c in log] for jobid, log in expected.items()}
    assert path.read_text().count("\n") > lines_before
    assert "flux-restart" in [name for _, name, _ in audited[held]]


def test_safe_under_load(tmp_path: Path) -> None:
    statedir = tmp_path / "sd"
    uri = start_detached(statedir, cores=4, gpus=0, plugins=["audit"])
    count = 300
    try:
        with fluxsdk.Flux(uri) as handle:
            spec = job.JobspecV1.from_command(["true"])
            in_flight: deque[SubmitFuture] = deque()
            ids = []
            for _ in range(count):
                if len(in_flight) >= 64:
                    ids.append(in_flight.popleft().get_id())
                in_flight.append(job.submit_async(handle, spec, waitable=True))
            ids += [f.get_id() for f in in_flight]
            for _ in ids:
                job.wait(handle)
        expected = _eventlogs(uri)
    finally:
        shutdown(uri)
    lines = (statedir / "audit.jsonl").read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert len(lines) == sum(len(log) for log in expected.values())
    assert _audited(statedir / "audit.jsonl") == expected


def test_the_path_setting(tmp_path: Path) -> None:
    config = tmp_path / "instance.yaml"
    target = tmp_path / "logs" / "audit-here.jsonl"
    config.write_text(f"plugins: [audit]\naudit: {{path: {target}, fsync: true}}\n")
    uri = start_detached(tmp_path / "sd", cores=1, gpus=0, config=config)
    try:
        with fluxsdk.Flux(uri) as handle:
            job.result(handle, job.submit(handle, job.JobspecV1.from_command(["true"])))
    finally:
        shutdown(uri)
    names = [record["name"] for record in read_records(target)]
    assert names[0] == "submit" and names[-1] == "clean"
