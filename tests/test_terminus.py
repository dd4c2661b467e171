"""The terminus server of the embedded job shell: sessions a client uses, and cleanup.

The protocol's answers and errors are checked against real Flux 0.88 by the
differential scenarios ``terminus-*`` (tests/differential/scenarios_terminus.py);
these tests drive sessions as a client does and check that nothing is left
behind: no descriptor in the instance, no session process.
"""

from __future__ import annotations

import base64
import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.constants import FLUX_RPC_STREAMING
from fluxsdk.core import Flux, Future
from fluxsdk.instance import start_detached
from fluxsdk.instance._terminus import data_message
from fluxsdk.job import JobID, JobspecV1
from fluxsdk.testing import instance_running, shutdown
from tests.differential.scenarios_terminus import process_gone

_PATIENCE = 10.0


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    """An instance of this test's own (its descriptors are counted)."""
    with instance_running(tmp_path / "instance", cores=2) as uri:
        yield uri


def _running(h: Flux, command: list[str] | None = None) -> tuple[JobID, str]:
    jobspec = JobspecV1.from_command(command or ["sleep", "300"])
    jobspec.environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    jid = job.submit(h, jobspec)
    event = job.event_wait(h, jid, "shell.init", eventlog="guest.exec.eventlog")
    return jid, f"{event.context['service']}.terminus"


def _end(h: Flux, jid: JobID) -> None:
    job.cancel(h, jid)
    job.event_wait(h, jid, "clean", raiseJobException=False)


class _Client:
    """A client attached to a session: what it reads, and what it types."""

    def __init__(self, h: Flux, topic: str, mode: str = "rw", rows: int = 25) -> None:
        self.h = h
        self.topic = topic
        payload: dict[str, Any] = {"type": "attach", "mode": mode}
        if mode == "rw":
            payload["winsize"] = {"rows": rows, "cols": 80}
        self.stream: Future = h.rpc(topic, payload, flags=FLUX_RPC_STREAMING)
        assert self._next() == {"type": "attach"}
        self.text = ""
        self.exit: dict[str, Any] | None = None

    def _next(self) -> Any:
        message = self.stream.get()
        self.stream.reset()
        return message

    def type(self, text: str) -> None:
        self.h.rpc(self.topic, {"type": "data", "data": text}).get()

    def read_until(self, text: str) -> str:
        """The terminal's output up to and including ``text`` (``EOFError`` if it ends first)."""
        while text not in self.text:
            message = self._next()
            if message["type"] == "exit":
                self.exit = message
                raise EOFError(f"session ended before {text!r}: {self.text!r}")
            data = message["data"]
            if message.get("encoding") == "base64":
                data = base64.b64decode(data).decode()
            self.text += data
        head, _, tail = self.text.partition(text)  # what follows stays for the next read
        self.text = tail
        return head + text

    def read_to_end(self) -> dict[str, Any]:
        """Read to the ``exit`` message (the output goes to ``text``) and the stream's end."""
        if self.exit is None:
            with pytest.raises(EOFError):
                self.read_until("\x00never\x00")
        with pytest.raises(OSError) as end:
            self._next()
        assert end.value.errno == errno.ENODATA
        assert self.exit is not None
        return self.exit


def _sessions(h: Flux, service: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = h.rpc(f"{service}.list").get()["sessions"]
    return sessions


def _eventually(check: Any) -> Any:
    deadline = time.monotonic() + _PATIENCE
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_typing_into_a_shell_session(uri: str) -> None:
    """A client attaches to an interactive shell, runs commands in it, and sees it exit."""
    with Flux(uri) as h:
        jid, service = _running(h)
        environ = {"PS1": "$ ", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        reply = h.rpc(f"{service}.new", {"cmd": ["sh", "-i"], "environ": environ}).get()
        assert reply == {"name": "sh", "pty_service": f"{service}.0", "id": 0}
        client = _Client(h, reply["pty_service"])
        client.read_until("$ ")
        client.type("echo $((6 * 7)) $FLUX_TERMINUS_SESSION\r")
        assert client.read_until("$ ").endswith("\r\n42 0\r\n$ ")
        client.type("stty size; exit 4\r")
        assert client.read_to_end() == {
            "type": "exit",
            "message": "session exiting",
            "status": 4 << 8,
        }
        assert "25 80" in client.text
        _end(h, jid)


def test_resize_changes_the_window_size(uri: str) -> None:
    with Flux(uri) as h:
        jid, service = _running(h)
        # Each size is shown after a line is typed: once the client has set it.
        script = "read x; stty size; read x; stty size"
        h.rpc(f"{service}.new", {"cmd": ["sh", "-c", script]}).get()
        client = _Client(h, f"{service}.0", rows=30)
        client.type("\r")
        client.read_until("\r\n")  # the echo of the typed line
        assert client.read_until("\r\n") == "30 80\r\n"
        resize = {"type": "resize", "winsize": {"rows": 50, "cols": 132}}
        assert h.rpc(f"{service}.0", resize).get() is None
        client.type("\r")
        client.read_until("\r\n")  # the echo of the typed line
        assert client.read_until("\r\n") == "50 132\r\n"
        assert client.read_to_end()["status"] == 0
        _end(h, jid)


def test_a_client_that_goes_away_is_detached(uri: str) -> None:
    with Flux(uri) as h:
        jid, service = _running(h)
        h.rpc(f"{service}.new", {"cmd": ["sleep", "300"]}).get()
        other = Flux(uri)
        _Client(other, f"{service}.0", mode="ro")
        assert [s["clients"] for s in _sessions(h, service)] == [1]
        other.close()
        assert _eventually(lambda: [s["clients"] for s in _sessions(h, service)] == [0])
        _end(h, jid)


def _fds(pid: int) -> list[str]:
    return sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))


def test_the_job_end_leaves_no_descriptor_or_process(uri: str) -> None:
    """Sessions running, exited and unread, and attached: all gone with the job."""
    with Flux(uri) as h:
        broker = int(h.attr_get("broker.pid"))
        jid, service = _running(h, ["true"])  # the instance's first job opens what it keeps
        job.event_wait(h, jid, "clean", raiseJobException=False)
        before = _fds(broker)
        jid, service = _running(h)
        h.rpc(f"{service}.new", {"cmd": ["sleep", "300"]}).get()
        h.rpc(f"{service}.new", {"cmd": ["sh", "-c", "echo unread; exit 1"]}).get()
        h.rpc(f"{service}.new", {"cmd": ["sh", "-c", "echo x; sleep 300"]}).get()
        client = _Client(h, f"{service}.2", mode="ro")
        client.read_until("x\r\n")
        assert _eventually(lambda: _sessions(h, service)[1]["exited"])
        pids = [s["pid"] for s in _sessions(h, service)]
        assert len(_fds(broker)) > len(before)
        _end(h, jid)
        assert client.read_to_end() == {"type": "exit", "message": "session exiting", "status": 0}
        with pytest.raises(OSError) as gone:
            h.rpc(f"{service}.list").get()
        assert gone.value.errno == errno.ENOSYS
        # Reaped by the instance: not even a zombie is left.
        assert _eventually(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids))
        assert _eventually(lambda: _fds(broker) == before)


def test_stopping_the_instance_ends_its_sessions(tmp_path: Path) -> None:
    uri = start_detached(tmp_path / "instance", cores=2, gpus=0)
    try:
        with Flux(uri) as h:
            _, service = _running(h)
            h.rpc(f"{service}.new", {"cmd": ["sleep", "300"]}).get()
            pid = _sessions(h, service)[0]["pid"]
    finally:
        shutdown(uri)
    assert _eventually(lambda: process_gone(pid))


def test_terminal_output_that_is_not_text_travels_as_base64() -> None:
    assert data_message(b"caf\xc3\xa9\r\n") == {"type": "data", "data": "café\r\n"}
    for raw in (b"\xff\xfe", b"a\x00b"):
        message = data_message(raw)
        assert message["encoding"] == "base64"
        assert base64.b64decode(message["data"]) == raw


def _interactive_job(h: Flux, command: list[str]) -> tuple[JobID, str]:
    jobspec = JobspecV1.from_command(command)
    jobspec.environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    jobspec.setattr_shell_option("pty", {"interactive": 1})
    jid = job.submit(h, jobspec)
    event = job.event_wait(h, jid, "shell.init", eventlog="guest.exec.eventlog")
    assert event.context["pty"] == "terminus.0"
    return jid, f"{event.context['service']}.terminus"


def test_an_interactive_task_terminal_waits_for_its_client(uri: str) -> None:
    """The task has exited; the job ends once a client has read its terminal."""
    with Flux(uri) as h:
        jid, service = _interactive_job(h, ["sh", "-c", "echo early; exit 3"])
        assert _eventually(lambda: _sessions(h, service)[0]["exited"])
        assert (job.get_job(h, jid) or {}).get("state") == "RUN"
        client = _Client(h, f"{service}.0", mode="ro")
        assert client.read_to_end()["status"] == 3 << 8
        assert client.text == "early\r\n"
        assert job.result(h, jid).returncode == 3


def test_cancel_ends_a_job_whose_terminal_nobody_attached(uri: str) -> None:
    with Flux(uri) as h:
        jid, service = _interactive_job(h, ["true"])
        assert _eventually(lambda: _sessions(h, service)[0]["exited"])
        _end(h, jid)
        with pytest.raises(OSError) as gone:
            h.rpc(f"{service}.list").get()
        assert gone.value.errno == errno.ENOSYS


def test_cancel_ends_a_job_whose_captured_terminal_nobody_read(uri: str) -> None:
    """Interactive and captured: task 0's output waits for a reader; cancel ends the wait."""
    with Flux(uri) as h:
        jobspec = JobspecV1.from_command(["sh", "-c", "echo unread"])
        jobspec.environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        jobspec.setattr_shell_option("pty", {"interactive": 1, "capture": 1})
        jid = job.submit(h, jobspec)
        event = job.event_wait(h, jid, "shell.init", eventlog="guest.exec.eventlog")
        service = f"{event.context['service']}.terminus"
        assert _eventually(lambda: _sessions(h, service)[0]["exited"])
        _end(h, jid)
        assert job.result(h, jid).result == "CANCELED"


def test_terminal_sessions_example(uri: str) -> None:
    """examples/terminal_sessions.py, run as a user runs it (the same output on real Flux)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FLUX_URI": uri}
    proc = subprocess.run(
        [sys.executable, "examples/terminal_sessions.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("session 0 (sh) at ") and lines[0].endswith(".terminus.0")
    assert "42 from session 0" in lines
    assert "sessions: ['sh']" in lines
    assert "session ended: {'type': 'exit', 'message': 'session exiting', 'status': 1280}" in lines
    assert lines[-2:] == ["hello, terminus", "task job: COMPLETED returncode=0"]
