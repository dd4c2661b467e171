"""Fuzz the embedded instance as a hostile or careless client would (issue #15).

Each case is one of: an RPC to a topic of docs/protocol.md with a mutated
payload, raw bytes on a fresh connection (a valid request, then a broken or
oversized frame), a mutated jobspec submitted and run, a hostile YAML or JSON
jobspec text given to the public jobspec API, or strings that reach eventlogs
(memos, exceptions). After every case the instance must answer, every job the
case submitted must end (none stuck in RUN), no allocation may be left behind,
the witness jobs run before the fuzzing must be unchanged, and the public API
may only have raised ValueError, TypeError or OSError. At the end every job
is cancelled and must become inactive, every streaming watch and wait must be
answered, and the broker must hold no more file descriptors than at the start.

Run it by hand (figures on stdout)::

    python tests/fuzz_instance.py --cases 2000 --seed 15

``tests/test_fuzz.py`` runs it in CI with a fixed seed.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import random
import re
import socket
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from fluxsdk._sign import sign_none
from fluxsdk._uri import SOCKET_NAME, embedded_directory
from fluxsdk.core import FLUX_RPC_NORESPONSE, FLUX_RPC_STREAMING, RPC, Flux
from fluxsdk.eventlog import EventLogEvent, decode_eventlog
from fluxsdk.job import JobspecV1, validate_jobspec
from fluxsdk.testing import instance_running

# A request not answered within this long means the instance is wedged.
ANSWER_WITHIN = 30.0
FLUX_JOBID_ANY = 2**64 - 1
PROTOCOL_DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"
_HEADER = struct.Struct(">BBBBIIII")
_ALLOWED = (ValueError, TypeError, OSError)
_SAFE_COMMANDS = ("true", "echo", "printf", "/nonexistent/cmd", "false")


class FuzzFailure(AssertionError):
    """The instance broke a promise; the message names the case."""


def protocol_topics() -> list[str]:
    """Every topic of the RPC table in docs/protocol.md."""
    text = PROTOCOL_DOC.read_text()
    return sorted(set(re.findall(r"^\| `([a-z-]+\.[a-z-]+)`", text, re.MULTILINE)))


@attrs.define
class Report:
    """What a run did."""

    cases: int = 0
    kinds: Counter[str] = attrs.field(factory=Counter)
    topics: Counter[str] = attrs.field(factory=Counter)
    errnos: Counter[str] = attrs.field(factory=Counter)
    api_errors: Counter[str] = attrs.field(factory=Counter)
    jobs_submitted: int = 0
    jobs_refused: int = 0
    closes: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"cases: {self.cases} in {self.seconds:.1f} s "
            f"({self.cases / max(self.seconds, 1e-9):.0f}/s)",
            f"kinds: {dict(sorted(self.kinds.items()))}",
            f"topics: {len(self.topics)} ({dict(sorted(self.topics.items()))})",
            f"jobs: {self.jobs_submitted} accepted and ended, {self.jobs_refused} refused",
            f"error replies: {dict(self.errnos.most_common())}",
            f"connections closed on unreadable frames: {self.closes}",
            f"public API errors: {dict(self.api_errors.most_common())}",
        ]
        return "\n".join(lines)


# -- values ------------------------------------------------------------------------


def rand_str(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(["", "x", "cancel", "eventlog", "guest.output", "all", "name", "R"])
    if pick < 0.5:
        return "".join(rng.choice('ab=\x00\t \n{}[]"\\é€') for _ in range(rng.randint(1, 12)))
    if pick < 0.65:
        points = [0xD800, 0xDFFF, 0xDBFF, 0xFFFF, 0x1F600, 0]
        return "".join(chr(rng.choice(points)) for _ in range(3))
    if pick < 0.7:
        return "y" * rng.choice([1000, 70_000])
    return "".join(chr(rng.randint(32, 0x2FF)) for _ in range(rng.randint(0, 20)))


def rand_int(rng: random.Random) -> int:
    return rng.choice(
        [0, 1, -1, 2, 7, 16, 31, 32, 64, 2**31, 2**32, 2**63 - 1, -(2**63), FLUX_JOBID_ANY]
    )


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def rand_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.25:
        return rng.choice([None, True, False, 1.5, -0.0, 1e300]) if pick < 0.1 else rand_int(rng)
    if pick < 0.5:
        return rand_str(rng)
    if pick < 0.65:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if pick < 0.8:
        return {rand_str(rng): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if pick < 0.85:
        return nested(rng.choice([50, 99, 101, 150]))
    return rand_str(rng)


# -- the fuzzer ----------------------------------------------------------------------


class Fuzzer:
    """Runs cases against one instance and checks it after each."""

    def __init__(self, uri: str, seed: int) -> None:
        self.uri = uri
        self.rng = random.Random(seed)
        self.h = Flux(uri)
        self.report = Report()
        self.topics = protocol_topics()
        self.jobs: list[int] = []  # every job the fuzzer got accepted
        self.witnesses: dict[int, tuple[str, str]] = {}
        self.pending: list[tuple[str, RPC]] = []  # waits and watches answered at the end
        self.memos: dict[int, dict[str, Any]] = {}
        self.broker_pid = int(self.call("broker.getattr", {"name": "broker.pid"})["value"])

    # -- plumbing --

    def call(self, topic: str, payload: Any = None) -> Any:
        return self.h.rpc(topic, payload).wait_for(ANSWER_WITHIN).get()

    def answered(self, topic: str, payload: Any, flags: int = 0) -> tuple[int, Any]:
        """Send a request; ``(0, payload)`` or ``(errno, errstr)``; fail if unanswered."""
        future = self.send(topic, payload, flags)
        if future is None:
            return -1, "refused by the client"
        try:
            return 0, future.wait_for(ANSWER_WITHIN).get()
        except OSError as exc:
            if exc.errno == errno.ETIMEDOUT and not future.is_ready():
                raise FuzzFailure(f"{topic} {str(payload)[:200]}: no answer") from None
            self.report.errnos[errno.errorcode.get(exc.errno or 0, str(exc.errno))] += 1
            return exc.errno or -1, exc.strerror

    def send(self, topic: str, payload: Any, flags: int = 0) -> RPC | None:
        """Send through the public API, which may refuse (ValueError/TypeError only)."""
        try:
            return self.h.rpc(topic, payload, flags=flags)
        except (ValueError, TypeError) as exc:
            self.report.api_errors[type(exc).__name__] += 1
            return None

    def submit_text(self, text: str, urgency: int = 16, flags: int = 0) -> int | None:
        signed = sign_none(text.encode("utf-8", "surrogatepass"), os.getuid())
        payload = {"J": signed, "urgency": urgency, "flags": flags}
        number, result = self.answered("job-ingest.submit", payload)
        if number:
            self.report.jobs_refused += 1
            return None
        jobid: int = result["id"]
        self.jobs.append(jobid)
        self.report.jobs_submitted += 1
        return jobid

    def eventlog(self, jobid: int) -> str:
        text: str = self.call("job-info.lookup", {"id": jobid, "keys": ["eventlog"], "flags": 0})[
            "eventlog"
        ]
        return text

    def wait_inactive(self, jobid: int) -> list[EventLogEvent]:
        future = self.h.rpc(
            "job-info.eventlog-watch",
            {"id": jobid, "path": "eventlog", "flags": 0},
            flags=FLUX_RPC_STREAMING,
        )
        entries = []
        while True:
            try:
                entries.append(EventLogEvent(future.wait_for(ANSWER_WITHIN).get()["event"]))
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    return entries
                raise FuzzFailure(f"job {jobid} did not end: {exc}") from None
            future.reset()

    # -- set-up and checks --

    def setup(self) -> None:
        for argv in (["echo", "witness"], ["sh", "-c", "echo err >&2; exit 3"]):
            jobid = self.submit_text(JobspecV1.from_command(argv, environment=_env()).dumps())
            assert jobid is not None
            self.wait_inactive(jobid)
            self.witnesses[jobid] = self.snapshot(jobid)
        self.fds = len(os.listdir(f"/proc/{self.broker_pid}/fd"))

    def snapshot(self, jobid: int) -> tuple[str, str]:
        keys = ["eventlog", "guest.output"]
        out = self.call("job-info.lookup", {"id": jobid, "keys": keys, "flags": 0})
        return out["eventlog"], out["guest.output"]

    def check(self, case: str) -> None:
        """After each case: the instance answers, nothing runs, witnesses are intact."""
        try:
            rank = self.call("broker.getattr", {"name": "rank"})["value"]
        except OSError as exc:
            raise FuzzFailure(f"after {case}: instance does not answer: {exc}") from None
        if rank != "0":
            raise FuzzFailure(f"after {case}: broker.getattr answered {rank!r}")
        # A job the case released runs a short command: it must end, not stay in RUN.
        running = self.call(
            "job-list.list",
            {"max_entries": 0, "attrs": ["state"], "constraint": {"states": ["running"]}},
        )["jobs"]
        for job in running:
            names = [e.name for e in self.wait_inactive(job["id"])]
            if names[-1] != "clean":
                raise FuzzFailure(f"after {case}: job {job['id']} did not end: {names}")
        for jobid, snapshot in self.witnesses.items():
            if self.snapshot(jobid) != snapshot:
                raise FuzzFailure(f"after {case}: witness job {jobid} changed")

    def finish(self) -> None:
        """Cancel everything, then: all inactive, every wait/watch answered, no leaks."""
        for jobid in self.jobs:
            self.answered("job-manager.raise", {"id": jobid, "type": "cancel", "severity": 0})
        for jobid in self.jobs:
            names = [e.name for e in self.wait_inactive(jobid)]
            if names[0] != "submit" or names[-1] != "clean":
                raise FuzzFailure(f"job {jobid}: incomplete eventlog {names}")
            memo = self.memos.get(jobid)
            if memo is not None:
                last = [e for e in EventLogEventList(self.eventlog(jobid)) if e.name == "memo"]
                if not last or last[-1].context != memo:
                    raise FuzzFailure(f"job {jobid}: accepted memo {memo!r:.200} lost")
        for what, future in self.pending:
            # Every wait and watch ends once its job is inactive (or was refused).
            while True:
                try:
                    future.wait_for(ANSWER_WITHIN).get()
                except OSError as exc:
                    if exc.errno == errno.ETIMEDOUT and not future.is_ready():
                        raise FuzzFailure(f"a {what} request was never answered") from None
                    break
                if what != "watch":
                    break
                future.reset()
        self.check("the end")
        # A job that needs every core runs: nothing is still allocated.
        every_core = self.submit_text(
            JobspecV1.from_command(["true"], num_tasks=_cores(self), environment=_env()).dumps()
        )
        assert every_core is not None
        names = [e.name for e in self.wait_inactive(every_core)]
        if "finish" not in names:
            raise FuzzFailure(f"a job on every core did not run: {names}")
        fds = len(os.listdir(f"/proc/{self.broker_pid}/fd"))
        if fds > self.fds + 2:
            raise FuzzFailure(f"the broker holds {fds} descriptors, {self.fds} at the start")
        leftovers = [p for p in _children(self.broker_pid)]
        if leftovers:
            raise FuzzFailure(f"processes left behind: {leftovers}")

    # -- cases --

    def run(self, cases: int, time_limit: float = 600.0) -> Report:
        """Run ``cases`` cases; a run still going after ``time_limit`` seconds
        (about 10 s is usual) counts as wedged: every answer has a bound too."""
        start = time.monotonic()
        self.setup()
        kinds: list[tuple[str, Callable[[], None], float]] = [
            ("rpc", self.case_rpc, 0.45),
            ("frame", self.case_frame, 0.15),
            ("jobspec", self.case_jobspec, 0.12),
            ("yaml", self.case_yaml, 0.14),
            ("eventlog", self.case_eventlog, 0.14),
        ]
        for index in range(cases):
            action: Callable[[], None]
            if index < len(self.topics):
                # Every topic first, then at random.
                kind, action = "rpc", functools.partial(self.case_rpc, self.topics[index])
            else:
                kind, action, _ = self.rng.choices(kinds, weights=[k[2] for k in kinds])[0]
            self.report.kinds[kind] += 1
            try:
                action()
            except FuzzFailure as exc:
                raise FuzzFailure(f"case {index} ({kind}): {str(exc)[:500]}") from None
            self.check(f"case {index} ({kind})")
            self.report.cases += 1
            if time.monotonic() - start > time_limit:
                raise FuzzFailure(f"still running after {time_limit} s, at case {index}")
        self.finish()
        self.report.seconds = time.monotonic() - start
        return self.report

    def target_id(self) -> int:
        pick = self.rng.random()
        if self.jobs and pick < 0.6:
            return self.rng.choice(self.jobs)
        return rand_int(self.rng)

    def template(self, topic: str) -> dict[str, Any]:
        jobid = self.target_id()
        templates: dict[str, dict[str, Any]] = {
            "job-ingest.submit": {"J": "x.y.none", "urgency": 16, "flags": 0},
            "job-manager.raise": {"id": jobid, "type": "test", "severity": 1, "note": "n"},
            "job-manager.kill": {"id": jobid, "signum": self.rng.choice([0, 1, 10, 15, 99])},
            "job-manager.urgency": {"id": jobid, "urgency": 16},
            "job-manager.memo": {"id": jobid, "memo": {"k": "v"}},
            "job-manager.purge-id": {"id": jobid, "force": 0},
            "job-manager.wait": {"id": jobid},
            "job-info.eventlog-watch": {"id": jobid, "path": "eventlog", "flags": 0},
            "job-info.eventlog-watch-cancel": {"matchtag": self.rng.randint(0, 5)},
            "job-info.lookup": {"id": jobid, "keys": ["R", "eventlog"], "flags": 0},
            "job-list.list": {"max_entries": 3, "attrs": ["all"], "constraint": {}},
            "job-list.list-id": {"id": jobid, "attrs": ["state"]},
            "broker.getattr": {"name": "rank"},
        }
        return templates.get(topic, {})

    def mutate(self, payload: dict[str, Any]) -> Any:
        rng = self.rng
        pick = rng.random()
        if pick < 0.1:
            return rng.choice([None, [], "text", 3, nested(120)])
        out = dict(payload)
        for _ in range(rng.randint(1, 3)):
            action = rng.random()
            if action < 0.3 and out:
                del out[rng.choice(list(out))]
            elif action < 0.8 and out:
                out[rng.choice(list(out))] = rand_value(rng)
            else:
                out[rand_str(rng)] = rand_value(rng)
        return out

    def case_rpc(self, topic: str | None = None) -> None:
        topic = topic or self.rng.choice(self.topics)
        self.report.topics[topic] += 1
        if topic == "instance.shutdown":
            # Only what the broker must refuse before the handler runs.
            payload: Any = self.rng.choice([[], "x", 1, nested(200)])
        else:
            payload = self.template(topic)
            if self.rng.random() < 0.85:
                payload = self.mutate(payload)
        target = payload.get("id") if isinstance(payload, dict) else None
        if isinstance(target, int) and not isinstance(target, bool):
            # The witnesses stay as they are; fuzzed jobs may change, but not vanish.
            if target in self.witnesses and topic.startswith("job-manager."):
                payload["id"] = 1
            if topic == "job-manager.purge-id" and target in self.jobs:
                payload["force"] = 0
            if topic == "job-manager.memo":
                self.memos.pop(target, None)
        if topic == "job-info.eventlog-watch-cancel":
            # A request without a response, in flux as here: the checks show it was harmless.
            self.send(topic, payload, FLUX_RPC_NORESPONSE)
            return
        if topic in ("job-manager.wait", "job-info.eventlog-watch"):
            flags = FLUX_RPC_STREAMING if topic.endswith("watch") else 0
            if self.rng.random() < 0.2:
                flags = 0
            # Answered later (when its job ends): collected and checked at the end.
            future = self.send(topic, payload, flags)
            if future is not None:
                self.pending.append(("watch" if flags else "wait", future))
            return
        self.answered(topic, payload)

    def case_frame(self) -> None:
        rng = self.rng
        # Not instance.shutdown: a frame with one flipped byte may still be a valid one.
        topic = rng.choice([t for t in self.topics if t != "instance.shutdown"]).encode()
        # A frame with a flipped byte may still be a valid request: never a real job's id.
        body = json.dumps({**self.template(topic.decode()), "id": 2**64 - 2}).encode()
        pick = rng.random()
        if pick < 0.2:
            bad = bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
        elif pick < 0.4:
            bad = frame(topic, body, 2)
            cut = rng.randint(4, len(bad) - 1)
            bad = bad[:4] + bytes([b ^ 0xFF if i == cut else b for i, b in enumerate(bad[4:])])
        elif pick < 0.55:
            bad = frame(topic, bytes(rng.randrange(256) for _ in range(rng.randint(0, 30))), 2)
        elif pick < 0.65:
            bad = frame(topic, body, 2, topic_len=rng.choice([0, len(topic) + 5, 65535]))
        elif pick < 0.75:
            bad = struct.pack(">I", (64 << 20) + 1) + _HEADER.pack(0x8E, 1, 1, 0, 0, 0, 0, 2)
        elif pick < 0.85:
            bad = frame(topic, b"[" * 5000 + b"]" * 5000, 2)
        else:
            bad = frame(topic[:3] + b"\xff\xfe" + topic[3:], body, 2)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(os.path.join(embedded_directory(self.uri), SOCKET_NAME))
            sock.settimeout(ANSWER_WITHIN)
            sock.sendall(frame(b"broker.getattr", b'{"name":"rank"}', 1) + bad)
            sock.shutdown(socket.SHUT_WR)
            replies = read_frames(sock)
            if not replies or replies[0][:2] != (1, 0):
                what = f"valid request before {bad[:60]!r}"
                raise FuzzFailure(f"{what} not answered: {replies!r:.200}")
            if len(replies) == 1:
                self.report.closes += 1

    def case_jobspec(self) -> None:
        rng = self.rng
        argv = [rng.choice(_SAFE_COMMANDS)] + [rand_str(rng) for _ in range(rng.randint(0, 2))]
        try:
            doc = json.loads(
                JobspecV1.from_command(
                    argv[:1], num_tasks=rng.randint(1, 3), environment=_env()
                ).dumps()
            )
        except _ALLOWED as exc:
            self.report.api_errors[type(exc).__name__] += 1
            return
        doc["tasks"][0]["command"] = argv
        for _ in range(rng.randint(0, 3)):
            path, value = rng.choice(JOBSPEC_MUTATIONS)(rng)
            _set_path(doc, path, value)
        text = _dumps(doc, rng)
        if rng.random() < 0.3:
            # Through the public API (client-side validation first).
            from fluxsdk.job import submit

            try:
                jobid = int(submit(self.h, text))
            except _ALLOWED as exc:
                self.report.api_errors[type(exc).__name__] += 1
                return
            self.jobs.append(jobid)
            self.report.jobs_submitted += 1
        else:
            maybe = self.submit_text(text, urgency=rng.choice([16, 16, 16, 0, 31]))
            if maybe is None:
                return
            jobid = maybe
        if (
            self.call("job-list.list-id", {"id": jobid, "attrs": ["urgency"]})["job"].get("urgency")
            == 0
            or "dependencies" in text
        ):
            self.answered("job-manager.raise", {"id": jobid, "type": "cancel", "severity": 0})
        names = [e.name for e in self.wait_inactive(jobid)]
        if names[-1] != "clean":
            raise FuzzFailure(f"job {jobid} did not end cleanly: {names}")

    def case_yaml(self) -> None:
        rng = self.rng
        pick = rng.random()
        if pick < 0.3:
            text = yaml_text(rng)
        elif pick < 0.45:
            depth = rng.choice([50, 99, 101, 600, 5000])
            block = "a:\n" + "".join("  " * i + f"b{i}:\n" for i in range(1, depth % 300))
            text = rng.choice(["[" * depth + "]" * depth, block])
        elif pick < 0.6:
            width, levels = rng.choice([(2, 5), (9, 9), (10, 12), (3, 30)])
            lines = ['a0: &a0 ["lol"]']
            for i in range(1, levels):
                lines.append(f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]")
            text = "\n".join(lines)
        elif pick < 0.7:
            text = "a: &a [*a]" if rng.random() < 0.5 else "&a [1, *a]"
        elif pick < 0.85:
            text = JobspecV1.from_command(["true"]).dumps()
            cut = rng.randint(0, len(text))
            text = text[:cut] + rand_str(rng) + text[cut:]
        else:
            text = "".join(chr(rng.randint(0, 0x3000)) for _ in range(rng.randint(0, 200)))
        for api in (JobspecV1.from_yaml_stream, validate_jobspec):
            try:
                api(text)
            except _ALLOWED as exc:
                self.report.api_errors[type(exc).__name__] += 1
            except Exception as exc:
                raise FuzzFailure(f"{api.__name__}({text[:80]!r}) raised {exc!r:.200}") from None

    def case_eventlog(self) -> None:
        rng = self.rng
        jobid = self.submit_text(
            JobspecV1.from_command(["true"], environment=_env()).dumps(), urgency=0
        )
        assert jobid is not None
        memo = {rand_str(rng): rand_value(rng) for _ in range(rng.randint(1, 3))}
        number, _ = self.answered("job-manager.memo", {"id": jobid, "memo": memo})
        if not number:
            self.memos[jobid] = json.loads(json.dumps(memo))
        note = rand_str(rng)
        kind = rng.choice(["cancel", rand_str(rng)])
        number, _ = self.answered(
            "job-manager.raise",
            {"id": jobid, "type": kind, "severity": rng.choice([0, 1, 7]), "note": note},
        )
        events = EventLogEventList(self.eventlog(jobid))
        if not number:
            raised = [e for e in events if e.name == "exception"]
            # As JSON carries it (a surrogate pair in a Python str becomes one character).
            note = json.loads(json.dumps(note))
            if not raised or raised[-1].context.get("note") != note:
                raise FuzzFailure(f"job {jobid}: accepted exception {kind!r:.80}/{note!r:.80} lost")


def EventLogEventList(text: str) -> list[EventLogEvent]:
    return decode_eventlog(text)


# -- jobspec mutations ---------------------------------------------------------------

JOBSPEC_MUTATIONS: list[Callable[[random.Random], tuple[str, Any]]] = [
    lambda r: ("tasks.0.count", {"total": r.choice([0, -1, 5, 10**6, 2**70, "3", 2.5])}),
    lambda r: ("tasks.0.count", {"per_slot": r.choice([0, 2, 10**5, None])}),
    lambda r: ("resources.0.count", r.choice([0, 2, 3, 2**40, "1", {"min": 1}])),
    lambda r: ("resources.0.with.0.count", r.choice([0, 2, 5, 2**62, -3])),
    lambda r: ("resources.0.type", r.choice(["node", "socket", "core", 3])),
    lambda r: ("attributes.system.environment." + rand_str(r), rand_str(r)),
    lambda r: ("attributes.system.environment.A=B", "1"),
    lambda r: ("attributes.system.environment", r.choice([[], "x", {"PATH": 1}])),
    lambda r: ("attributes.system.cwd", r.choice(["/nonexistent", 3, "", rand_str(r)])),
    lambda r: ("attributes.system.duration", r.choice([-1, 0.01, "1s", 1e300, float("nan")])),
    lambda r: ("attributes.system.shell.options.output", r.choice(["x", [], {"stdout": 3}])),
    lambda r: ("attributes.system.shell.options.input", r.choice(["x", {"stdin": []}])),
    lambda r: (
        "attributes.system.shell.options.per-resource",
        {"type": r.choice(["core", "node", "gpu"]), "count": r.choice([0, 1, 2, "x", 10**9])},
    ),
    lambda r: ("attributes.system.shell", r.choice(["x", [], {"options": 1}])),
    lambda r: ("attributes.system.files", r.choice([{"a": 1}, {"../x": {"data": "d"}}, "x"])),
    lambda r: ("attributes.system.dependencies", [{"scheme": rand_str(r), "value": rand_str(r)}]),
    lambda r: ("attributes.system.queue", rand_str(r)),
    lambda r: ("attributes.system.job.name", rand_str(r)),
    lambda r: ("attributes.user." + rand_str(r), rand_value(r)),
    lambda r: ("version", r.choice([0, 2, "1", None])),
    lambda r: ("tasks.0.command", r.choice([[], "true", [3], ["true", None]])),
    lambda r: ("resources", nested(r.choice([30, 200]))),
]


def _set_path(doc: Any, path: str, value: Any) -> None:
    keys = path.split(".")
    node = doc
    for key in keys[:-1]:
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                return
            node = node[int(key)]
        elif isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            return
    if isinstance(node, dict):
        node[keys[-1]] = value
    elif isinstance(node, list) and keys[-1].isdigit() and int(keys[-1]) < len(node):
        node[int(keys[-1])] = value


def _dumps(doc: Any, rng: random.Random) -> str:
    try:
        return json.dumps(doc)
    except (ValueError, RecursionError):
        return "{" * 10


def yaml_text(rng: random.Random) -> str:
    import yaml

    doc = {"version": 1, "tasks": rand_value(rng), "resources": rand_value(rng)}
    try:
        return str(yaml.safe_dump(doc, allow_unicode=True))
    except (yaml.YAMLError, RecursionError):
        return "version: [1"


# -- raw frames ------------------------------------------------------------------------


def frame(topic: bytes, payload: bytes, matchtag: int, topic_len: int | None = None) -> bytes:
    """A request frame, possibly with a topic length that lies."""
    parts = struct.pack(">H", len(topic) if topic_len is None else topic_len) + topic + payload
    body = _HEADER.pack(0x8E, 1, 0x01, 0x03, 0, 0, 0xFFFFFFFF, matchtag) + parts
    return struct.pack(">I", len(body)) + body


def read_frames(sock: socket.socket) -> list[tuple[int, int, bytes]]:
    """``(matchtag, errnum, payload)`` of every response until the server stops.

    The server answers and then closes, or keeps the connection: a read that
    times out after some answers ends the list, with no answer it is an error.
    """
    out: list[tuple[int, int, bytes]] = []
    buffer = b""
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            if not out:
                raise FuzzFailure("no answer on a raw connection") from None
            return out
        if not data:
            return out
        buffer += data
        while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack_from(">I", buffer)[0]:
            (length,) = struct.unpack_from(">I", buffer)
            body, buffer = buffer[4 : 4 + length], buffer[4 + length :]
            flags, aux1, aux2 = body[3], *struct.unpack_from(">II", body, 12)
            offset = _HEADER.size
            if flags & 0x01:
                offset += 2 + struct.unpack_from(">H", body, offset)[0]
            out.append((aux2, aux1, body[offset:]))
        if len(out) >= 2:
            return out


# -- helpers ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath)}


def _cores(fuzzer: Fuzzer) -> int:
    R = fuzzer.call("resource.status", {})["R"]
    total = 0
    for entry in R["execution"]["R_lite"]:
        from fluxsdk.idset import IDset

        total += len(IDset(entry["children"]["core"])) * len(IDset(entry["rank"]))
    return total


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (none known where /proc cannot say)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found += [int(p) for p in children.read().split()]
        except OSError:
            continue
    return found


def run(cases: int, seed: int, time_limit: float = 600.0) -> Report:
    """Start an instance, fuzz it with ``cases`` cases, stop it; return the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="fluxsdk-fuzz-") as tmp,
        instance_running(tmp, cores=2) as uri,
    ):
        fuzzer = Fuzzer(uri, seed)
        try:
            return fuzzer.run(cases, time_limit)
        finally:
            fuzzer.h.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--time-limit", type=float, default=600.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    report = run(args.cases, args.seed, args.time_limit)
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
