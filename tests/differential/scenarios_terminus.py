"""Differential scenarios: the terminus server of a job's shell (flux's libterminus).

Every job shell serves ``<shell service>.terminus``: ``list``, ``new``, ``kill``,
``kill-server``, and each session's pty protocol on ``pty_service``
(``attach``, ``data``, ``resize``, ``detach``, streamed ``data`` and ``exit``).
What is recorded: the answers (normalised: the shell service's user ID,
process IDs and creation times), the errors (errno), and what a client
attached to a session reads (the terminal's output as one text, since its
chunking is the kernel's, and the stream's other messages in order).
"""

from __future__ import annotations

import base64
import errno as errno_mod
import os
import time
from typing import Any, Final

from fluxsdk import job
from fluxsdk.constants import FLUX_RPC_STREAMING
from fluxsdk.core import Future
from fluxsdk.job import JobID
from tests.differential.harness import Ctx, scenario

_WAIT: Final = 10.0  # how long a scenario waits for a session to reach a state

# What a session runs to show what it was given: its session ID variable, whether
# stdin is a terminal, whether it leads its own session with a controlling terminal.
_PROBE: Final = (
    "echo TS=$FLUX_TERMINUS_SESSION; test -t 0 && echo tty; "
    "read -r pid comm state ppid pgrp sid ttynr rest < /proc/$$/stat; "
    'test "$sid" = $$ && echo leader; test "$ttynr" != 0 && echo ctty; pwd; '
    "echo ready; read -r line; echo got $line; exit 3"
)


def _norm(value: Any) -> Any:
    """Terminus answers without what differs between runs: creation times, pids, the uid."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "ctime":
                out[key] = "T" if isinstance(item, float) and item > 0 else item
            elif key == "name" and item == (os.environ.get("SHELL") or "bash"):
                out[key] = "$SHELL"  # the default command: the shell's $SHELL, else bash
            elif key == "pid":
                out[key] = "PID" if isinstance(item, int) and item > 0 else item
            else:
                out[key] = _norm(item)
        return out
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, str):
        return value.replace(f"{os.getuid()}-shell-", "$UID-shell-")
    return value


def _terminus(ctx: Ctx, jid: JobID) -> str:
    """The terminus service of a running job's shell (from ``shell.init``)."""
    event = job.event_wait(ctx.handle, jid, "shell.init", eventlog="guest.exec.eventlog")
    return f"{event.context['service']}.terminus"


def _call(ctx: Ctx, topic: str, payload: Any = None) -> Any:
    return _norm(ctx.handle.rpc(topic, payload).get())


def _attempt(ctx: Ctx, name: str, topic: str, payload: Any = None) -> Any:
    return ctx.attempt(name, lambda: _call(ctx, topic, payload))


def _sessions(ctx: Ctx, service: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = ctx.handle.rpc(f"{service}.list").get()["sessions"]
    return sessions


def _until(ctx: Ctx, service: str, test: Any) -> list[dict[str, Any]]:
    """``list``'s sessions once ``test(sessions)`` holds (or after a while)."""
    deadline = time.monotonic() + _WAIT
    while True:
        sessions = _sessions(ctx, service)
        if test(sessions) or time.monotonic() > deadline:
            return sessions
        time.sleep(0.05)


class _Stream:
    """What an attached client reads: the terminal's text, and the other messages."""

    def __init__(self, ctx: Ctx, topic: str, payload: dict[str, Any]) -> None:
        self.future: Future = ctx.handle.rpc(topic, payload, flags=FLUX_RPC_STREAMING)
        self.text = ""
        self.messages: list[Any] = []
        self.end: str | None = None

    def _next(self) -> bool:
        try:
            message = self.future.get()
        except OSError as exc:
            self.end = errno_mod.errorcode.get(exc.errno or 0, str(exc.errno))
            return False
        self.future.reset()
        if isinstance(message, dict) and message.get("type") == "data":
            data = message["data"]
            if message.get("encoding") == "base64":
                data = base64.b64decode(data).decode("utf-8", "backslashreplace")
            self.text += data
        else:
            self.messages.append(message)
        return True

    def first(self) -> Any:
        """The answer to the attach itself."""
        self._next()
        return self.messages[0] if self.messages else self.end

    def until(self, text: str) -> None:
        """Read until the terminal has shown ``text``."""
        while text not in self.text and self._next():
            pass

    def drain(self) -> dict[str, Any]:
        """Read to the end of the stream."""
        while self._next():
            pass
        return {"text": self.text, "messages": self.messages, "end": self.end}


def _running(ctx: Ctx, command: list[str]) -> tuple[JobID, str]:
    jid = ctx.submit(ctx.spec(command))
    return jid, _terminus(ctx, jid)


@scenario("terminus-list-new-kill")
def _terminus_list_new_kill(ctx: Ctx) -> None:
    """A running job's terminus server: list, new sessions, kill, and bad requests."""
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "list-empty", f"{service}.list")
    _attempt(ctx, "list-any-payload", f"{service}.list", [1])
    _attempt(ctx, "new-cmd", f"{service}.new", {"cmd": ["sleep", "60"]})
    _attempt(ctx, "new-named", f"{service}.new", {"name": "mine", "cmd": ["sleep", "60"]})
    _attempt(ctx, "new-empty-name", f"{service}.new", {"name": "", "cmd": ["sleep", "60"]})
    _attempt(ctx, "new-default-cmd", f"{service}.new", {"cmd": []})
    _attempt(ctx, "list", f"{service}.list")
    _attempt(ctx, "new-cmd-not-array", f"{service}.new", {"cmd": "sleep"})
    _attempt(ctx, "new-cmd-not-strings", f"{service}.new", {"cmd": [1]})
    _attempt(ctx, "new-environ-not-object", f"{service}.new", {"cmd": ["true"], "environ": []})
    _attempt(ctx, "new-name-not-string", f"{service}.new", {"name": 3})
    _attempt(ctx, "new-cwd-not-string", f"{service}.new", {"cwd": 3})
    _attempt(ctx, "new-not-found", f"{service}.new", {"cmd": ["/nonexistent/cmd"]})
    _attempt(ctx, "new-not-executable", f"{service}.new", {"cmd": ["/etc/passwd"]})
    _attempt(ctx, "new-payload-not-object", f"{service}.new", [1])
    _attempt(ctx, "kill-unknown", f"{service}.kill", {"id": 42, "signal": 15})
    _attempt(ctx, "kill-no-signal", f"{service}.kill", {"id": 1})
    _attempt(ctx, "kill-id-string", f"{service}.kill", {"id": "1", "signal": 15})
    _attempt(ctx, "kill-wait-string", f"{service}.kill", {"id": 1, "signal": 15, "wait": "x"})
    _attempt(ctx, "kill-signal-0", f"{service}.kill", {"id": 1, "signal": 0})
    _attempt(ctx, "kill", f"{service}.kill", {"id": 1, "signal": 15})
    remaining = _until(ctx, service, lambda s: all(x["id"] != 1 for x in s))
    ctx.fact("ids-after-kill", [s["id"] for s in remaining])
    _attempt(ctx, "new-reuses-id", f"{service}.new", {"cmd": ["sleep", "60"]})
    _attempt(ctx, "no-such-method", f"{service}.nosuch")
    _attempt(ctx, "no-such-session", f"{service}.7", {"type": "detach"})
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("terminus-attach-type")
def _terminus_attach_type(ctx: Ctx) -> None:
    """A client attaches to a session, reads it, types a line into it; the session exits 3."""
    jid, service = _running(ctx, ["sleep", "60"])
    reply = ctx.attempt("new", lambda: _call(ctx, f"{service}.new", {"cmd": ["sh", "-c", _PROBE]}))
    topic = f"{service}.0"
    stream = _Stream(
        ctx, topic, {"type": "attach", "mode": "rw", "winsize": {"rows": 30, "cols": 100}}
    )
    ctx.fact("attach", stream.first())
    ctx.fact("pty_service", reply and reply["pty_service"])
    _attempt(ctx, "attach-again", topic, {"type": "attach", "mode": "rw"})
    _attempt(ctx, "resize", topic, {"type": "resize", "winsize": {"rows": 40, "cols": 120}})
    _attempt(ctx, "resize-zero", topic, {"type": "resize", "winsize": {"rows": 0, "cols": 120}})
    _attempt(ctx, "resize-no-winsize", topic, {"type": "resize"})
    _attempt(ctx, "unknown-type", topic, {"type": "bogus"})
    _attempt(ctx, "no-type", topic, {})
    _attempt(ctx, "data-bad-encoding", topic, {"type": "data", "data": "x", "encoding": "rot13"})
    _attempt(ctx, "data-no-data", topic, {"type": "data"})
    ctx.fact("clients", [s["clients"] for s in _sessions(ctx, service)])
    stream.until("ready\r\n")
    _attempt(ctx, "data", topic, {"type": "data", "data": "abc\r"})
    ctx.fact("stream", stream.drain())
    ctx.fact("sessions-after", _until(ctx, service, lambda s: not s))
    _attempt(ctx, "detach-after-end", topic, {"type": "detach"})
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("terminus-modes-detach")
def _terminus_modes_detach(ctx: Ctx) -> None:
    """Attach modes (bad ones refused), base64 input, detach, kill waiting for the end."""
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "new", f"{service}.new", {"cmd": ["cat"]})
    topic = f"{service}.0"
    _attempt(ctx, "attach-bad-mode", topic, {"type": "attach", "mode": "xx"})
    _attempt(ctx, "attach-no-mode", topic, {"type": "attach"})
    _attempt(ctx, "attach-rw-no-winsize", topic, {"type": "attach", "mode": "rw"})
    _attempt(ctx, "data-not-attached", topic, {"type": "data", "data": "x"})
    stream = _Stream(
        ctx, topic, {"type": "attach", "mode": "rw", "winsize": {"rows": 25, "cols": 80}}
    )
    ctx.fact("attach", stream.first())
    line = base64.b64encode(b"b64 line\r").decode()
    _attempt(ctx, "data-base64", topic, {"type": "data", "data": line, "encoding": "base64"})
    stream.until("b64 line\r\nb64 line\r\n")
    _attempt(ctx, "detach", topic, {"type": "detach"})
    ctx.fact("stream", stream.drain())
    _attempt(ctx, "detach-again", topic, {"type": "detach"})
    ctx.fact("sessions-detached", _norm(_sessions(ctx, service)))
    writer = _Stream(ctx, topic, {"type": "attach", "mode": "wo"})
    ctx.fact("attach-wo", writer.first())
    _attempt(ctx, "data-wo", topic, {"type": "data", "data": "zz\r"})
    ctx.fact("sessions-wo", _norm(_sessions(ctx, service)))
    killer = _Stream(ctx, f"{service}.kill", {"id": 0, "signal": 1, "wait": 1})
    ctx.fact("kill-wait", killer.drain())
    ctx.fact("stream-wo", writer.drain())
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("terminus-exited-before-attach")
def _terminus_exited_before_attach(ctx: Ctx) -> None:
    """A session ends before anyone attached: it waits; a late reader gets its output."""
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "new", f"{service}.new", {"cmd": ["sh", "-c", "echo early; exit 5"]})
    exited = _until(ctx, service, lambda s: s and s[0]["exited"])
    ctx.fact("sessions-exited", _norm(exited))
    stream = _Stream(ctx, f"{service}.0", {"type": "attach", "mode": "ro"})
    ctx.fact("attach", stream.first())
    ctx.fact("stream", stream.drain())
    ctx.fact("sessions-after", _until(ctx, service, lambda s: not s))
    # A working directory that cannot be entered: flux's session starts and has exited.
    _attempt(ctx, "new-bad-cwd", f"{service}.new", {"cmd": ["true"], "cwd": "/nonexistent"})
    bad = _until(ctx, service, lambda s: s and s[0]["exited"])
    ctx.fact("bad-cwd", [{k: v for k, v in s.items() if k != "pid"} for s in _norm(bad)])
    late = _Stream(ctx, f"{service}.0", {"type": "attach", "mode": "ro"})
    ctx.fact("bad-cwd-attach", late.first())
    ctx.fact("bad-cwd-stream", late.drain())
    _attempt(ctx, "new-exited-kill", f"{service}.new", {"cmd": ["true"]})
    _until(ctx, service, lambda s: s and s[0]["exited"])
    _attempt(ctx, "kill-exited", f"{service}.kill", {"id": 0, "signal": 9})
    ctx.fact("sessions-killed", _norm(_sessions(ctx, service)))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("terminus-environment")
def _terminus_environment(ctx: Ctx) -> None:
    """A session's environment and directory as given; a task's FLUX_TERMINUS_SESSION."""
    jid, service = _running(ctx, ["sh", "-c", "echo TS=$FLUX_TERMINUS_SESSION; tty; sleep 60"])
    command = ["sh", "-c", "env | sort; pwd"]
    payload = {"cmd": command, "environ": {"ONLY": "me"}, "cwd": "/"}
    _attempt(ctx, "new", f"{service}.new", {"cmd": ["sleep", "60"]})
    _attempt(ctx, "new-environ", f"{service}.new", payload)
    stream = _Stream(ctx, f"{service}.1", {"type": "attach", "mode": "ro"})
    ctx.fact("attach", stream.first())
    ctx.fact("stream", stream.drain())
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.fact("task-output", job.job_output(ctx.handle, jid).stdout)


@scenario("terminus-kill-server")
def _terminus_kill_server(ctx: Ctx) -> None:
    """kill-server ends every session, answers, and the server stops answering."""
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "new", f"{service}.new", {"cmd": ["sleep", "60"]})
    _attempt(ctx, "new-reader", f"{service}.new", {"cmd": ["sh", "-c", "echo x; exec sleep 60"]})
    stream = _Stream(ctx, f"{service}.1", {"type": "attach", "mode": "ro"})
    ctx.fact("attach", stream.first())
    stream.until("x\r\n")
    _attempt(ctx, "kill-server", f"{service}.kill-server", {})
    ctx.fact("stream", stream.drain())
    _attempt(ctx, "list-after", f"{service}.list")
    _attempt(ctx, "new-after", f"{service}.new", {})
    _attempt(ctx, "kill-server-again", f"{service}.kill-server", {})
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    # A server with no session stops at once.
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "kill-server-empty", f"{service}.kill-server", {})
    _attempt(ctx, "list-after-empty", f"{service}.list")
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


def process_gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie nobody reaps)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@scenario("terminus-job-end")
def _terminus_job_end(ctx: Ctx) -> None:
    """The job ends with sessions running: they end, clients are told, the service goes."""
    jid, service = _running(ctx, ["sleep", "60"])
    _attempt(ctx, "new", f"{service}.new", {"cmd": ["sleep", "300"]})
    _attempt(ctx, "new-reader", f"{service}.new", {"cmd": ["sh", "-c", "echo x; exec sleep 300"]})
    pids = [s["pid"] for s in _sessions(ctx, service)]
    stream = _Stream(ctx, f"{service}.1", {"type": "attach", "mode": "ro"})
    ctx.fact("attach", stream.first())
    stream.until("x\r\n")
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.fact("stream", stream.drain())
    _attempt(ctx, "list-after-job", f"{service}.list")
    deadline = time.monotonic() + _WAIT
    while not all(process_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.fact("processes-gone", [process_gone(pid) for pid in pids])


# -- the shell option pty: tasks on terminus sessions ----------------------------------

# One write (one chunk of terminal output, as the shell reads it): the session variable,
# whether stdin is a terminal, and a line without its newline.
_TASK_PROBE: Final = (
    'if test -t 0; then t=tty; else t=notty; fi; printf "TS=%s %s\\nlast" '
    '"$FLUX_TERMINUS_SESSION" "$t"'
)


def _with_pty(ctx: Ctx, option: Any, command: list[str], **kwargs: Any) -> Any:
    jobspec = ctx.spec(command, **kwargs)
    jobspec.setattr_shell_option("pty", option)
    return jobspec


@scenario("pty-all-tasks")
def _pty_all_tasks(ctx: Ctx) -> None:
    """-o pty: the task runs on a terminal; its output is captured as the terminal shows it."""
    ctx.run(_with_pty(ctx, 1, ["sh", "-c", _TASK_PROBE]))


@scenario("pty-ranks")
def _pty_ranks(ctx: Ctx) -> None:
    """pty.ranks=1 of two tasks: task 1 on a terminal, task 0 on pipes."""
    probe = _TASK_PROBE.replace("\\nlast", "\\n")  # whole lines: tasks' lines interleave
    ctx.run(_with_pty(ctx, {"ranks": 1}, ["sh", "-c", probe], num_tasks=2), unordered=True)


@scenario("pty-bad-options")
def _pty_bad_options(ctx: Ctx) -> None:
    """A pty option with an unknown key, or a value of the wrong type: the shell fails."""
    ctx.run(_with_pty(ctx, {"bogus": 1}, ["true"]), "unknown-key")
    ctx.run(_with_pty(ctx, {"capture": "x"}, ["true"]), "capture-string")


def _interactive(ctx: Ctx, option: dict[str, Any]) -> None:
    """A task on an interactive terminal: a client attaches (as flux job attach), types."""
    script = "echo hi; read -r x; echo got $x; exit 2"
    jid = ctx.submit(_with_pty(ctx, option, ["sh", "-c", script]))
    event = job.event_wait(ctx.handle, jid, "shell.init", eventlog="guest.exec.eventlog")
    ctx.fact("shell.init", _norm(event.context))
    service = f"{event.context['service']}.terminus"
    ctx.fact("sessions", _norm(_sessions(ctx, service)))
    topic = f"{service}.0"
    stream = _Stream(
        ctx, topic, {"type": "attach", "mode": "rw", "winsize": {"rows": 25, "cols": 80}}
    )
    ctx.fact("attach", stream.first())
    stream.until("hi\r\n")
    _attempt(ctx, "data", topic, {"type": "data", "data": "yes\r"})
    ctx.fact("stream", stream.drain())
    ctx.wait_event(jid, "clean")
    ctx.attempt("result", lambda: job.result(ctx.handle, jid).returncode)
    ctx.attempt("job_output", lambda: job.job_output(ctx.handle, jid))
    names = [e.name for e in job.event_watch(ctx.handle, jid, eventlog="guest.output")]
    ctx.fact("output-names", sorted(set(names)))


@scenario("pty-interactive")
def _pty_interactive(ctx: Ctx) -> None:
    """pty.interactive: task 0's terminal waits for a client; its output is not captured."""
    _interactive(ctx, {"interactive": 1})


@scenario("pty-interactive-capture")
def _pty_interactive_capture(ctx: Ctx) -> None:
    """pty.interactive with capture: the client's session, and the output log too."""
    _interactive(ctx, {"interactive": 1, "capture": 1})


@scenario("pty-output-file")
def _pty_output_file(ctx: Ctx) -> None:
    """-o pty with output to a file: the task's output goes to the file, not the terminal."""
    script = "test -t 0 && echo stdin-tty; echo err >&2"
    ctx.run(_with_pty(ctx, 1, ["sh", "-c", script], output="o.txt"))
    ctx.fact("file", (ctx.tmp / "o.txt").read_text())
    # (With label_io, whether flux 0.88 labels stderr too varies from run to run: not a fact.)
