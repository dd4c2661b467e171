"""The typed facade the embedded instance calls its plugins through.

An instance loads exactly the plugins its configuration or command line
names (never every installed one), plus its built-in default priority, which
is registered through the same hook. Flux's validator and frobnicator plugins
load too (see ``_fluxstyle``), from the same names or from the configuration's
``ingest`` table, as Flux's. Plugin code runs in one worker thread per plugin
(see ``_worker``): event observers are queued, priority calls are awaited
with a deadline, ingest calls are awaited without blocking the event loop
(see ``_ingest``). Built-in implementations run inline.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pluggy

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks._call import FAILED
from fluxsdk.hooks._fluxstyle import adapt
from fluxsdk.hooks._ingest import TRANSFORM as INGEST_TRANSFORM
from fluxsdk.hooks._ingest import VALIDATE as INGEST_VALIDATE
from fluxsdk.hooks._ingest import ingest
from fluxsdk.hooks._jobspecs import copy_json
from fluxsdk.hooks._manager import SOURCE_BUILTIN, PluginManager
from fluxsdk.hooks._values import InstanceInfo, InstanceJob, Submission
from fluxsdk.hooks._worker import BUSY, LATE, Worker

if TYPE_CHECKING:
    from fluxsdk.instance._job import Job

__all__ = ["INSTANCE_BUILTINS", "InstanceHooks", "snapshot"]

log = logging.getLogger("fluxsdk.plugins")

JOB_EVENT: Final = "fluxsdk_instance_job_event"
PRIORITY: Final = "fluxsdk_instance_job_priority"

INSTANCE_BUILTINS: Final = ("fluxsdk.instance._priority",)
"""Modules every instance registers as built-in plugins (Flux's default priority)."""

PRIORITY_MAX: Final = 4294967295
URGENCY_HOLD: Final = 0
URGENCY_EXPEDITE: Final = 31

DEFAULT_TIMEOUT: Final = 1.0
DEFAULT_INGEST_TIMEOUT: Final = 10.0
DEFAULT_SLOW: Final = 0.1
DEFAULT_DRAIN: Final = 5.0
QUEUE_LIMIT: Final = 100_000

SOURCE_COMMAND_LINE: Final = "command line"
SOURCE_CONFIG: Final = "config"


def snapshot(job: Job) -> InstanceJob:
    """The frozen view of the instance's job record that plugins receive."""
    from fluxsdk.instance._job import RESULT_NAMES, STATE_NAMES, State
    from fluxsdk.job import JobID

    request = job.request
    return InstanceJob(
        id=JobID(job.id),
        userid=job.userid,
        name=job.name,
        queue=job.queue,
        urgency=job.urgency,
        priority=job.priority,
        state=STATE_NAMES.get(job.state, str(job.state)),
        ntasks=request.ntasks,
        ncores=request.total_slots * request.cores_per_slot,
        duration=job.duration,
        t_submit=job.t_submit,
        t_run=job.t_run,
        t_inactive=job.t_inactive,
        result=RESULT_NAMES.get(job.result) if job.state == State.INACTIVE else None,
    )


IMPLICIT_FROBNICATORS: Final = ("defaults", "constraints")
"""Flux's frobnicators when a configuration has jobspec defaults or queues but names none."""


def _implicit_frobnicators(config: Mapping[str, Any], table: Mapping[str, Any]) -> bool:
    """As Flux: jobspec defaults or a queues table enable the default
    frobnicators, unless ``ingest.frobnicator.disable`` is set."""
    if table.get("disable") is True:
        return False
    policy = config.get("policy")
    jobspec = policy.get("jobspec") if isinstance(policy, Mapping) else None
    defaults = jobspec.get("defaults") if isinstance(jobspec, Mapping) else None
    return defaults is not None or "queues" in config


def _names(config: Mapping[str, Any], key: str, prefix: str = "") -> list[str]:
    value = config.get(key) or []
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{prefix}{key} must be a list of strings, not {value!r}")
    return list(value)


def _seconds(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{key} must be a positive number of seconds, not {value!r}")
    return float(value)


class InstanceHooks:
    """Instance-side hooks of one instance (see :mod:`fluxsdk.hooks.hookspecs`)."""

    def __init__(
        self,
        manager: PluginManager,
        info: InstanceInfo,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        drain: float = DEFAULT_DRAIN,
        queue_limit: int = QUEUE_LIMIT,
        ingest_timeout: float = DEFAULT_INGEST_TIMEOUT,
    ) -> None:
        self.manager = manager
        self.info = info
        self.timeout = timeout
        """How long a priority call may take before the next plugin decides."""
        self.ingest_timeout = ingest_timeout
        """How long an ingest (transform or validate) call may take before the
        submission is refused."""
        self.drain = drain
        """How long plugins may take, at shutdown, to finish their queued calls."""
        self._queue_limit = queue_limit
        self._workers: dict[str, Worker] = {}

    @classmethod
    def load(
        cls,
        names: Sequence[str] = (),
        *,
        uri: str,
        statedir: str | Path,
        config: Mapping[str, Any] | None = None,
        queues: Sequence[str] = (),
    ) -> InstanceHooks:
        """The built-in plugins, then those ``config["plugins"]``, Flux's
        ``config["ingest"]`` table and ``names`` name.

        ``config`` keys used here: ``plugins`` (a list of names),
        ``advisory-plugins`` (names of plugins that fail open),
        ``plugin-timeout``, ``ingest-timeout``, ``plugin-slow`` and
        ``plugin-drain`` (seconds), and ``ingest.validator`` /
        ``ingest.frobnicator`` (each with ``plugins`` and ``args`` lists, as
        in Flux's configuration).

        Raises:
            PluginError: ENOENT for a name that matches no installed plugin
                or module (one that is found but fails to load is reported
                and skipped).
            ValueError: a configuration value is invalid.
        """
        config = dict(config or {})
        configured = _names(config, "plugins")
        ingest = config.get("ingest") or {}
        if not isinstance(ingest, Mapping):
            raise ValueError(f"ingest must be a mapping, not {ingest!r}")
        flux_args: dict[str, list[str]] = {}
        for kind in ("frobnicator", "validator"):
            table = ingest.get(kind) or {}
            if not isinstance(table, Mapping):
                raise ValueError(f"ingest.{kind} must be a mapping, not {table!r}")
            named = _names(table, "plugins", f"ingest.{kind}.")
            if kind == "frobnicator" and not named and _implicit_frobnicators(config, table):
                named = list(IMPLICIT_FROBNICATORS)
            configured += named
            flux_args[kind] = _names(table, "args", f"ingest.{kind}.")
        manager = PluginManager(
            slow_seconds=_seconds(config, "plugin-slow", DEFAULT_SLOW),
            advisory=_names(config, "advisory-plugins"),
        )
        manager.adapter = lambda module, name: adapt(
            module,
            name,
            validator_args=flux_args["validator"],
            frobnicator_args=flux_args["frobnicator"],
        )
        for module in INSTANCE_BUILTINS:
            manager.add_module(module, source=SOURCE_BUILTIN)
        wanted = [(n, SOURCE_CONFIG) for n in configured]
        wanted += [(n, SOURCE_COMMAND_LINE) for n in names]
        seen: set[str] = set()
        for name, source in wanted:
            if name not in seen:
                seen.add(name)
                manager.load_named(name, source=source)
        manager.check_pending()
        info = InstanceInfo(uri=uri, statedir=Path(statedir), config=config, queues=tuple(queues))
        return cls(
            manager,
            info,
            timeout=_seconds(config, "plugin-timeout", DEFAULT_TIMEOUT),
            drain=_seconds(config, "plugin-drain", DEFAULT_DRAIN),
            ingest_timeout=_seconds(config, "ingest-timeout", DEFAULT_INGEST_TIMEOUT),
        )

    # -- ingest ----------------------------------------------------------------------------

    def has_ingest(self) -> bool:
        """True if some plugin transforms or validates submitted jobspecs."""
        return bool(self.manager.impls(INGEST_TRANSFORM) or self.manager.impls(INGEST_VALIDATE))

    async def ingest(
        self, document: Mapping[str, Any], submission: Submission, *, validate: bool = True
    ) -> dict[str, Any]:
        """``document`` transformed and validated by the ingest plugins (see ``_ingest``).

        Raises:
            IngestRejected: a plugin rejected the jobspec or failed.
        """
        return await ingest(self, document, submission, validate=validate)

    # -- hooks ---------------------------------------------------------------------------

    def job_event(
        self, job: Job, name: str, context: Mapping[str, Any] | None, timestamp: float
    ) -> None:
        """Queue ``name`` (just posted for ``job``) for every event plugin."""
        impls = self.manager.impls(JOB_EVENT)
        if not impls:
            return
        view = snapshot(job)
        for impl in impls:
            entry = {
                "timestamp": timestamp,
                "name": name,
                "context": copy_json(dict(context or {})),
            }
            kwargs = {"job": view, "event": EventLogEvent(entry), "instance": self.info}
            if self.is_builtin(impl):
                self.manager.calls.call(impl, JOB_EVENT, kwargs)
            else:
                self.worker(impl.plugin_name).post(impl, JOB_EVENT, kwargs)

    def job_priority(self, job: Job, jobspec: Callable[[], Mapping[str, Any]]) -> int:
        """``job``'s priority: held and expedited jobs as Flux, else the first
        plugin's valid answer (the built-in default comes last).

        ``jobspec`` is called (once) only if some plugin takes the jobspec.
        """
        if job.urgency == URGENCY_HOLD:
            return 0
        if job.urgency == URGENCY_EXPEDITE:
            return PRIORITY_MAX
        try:
            return self._first_priority(job, jobspec)
        except Exception:  # never leave a job without a priority, whatever went wrong
            log.exception("computing the priority of job %s failed; using its urgency", job.id)
            return job.urgency

    def _first_priority(self, job: Job, jobspec: Callable[[], Mapping[str, Any]]) -> int:
        view = snapshot(job)
        document: Mapping[str, Any] | None = None
        for impl in self.manager.impls(PRIORITY):
            kwargs: dict[str, Any] = {"job": view, "instance": self.info}
            if "jobspec" in impl.argnames:
                if document is None:
                    document = jobspec()
                kwargs["jobspec"] = copy_json(dict(document))
            if self.is_builtin(impl):
                result = self.manager.calls.call(impl, PRIORITY, kwargs)
            else:
                result = self._ask(impl, kwargs, view)
            if result is None or result is FAILED or result is LATE or result is BUSY:
                continue
            if type(result) is int and 0 <= result <= PRIORITY_MAX:  # not bool, nor float
                return result
            self.manager.calls.garbage(
                impl.plugin_name,
                PRIORITY,
                f"returned {result!r}; expected an int from 0 to {PRIORITY_MAX} or None",
            )
        return job.urgency  # only if the built-in default itself was unregistered

    def _ask(self, impl: pluggy.HookImpl, kwargs: Mapping[str, Any], job: InstanceJob) -> object:
        result = self.worker(impl.plugin_name).ask(impl, PRIORITY, kwargs, self.timeout)
        if result is LATE:
            log.warning(
                "plugin %r missed its %.3f s deadline for the priority of job %s; "
                "the next plugin decides",
                impl.plugin_name,
                self.timeout,
                job.id,
            )
        elif result is BUSY:
            log.warning(
                "plugin %r is still in a call that missed its deadline; "
                "the priority of job %s is left to the next plugin",
                impl.plugin_name,
                job.id,
            )
        return result

    # -- workers -------------------------------------------------------------------------

    def is_builtin(self, impl: pluggy.HookImpl) -> bool:
        """True for fluxsdk's own implementations (called inline, not in a thread)."""
        info = self.manager.info(impl.plugin_name)
        return info is not None and info.source == SOURCE_BUILTIN

    def worker(self, plugin: str) -> Worker:
        """The thread that makes ``plugin``'s calls (started on first use)."""
        worker = self._workers.get(plugin)
        if worker is None:
            worker = Worker(plugin, self.manager.calls, limit=self._queue_limit)
            self._workers[plugin] = worker
        return worker

    def close(self, timeout: float | None = None) -> None:
        """Let each plugin finish its queued calls, for at most ``timeout`` seconds in
        all (default: :attr:`drain`)."""
        timeout = self.drain if timeout is None else timeout
        deadline = time.monotonic() + timeout
        for worker in self._workers.values():
            worker.close()
        for plugin, worker in self._workers.items():
            if not worker.join(deadline - time.monotonic()):
                log.warning(
                    "plugin %r did not finish within %.1f s; %d queued call(s) abandoned",
                    plugin,
                    timeout,
                    worker.pending,
                )

    def describe(self) -> list[dict[str, Any]]:
        """Each plugin, where it came from, its hooks and what they have done (JSON)."""
        out: list[dict[str, Any]] = []
        for info in self.manager.infos():
            entry = info.as_dict()
            entry["stats"] = {
                hook: stats.as_dict()
                for (plugin, hook), stats in sorted(self.manager.calls.stats.items())
                if plugin == info.name
            }
            worker = self._workers.get(info.name)
            entry["queued"] = worker.pending if worker is not None else 0
            out.append(entry)
        return out


def jobspec_document(text: str | None) -> dict[str, Any]:
    """A stored jobspec's JSON text as a document (``{}`` if there is none)."""
    document = json.loads(text) if text else {}
    return document if isinstance(document, dict) else {}
