"""What the model stores lives in the instance: other processes (and users) see it, or not."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk.core import ConnectError
from fluxsdk.model import Connection, TaskState, UnauthorizedException, _site
from fluxsdk.testing import instance_running
from tests.test_model_helpers import state_of, uid

ROOT = Path(__file__).resolve().parents[1]

# What a second process reports about a job it retrieves by uuid.
READER = textwrap.dedent(
    """
    import json, sys
    from fluxsdk.model import Connection, MissingJobException

    uri, uuid, tag = sys.argv[1:4]
    with Connection(uri) as conn:
        try:
            job = conn.retrieve_job(uuid)
        except MissingJobException as exc:
            print(json.dumps({"missing": str(exc)}))
            raise SystemExit(0)
        tasks = sorted(job.tasks, key=lambda t: t.name)
        print(json.dumps({
            "name": job.name,
            "shortname": job.shortname,
            "state": str(job.state),
            "tags": job.tags,
            "tasks": [
                {"name": t.name, "state": str(t.state), "tags": t.tags, "labels": dict(t.labels),
                 "exit_code": t.exit_code, "stdout": t.stdout()}
                for t in tasks
            ],
            "tagged": sorted(t.name for t in conn.tasks(tags=[tag])),
            "jobs": [str(j.uuid) for j in conn.jobs(tags=[tag])],
        }))
    """
)


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instance_running(tmp_path_factory.mktemp("model-processes"), cores=4) as uri:
        yield uri


def read_elsewhere(uri: str, uuid: object, tag: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", READER, uri, str(uuid), tag],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_a_second_process_retrieves_a_job_by_uuid(uri: str) -> None:
    with Connection(uri) as conn:
        job = conn.create_job("shared", shortname="shared-job")
        job.tags = ["cross", "process"]
        job.submit()
        ok = conn.create_task("ok", ["echo", "fine"], job=job)
        ok.tags = ["cross"]
        ok.labels = {"kind": "demo"}
        bad = conn.create_task("bad", ["sh", "-c", "exit 4"], job=job)
        slow = conn.create_task("slow", ["sleep", "60"], job=job)
        slow.tags = ["cross"]
        conn.submit_tasks([ok, bad, slow])
        assert ok.wait(30) and bad.wait(30)
        while state_of(slow) is not TaskState.FullyExecuting:
            slow.update(flushcache=True)
        seen = read_elsewhere(uri, job.uuid, "cross")
        assert (seen["name"], seen["shortname"], seen["state"]) == (
            "shared",
            "shared-job",
            "Active",
        )
        assert seen["tags"] == ["cross", "process"]
        assert [(t["name"], t["state"]) for t in seen["tasks"]] == [
            ("bad", "Failure"),
            ("ok", "Success"),
            ("slow", "FullyExecuting"),
        ]
        by_name = {t["name"]: t for t in seen["tasks"]}
        assert by_name["ok"]["labels"] == {"kind": "demo"} and by_name["ok"]["stdout"] == "fine\n"
        assert by_name["bad"]["exit_code"] == 4
        assert seen["tagged"] == ["ok", "slow"]
        assert seen["jobs"] == [str(job.uuid)]
        # Changes made here show there: terminate, then delete one task.
        job.terminate()
        assert slow.wait(30) and state_of(slow) is TaskState.Cancelled
        ok.delete()
        seen = read_elsewhere(uri, job.uuid, "cross")
        assert seen["state"] == "Completed"
        assert [t["name"] for t in seen["tasks"]] == ["bad", "slow"]
        assert seen["tagged"] == ["slow"]
        job.delete()
        assert "missing" in read_elsewhere(uri, job.uuid, "cross")


def test_a_state_seen_elsewhere_never_goes_back(uri: str) -> None:
    with Connection(uri) as conn, Connection(uri) as other:
        task = conn.create_task("observed", ["true"])
        task.submit()
        assert task.wait(30)
        seen = other.retrieve_task(uid(task))
        assert state_of(seen) is TaskState.Success
        seen.update(flushcache=True)
        assert state_of(seen) is TaskState.Success


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_users_instance_is_unauthorized(uri: str) -> None:
    """A child process turned into user nobody cannot use this instance."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become another user, then try
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                Connection(uri)
                message = "connected"
            except UnauthorizedException as exc:
                message = f"unauthorized {exc.errno} {exc}"
            except BaseException as exc:
                message = f"other {type(exc).__name__} {exc}"
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    assert message.startswith("unauthorized"), message
    assert "another user" in message


def test_connect_errors_about_permissions_become_unauthorized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(uri: str | None, pool: str | None = None) -> Any:
        raise ConnectError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_site.Site, "open", refuse)
    with pytest.raises(UnauthorizedException, match="belongs to another user") as caught:
        Connection("fluxsdk:///somebody/else")
    assert caught.value.errno == errno.EACCES

    def unreachable(uri: str | None, pool: str | None = None) -> Any:
        raise ConnectError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(_site.Site, "open", unreachable)
    with pytest.raises(ConnectError):
        Connection("fluxsdk:///nowhere")
