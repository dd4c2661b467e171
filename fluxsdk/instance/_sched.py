"""Resources of the embedded instance and the scheduler that hands them out.

The instance owns this machine's cores (and GPUs), or a simulated set of N
nodes that all map onto them, for testing multi-node jobspecs. Jobs are
considered by priority, then submit time; a job that does not fit yet holds
its place, and up to ``BACKFILL_DEPTH`` jobs behind it may start if they fit.
"""

from __future__ import annotations

import bisect
import functools
import os
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from fluxsdk.idset import IDset
from fluxsdk.instance._job import ResourceRequest

__all__ = ["Allocation", "Node", "Resources", "Scheduler", "Unsatisfiable", "idset_text"]

BACKFILL_DEPTH = 32


@functools.lru_cache(maxsize=4096)
def idset_text(ids: tuple[int, ...], flags: int | None = None) -> str:
    """The RFC 22 form of a set of IDs (``flags`` as for ``IDset.encode``).

    Allocations repeat the same few core and rank sets, job after job: each
    is encoded once.
    """
    return IDset(ids).encode(flags)


class Unsatisfiable(Exception):
    """The request could never be met by this instance's resources."""


@attrs.define
class Node:
    """One (possibly simulated) node: its rank, name, and physical CPUs and GPUs."""

    rank: int
    hostname: str
    cpus: list[int]
    gpus: list[int]
    free_cores: set[int] = attrs.field(init=False)
    free_gpus: set[int] = attrs.field(init=False)
    exclusive_user: bool = False

    def __attrs_post_init__(self) -> None:
        self.free_cores = set(range(len(self.cpus)))
        self.free_gpus = set(range(len(self.gpus)))

    @property
    def idle(self) -> bool:
        return len(self.free_cores) == len(self.cpus) and len(self.free_gpus) == len(self.gpus)


@attrs.frozen
class Allocation:
    """What a job got: per node rank, the logical core and GPU indices."""

    cores: dict[int, tuple[int, ...]]
    gpus: dict[int, tuple[int, ...]]
    exclusive: bool = False

    @property
    def ranks(self) -> list[int]:
        return sorted(self.cores)


def detect_gpus() -> int:
    """How many NVIDIA GPUs this machine has (0 where the driver shows none)."""
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


class Resources:
    """The instance's nodes and the R (RFC 20) documents that describe them."""

    def __init__(self, size: int = 1, cores: int | None = None, gpus: int | None = None) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        if cores is not None:
            # More cores than CPUs is allowed: they share CPUs round-robin.
            cpus = [cpus[i % len(cpus)] for i in range(cores)]
        if gpus is None:
            gpus = detect_gpus()
        hostname = socket.gethostname()
        self.nodes = [Node(rank, hostname, list(cpus), list(range(gpus))) for rank in range(size)]

    @property
    def ncores(self) -> int:
        return sum(len(node.cpus) for node in self.nodes)

    def R(
        self,
        allocation: Allocation | None = None,
        starttime: float = 0.0,
        expiration: float = 0.0,
        nslots: int | None = None,
    ) -> dict[str, Any]:
        """RFC 20 R of an allocation (or of every resource when None)."""
        entries: list[dict[str, Any]] = []
        for node in self.nodes:
            cores: Sequence[int]
            gpus: Sequence[int]
            if allocation is None:
                cores, gpus = range(len(node.cpus)), range(len(node.gpus))
            elif node.rank in allocation.cores:
                cores, gpus = allocation.cores[node.rank], allocation.gpus.get(node.rank, ())
            else:
                continue
            children = {"core": idset_text(tuple(cores))}
            if gpus:
                children["gpu"] = idset_text(tuple(gpus))
            entries.append({"rank": str(node.rank), "children": children})
        ranks = [int(e["rank"]) for e in entries]
        return {
            "version": 1,
            "execution": {
                "R_lite": entries,
                "starttime": starttime,
                "expiration": expiration,
                "nslots": nslots if nslots is not None else sum(len(n.cpus) for n in self.nodes),
                "nodelist": [self.nodes[r].hostname for r in ranks],
            },
        }

    def check_feasible(self, request: ResourceRequest) -> None:
        """Raise :class:`Unsatisfiable` if even an idle instance could not run it.

        The checks and their messages are those of flux-core's scheduler
        (``Rv1Pool``), in its order: exclusive nodes, nodes, slots, GPUs.
        """
        nodes = [(len(n.cpus), len(n.gpus)) for n in self.nodes]
        size, gpu_per_slot = request.cores_per_slot, request.gpus_per_slot
        if request.exclusive:
            need = max(request.nnodes, 1)
            eligible = sum(1 for cores, gpus in nodes if cores >= size and gpus >= gpu_per_slot)
            if eligible < need:
                raise Unsatisfiable(
                    f"unsatisfiable request: need {need} exclusive node(s), "
                    f"only {eligible} eligible"
                )
            return
        if request.nnodes:
            per_node_cores = request.nslots * size
            per_node_gpus = request.nslots * gpu_per_slot
            eligible = sum(
                1 for cores, gpus in nodes if cores >= per_node_cores and gpus >= per_node_gpus
            )
            if eligible < request.nnodes:
                gpu_text = f" and {per_node_gpus} GPUs" if per_node_gpus else ""
                raise Unsatisfiable(
                    f"unsatisfiable request: need {request.nnodes} node(s) with "
                    f"{per_node_cores} cores{gpu_text} each, only {eligible} eligible"
                )
            return
        nslots = request.total_slots
        slots = sum(cores // size for cores, _ in nodes) if size else nslots
        if slots < nslots:
            raise Unsatisfiable(
                f"unsatisfiable request: need {nslots} slot(s) of {size} core(s), "
                f"only {slots} such slot(s) available (total cores: {self.ncores})"
            )
        if gpu_per_slot:
            gpu_slots = sum(
                min(cores // size if size else cores, gpus // gpu_per_slot) for cores, gpus in nodes
            )
            if gpu_slots < nslots:
                raise Unsatisfiable(
                    f"unsatisfiable request: need {nslots} slot(s) with {gpu_per_slot} GPU(s) "
                    f"each, only {gpu_slots} available (total GPUs: {sum(g for _, g in nodes)})"
                )

    @staticmethod
    def _slots_on(node: Node, request: ResourceRequest, idle: bool = False) -> int:
        if node.exclusive_user and not idle:
            return 0
        cores = len(node.cpus) if idle else len(node.free_cores)
        gpus = len(node.gpus) if idle else len(node.free_gpus)
        by_cores = cores // request.cores_per_slot if request.cores_per_slot else cores
        if request.gpus_per_slot:
            return min(by_cores, gpus // request.gpus_per_slot)
        return by_cores

    def allocate(self, request: ResourceRequest) -> Allocation | None:
        """Take resources for ``request`` now, or return None if they are busy."""
        plan: dict[int, int] = {}  # rank -> slots
        if request.nnodes:
            for node in self.nodes:
                if len(plan) == request.nnodes:
                    break
                if request.exclusive and not node.idle:
                    continue
                if self._slots_on(node, request) >= request.nslots:
                    plan[node.rank] = request.nslots
            if len(plan) < request.nnodes:
                return None
        else:
            needed = request.total_slots
            for node in self.nodes:
                if needed == 0:
                    break
                take = min(needed, self._slots_on(node, request))
                if take:
                    plan[node.rank] = take
                    needed -= take
            if needed:
                return None
        cores: dict[int, tuple[int, ...]] = {}
        gpus: dict[int, tuple[int, ...]] = {}
        for rank, slots in plan.items():
            node = self.nodes[rank]
            if request.exclusive:
                ncores, ngpus = len(node.free_cores), len(node.free_gpus)
                node.exclusive_user = True
            else:
                ncores, ngpus = slots * request.cores_per_slot, slots * request.gpus_per_slot
            cores[rank] = tuple(sorted(node.free_cores)[:ncores])
            gpus[rank] = tuple(sorted(node.free_gpus)[:ngpus])
            node.free_cores.difference_update(cores[rank])
            node.free_gpus.difference_update(gpus[rank])
        return Allocation(cores, gpus, request.exclusive)

    def claim(self, allocation: Allocation) -> None:
        """Mark an allocation taken again (a running job found after a restart)."""
        for rank, cores in allocation.cores.items():
            node = self.nodes[rank]
            node.free_cores.difference_update(cores)
            node.free_gpus.difference_update(allocation.gpus.get(rank, ()))
            node.exclusive_user = node.exclusive_user or allocation.exclusive

    def free(self, allocation: Allocation) -> None:
        """Give an allocation's resources back."""
        for rank, cores in allocation.cores.items():
            node = self.nodes[rank]
            node.free_cores.update(cores)
            node.free_gpus.update(allocation.gpus.get(rank, ()))
            if allocation.exclusive:
                node.exclusive_user = False

    def any_free(self) -> bool:
        return any(node.free_cores and not node.exclusive_user for node in self.nodes)


class Scheduler:
    """A priority queue of jobs waiting for resources.

    Entries are ``(-priority, t_submit, jobid)``, so sorting gives the order
    to consider them in. Held jobs (priority 0) are never queued.
    """

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._queue: list[tuple[int, float, int]] = []
        self._keys: dict[int, tuple[int, float, int]] = {}
        self._requests: dict[int, ResourceRequest] = {}

    def __len__(self) -> int:
        return len(self._queue)

    def enqueue(self, jobid: int, priority: int, t_submit: float, request: ResourceRequest) -> None:
        """Queue a job (or move it, if its priority changed)."""
        self.dequeue(jobid)
        if priority <= 0:
            return
        key = (-priority, t_submit, jobid)
        bisect.insort(self._queue, key)
        self._keys[jobid] = key
        self._requests[jobid] = request

    def dequeue(self, jobid: int) -> None:
        key = self._keys.pop(jobid, None)
        if key is not None:
            index = bisect.bisect_left(self._queue, key)
            del self._queue[index]
            del self._requests[jobid]

    def schedule(self) -> Iterable[tuple[int, Allocation]]:
        """Allocate what can start now, in order; yields ``(jobid, allocation)``."""
        blocked = 0
        index = 0
        while index < len(self._queue) and blocked <= BACKFILL_DEPTH:
            if not self.resources.any_free():
                return
            key = self._queue[index]
            jobid = key[2]
            allocation = self.resources.allocate(self._requests[jobid])
            if allocation is None:
                blocked += 1
                index += 1
                continue
            del self._queue[index]
            del self._keys[jobid]
            del self._requests[jobid]
            yield jobid, allocation
