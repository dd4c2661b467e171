"""Terminals in a job: the job shell's terminus server, and a task on an interactive pty.

Every job's shell serves ``<shell service>.terminus`` (flux's libterminus protocol,
what ``flux terminus`` and ``flux job attach`` use): a client can start a shell on a
new pseudo-terminal inside a running job, attach to it, type, and read what it shows.
With the shell option ``pty.interactive`` the job's task 0 itself runs on such a
terminal and waits for a client. Run it inside an instance (or a real Flux):

    fluxsdk start python examples/terminal_sessions.py
"""

from __future__ import annotations

from typing import Any

import fluxsdk as flux
from fluxsdk import job
from fluxsdk.constants import FLUX_RPC_STREAMING


class Terminal:
    """A client attached to a terminus session: type into it, read what it shows."""

    def __init__(self, handle: flux.Flux, pty_service: str) -> None:
        self.handle = handle
        self.topic = pty_service
        attach = {"type": "attach", "mode": "rw", "winsize": {"rows": 24, "cols": 80}}
        self.stream = handle.rpc(pty_service, attach, flags=FLUX_RPC_STREAMING)
        self.stream.get()  # {"type": "attach"}
        self.stream.reset()
        self.shown = ""
        self.exit: dict[str, Any] | None = None

    def type(self, text: str) -> None:
        self.handle.rpc(self.topic, {"type": "data", "data": text}).get()

    def read_until(self, text: str | None = None) -> str:
        """What the terminal shows, up to ``text`` (without: up to the session's end)."""
        while (text is None or text not in self.shown) and self.exit is None:
            message = self.stream.get()
            self.stream.reset()
            if message["type"] == "data":
                self.shown += message["data"]
            elif message["type"] == "exit":
                self.exit = message  # the end of the session (ENODATA follows)
        head, found, self.shown = self.shown.partition(text or "\x00")
        return head + found


def terminus_service(handle: flux.Flux, jobid: job.JobID) -> str:
    """A running job's terminus service, from its shell's ``shell.init`` event."""
    event = job.event_wait(handle, jobid, "shell.init", eventlog="guest.exec.eventlog")
    return f"{event.context['service']}.terminus"


def main() -> None:
    handle = flux.Flux()

    # 1. A shell on a new terminal inside a running job.
    jobid = job.submit(handle, job.JobspecV1.from_command(["sleep", "300"]))
    service = terminus_service(handle, jobid)
    env = {"PS1": "job$ ", "PATH": "/usr/bin:/bin"}
    session = handle.rpc(f"{service}.new", {"cmd": ["sh", "-i"], "environ": env}).get()
    print(f"session {session['id']} ({session['name']}) at {session['pty_service']}")
    terminal = Terminal(handle, session["pty_service"])
    terminal.read_until("job$ ")
    terminal.type('echo "$((6 * 7)) from session $FLUX_TERMINUS_SESSION"; tty\r')
    print(terminal.read_until("job$ ").replace("\r\n", "\n"))
    print("sessions:", [s["name"] for s in handle.rpc(f"{service}.list").get()["sessions"]])
    terminal.type("exit 5\r")
    terminal.read_until()
    print("session ended:", terminal.exit)
    job.cancel(handle, jobid)

    # 2. A task on an interactive terminal (flux run -o pty.interactive): it waits for us.
    ask = 'printf "name? "; read -r name; echo "hello, $name"'
    spec = job.JobspecV1.from_command(["sh", "-c", ask])
    spec.setattr_shell_option("pty", {"interactive": 1})
    jobid = job.submit(handle, spec)
    task0 = f"{terminus_service(handle, jobid)}.0"
    terminal = Terminal(handle, task0)
    terminal.read_until("name? ")
    terminal.type("terminus\r")
    print(terminal.read_until().replace("\r\n", "\n"), end="")
    info = job.result(handle, jobid)
    print(f"task job: {info.result} returncode={info.returncode}")


if __name__ == "__main__":
    main()
