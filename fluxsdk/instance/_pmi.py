"""A PMI-1 server for a job's tasks (the simple PMI wire protocol, as flux's shell serves it).

Each task gets one end of a socket pair as ``PMI_FD`` (with ``PMI_RANK`` and
``PMI_SIZE``); a PMI-1 client (MPICH's simple PMI, Flux's own libpmi, ...)
speaks the line protocol on it: ``cmd=init``, ``get_maxes``,
``get_universe_size``, ``get_appnum``, ``get_my_kvsname``, ``put``, ``get``,
``barrier_in``, ``finalize``, ``abort``. As in flux's shell, the key-value
space is the job's: with one shell (the embedded instance runs one per job)
a value put is visible to every task at once; the kvsname is the job ID
(F58), the appnum is 0, and the space starts with ``PMI_process_mapping``
(RFC 13), ``flux.taskmap`` (RFC 34) and ``flux.instance-level``. Publish,
lookup and spawn are refused, as flux does.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Final

from fluxsdk.instance._exec import TaskPlan, task_descriptors

__all__ = ["PMI_FD", "PmiServer"]

log = logging.getLogger("fluxsdk.instance")

#: The descriptor number a task finds its PMI socket at (``PMI_FD``).
PMI_FD: Final = 3
# Limits the server announces (flux's simple_server.h), and PMI-1 error codes.
KVSNAME_MAX: Final = 64
KEYLEN_MAX: Final = 64
VALLEN_MAX: Final = 1024
_PMI_ERR_INVALID_KEY: Final = 4
_PMI_ERR_INVALID_KEY_LENGTH: Final = 5
_PMI_ERR_INVALID_VAL_LENGTH: Final = 7
_NOT_IMPLEMENTED: Final = {
    "publish_name": "publish_result",
    "unpublish_name": "unpublish_result",
    "lookup_name": "lookup_result",
}


def process_mapping(plans: Sequence[TaskPlan], ranks: Sequence[int]) -> str:
    """RFC 13's ``PMI_process_mapping``: ``(vector,(node,nnodes,ppn),...)``."""
    per_node = [sum(1 for p in plans if p.node_rank == rank) for rank in ranks]
    blocks: list[list[int]] = []
    for node, ppn in enumerate(per_node):
        if blocks and blocks[-1][2] == ppn and sum(blocks[-1][:2]) == node:
            blocks[-1][1] += 1
        else:
            blocks.append([node, 1, ppn])
    return "(vector," + ",".join(f"({a},{b},{c})" for a, b, c in blocks) + ")"


def _taskmap(plans: Sequence[TaskPlan], ranks: Sequence[int]) -> str:
    """RFC 34's task map (blocks ``[node, nnodes, ppn, repeat]``), wrapped as flux puts it."""
    blocks: list[list[int]] = []
    for node, rank in enumerate(ranks):
        ppn = sum(1 for p in plans if p.node_rank == rank)
        if blocks and blocks[-1][2] == ppn and blocks[-1][0] + blocks[-1][1] == node:
            blocks[-1][1] += 1
        else:
            blocks.append([node, 1, ppn, 1])
    return json.dumps({"version": 1, "map": blocks}, separators=(",", ":"))


def _fields(line: str) -> dict[str, str]:
    """``key=value`` words of a request; a string (``value=``, ``error_msg=``)
    takes the rest of the line."""
    out: dict[str, str] = {}
    head = line
    for string in ("value", "error_msg"):
        before, sep, rest = head.partition(f" {string}=")
        if sep:
            head, out[string] = before, rest
            break
    for word in head.split():
        key, eq, value = word.partition("=")
        if eq:
            out.setdefault(key, value)
    return out


class PmiServer:
    """The PMI-1 server of one job (all its tasks on this machine).

    Args:
        loop: the broker's event loop (sockets are served on it).
        kvsname: the job ID in F58, as flux names the space.
        plans: the job's tasks; ``ranks``: its nodes.
        on_abort: called with the note of the job's fatal ``exec`` exception when a
            task aborts (``cmd=abort``) or breaks the protocol.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        kvsname: str,
        plans: Sequence[TaskPlan],
        ranks: Sequence[int],
        on_abort: Callable[[str], None],
    ) -> None:
        self._fds = task_descriptors(loop)
        self._kvsname = kvsname
        self._size = len(plans)
        self._on_abort = on_abort
        self._plans = plans
        self._ranks = ranks
        # The space's predefined keys, made on the first request that reads or adds
        # one: most tasks never speak PMI.
        self._local_keys: dict[str, str] | None = None
        self._global: dict[str, str] = {}
        self._pending: dict[str, str] = {}
        self._barrier: set[int] = set()
        self._socks: dict[int, socket.socket] = {}  # rank -> the server's end
        self._child: dict[int, int] = {}  # rank -> the task's end, until it is spawned
        self._partial: dict[int, bytes] = {}

    def channel(self, rank: int) -> int:
        """A new socket pair for task ``rank``; returns the end the task inherits."""
        server, task = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        server.setblocking(False)
        self._socks[rank] = server
        fd = task.detach()
        if fd == PMI_FD:  # dup2(fd, fd) would keep close-on-exec: move it first
            moved = os.dup(fd)
            os.close(fd)
            fd = moved
        self._child[rank] = fd
        self._partial[rank] = b""
        self._fds.add(server.fileno(), functools.partial(self._read, rank))
        return fd

    def spawned(self, rank: int) -> None:
        """The task has its end: the server closes its copy."""
        fd = self._child.pop(rank, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Stop serving (the job's tasks are gone)."""
        for fd in self._child.values():
            os.close(fd)
        self._child.clear()
        for rank in list(self._socks):
            self._drop(rank)

    def _drop(self, rank: int) -> None:
        sock = self._socks.pop(rank, None)
        if sock is not None:
            self._fds.remove(sock.fileno())
            sock.close()

    @property
    def _local(self) -> dict[str, str]:
        if self._local_keys is None:
            self._local_keys = {
                "PMI_process_mapping": process_mapping(self._plans, self._ranks),
                "flux.taskmap": _taskmap(self._plans, self._ranks),
                "flux.instance-level": "1",
            }
        return self._local_keys

    def _send(self, rank: int, text: str) -> None:
        sock = self._socks.get(rank)
        if sock is None:
            return
        try:
            sock.sendall(text.encode())
        except (BlockingIOError, OSError):
            # A client that does not read its answers (or has gone) loses the channel.
            self._drop(rank)

    def _read(self, rank: int) -> None:
        sock = self._socks[rank]
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(rank)
            return
        buffered = self._partial[rank] + data
        *lines, self._partial[rank] = buffered.split(b"\n")
        for line in lines:
            if rank in self._socks:
                self._request(rank, line.decode("utf-8", "replace"))

    def _request(self, rank: int, line: str) -> None:
        fields = _fields(line)
        cmd = fields.get("cmd")
        if cmd == "init":
            version = fields.get("pmi_version", "")
            sub = fields.get("pmi_subversion", "")
            if not (version.isdigit() and sub.isdigit()):
                self._protocol_error(rank, line)
            elif (int(version), int(sub)) == (1, 1) or (int(version) == 1 and int(sub) > 1):
                self._send(rank, "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1\n")
            else:
                self._send(rank, "cmd=response_to_init rc=-1\n")
        elif cmd == "get_maxes":
            self._send(
                rank,
                f"cmd=maxes rc=0 kvsname_max={KVSNAME_MAX} keylen_max={KEYLEN_MAX} "
                f"vallen_max={VALLEN_MAX}\n",
            )
        elif cmd == "get_universe_size":
            self._send(rank, f"cmd=universe_size rc=0 size={self._size}\n")
        elif cmd == "get_appnum":
            self._send(rank, "cmd=appnum rc=0 appnum=0\n")
        elif cmd == "get_my_kvsname":
            self._send(rank, f"cmd=my_kvsname rc=0 kvsname={self._kvsname}\n")
        elif cmd == "put":
            self._put(rank, fields, line)
        elif cmd == "get":
            self._get(rank, fields, line)
        elif cmd == "barrier_in":
            self._barrier.add(rank)
            if len(self._barrier) == self._size:
                self._global.update(self._pending)
                self._pending.clear()
                self._barrier.clear()
                for other in list(self._socks):
                    self._send(other, "cmd=barrier_out rc=0\n")
        elif cmd == "finalize":
            self._send(rank, "cmd=finalize_ack rc=0\n")
            self._drop(rank)
        elif cmd == "abort":
            self._on_abort(f"PMI_Abort: {fields.get('error_msg', 'aborted')}")
        elif cmd in _NOT_IMPLEMENTED:
            self._send(rank, f"cmd={_NOT_IMPLEMENTED[cmd]} rc=-1 msg=command not implemented\n")
        elif fields.get("mcmd") == "spawn" or line == "endcmd":
            if line == "endcmd":
                self._send(rank, "cmd=spawn_result rc=-1\n")
        else:
            self._protocol_error(rank, line)

    def _put(self, rank: int, fields: dict[str, str], line: str) -> None:
        if "kvsname" not in fields or "key" not in fields or "value" not in fields:
            self._protocol_error(rank, line)
            return
        if len(fields["key"]) >= KEYLEN_MAX:
            result = _PMI_ERR_INVALID_KEY_LENGTH
        elif len(fields["value"]) >= VALLEN_MAX:
            result = _PMI_ERR_INVALID_VAL_LENGTH
        else:
            # As flux's shell: "local::" keys are node-scoped, the others are
            # exchanged between the job's shells at the barrier.
            key = fields["key"]
            (self._local if key.startswith("local::") else self._pending)[key] = fields["value"]
            result = 0
        self._send(rank, f"cmd=put_result rc={result}\n")

    def _get(self, rank: int, fields: dict[str, str], line: str) -> None:
        if "kvsname" not in fields or "key" not in fields:
            self._protocol_error(rank, line)
            return
        key = fields["key"]
        if len(key) >= KEYLEN_MAX:
            self._send(rank, f"cmd=get_result rc={_PMI_ERR_INVALID_KEY_LENGTH}\n")
            return
        # A value put by any task of this (single) shell is visible at once, as in flux.
        value = self._local.get(key, self._pending.get(key, self._global.get(key)))
        if value is None:
            self._send(rank, f"cmd=get_result rc={_PMI_ERR_INVALID_KEY}\n")
        else:
            self._send(rank, f"cmd=get_result rc=0 value={value}\n")

    def _protocol_error(self, rank: int, line: str) -> None:
        """A request that is not PMI-1: flux's shell dies; here the task loses its channel."""
        log.warning("task %d: PMI-1 wire protocol error: %r", rank, line[:80])
        self._on_abort("PMI-1 wire protocol error")  # as flux's shell_die note
        self._drop(rank)
