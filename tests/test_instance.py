"""The embedded instance at the RPC level: flux-core's topics, payloads and RFC 21 events."""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk._sign import sign_none
from fluxsdk.core import FLUX_RPC_STREAMING, Flux
from fluxsdk.eventlog import EventLogEvent
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.testing import instance_running


def submit(h: Flux, jobspec: JobspecV1 | str, urgency: int = 16, flags: int = 0) -> int:
    text = jobspec if isinstance(jobspec, str) else jobspec.dumps()
    payload = {"J": sign_none(text.encode(), os.getuid()), "urgency": urgency, "flags": flags}
    jobid: int = h.rpc("job-ingest.submit", payload).get()["id"]
    return jobid


def watch(h: Flux, jobid: int, path: str = "eventlog", flags: int = 0) -> Iterator[EventLogEvent]:
    future = h.rpc(
        "job-info.eventlog-watch",
        {"id": jobid, "path": path, "flags": flags},
        flags=FLUX_RPC_STREAMING,
    )
    while True:
        try:
            event = future.get()["event"]
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                return
            raise
        yield EventLogEvent(event)
        future.reset()


def events(h: Flux, jobid: int) -> list[EventLogEvent]:
    return list(watch(h, jobid))


def names(h: Flux, jobid: int) -> list[str]:
    return [e.name for e in events(h, jobid)]


def wait_for_event(h: Flux, jobid: int, name: str) -> EventLogEvent:
    for event in watch(h, jobid):
        if event.name == name:
            return event
    raise AssertionError(f"no {name} event")


def output(h: Flux, jobid: int) -> list[EventLogEvent]:
    return list(watch(h, jobid, "guest.output", flags=1))


def cmd(*argv: str, **kwargs: Any) -> JobspecV1:
    kwargs.setdefault("environment", dict(os.environ))
    return JobspecV1.from_command(list(argv), **kwargs)


NORMAL = [
    "submit",
    "validate",
    "depend",
    "priority",
    "alloc",
    "start",
    "finish",
    "release",
    "free",
    "clean",
]


def test_successful_job_event_sequence(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("true"))
    evs = events(flux_handle, jobid)
    assert [e.name for e in evs] == NORMAL
    submit_ctx = evs[0].context
    assert submit_ctx == {"userid": os.getuid(), "urgency": 16, "flags": 0, "version": 1}
    assert evs[3].context == {"priority": 16}
    assert evs[6].context == {"status": 0}
    assert evs[7].context == {"ranks": "all", "final": True}
    timestamps = [e.timestamp for e in evs]
    assert timestamps == sorted(timestamps)


def test_job_tmpdir_is_private_and_removed(flux_handle: Flux, tmp_path: Path) -> None:
    """FLUX_JOB_TMPDIR: a directory of the job's own (mode 0700), gone once it ends."""
    seen = tmp_path / "seen"
    script = f'echo "$FLUX_JOB_TMPDIR" > {seen}; stat -c %a "$FLUX_JOB_TMPDIR" >> {seen}'
    jobid = submit(flux_handle, cmd("sh", "-c", script))
    wait_for_event(flux_handle, jobid, "clean")
    tmpdir, mode = seen.read_text().split()
    assert mode == "700"
    assert os.path.basename(tmpdir).startswith(f"fluxsdk-{JobID(jobid).f58plain}-")
    assert not os.path.exists(tmpdir)


def test_exit_status_is_wait_status(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("sh", "-c", "exit 3"))
    finish = wait_for_event(flux_handle, jobid, "finish")
    assert finish.context["status"] == 3 << 8


def test_output_eventlog_multi_task(flux_handle: Flux) -> None:
    jobid = submit(
        flux_handle, cmd("sh", "-c", "echo out $FLUX_TASK_RANK; echo err >&2", num_tasks=2)
    )
    evs = output(flux_handle, jobid)
    assert evs[0].name == "header"
    assert evs[0].context == {
        "version": 1,
        "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
        "count": {"stdout": 2, "stderr": 2},
        "options": {},
    }
    data = [e.context for e in evs if e.name == "data" and "data" in e.context]
    assert {(d["rank"], d["stream"], d["data"]) for d in data} == {
        ("0", "stdout", "out 0\n"),
        ("1", "stdout", "out 1\n"),
        ("0", "stderr", "err\n"),
        ("1", "stderr", "err\n"),
    }
    eofs = {(e.context["rank"], e.context["stream"]) for e in evs if e.context.get("eof")}
    assert eofs == {("0", "stdout"), ("1", "stdout"), ("0", "stderr"), ("1", "stderr")}


def test_non_utf8_output_is_base64(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("printf", "\\377\\376\\n"))
    data = [e.context for e in output(flux_handle, jobid) if "data" in e.context]
    assert data[0]["encoding"] == "base64"
    assert base64.b64decode(data[0]["data"]) == b"\xff\xfe\n"


def test_task_environment_and_affinity(flux_handle: Flux, tmp_path: Path) -> None:
    script = (
        'echo "$FLUX_JOB_ID $FLUX_TASK_RANK $FLUX_TASK_LOCAL_ID $FLUX_JOB_SIZE '
        '$FLUX_JOB_NNODES $FLUX_URI $GREETING $(pwd)"; '
        "grep Cpus_allowed_list /proc/self/status"
    )
    env = dict(os.environ, GREETING="hi")
    jobid = submit(
        flux_handle, cmd("sh", "-c", script, cores_per_task=1, environment=env, cwd=str(tmp_path))
    )
    text = "".join(e.context.get("data", "") for e in output(flux_handle, jobid))

    first, affinity = text.splitlines()
    f58, rank, local, size, nnodes, uri, greeting, cwd = first.split()
    assert JobID(f58) == jobid
    assert (rank, local, size, nnodes, greeting) == ("0", "0", "1", "1", "hi")
    assert uri == flux_handle.rpc("broker.getattr", {"name": "local-uri"}).get()["value"]
    assert cwd == str(tmp_path)
    allowed = affinity.split(":")[1].strip()
    assert allowed.isdigit(), f"one core expected, got {allowed!r}"


def test_cancel_pending_job(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("true"), urgency=0)  # held
    flux_handle.rpc(
        "job-manager.raise",
        {"id": jobid, "type": "cancel", "severity": 0, "note": "no longer needed"},
    ).get()
    evs = events(flux_handle, jobid)
    assert [e.name for e in evs] == [
        "submit",
        "validate",
        "depend",
        "priority",
        "exception",
        "clean",
    ]
    assert evs[3].context == {"priority": 0}
    assert evs[4].context == {
        "type": "cancel",
        "severity": 0,
        "note": "no longer needed",
        "userid": os.getuid(),
    }
    assert not any(e.name == "data" for e in evs)


def test_cancel_running_job(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("sleep", "30"))
    wait_for_event(flux_handle, jobid, "start")
    flux_handle.rpc("job-manager.raise", {"id": jobid, "type": "cancel", "severity": 0}).get()
    evs = events(flux_handle, jobid)
    assert [e.name for e in evs][-5:] == ["exception", "finish", "release", "free", "clean"]
    finish = next(e for e in evs if e.name == "finish")
    # Like flux's job shell: a task killed by SIGTERM is reported as exit code 128+15.
    assert finish.context["status"] == (128 + signal.SIGTERM) << 8


def test_kill_running_job(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("sleep", "30"))
    wait_for_event(flux_handle, jobid, "start")
    flux_handle.rpc("job-manager.kill", {"id": jobid, "signum": signal.SIGKILL}).get()
    finish = wait_for_event(flux_handle, jobid, "finish")
    assert finish.context["status"] == (128 + signal.SIGKILL) << 8
    wait_for_event(flux_handle, jobid, "clean")
    with pytest.raises(OSError, match="job is inactive") as info:
        flux_handle.rpc("job-manager.kill", {"id": jobid, "signum": 15}).get()
    assert info.value.errno == errno.EINVAL


def test_kill_reaches_the_whole_process_tree(flux_handle: Flux, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    jobid = submit(flux_handle, cmd("sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"))
    wait_for_event(flux_handle, jobid, "start")
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int(pidfile.read_text())
    flux_handle.rpc("job-manager.raise", {"id": jobid, "type": "cancel", "severity": 0}).get()
    wait_for_event(flux_handle, jobid, "clean")
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_duration_limit(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("sleep", "30", duration=0.3))
    evs = events(flux_handle, jobid)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context == {
        "type": "timeout",
        "severity": 0,
        "userid": os.getuid(),
        "note": "resource allocation expired",
    }
    finish = next(e for e in evs if e.name == "finish")
    assert finish.context["status"] == (128 + signal.SIGALRM) << 8
    info = flux_handle.rpc("job-list.list-id", {"id": jobid, "attrs": ["all"]}).get()["job"]
    assert info["result"] == 8  # TIMEOUT


def test_hold_and_release_with_urgency(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("true"), urgency=0)
    wait_for_event(flux_handle, jobid, "priority")
    old = flux_handle.rpc("job-manager.urgency", {"id": jobid, "urgency": 31}).get()
    assert old == {"old_urgency": 0}
    evs = events(flux_handle, jobid)
    assert [e.name for e in evs][:7] == [
        "submit",
        "validate",
        "depend",
        "priority",
        "urgency",
        "priority",
        "alloc",
    ]
    assert evs[4].context == {"urgency": 31, "userid": os.getuid()}
    assert evs[5].context == {"priority": 4294967295}


def test_dependencies(flux_handle: Flux) -> None:
    parent = submit(flux_handle, cmd("true"), urgency=0)
    child_ok = cmd("true")
    child_ok.setattr("system.dependencies", [{"scheme": "afterok", "value": str(parent)}])
    child = submit(flux_handle, child_ok)
    flux_handle.rpc("job-manager.urgency", {"id": parent, "urgency": 16}).get()
    evs = events(flux_handle, child)
    # As in flux, dependency-add comes before validate.
    assert [e.name for e in evs] == [
        "submit",
        "dependency-add",
        "validate",
        "dependency-remove",
        "depend",
        *NORMAL[3:],
    ]
    assert evs[1].context == {"description": f"after-success={parent}"}
    assert evs[3].context == evs[1].context

    failing = submit(flux_handle, cmd("false"), urgency=0)
    dependent = cmd("true")
    dependent.setattr("system.dependencies", [{"scheme": "afterok", "value": str(failing)}])
    child = submit(flux_handle, dependent)
    flux_handle.rpc("job-manager.urgency", {"id": failing, "urgency": 16}).get()
    evs = events(flux_handle, child)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context == {
        "type": "dependency",
        "severity": 0,
        "userid": os.getuid(),
        "note": f"dependency after-success={failing} can never be satisfied",
    }
    assert evs[-1].name == "clean" and "start" not in [e.name for e in evs]

    # A dependency on a job that already failed is refused at submission, as in flux.
    with pytest.raises(OSError, match=r"afterok: job .* failed or was canceled") as info:
        submit(flux_handle, dependent)
    assert info.value.errno == errno.EINVAL


def test_wait_for_waitable_job(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("sh", "-c", "exit 2"), flags=4)
    result = flux_handle.rpc("job-manager.wait", {"id": jobid}).get()
    assert result["id"] == jobid and result["success"] is False
    assert "exit code 2" in result["errstr"]


def test_lookup_and_list(flux_handle: Flux) -> None:
    js = cmd("true", name="listed")
    jobid = submit(flux_handle, js)
    wait_for_event(flux_handle, jobid, "clean")
    found = flux_handle.rpc(
        "job-info.lookup", {"id": jobid, "keys": ["jobspec", "R"], "flags": 1}
    ).get()
    # As flux's KVS copy, the stored jobspec leaves the environment out.
    expected = json.loads(js.dumps())
    del expected["attributes"]["system"]["environment"]
    assert found["jobspec"] == expected
    assert found["R"]["execution"]["R_lite"][0]["rank"] == "0"
    jobs = flux_handle.rpc(
        "job-list.list", {"max_entries": 1000, "attrs": ["all"], "constraint": {"name": ["listed"]}}
    ).get()["jobs"]
    assert [j["id"] for j in jobs] == [jobid]
    assert jobs[0]["result"] == 1 and jobs[0]["success"] is True


# Errnos and messages as real flux-core 0.88 answers them (recorded side by side).
@pytest.mark.parametrize(
    ("topic", "payload", "errnum", "message"),
    [
        (
            "job-manager.raise",
            {"id": 123, "type": "cancel", "severity": 0},
            errno.ENOENT,
            "unknown job id",
        ),
        ("job-manager.kill", {"id": 123, "signum": 15}, errno.EINVAL, "unknown job id"),
        ("job-manager.urgency", {"id": 123, "urgency": 1}, errno.EINVAL, "unknown job"),
        (
            "job-manager.wait",
            {"id": 123},
            errno.ECHILD,
            "invalid job id, or job may be inactive and not waitable",
        ),
        (
            "job-info.lookup",
            {"id": 123, "keys": ["jobspec"], "flags": 0},
            errno.ENOENT,
            "invalid job id",
        ),
        ("job-list.list-id", {"id": 123, "attrs": ["all"]}, errno.ENOENT, None),
        (
            "job-info.eventlog-watch",
            {"id": 123, "path": "eventlog", "flags": 0},
            errno.EPROTO,
            "eventlog-watch request rejected without streaming RPC flag",
        ),
        ("job-manager.raise", {"id": "x"}, errno.EPROTO, None),
        ("job-manager.urgency", {"urgency": 1}, errno.EPROTO, None),
        (
            "job-ingest.submit",
            {"J": "garbage", "urgency": 16, "flags": 0},
            errno.EINVAL,
            "could not unwrap jobspec",
        ),
        (
            "job-ingest.submit",
            {"J": "x", "urgency": 32, "flags": 0},
            errno.EINVAL,
            "urgency range is [0:31]",
        ),
        ("job-ingest.submit", {"urgency": 16}, errno.EPROTO, None),
        ("no-such.service", {}, errno.ENOSYS, None),
    ],
)
def test_bad_requests_get_flux_errors(
    flux_handle: Flux, topic: str, payload: dict[str, Any], errnum: int, message: str | None
) -> None:
    with pytest.raises(OSError) as info:
        flux_handle.rpc(topic, payload).get()
    assert info.value.errno == errnum
    assert info.value.strerror
    if message is not None:
        assert message in info.value.strerror
    # The instance is unharmed.
    assert names(flux_handle, submit(flux_handle, cmd("true")))[-1] == "clean"


@pytest.mark.parametrize(
    ("jobspec", "errnum", "message"),
    [
        # flux: EINVAL for text that is no JSON, EPERM for a jobspec its validator rejects.
        ("not json", errno.EINVAL, "jobspec: invalid JSON"),
        ("{}", errno.EPERM, "missing required key"),
        (
            json.dumps({"version": 1, "resources": [], "tasks": [], "attributes": {}}),
            errno.EPERM,
            "resources",
        ),
    ],
)
def test_invalid_jobspec_rejected(
    flux_handle: Flux, jobspec: str, errnum: int, message: str
) -> None:
    with pytest.raises(OSError, match=message) as info:
        submit(flux_handle, jobspec)
    assert info.value.errno == errnum


def test_unsatisfiable_request_raises_alloc_exception(flux_handle: Flux) -> None:
    # As flux-core's scheduler: the job is accepted, then denied with a fatal
    # alloc exception naming what it lacks; it never starts.
    jobid = submit(flux_handle, cmd("true", num_tasks=1000))
    wait_for_event(flux_handle, jobid, "clean")
    evs = events(flux_handle, jobid)
    assert [e.name for e in evs] == [
        "submit", "validate", "depend", "priority", "exception", "clean"
    ]  # fmt: skip
    exc = evs[4].context
    assert (exc["type"], exc["severity"]) == ("alloc", 0)
    assert exc["note"].startswith("unsatisfiable request: need 1000 slot(s) of 1 core(s), only ")


def test_simulated_nodes(tmp_path: Path) -> None:
    with instance_running(tmp_path / "inst", size=3, cores=2) as uri, Flux(uri) as h:
        jobid = submit(
            h, cmd("sh", "-c", "echo $FLUX_TASK_RANK $FLUX_JOB_NNODES", num_tasks=3, num_nodes=3)
        )
        lines = "".join(e.context.get("data", "") for e in output(h, jobid)).split("\n")
        assert sorted(filter(None, lines)) == ["0 3", "1 3", "2 3"]
        info = h.rpc("job-list.list-id", {"id": jobid, "attrs": ["all"]}).get()["job"]
        assert info["ranks"] == "0-2"


def test_restart_keeps_jobs(tmp_path: Path) -> None:
    statedir = tmp_path / "inst"
    with instance_running(statedir, cores=1) as uri, Flux(uri) as h:
        done = submit(h, cmd("echo", "kept"))
        wait_for_event(h, done, "clean")
        held = submit(h, cmd("true"), urgency=0)
        wait_for_event(h, held, "priority")
    with instance_running(statedir, cores=1) as uri, Flux(uri) as h:
        assert names(h, done) == NORMAL
        assert "kept\n" in [e.context.get("data") for e in output(h, done)]
        h.rpc("job-manager.urgency", {"id": held, "urgency": 16}).get()
        evs = names(h, held)
        assert evs[:5] == ["submit", "validate", "depend", "priority", "flux-restart"]
        assert evs[-1] == "clean" and "start" in evs
        # IDs are never reused after a restart.
        assert submit(h, cmd("true")) > held


def test_memo_and_debug_events(flux_handle: Flux) -> None:
    jobid = submit(flux_handle, cmd("true"), urgency=0, flags=2)  # held, FLUX_JOB_DEBUG
    flux_handle.rpc("job-manager.memo", {"id": jobid, "memo": {"note": "hi", "n": 1}}).get()
    flux_handle.rpc("job-manager.memo", {"id": jobid, "memo": {"n": None}}).get()
    info = flux_handle.rpc("job-list.list-id", {"id": jobid, "attrs": ["all"]}).get()["job"]
    assert info["annotations"]["user"] == {"note": "hi"}
    flux_handle.rpc("job-manager.urgency", {"id": jobid, "urgency": 16}).get()
    evs = names(flux_handle, jobid)
    assert evs.count("memo") == 2
    assert "debug.alloc-request" in evs and "debug.free-request" in evs
    assert evs.index("debug.alloc-request") < evs.index("alloc")
    with pytest.raises(OSError, match="job is inactive"):
        flux_handle.rpc("job-manager.memo", {"id": jobid, "memo": {"x": 1}}).get()


def test_queues(tmp_path: Path) -> None:
    with instance_running(tmp_path / "q", queues=["batch", "debug"]) as uri, Flux(uri) as h:
        default = submit(h, cmd("true"))
        named = cmd("true")
        named.queue = "debug"
        chosen = submit(h, named)
        for jobid, queue in ((default, "batch"), (chosen, "debug")):
            info = h.rpc("job-list.list-id", {"id": jobid, "attrs": ["queue"]}).get()["job"]
            assert info["queue"] == queue
        named.queue = "nosuch"
        with pytest.raises(OSError, match="'nosuch' is not a valid queue") as exc:
            submit(h, named)
        assert exc.value.errno == errno.EINVAL
    # Without named queues a job may not name one (as in flux).
    named.queue = "debug"
    with (
        instance_running(tmp_path / "noq") as uri,
        Flux(uri) as h,
        pytest.raises(OSError, match="'debug' is not a valid queue"),
    ):
        submit(h, named)


def _queue_status(h: Flux, name: str) -> Any:
    return h.rpc("job-manager.queue-status", {"name": name}).get()


def test_named_queues_start_stopped_and_keep_their_state(tmp_path: Path) -> None:
    # As in flux: named queues begin stopped; a job waits (in SCHED, unseen by the
    # scheduler) until its queue starts; the started state survives a restart.
    statedir = tmp_path / "q"
    with instance_running(statedir, queues=["batch", "debug"]) as uri, Flux(uri) as h:
        assert _queue_status(h, "debug") == {"enable": True, "start": False}
        jobid = submit(h, cmd("true", queue="debug"))
        time.sleep(0.3)
        info = h.rpc("job-list.list-id", {"id": jobid, "attrs": ["state"]}).get()["job"]
        assert info["state"] == 8  # SCHED
        start = {"name": "debug", "start": True, "all": False}
        assert h.rpc("job-manager.queue-start", start).get() is None
        assert "start" in names(h, jobid)  # it ran once its queue started
    with instance_running(statedir, queues=["batch", "debug"]) as uri, Flux(uri) as h:
        assert _queue_status(h, "debug") == {"enable": True, "start": True}
        assert _queue_status(h, "batch") == {"enable": True, "start": False}
        disable = {"name": "batch", "enable": False, "all": False, "reason": "closed"}
        h.rpc("job-manager.queue-enable", disable).get()
        with pytest.raises(OSError, match="job submission to batch is disabled: closed") as exc:
            submit(h, cmd("true", queue="batch"))
        assert exc.value.errno == errno.EINVAL


def test_singleton_dependency_waits_across_a_restart(tmp_path: Path) -> None:
    # As flux's dependency-singleton: one active job per user and explicit name.
    statedir = tmp_path / "s"
    waiting = cmd("true", name="single")
    waiting.setattr("system.dependencies", [{"scheme": "singleton", "value": ""}])
    with instance_running(statedir) as uri, Flux(uri) as h:
        first = submit(h, cmd("true", name="single"), urgency=0)
        second = submit(h, waiting)
        alone = cmd("true", name="alone")
        alone.setattr("system.dependencies", [{"scheme": "singleton", "value": ""}])
        assert "dependency-add" not in names(h, submit(h, alone))
        with pytest.raises(OSError, match="singleton jobs require a job name"):
            nameless = cmd("true")
            nameless.setattr("system.dependencies", [{"scheme": "singleton", "value": ""}])
            submit(h, nameless)
    with instance_running(statedir) as uri, Flux(uri) as h:
        state = h.rpc("job-list.list-id", {"id": second, "attrs": ["state"]}).get()["job"]
        assert state["state"] == 2  # DEPEND: still waiting for the first
        h.rpc("job-manager.raise", {"id": first, "type": "cancel", "severity": 0, "note": ""}).get()
        assert names(h, second)[-1] == "clean"
        assert "dependency-remove" in names(h, second) and "start" in names(h, second)


def test_restart_rearms_dependencies(tmp_path: Path) -> None:
    statedir = tmp_path / "inst"
    with instance_running(statedir, cores=1) as uri, Flux(uri) as h:
        parent = submit(h, cmd("true"), urgency=0)
        child_js = cmd("true")
        child_js.setattr("system.dependencies", [{"scheme": "afterok", "value": str(parent)}])
        child = submit(h, child_js)
        log = h.rpc("job-info.lookup", {"id": child, "keys": ["eventlog"], "flags": 0}).get()
        assert [json.loads(line)["name"] for line in log["eventlog"].splitlines()] == [
            "submit",
            "dependency-add",
            "validate",
        ]
    with instance_running(statedir, cores=1) as uri, Flux(uri) as h:
        h.rpc("job-manager.urgency", {"id": parent, "urgency": 16}).get()
        evs = names(h, child)
        assert "flux-restart" in evs and "dependency-remove" in evs
        assert evs[-1] == "clean" and "start" in evs


def test_missing_cwd_runs_in_tmp_with_a_warning(flux_handle: Flux, tmp_path: Path) -> None:
    # As flux's shell: an error-level log message, then the task runs in /tmp.
    missing = tmp_path / "missing"
    jobid = submit(flux_handle, cmd("pwd", cwd=str(missing)))
    evs = events(flux_handle, jobid)
    assert "exception" not in [e.name for e in evs]
    assert next(e for e in evs if e.name == "finish").context["status"] == 0
    out = output(flux_handle, jobid)
    log = next(e.context for e in out if e.name == "log")
    assert log["level"] == 3
    assert f"Could not change dir to {missing}: No such file or directory." in log["message"]
    assert "/tmp\n" in [e.context.get("data") for e in out]


def test_command_found_on_the_jobs_path(flux_handle: Flux, tmp_path: Path) -> None:
    tool = tmp_path / "mytool"
    tool.write_text("#!/bin/sh\necho found me\n")
    tool.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    jobid = submit(flux_handle, cmd("mytool", environment=env))
    assert "found me\n" in [e.context.get("data") for e in output(flux_handle, jobid)]


def test_nested_instance_runs_its_initial_program(flux_handle: Flux) -> None:
    """from_nest_command: the job is a nested instance whose program submits jobs to it."""
    script = (
        'echo "inside $FLUX_URI"; '
        "fluxsdk run -n 2 -l sh -c 'echo nested $FLUX_TASK_RANK'; "
        "fluxsdk resource"
    )
    js = JobspecV1.from_nest_command(
        ["sh", "-c", script], num_slots=2, environment=dict(os.environ)
    )
    jobid = submit(flux_handle, js)
    evs = events(flux_handle, jobid)
    assert evs[-1].name == "clean"
    assert next(e for e in evs if e.name == "finish").context["status"] == 0
    memo = next(e for e in evs if e.name == "memo")
    text = "".join(e.context.get("data", "") for e in output(flux_handle, jobid))
    assert f"inside {memo.context['uri']}\n" in text
    assert "0: nested 0\n" in text and "1: nested 1\n" in text
    # The nested instance has exactly the two cores the job was given.
    assert "   0      2     0" in text


def test_batch_script_runs_in_a_nested_instance(flux_handle: Flux) -> None:
    script = "#!/bin/sh\necho batch args: $@\nfluxsdk run echo from a nested job\n"
    js = JobspecV1.from_batch_command(
        script, "mybatch", args=["a", "b"], environment=dict(os.environ)
    )
    jobid = submit(flux_handle, js)
    text = "".join(e.context.get("data", "") for e in output(flux_handle, jobid))
    assert "batch args: a b\n" in text
    assert "from a nested job\n" in text
    info = flux_handle.rpc("job-list.list-id", {"id": jobid, "attrs": ["all"]}).get()["job"]
    assert info["name"] == "mybatch" and info["result"] == 1


def test_long_lived_nested_instance_takes_jobs_until_cancelled(flux_handle: Flux) -> None:
    # An initial program that waits (a broker without one fails, as in flux: see
    # tests/test_nested_broker.py).
    js = JobspecV1.from_nest_command(["sleep", "inf"], num_slots=1, environment=dict(os.environ))
    parent = submit(flux_handle, js)
    memo = wait_for_event(flux_handle, parent, "memo")
    deadline = time.monotonic() + 30
    while True:
        try:
            with Flux(memo.context["uri"]) as inner:
                child = submit(inner, cmd("echo", "inner job"))
                assert "inner job\n" in [e.context.get("data") for e in output(inner, child)]
            break
        except OSError:
            assert time.monotonic() < deadline, "nested instance never came up"
            time.sleep(0.05)
    flux_handle.rpc("job-manager.raise", {"id": parent, "type": "cancel", "severity": 0}).get()
    evs = names(flux_handle, parent)
    assert evs[-1] == "clean"


def test_crash_restart_ends_running_jobs_and_their_leftover_tasks(tmp_path: Path) -> None:
    """Rule for running jobs after a crash: never rerun; end them (exit 137) and stop
    any of their processes that outlived the old instance."""
    statedir = tmp_path / "inst"
    pidfile = tmp_path / "task.pid"
    with instance_running(statedir, cores=1) as uri:
        with Flux(uri) as h:
            jobid = submit(h, cmd("sh", "-c", f"echo started; echo $$ > {pidfile}; exec sleep 60"))
            wait_for_event(h, jobid, "start")
            broker = int(h.rpc("broker.getattr", {"name": "broker.pid"}).get()["value"])
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        task = int(pidfile.read_text())
        os.kill(broker, signal.SIGKILL)  # a crash: no shutdown, the task lives on
        while _alive(broker):
            time.sleep(0.01)
        assert _alive(task)
        from fluxsdk.instance import start_detached

        start_detached(statedir, cores=1)  # the restart; the block's exit stops it
        with Flux(uri) as h:
            evs = events(h, jobid)
    names_ = [e.name for e in evs]
    assert names_[names_.index("start") + 1 :] == [
        "flux-restart", "exception", "finish", "release", "free", "clean"
    ]  # fmt: skip
    assert next(e for e in evs if e.name == "exception").context["type"] == "restart"
    assert next(e for e in evs if e.name == "finish").context["status"] == 137 << 8
    deadline = time.monotonic() + 10
    while _alive(task):
        assert time.monotonic() < deadline, "the leftover task was not stopped"
        time.sleep(0.01)


def test_flux_without_uri_starts_the_default_instance(tmp_path: Path) -> None:
    """Flux() with no URI and no FLUX_URI starts the per-user instance in the background."""
    statedir = tmp_path / "default"
    script = (
        "import fluxsdk, fluxsdk.job as job\n"
        "h = fluxsdk.Flux()\n"
        "jobid = job.submit(h, job.JobspecV1.from_command(['echo', 'default']))\n"
        "print(job.job_output(h, jobid).stdout, end='')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FLUX_URI"}
    env["FLUXSDK_STATEDIR"] = str(statedir)

    try:
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "default\n"
        assert (statedir / "local.sock").exists()
    finally:
        from fluxsdk._control import shutdown
        from fluxsdk.instance import is_running, uri_for

        if is_running(statedir):
            shutdown(uri_for(statedir))


def test_only_the_owner_can_reach_the_instance(fluxsdk_uri: str) -> None:
    from fluxsdk._uri import embedded_directory

    statedir = Path(embedded_directory(fluxsdk_uri))
    assert statedir.stat().st_mode & 0o777 == 0o700
    assert (statedir / "local.sock").stat().st_mode & 0o777 == 0o600
    if os.getuid() != 0:
        pytest.skip("needs root to try connecting as another user")

    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(statedir / 'local.sock')!r})\n"
        "except OSError as e:\n"
        "    print('refused', e.errno); sys.exit(0)\n"
        "print('connected'); s.settimeout(5); print(s.recv(1) == b'')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert proc.stdout.startswith("refused"), proc.stdout + proc.stderr


def test_peer_uid_is_checked_even_if_the_socket_is_opened_up() -> None:
    """Defence in depth: with the directory and socket made world-accessible by
    mistake, the instance still hangs up on any user but its owner."""
    if os.getuid() != 0:
        pytest.skip("needs root to try connecting as another user")

    # pytest's temporary directories are private to their owner; this one is not.
    base = Path(tempfile.mkdtemp(prefix="fluxsdk-open-", dir="/tmp"))
    statedir = base / "inst"
    try:
        _probe_as_nobody(base, statedir)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _probe_as_nobody(base: Path, statedir: Path) -> None:

    with instance_running(statedir) as uri:
        base.chmod(0o755)
        statedir.chmod(0o755)
        (statedir / "local.sock").chmod(0o666)
        probe = (
            "import os, socket\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            f"s.connect({str(statedir / 'local.sock')!r})\n"
            "s.settimeout(10)\n"
            "print('closed' if s.recv(1) == b'' else 'open')\n"
        )
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
        assert proc.stdout.strip() == "closed", proc.stdout + proc.stderr
        with Flux(uri) as h:  # the owner still gets in
            assert names(h, submit(h, cmd("true")))[-1] == "clean"


def test_purge_id(flux_handle: Flux) -> None:
    held = submit(flux_handle, cmd("true"), urgency=0)
    with pytest.raises(OSError, match="cannot purge active job") as info:
        flux_handle.rpc("job-manager.purge-id", {"id": held, "force": 1}).get()
    assert info.value.errno == errno.EINVAL
    flux_handle.rpc("job-manager.raise", {"id": held, "type": "cancel", "severity": 0}).get()
    wait_for_event(flux_handle, held, "clean")
    assert flux_handle.rpc("job-manager.purge-id", {"id": held, "force": 0}).get() == {"count": 1}
    assert flux_handle.rpc("job-manager.purge-id", {"id": held, "force": 1}).get() == {"count": 1}
    for topic, payload in (
        ("job-list.list-id", {"id": held, "attrs": ["all"]}),
        ("job-info.lookup", {"id": held, "keys": ["eventlog"], "flags": 0}),
        ("job-manager.purge-id", {"id": held, "force": 1}),
    ):
        with pytest.raises(FileNotFoundError):
            flux_handle.rpc(topic, payload).get()


def test_job_tmpdir_name_taken_gets_another(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A job directory name someone already made is never reused: a random one is made."""
    from fluxsdk.instance import _shell

    monkeypatch.setattr(_shell, "job_tmp_base", lambda: str(tmp_path))
    first = _shell._job_tmpdir("fjob")
    second = _shell._job_tmpdir("fjob")
    assert first != second and os.path.isdir(second)
    assert os.path.basename(second).startswith("fluxsdk-fjob-")
    assert os.stat(second).st_mode & 0o777 == 0o700
