"""The differential harness: run scenario programs on a broker and collect facts.

A *scenario* is a function written once against ``fluxsdk.job``; it receives
a :class:`Ctx` and records what a user can observe with :meth:`Ctx.fact`
(eventlogs, output, results, listings, errors, files, task environments).
Values that naturally differ between two instances (job IDs, timestamps,
hostnames, pids, temporary paths, URIs) are normalised as they are recorded,
so the facts of the embedded instance and of a real Flux can be compared one
by one. :func:`run_all` runs every scenario on one broker (concurrently where
a scenario does not need the instance to itself) and returns the facts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno as errno_mod
import json
import os
import re
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.job import JobID, JobspecV1

__all__ = ["SCENARIOS", "Ctx", "Scenario", "run_all", "scenario"]

#: How long one scenario may take before its jobs are cancelled and it is reported as hung.
SCENARIO_TIMEOUT: Final = 60.0
#: How long to wait for job-list to show what the job manager did.
LIST_SETTLE_TIMEOUT: Final = 10.0
_TIME_KEYS: Final = frozenset({"timestamp", "runtime", "expiration", "t_remaining"})
_URI_RE: Final = re.compile(r"\b(?:local|fluxsdk|ssh)://\S*")
_CORES_RE: Final = re.compile(r"core[\d,\-\[\]]+")
# Wall-clock renderings: a begin-time dependency and its listing form.
_BEGIN_RE: Final = re.compile(r"(begin-time=)\d+(\.\d+)?")
_BEGIN_AT_RE: Final = re.compile(r"(begin@)\d\d:\d\d(:\d\d)?")
# The job shell's own source location in its log events.
_SOURCE_KEYS: Final = frozenset({"file", "line"})


@attrs.define(frozen=True)
class Scenario:
    """One scenario program; ``isolated`` ones run alone on the instance."""

    name: str
    run: Callable[[Ctx], None]
    isolated: bool = False
    doc: str = ""


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, *, isolated: bool = False
) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    """Register ``func`` as the scenario ``name``."""

    def register(func: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        if name in SCENARIOS:
            raise ValueError(f"duplicate scenario {name!r}")
        SCENARIOS[name] = Scenario(name, func, isolated, (func.__doc__ or "").strip())
        return func

    return register


class ScenarioError(RuntimeError):
    """A scenario program itself failed (not a fact about the broker)."""


@attrs.define
class Ctx:
    """What a scenario program works with: a handle, a directory, the facts."""

    handle: Flux
    tmp: Path
    env: dict[str, str]
    facts: dict[str, Any] = attrs.field(factory=dict)
    jobids: list[int] = attrs.field(factory=list)

    # -- recording ---------------------------------------------------------
    def fact(self, name: str, value: Any) -> None:
        """Record one observable fact (normalised)."""
        if name in self.facts:
            raise ScenarioError(f"fact {name!r} recorded twice")
        self.facts[name] = self.norm(value)

    def norm(self, value: Any, key: str = "") -> Any:
        """``value`` with what naturally differs between instances replaced."""
        if key in _TIME_KEYS or key.startswith("t_"):
            return "T" if value else value
        if key in ("nodelist", "hostname"):
            return "$HOST" if value else value
        if isinstance(value, Mapping):
            if "message" in value and "level" in value:  # a shell log event
                value = {k: v for k, v in value.items() if k not in _SOURCE_KEYS}
            return {str(k): self.norm(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.norm(v) for v in value]
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            if value in self.jobids:
                return f"$JOB{self.jobids.index(value)}"
            return value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "backslashreplace")
        if isinstance(value, str):
            return self.norm_text(value, key)
        return repr(value)

    def norm_text(self, text: str, key: str = "") -> str:
        """Job IDs, paths, hostnames and URIs in ``text`` replaced by markers."""
        text = _printable(text)
        text = text.replace(str(self.tmp), "$TMP")
        for index in sorted(range(len(self.jobids)), key=lambda i: -self.jobids[i]):
            jid = JobID(self.jobids[index])
            for form in (jid.f58, jid.f58plain, jid.hex, jid.dothex, jid.kvs, jid.words):
                text = text.replace(form, f"$JOB{index}")
            text = re.sub(rf"\b{int(jid)}\b", f"$JOB{index}", text)
        text = _URI_RE.sub("$URI", text)
        text = _BEGIN_RE.sub(lambda m: m.group(1) + "T" + _decimals(m.group(2)), text)
        text = _BEGIN_AT_RE.sub(r"\1T", text)
        host = socket.gethostname()
        if host:
            text = re.sub(rf"\b{re.escape(host)}\b", "$HOST", text)
        if key == "resource_summary":
            text = _CORES_RE.sub(lambda m: f"cores:{_count_idset(m.group(0)[4:])}", text)
        return text

    # -- building and submitting --------------------------------------------
    def spec(self, command: list[str], **kwargs: Any) -> JobspecV1:
        """``from_command`` with this scenario's environment and directory."""
        kwargs.setdefault("environment", dict(self.env))
        kwargs.setdefault("cwd", str(self.tmp))
        return JobspecV1.from_command(command, **kwargs)

    def sh(self, script: str, **kwargs: Any) -> JobspecV1:
        """A job running ``sh -c script``."""
        return self.spec(["sh", "-c", script], **kwargs)

    def submit(self, jobspec: JobspecV1 | str, **kwargs: Any) -> JobID:
        """Submit; the ID joins the normalisation table."""
        jid = job.submit(self.handle, jobspec, **kwargs)
        self.jobids.append(int(jid))
        return jid

    def attempt(self, name: str, func: Callable[[], Any]) -> Any:
        """Call ``func``; record its (normalised) return or the error it raised."""
        try:
            value = func()
        except Exception as exc:
            self.fact(name, describe_error(exc))
            self.facts_info(name, exc)
            return None
        self.fact(name, {"ok": to_json(value)})
        return value

    def facts_info(self, name: str, exc: BaseException) -> None:
        """Keep an error's text as an unscored (``info:``) fact."""
        self.facts[f"info:{name}.message"] = self.norm(str(exc))

    # -- reading a job ------------------------------------------------------
    def wait_event(self, jid: JobID, name: str, eventlog: str = "eventlog") -> None:
        """Block until event ``name`` is in the job's eventlog."""
        job.event_wait(self.handle, jid, name, eventlog=eventlog, raiseJobException=False)

    def eventlog(self, jid: JobID, prefix: str = "events") -> None:
        """Record the main eventlog: names in order and each context."""
        events = [
            (ev.name, ev.context) for ev in job.event_watch(self.handle, jid, eventlog="eventlog")
        ]
        self.fact(f"{prefix}.names", [name for name, _ in events])
        self.fact(f"{prefix}.contexts", [[name, ctx] for name, ctx in events])

    def output_eventlog(self, jid: JobID, prefix: str = "output") -> None:
        """Record the output eventlog: header, then each stream's events in order."""
        events = [
            (ev.name, ev.context)
            for ev in job.event_watch(self.handle, jid, eventlog="guest.output")
        ]
        self.fact(f"{prefix}.first", events[0][0] if events else None)
        header = [ctx for name, ctx in events if name == "header"]
        self.fact(f"{prefix}.header", header)
        per_stream: dict[str, list[Any]] = {}
        others: list[Any] = []
        for name, ctx in events:
            if name == "data":
                per_stream.setdefault(f"{ctx.get('stream')}.{ctx.get('rank')}", []).append(ctx)
            elif name != "header":
                others.append([name, ctx])
        for stream in sorted(per_stream):
            self.fact(f"{prefix}.data.{stream}", per_stream[stream])
        self.fact(f"{prefix}.streams", sorted(per_stream))
        self.fact(f"{prefix}.other", others)

    def job_facts(
        self, jid: JobID, prefix: str = "job", *, output: bool = True, unordered: bool = False
    ) -> None:
        """The usual facts of an ended job: eventlogs, output, result, listing.

        With ``unordered`` (several tasks), ``job_output``'s lines are sorted:
        the order between tasks' lines is a race on any instance.
        """

        def out(labelio: bool) -> Any:
            text = job.job_output(self.handle, jid, labelio=labelio)
            if unordered:
                return {k: sorted(v.splitlines()) for k, v in text._asdict().items()}
            return text

        self.attempt(f"{prefix}.result", lambda: _result_dict(self.handle, jid))
        self.eventlog(jid, f"{prefix}.events")
        if output:
            self.attempt(f"{prefix}.outputlog", lambda: self._output_or_error(jid, prefix))
            self.attempt(f"{prefix}.job_output", lambda: out(False))
            self.attempt(f"{prefix}.job_output_labels", lambda: out(True))
        self.listing(jid, f"{prefix}.get_job")

    def _output_or_error(self, jid: JobID, prefix: str) -> bool:
        self.output_eventlog(jid, f"{prefix}.output")
        return True

    def listing(self, jid: JobID, name: str) -> None:
        """Record ``get_job``'s dictionary for the job (once job-list has caught up)."""
        state = _current_state(self.handle, jid)
        info = self.settled(jid, state)
        self.fact(name, info)

    def settled(self, jid: JobID, state: str) -> dict[str, Any] | None:
        """``get_job`` once job-list shows ``state`` (it follows the job manager
        asynchronously on any instance); the last answer after a while."""
        deadline = time.monotonic() + LIST_SETTLE_TIMEOUT
        while True:
            info = job.get_job(self.handle, jid)
            if (info and info.get("state") == state) or time.monotonic() > deadline:
                return info
            time.sleep(0.02)

    def run(
        self, jobspec: JobspecV1, prefix: str = "job", *, unordered: bool = False, **kwargs: Any
    ) -> JobID:
        """Submit, wait for the job to end, record its usual facts."""
        jid = self.submit(jobspec, **kwargs)
        self.wait_event(jid, "clean")
        self.job_facts(jid, prefix, unordered=unordered)
        return jid

    def cancel_all(self) -> None:
        """Cancel every job of this scenario still active (clean-up)."""
        for jid in self.jobids:
            with contextlib.suppress(OSError):
                job.cancel(self.handle, jid)


def _current_state(handle: Flux, jid: JobID) -> str:
    """The job's state by its main eventlog as it is now (the job manager's view)."""
    reply = handle.rpc("job-info.lookup", {"id": int(jid), "keys": ["eventlog"], "flags": 0})
    state = "NEW"
    for line in reply.get()["eventlog"].splitlines():
        event = json.loads(line)
        name, context = event["name"], event.get("context", {})
        if name == "exception" and context.get("severity") == 0 and state != "INACTIVE":
            state = "CLEANUP"
        elif name == "validate" and state == "NEW":
            state = "DEPEND"
        elif name == "depend" and state == "DEPEND":
            state = "PRIORITY"
        elif name == "priority" and state == "PRIORITY":
            state = "SCHED"
        elif name == "start" and state == "SCHED":
            state = "RUN"
        elif name == "finish":
            state = "CLEANUP"
        elif name == "clean":
            state = "INACTIVE"
    return state


def _result_dict(handle: Flux, jid: JobID) -> dict[str, Any]:
    return job.result(handle, jid).to_dict(filtered=False)


def _decimals(fraction: str | None) -> str:
    """How a time was rendered, without its value: ``.ddd`` for 3 decimals."""
    return "." + "d" * (len(fraction) - 1) if fraction else ""


def _printable(text: str) -> str:
    """``text`` without lone surrogates (undecodable bytes shown as ``\\xNN``)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape") if _escapes_only(text) else None
        if raw is None:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
        return raw.decode("utf-8", "backslashreplace")


def _escapes_only(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _count_idset(text: str) -> int:
    total = 0
    for part in text.strip("[]").split(","):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-")
            total += int(high) - int(low) + 1
        else:
            total += 1
    return total


def describe_error(exc: BaseException) -> dict[str, Any]:
    """The scored parts of an exception: what a program can branch on."""
    out: dict[str, Any] = {"error": type(exc).__name__}
    if isinstance(exc, OSError) and exc.errno is not None:
        out["errno"] = errno_mod.errorcode.get(exc.errno, exc.errno)
    if isinstance(exc, job.JobException):
        out.update(type=exc.type, severity=exc.severity)
    return out


def to_json(value: Any) -> Any:
    """A JSON-able view of what an API call returned."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return to_json(value._asdict())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_json(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if hasattr(value, "to_dict"):
        return to_json(value.to_dict())
    return repr(value)


def job_env(flux_command: str | None) -> dict[str, str]:
    """The environment every scenario's jobs get (the same on both brokers)."""
    path = "/usr/local/bin:/usr/bin:/bin"
    if flux_command:
        path = f"{os.path.dirname(flux_command)}:{path}"
    return {"PATH": path, "LC_ALL": "C", "DIFF_MARK": "seen"}


def run_one(uri: str, sc: Scenario, workdir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Run one scenario on the broker at ``uri``; its facts (or its failure)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{sc.name}.", dir=workdir))
    with Flux(uri) as handle:
        ctx = Ctx(handle, tmp, {**env, "HOME": str(tmp)})
        hung = threading.Event()

        def watchdog() -> None:
            # A scenario blocked on a job that never ends: cancel its jobs so it returns.
            hung.set()
            with Flux(uri) as other:
                for jid in list(ctx.jobids):
                    with contextlib.suppress(OSError):
                        job.cancel(other, jid, "differential scenario timed out")

        timer = threading.Timer(SCENARIO_TIMEOUT, watchdog)
        timer.start()
        try:
            sc.run(ctx)
        except Exception:
            ctx.facts["scenario-error"] = traceback.format_exc().replace(str(tmp), "$TMP")
        finally:
            timer.cancel()
            ctx.cancel_all()
        if hung.is_set():
            ctx.facts["scenario-error"] = f"timed out after {SCENARIO_TIMEOUT}s"
    return ctx.facts


def run_all(
    uri: str,
    *,
    flux_command: str | None = None,
    names: Iterable[str] | None = None,
    workers: int = 8,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run the scenarios (all, or ``names``) on ``uri``; ``{scenario: {fact: value}}``."""
    from tests.differential import scenarios  # noqa: F401  (registers them)

    chosen = [SCENARIOS[n] for n in names] if names is not None else list(SCENARIOS.values())
    env = job_env(flux_command)
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="fluxsdk-diff-") as workdir:

        def go(sc: Scenario) -> None:
            facts = run_one(uri, sc, Path(workdir), env)
            with lock:
                results[sc.name] = facts
            if progress is not None:
                progress(sc.name)

        shared = [sc for sc in chosen if not sc.isolated]
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(go, sc) for sc in shared]
            for fut in futures:
                fut.result()
        for sc in chosen:
            if sc.isolated:
                go(sc)
    return {name: results[name] for name in sorted(results)}
