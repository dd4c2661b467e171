"""``kvs.lookup`` for jobs' KVS directories, as a Flux instance lays them out.

Flux keeps each job's records in its KVS under ``job.<dothex>`` (RFC 16):
``eventlog``, ``jobspec``, ``J``, ``R``, and the ``guest`` directory the job
shell writes (``guest.exec.eventlog``, ``guest.output``). Scripts read them
with ``flux.kvs`` and ``flux.job.job_kvs``. The embedded instance has no
general KVS: it answers ``kvs.lookup`` (flux-core's payloads: ``{"key",
"namespace", "flags"}`` in, ``{"val": <RFC 11 treeobj>}`` out) for those
directories, from its store. Keys above a job's directory (``.``, ``job``,
``job.0000``...) are directories, but only a job's own directory can be read
as one (``FLUX_KVS_READDIR``); nothing can be written.
"""

from __future__ import annotations

import base64
import errno
from typing import Any, Final

from fluxsdk.constants import FLUX_KVS_READDIR, FLUX_KVS_READLINK, FLUX_KVS_TREEOBJ
from fluxsdk.instance._broker import Broker, Request, RequestError
from fluxsdk.instance._job import Job
from fluxsdk.instance._jobmanager import JobManager
from fluxsdk.instance._store import Store

__all__ = ["JobKVSService"]

NAMESPACE: Final = "primary"
_FLAGS: Final = FLUX_KVS_READDIR | FLUX_KVS_READLINK | FLUX_KVS_TREEOBJ
# A directory: its entries by name; a value: its text.
Node = str | dict[str, "Node"]


def _components(key: str) -> list[str]:
    """A KVS key's path components (flux normalizes ``a..b.`` to ``a.b``; ``.`` is the root)."""
    return [part for part in key.split(".") if part]


def treeobj(node: Node) -> dict[str, Any]:
    """``node`` as an RFC 11 tree object: a ``val`` (base64 data) or a ``dir``."""
    if isinstance(node, str):
        return {"ver": 1, "type": "val", "data": base64.b64encode(node.encode()).decode()}
    return {"ver": 1, "type": "dir", "data": {k: treeobj(v) for k, v in node.items()}}


class JobKVSService:
    """Serves ``kvs.lookup`` for job directories."""

    def __init__(self, broker: Broker, store: Store, manager: JobManager) -> None:
        self.broker = broker
        self.store = store
        self.manager = manager
        broker.register("kvs.lookup", self._lookup)

    def _lookup(self, request: Request) -> None:
        key = request.payload_get("key", str)
        namespace = request.payload_get("namespace", str, NAMESPACE)
        flags = request.payload_get("flags", int, 0)
        if namespace != NAMESPACE:
            raise RequestError(errno.ENOTSUP, f"namespace {namespace!r} does not exist")
        if flags & ~_FLAGS:
            raise RequestError(errno.EPROTO, f"kvs.lookup: unsupported flags {flags:#x}")
        parts = _components(key)
        if not key or (not parts and key != "."):
            raise RequestError(errno.EINVAL, f"invalid key {key!r}")
        node = self._node(request, parts)
        if isinstance(node, dict):
            if not flags & FLUX_KVS_READDIR and not flags & FLUX_KVS_TREEOBJ:
                raise RequestError(errno.EISDIR, None)
        elif flags & FLUX_KVS_READDIR:
            raise RequestError(errno.ENOTDIR, None)
        request.respond({"val": treeobj(node)})

    def _node(self, request: Request, parts: list[str]) -> Node:
        """The value or directory at ``parts``; the levels above a job dir read as empty."""
        if len(parts) < 5 or parts[0] != "job":
            if parts and (parts[0] != "job" or not self._any_job(request, parts[1:])):
                raise RequestError(errno.ENOENT, None)
            # A directory of jobs: listing it is what job-list is for.
            if request.payload_get("flags", int, 0) & FLUX_KVS_READDIR:
                raise RequestError(
                    errno.ENOTSUP,
                    "only a job's own directory can be read here; list jobs with job-list",
                )
            return {}
        job = self._job(request, parts[1:5])
        node: Node = self._job_dir(job)
        for part in parts[5:]:
            if not isinstance(node, dict):
                raise RequestError(errno.ENOTDIR, None)
            if part not in node:
                raise RequestError(errno.ENOENT, None)
            node = node[part]
        return node

    def _visible(self, request: Request, job: Job) -> bool:
        return job.userid == request.userid or request.userid == self.broker.owner

    def _any_job(self, request: Request, prefix: list[str]) -> bool:
        """Whether a job the requester may read lives under ``job.<prefix...>``."""
        for job in self.manager.jobs.values():
            dothex = f"{job.id:016x}"
            groups = [dothex[i : i + 4] for i in range(0, 16, 4)]
            if groups[: len(prefix)] == prefix and self._visible(request, job):
                return True
        return False

    def _job(self, request: Request, groups: list[str]) -> Job:
        if any(len(g) != 4 for g in groups):
            raise RequestError(errno.ENOENT, None)
        try:
            jobid = int("".join(groups), 16)
        except ValueError:
            raise RequestError(errno.ENOENT, None) from None
        job = self.manager.jobs.get(jobid)
        if job is None:
            raise RequestError(errno.ENOENT, None)
        if not self._visible(request, job):
            raise RequestError(errno.EPERM, "guests may only read their own jobs")
        return job

    def _job_dir(self, job: Job) -> dict[str, Node]:
        """A job's KVS directory, from the store."""
        node: dict[str, Node] = {"eventlog": "".join(self.store.eventlog(job.id, "eventlog"))}
        for key in ("jobspec", "J", "R"):
            value = self.store.job_get(job.id, key)
            if value is not None:
                node[key] = value
        guest: dict[str, Node] = {}
        if self.store.eventlog_exists(job.id, "guest.exec.eventlog"):
            guest["exec"] = {
                "eventlog": "".join(self.store.eventlog(job.id, "guest.exec.eventlog"))
            }
        if self.store.eventlog_exists(job.id, "guest.output"):
            guest["output"] = "".join(self.store.eventlog(job.id, "guest.output"))
        if guest:
            node["guest"] = guest
        return node
