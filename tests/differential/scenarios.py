"""The differential scenarios: what users do with jobs, written once against ``fluxsdk.job``.

Each function is registered with :func:`~tests.differential.harness.scenario`
and records facts through its :class:`~tests.differential.harness.Ctx`. The
instance both sides run on has one node with 2 cores and no GPU.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.job import JobID, JobspecV1
from tests.differential.harness import Ctx, scenario

# flux-core's job state and result bits (flux/job.h).
DEPEND, PRIORITY, SCHED, RUN, CLEANUP, INACTIVE = 2, 4, 8, 16, 32, 64
PENDING = DEPEND | PRIORITY | SCHED
COMPLETED, FAILED, CANCELED, TIMEOUT = 1, 2, 4, 8


def _list_ids(handle: Flux, mine: list[int], at_least: int = 1, **kwargs: Any) -> list[int]:
    """job_list restricted to this scenario's jobs (others run concurrently).

    job-list follows the job manager asynchronously, on any instance: ask
    again (for a while) until ``at_least`` of them are listed.
    """
    deadline = time.monotonic() + 10.0
    while True:
        jobs = job.job_list(handle, **kwargs).get_jobs()
        found = sorted(mine.index(j["id"]) for j in jobs if j["id"] in mine)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# Variables whose values are recorded (the others: only that they are set, or a
# normalised value below).
_VALUE_VARS = (
    "FLUX_JOB_",
    "FLUX_TASK",
    "PMI_RANK",
    "PMI_SIZE",
    "CUDA_",
    "FLUX_KVS_NAMESPACE",
    "FLUX_TERMINUS_SESSION",
)


def _env_facts(ctx: Ctx, text: str, prefix: str = "env") -> None:
    """The environment a task printed (``env`` output): names, and values of ours."""
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    ctx.fact(f"{prefix}.names", sorted(env))
    tmpdir = env.get("FLUX_JOB_TMPDIR")
    # The shell's PMI-1 client library: where it is installed differs, its name not.
    pmi_library = env.get("FLUX_PMI_LIBRARY_PATH")
    for name in sorted(env):
        value = env[name]
        if name == "FLUX_JOB_TMPDIR":
            value = "set" if value else ""
        elif name == "OMPI_MCA_btl_vader_backing_directory":
            value = "FLUX_JOB_TMPDIR" if value == tmpdir else "elsewhere"
        elif name == "FLUX_PMI_LIBRARY_PATH":
            value = os.path.basename(value) if os.path.isabs(value) else value
        elif name == "LD_LIBRARY_PATH" and pmi_library:
            value = value.replace(os.path.dirname(pmi_library), "<PMI library directory>")
        elif not (name.startswith(_VALUE_VARS) or name == "DIFF_MARK"):
            continue
        ctx.fact(f"{prefix}.{name}", value)


# -- from_command and its options -----------------------------------------------------


@scenario("cmd-true")
def _cmd_true(ctx: Ctx) -> None:
    """The simplest job."""
    ctx.run(ctx.spec(["true"]))


@scenario("cmd-false")
def _cmd_false(ctx: Ctx) -> None:
    """A job whose task fails with exit code 1."""
    ctx.run(ctx.spec(["false"]))


@scenario("exit-code-3")
def _exit3(ctx: Ctx) -> None:
    """A task exits 3."""
    ctx.run(ctx.sh("echo before; exit 3"))


@scenario("killed-by-signal")
def _killed_by_signal(ctx: Ctx) -> None:
    """A task kills itself with SIGKILL."""
    ctx.run(ctx.sh("kill -9 $$"))


@scenario("num-tasks-2")
def _ntasks2(ctx: Ctx) -> None:
    """Two tasks, each printing its rank."""
    ctx.run(ctx.sh("echo rank=$FLUX_TASK_RANK", num_tasks=2), unordered=True)


@scenario("cores-per-task-2")
def _cores2(ctx: Ctx) -> None:
    """One task with both cores: its CPU affinity."""
    ctx.run(ctx.sh("nproc", cores_per_task=2))


@scenario("num-nodes-1-exclusive")
def _exclusive(ctx: Ctx) -> None:
    """A whole-node job."""
    ctx.run(ctx.sh("nproc", num_nodes=1, exclusive=True))


@scenario("tasks-on-one-node")
def _tasks_node(ctx: Ctx) -> None:
    """Two tasks on one node."""
    ctx.run(
        ctx.sh("echo $FLUX_TASK_LOCAL_ID $FLUX_JOB_SIZE", num_tasks=2, num_nodes=1), unordered=True
    )


@scenario("unsatisfiable-cores")
def _unsat_cores(ctx: Ctx) -> None:
    """More cores than the instance has."""
    ctx.run(ctx.spec(["true"], cores_per_task=4))


@scenario("unsatisfiable-tasks")
def _unsat_tasks(ctx: Ctx) -> None:
    """Three one-core tasks on a two-core instance."""
    ctx.run(ctx.spec(["true"], num_tasks=3))


@scenario("unsatisfiable-nodes")
def _unsat_nodes(ctx: Ctx) -> None:
    """Two nodes on a one-node instance."""
    ctx.run(ctx.spec(["true"], num_tasks=2, num_nodes=2))


@scenario("unsatisfiable-gpus")
def _unsat_gpus(ctx: Ctx) -> None:
    """A GPU on an instance without any."""
    ctx.run(ctx.spec(["true"], gpus_per_task=1))


@scenario("duration-not-reached")
def _duration_ok(ctx: Ctx) -> None:
    """A time limit the job keeps within."""
    ctx.run(ctx.spec(["true"], duration=60))


@scenario("duration-exceeded")
def _duration_exceeded(ctx: Ctx) -> None:
    """A job that outlives its time limit."""
    ctx.run(ctx.spec(["sleep", "30"], duration=1))


@scenario("duration-exceeded-trap")
def _duration_trap(ctx: Ctx) -> None:
    """A job that traps SIGALRM when its time limit comes."""
    ctx.run(ctx.sh("trap 'echo got-alrm; exit 0' ALRM; sleep 30 & wait", duration=1))


@scenario("name-attribute")
def _name(ctx: Ctx) -> None:
    """A job with an explicit name."""
    jid = ctx.run(ctx.spec(["true"], name="my-job"))
    ctx.settled(jid, "INACTIVE")
    ctx.fact("name-filter", _list_ids(ctx.handle, ctx.jobids, name="my-job"))
    del jid


@scenario("cwd-missing")
def _cwd_missing(ctx: Ctx) -> None:
    """A working directory that does not exist."""
    ctx.run(ctx.spec(["pwd"], cwd=str(ctx.tmp / "missing")))


@scenario("cwd-set")
def _cwd(ctx: Ctx) -> None:
    """The task's working directory."""
    (ctx.tmp / "sub").mkdir()
    ctx.run(ctx.spec(["pwd"], cwd=str(ctx.tmp / "sub")))


@scenario("command-not-found")
def _not_found(ctx: Ctx) -> None:
    """A command that is nowhere on PATH."""
    ctx.run(ctx.spec(["no-such-command-xyz"]))


@scenario("command-not-executable")
def _not_exec(ctx: Ctx) -> None:
    """A file that is not executable."""
    path = ctx.tmp / "script.sh"
    path.write_text("echo hi\n")
    ctx.run(ctx.spec([str(path)]))


@scenario("environment")
def _environment(ctx: Ctx) -> None:
    """The environment tasks see."""
    ctx.submit(ctx.spec(["env"]))
    jid = JobID(ctx.jobids[-1])
    ctx.wait_event(jid, "clean")
    _env_facts(ctx, job.job_output(ctx.handle, jid).stdout)


@scenario("environment-2-tasks")
def _environment2(ctx: Ctx) -> None:
    """The per-task environment of a two-task job."""
    jid = ctx.submit(ctx.sh("env | grep ^FLUX_TASK | sort", num_tasks=2))
    ctx.wait_event(jid, "clean")
    ctx.fact("stdout", sorted(job.job_output(ctx.handle, jid).stdout.splitlines()))


@scenario("env-expand")
def _env_expand(ctx: Ctx) -> None:
    """Templates in the environment expanded by the shell."""
    ctx.run(ctx.sh('echo "$MYID $MYSIZE"', env_expand={"MYID": "{{id}}", "MYSIZE": "{{size}}"}))


@scenario("rlimit-nofile")
def _rlimit(ctx: Ctx) -> None:
    """An rlimit the task sees."""
    ctx.run(ctx.sh("ulimit -n", rlimits={"nofile": 128}))


@scenario("rlimit-core-unlimited")
def _rlimit_core(ctx: Ctx) -> None:
    """An unlimited rlimit."""
    ctx.run(ctx.sh("ulimit -c", rlimits={"core": -1}))


# -- stdin / stdout / stderr ---------------------------------------------------------


@scenario("stdin-file")
def _stdin(ctx: Ctx) -> None:
    """stdin from a file."""
    (ctx.tmp / "in.txt").write_text("line one\nline two\n")
    ctx.run(ctx.spec(["cat"], input=str(ctx.tmp / "in.txt")))


@scenario("stdin-default")
def _stdin_default(ctx: Ctx) -> None:
    """stdin with no input file: flux keeps it open for ``flux job attach``."""
    ctx.run(ctx.sh("timeout 1 cat; echo rc=$?"))


@scenario("stdout-file")
def _stdout_file(ctx: Ctx) -> None:
    """stdout and stderr to one file."""
    ctx.run(ctx.sh("echo out; echo err >&2", output="out.txt"))
    ctx.fact("file", sorted((ctx.tmp / "out.txt").read_text().splitlines()))


@scenario("stdout-stderr-files")
def _stdout_stderr(ctx: Ctx) -> None:
    """stdout and stderr to separate files."""
    ctx.run(ctx.sh("echo out; echo err >&2", output="o.txt", error="e.txt"))
    ctx.fact("files", [(ctx.tmp / n).read_text() for n in ("o.txt", "e.txt")])


@scenario("stdout-template")
def _stdout_template(ctx: Ctx) -> None:
    """An output file name with templates."""
    jid = ctx.run(ctx.sh("echo templated", output="job-{{id}}.out"))
    ctx.fact("files", sorted(ctx.norm_text(p.name) for p in ctx.tmp.iterdir()))
    ctx.fact("content", (ctx.tmp / f"job-{jid.f58}.out").read_text())


@scenario("stdout-file-label-io")
def _label_io(ctx: Ctx) -> None:
    """Labelled file output from two tasks."""
    ctx.run(ctx.sh("echo hi", num_tasks=2, output="l.txt", label_io=True), unordered=True)
    ctx.fact("file", sorted((ctx.tmp / "l.txt").read_text().splitlines()))


@scenario("stdout-file-per-task")
def _per_task(ctx: Ctx) -> None:
    """An output template per task rank."""
    ctx.run(ctx.sh("echo $FLUX_TASK_RANK", num_tasks=2, output="t{{taskid}}.out"), unordered=True)
    ctx.fact("files", sorted(p.name for p in ctx.tmp.iterdir() if p.suffix == ".out"))


@scenario("stdout-file-unwritable")
def _unwritable(ctx: Ctx) -> None:
    """An output file in a directory that does not exist."""
    ctx.run(ctx.sh("echo hi", output=str(ctx.tmp / "nodir" / "o.txt")))


@scenario("unbuffered")
def _unbuffered(ctx: Ctx) -> None:
    """Unbuffered output."""
    ctx.run(ctx.sh("printf a; printf 'b\\n'; printf c", unbuffered=True))


@scenario("output-many-lines")
def _many_lines(ctx: Ctx) -> None:
    """Many short lines."""
    jid = ctx.submit(ctx.sh("seq 1 2000"))
    ctx.wait_event(jid, "clean")
    events = [e.context for e in job.event_watch(ctx.handle, jid, eventlog="guest.output")]
    data = [e for e in events if e.get("stream") == "stdout" and "data" in e]
    ctx.fact("data-events", len(data))
    ctx.fact(
        "stdout-ok", "".join(e["data"] for e in data) == "".join(f"{i}\n" for i in range(1, 2001))
    )
    ctx.fact("result", job.result(ctx.handle, jid).result)


@scenario("output-long-line")
def _long_line(ctx: Ctx) -> None:
    """One 200 kB line."""
    jid = ctx.submit(ctx.spec(["python3", "-c", "print('x' * 200000)"]))
    ctx.wait_event(jid, "clean")
    events = [e.context for e in job.event_watch(ctx.handle, jid, eventlog="guest.output")]
    data = [e for e in events if e.get("stream") == "stdout" and "data" in e]
    ctx.fact("data-events", len(data))
    ctx.fact("sizes", [len(e["data"]) for e in data])
    ctx.fact("stdout-len", len(job.job_output(ctx.handle, jid).stdout))


@scenario("output-no-trailing-newline")
def _no_newline(ctx: Ctx) -> None:
    """Output that does not end with a newline."""
    ctx.run(ctx.sh("printf 'a\\nb'"))


@scenario("output-partial-lines")
def _partial(ctx: Ctx) -> None:
    """A line written in pieces with pauses."""
    ctx.run(ctx.sh("printf 'par'; sleep 0.3; printf 'tial\\nnext'; sleep 0.3; printf ' end\\n'"))


@scenario("output-non-utf8")
def _non_utf8(ctx: Ctx) -> None:
    """Bytes that are not UTF-8."""
    ctx.run(ctx.sh("printf 'ok\\n\\377\\376bad\\n'"))


@scenario("output-nul-bytes")
def _nul(ctx: Ctx) -> None:
    """NUL bytes in output."""
    ctx.run(ctx.sh("printf 'a\\000b\\n'"))


@scenario("output-interleaved")
def _interleaved(ctx: Ctx) -> None:
    """stdout and stderr interleaved."""
    ctx.run(ctx.sh("for i in 1 2 3; do echo out$i; echo err$i >&2; done"))


@scenario("output-stderr-only")
def _stderr_only(ctx: Ctx) -> None:
    """Only stderr."""
    ctx.run(ctx.sh("echo oops >&2; exit 2"))


@scenario("output-empty-lines")
def _empty_lines(ctx: Ctx) -> None:
    """Empty lines and CR."""
    ctx.run(ctx.sh("printf '\\n\\nx\\r\\n\\n'"))


@scenario("output-two-tasks")
def _two_task_output(ctx: Ctx) -> None:
    """Output of two tasks, with and without labels."""
    ctx.run(
        ctx.sh("echo task$FLUX_TASK_RANK; echo e$FLUX_TASK_RANK >&2", num_tasks=2), unordered=True
    )


@scenario("output-utf8-multibyte")
def _utf8(ctx: Ctx) -> None:
    """Multi-byte UTF-8."""
    ctx.run(ctx.sh("printf 'h\\303\\251llo \\342\\202\\254\\n'"))


# -- shell options -----------------------------------------------------------------


@scenario("cpu-affinity-default")
def _affinity_default(ctx: Ctx) -> None:
    """A one-core job's CPU count."""
    ctx.run(ctx.spec(["nproc"]))


@scenario("cpu-affinity-off")
def _affinity_off(ctx: Ctx) -> None:
    """cpu-affinity=off: the task sees every CPU."""
    js = ctx.spec(["nproc"])
    js.setattr_shell_option("cpu-affinity", "off")
    ctx.run(js)


@scenario("cpu-affinity-per-task")
def _affinity_per_task(ctx: Ctx) -> None:
    """cpu-affinity=per-task with two tasks."""
    js = ctx.spec(["nproc"], num_tasks=2)
    js.setattr_shell_option("cpu-affinity", "per-task")
    jid = ctx.submit(js)
    ctx.wait_event(jid, "clean")
    ctx.fact("stdout", job.job_output(ctx.handle, jid).stdout)


@scenario("per-resource-core")
def _per_resource(ctx: Ctx) -> None:
    """per-resource: one task per core of a two-core slot."""
    js = ctx.sh("echo $FLUX_TASK_RANK", cores_per_task=2)
    js.setattr_shell_option("per-resource.type", "core")
    js.setattr_shell_option("per-resource.count", 1)
    jid = ctx.submit(js)
    ctx.wait_event(jid, "clean")
    ctx.fact("stdout", sorted(job.job_output(ctx.handle, jid).stdout.split()))
    ctx.fact("ntasks", (job.get_job(ctx.handle, jid) or {}).get("ntasks"))


@scenario("signal-before-timelimit")
def _signal_option(ctx: Ctx) -> None:
    """The shell's signal option: SIGUSR1 some time before the limit."""
    js = ctx.sh("trap 'echo got-usr1; exit 0' USR1; sleep 30 & wait", duration=3)
    js.setattr_shell_option("signal", {"signum": int(signal.SIGUSR1), "timeleft": 2})
    ctx.run(js)


@scenario("exit-timeout-none")
def _exit_timeout(ctx: Ctx) -> None:
    """exit-timeout=none: a failing task does not end its sibling."""
    js = ctx.sh(
        'if [ "$FLUX_TASK_RANK" = 0 ]; then exit 1; fi; sleep 1; echo survived', num_tasks=2
    )
    js.setattr_shell_option("exit-timeout", "none")
    ctx.run(js, unordered=True)


@scenario("exit-on-error")
def _exit_on_error(ctx: Ctx) -> None:
    """exit-on-error: a failing task ends the job."""
    js = ctx.sh('if [ "$FLUX_TASK_RANK" = 0 ]; then exit 5; fi; sleep 30', num_tasks=2)
    js.setattr_shell_option("exit-on-error", 1)
    ctx.run(js, unordered=True)


@scenario("output-file-append")
def _append(ctx: Ctx) -> None:
    """output.mode=append onto an existing file."""
    (ctx.tmp / "a.txt").write_text("old\n")
    js = ctx.sh("echo new", output="a.txt")
    js.setattr_shell_option("output.mode", "append")
    ctx.run(js)
    ctx.fact("file", (ctx.tmp / "a.txt").read_text())


@scenario("output-file-truncate")
def _truncate(ctx: Ctx) -> None:
    """An existing output file is truncated by default."""
    (ctx.tmp / "a.txt").write_text("old\nold\n")
    ctx.run(ctx.sh("echo new", output="a.txt"))
    ctx.fact("file", (ctx.tmp / "a.txt").read_text())


# -- from_batch_command / from_nest_command --------------------------------------------


@scenario("batch-script")
def _batch(ctx: Ctx) -> None:
    """A batch script (nested instance) printing its arguments."""
    js = JobspecV1.from_batch_command(
        "#!/bin/sh\necho batch $# $1\n",
        "mybatch",
        args=["arg1"],
        environment=dict(ctx.env),
        cwd=str(ctx.tmp),
    )
    ctx.run(js)


@scenario("batch-script-fails")
def _batch_fail(ctx: Ctx) -> None:
    """A batch script that exits 7."""
    js = JobspecV1.from_batch_command(
        "#!/bin/sh\nexit 7\n", "failbatch", environment=dict(ctx.env), cwd=str(ctx.tmp)
    )
    jid = ctx.submit(js)
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    ctx.attempt("result", lambda: job.result(ctx.handle, jid).returncode)
    ctx.attempt("stdout", lambda: job.job_output(ctx.handle, jid).stdout)
    # The nested broker's own report of its initial program's exit (time-stamped).
    ctx.facts["info:stderr"] = ctx.norm(job.job_output(ctx.handle, jid).stderr)


@scenario("nest-command")
def _nest(ctx: Ctx) -> None:
    """A nested instance running a command."""
    js = JobspecV1.from_nest_command(
        ["sh", "-c", 'test -n "$FLUX_URI" && echo nested-ok'],
        environment=dict(ctx.env),
        cwd=str(ctx.tmp),
    )
    ctx.run(js)


@scenario("jobspec-bad-script")
def _bad_script(ctx: Ctx) -> None:
    """from_batch_command without a shebang is refused before submission."""
    ctx.attempt("build", lambda: JobspecV1.from_batch_command("echo hi", "x").dumps())


# -- jobs that never start -------------------------------------------------------------


@scenario("held-then-cancel")
def _held_cancel(ctx: Ctx) -> None:
    """A held job (urgency 0) cancelled."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.settled(jid, "SCHED")
    ctx.fact("pending-state", _list_ids(ctx.handle, ctx.jobids, states=SCHED))
    ctx.attempt("output-nowait", lambda: job.job_output(ctx.handle, jid, nowait=True))
    job.cancel(ctx.handle, jid, "no longer needed")
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("held-then-released")
def _held_release(ctx: Ctx) -> None:
    """A held job released by raising its urgency."""
    jid = ctx.submit(ctx.spec(["echo", "released"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.attempt("set_urgency", lambda: job.set_urgency(ctx.handle, jid, 16))
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("urgency-expedite")
def _expedite(ctx: Ctx) -> None:
    """Urgency 31 (expedite) on a held job."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.attempt("set_urgency", lambda: job.set_urgency(ctx.handle, jid, 31))
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    ctx.listing(jid, "get_job")


@scenario("urgency-changes", isolated=True)
def _urgency_changes(ctx: Ctx) -> None:
    """Several urgency changes on a job that cannot start (another holds every core)."""
    blocker = ctx.submit(ctx.sh("echo ready; sleep 30", cores_per_task=2))
    _wait_stdout(ctx, blocker)
    jid = ctx.submit(ctx.spec(["true"], cores_per_task=2), urgency=0)
    ctx.wait_event(jid, "priority")
    for i, u in enumerate((5, 0, 20, 0)):
        ctx.attempt(f"set_urgency-{i}-{u}", functools.partial(job.set_urgency, ctx.handle, jid, u))
    ctx.attempt("set_urgency-32", lambda: job.set_urgency(ctx.handle, jid, 32))
    ctx.attempt("set_urgency--1", lambda: job.set_urgency(ctx.handle, jid, -1))
    ctx.listing(jid, "get_job-held")
    job.cancel(ctx.handle, jid)
    job.cancel(ctx.handle, blocker)
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)


@scenario("urgency-inactive")
def _urgency_inactive(ctx: Ctx) -> None:
    """Changing the urgency of an ended job."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("set_urgency", lambda: job.set_urgency(ctx.handle, jid, 10))


@scenario("submit-urgency-invalid")
def _submit_urgency(ctx: Ctx) -> None:
    """Submitting with urgency 32."""
    ctx.attempt("submit", lambda: job.submit(ctx.handle, ctx.spec(["true"]), urgency=32))


@scenario("dep-afterok-failed")
def _dep_afterok_failed(ctx: Ctx) -> None:
    """afterok on a job that fails."""
    first = ctx.submit(ctx.sh("sleep 0.3; exit 1"))
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afterok", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(second, "clean")
    ctx.job_facts(second, "dependent")


@scenario("dep-afterok-success")
def _dep_afterok(ctx: Ctx) -> None:
    """afterok on a job that succeeds."""
    first = ctx.submit(ctx.sh("sleep 0.3"))
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afterok", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "dependent.events")
    ctx.listing(second, "dependent.get_job")


@scenario("dep-afterany")
def _dep_afterany(ctx: Ctx) -> None:
    """afterany on a failing job."""
    first = ctx.submit(ctx.sh("sleep 0.3; exit 1"))
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afterany", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "dependent.events")


@scenario("dep-afternotok-success")
def _dep_afternotok(ctx: Ctx) -> None:
    """afternotok on a job that succeeds."""
    first = ctx.submit(ctx.sh("sleep 0.3"))
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afternotok", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(second, "clean")
    ctx.job_facts(second, "dependent")


@scenario("dep-afterexcept")
def _dep_afterexcept(ctx: Ctx) -> None:
    """afterexcept on a job that gets cancelled."""
    first = ctx.submit(ctx.spec(["sleep", "30"]))
    js = ctx.spec(["echo", "ran"])
    js.setattr("system.dependencies", [{"scheme": "afterexcept", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(first, "start")
    job.cancel(ctx.handle, first)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "dependent.events")
    ctx.fact("dependent.stdout", job.job_output(ctx.handle, second).stdout)


@scenario("dep-after-start")
def _dep_after(ctx: Ctx) -> None:
    """after (afterstart): runs once the other (held at first) has started."""
    first = ctx.submit(ctx.spec(["sleep", "1"]), urgency=0)
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "after", "value": str(first)}])
    second = ctx.submit(js)
    ctx.wait_event(second, "validate")
    job.set_urgency(ctx.handle, first, 16)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "dependent.events")


@scenario("dep-on-inactive")
def _dep_inactive(ctx: Ctx) -> None:
    """afterok on a job that already succeeded, and afternotok on it."""
    first = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(first, "clean")
    ok = ctx.spec(["true"])
    ok.setattr("system.dependencies", [{"scheme": "afterok", "value": str(first)}])
    second = ctx.submit(ok)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "afterok.events")
    bad = ctx.spec(["true"])
    bad.setattr("system.dependencies", [{"scheme": "afternotok", "value": str(first)}])
    ctx.attempt("afternotok", lambda: ctx.submit(bad))


@scenario("dep-unknown-job")
def _dep_unknown(ctx: Ctx) -> None:
    """A dependency on a job that does not exist."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afterok", "value": "ƒ2Dr39gqmu"}])
    ctx.attempt("submit", lambda: ctx.submit(js))


@scenario("dep-value-not-string")
def _dep_int(ctx: Ctx) -> None:
    """A dependency whose value is an integer, not a string."""
    first = ctx.submit(ctx.spec(["true"]))
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "afterok", "value": int(first)}])
    ctx.attempt("submit", lambda: ctx.submit(js))


@scenario("dep-unknown-scheme")
def _dep_scheme(ctx: Ctx) -> None:
    """A dependency scheme nobody handles."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "nosuch", "value": "x"}])
    ctx.attempt("submit", lambda: ctx.submit(js))


@scenario("dep-begin-time-past")
def _begin_past(ctx: Ctx) -> None:
    """begin-time in the past."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "begin-time", "value": str(time.time() - 60)}])
    jid = ctx.submit(js)
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)


@scenario("dep-begin-time-future-cancel")
def _begin_future(ctx: Ctx) -> None:
    """begin-time in the future, cancelled while it waits."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "begin-time", "value": str(time.time() + 3600)}])
    jid = ctx.submit(js)
    ctx.wait_event(jid, "dependency-add")
    ctx.settled(jid, "DEPEND")
    ctx.fact("state", _list_ids(ctx.handle, ctx.jobids, states=DEPEND))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("dep-begin-time-bad")
def _begin_bad(ctx: Ctx) -> None:
    """begin-time with a string value."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "begin-time", "value": "soon"}])
    ctx.attempt("submit", lambda: ctx.submit(js))


# -- cancel / kill / raise in each state ---------------------------------------------


@scenario("cancel-running")
def _cancel_running(ctx: Ctx) -> None:
    """Cancel a running job."""
    jid = ctx.submit(ctx.sh("echo started; sleep 30"))
    ctx.wait_event(jid, "start")
    job.output_watch_lines(ctx.handle, jid)  # the generator is lazy; wait below instead
    _wait_stdout(ctx, jid)
    job.cancel(ctx.handle, jid, "stop now")
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


def _wait_stdout(ctx: Ctx, jid: JobID) -> None:
    for _stream, _line in job.output_watch_lines(ctx.handle, jid):
        return


@scenario("cancel-running-trap-term")
def _cancel_trap(ctx: Ctx) -> None:
    """Cancel a job that traps SIGTERM and exits 0."""
    jid = ctx.submit(ctx.sh("trap 'echo term; exit 0' TERM; echo ready; sleep 30 & wait"))
    _wait_stdout(ctx, jid)
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("cancel-inactive")
def _cancel_inactive(ctx: Ctx) -> None:
    """Cancel an ended job."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("cancel", lambda: job.cancel(ctx.handle, jid))


@scenario("cancel-unknown")
def _cancel_unknown(ctx: Ctx) -> None:
    """Cancel, kill, raise and urgency on a job that does not exist."""
    bogus = 123456789
    ctx.attempt("cancel", lambda: job.cancel(ctx.handle, bogus))
    ctx.attempt("kill", lambda: job.kill(ctx.handle, bogus))
    ctx.attempt("raise", lambda: job.job_raise(ctx.handle, bogus, "test", 0, "x"))
    ctx.attempt("urgency", lambda: job.set_urgency(ctx.handle, bogus, 3))
    ctx.attempt("get_job", lambda: job.get_job(ctx.handle, bogus))
    ctx.attempt("result", lambda: job.result(ctx.handle, bogus))


@scenario("kill-running-usr1")
def _kill_usr1(ctx: Ctx) -> None:
    """kill with SIGUSR1."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 30"))
    _wait_stdout(ctx, jid)
    job.kill(ctx.handle, jid, signal.SIGUSR1)
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("kill-running-default")
def _kill_default(ctx: Ctx) -> None:
    """kill with the default signal."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 30"))
    _wait_stdout(ctx, jid)
    job.kill(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    ctx.attempt("result", lambda: job.result(ctx.handle, jid).returncode)


@scenario("kill-pending")
def _kill_pending(ctx: Ctx) -> None:
    """kill a held job."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.attempt("kill", lambda: job.kill(ctx.handle, jid))
    ctx.attempt("kill-bad-signal", lambda: job.kill(ctx.handle, jid, 0))


@scenario("kill-inactive")
def _kill_inactive(ctx: Ctx) -> None:
    """kill an ended job, and with a bad signal."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("kill", lambda: job.kill(ctx.handle, jid))
    ctx.attempt("kill-100", lambda: job.kill(ctx.handle, jid, 100))


@scenario("raise-nonfatal-running")
def _raise_nonfatal(ctx: Ctx) -> None:
    """A severity-3 exception on a running job: it keeps running."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 1; echo done"))
    _wait_stdout(ctx, jid)
    ctx.attempt("raise", lambda: job.job_raise(ctx.handle, jid, "mytype", 3, "just a note"))
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("raise-fatal-running")
def _raise_fatal(ctx: Ctx) -> None:
    """A fatal exception on a running job."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 30"))
    _wait_stdout(ctx, jid)
    job.job_raise(ctx.handle, jid, "mytype", 0, "fatal note")
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("raise-fatal-pending")
def _raise_pending(ctx: Ctx) -> None:
    """A fatal exception on a held job."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    job.job_raise(ctx.handle, jid, "hold", 0, "from pending")
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("raise-bad-requests")
def _raise_bad(ctx: Ctx) -> None:
    """job_raise with a bad severity, an empty or spaced type, on an inactive job."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("inactive", lambda: job.job_raise(ctx.handle, jid, "t", 0, "n"))
    held = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.attempt("severity-8", lambda: job.job_raise(ctx.handle, held, "t", 8, "n"))
    ctx.attempt("severity--1", lambda: job.job_raise(ctx.handle, held, "t", -1, "n"))
    ctx.attempt("type-space", lambda: job.job_raise(ctx.handle, held, "a b", 0, "n"))
    ctx.attempt("type-empty", lambda: job.job_raise(ctx.handle, held, "", 0, "n"))


# -- waitable jobs --------------------------------------------------------------------


@scenario("wait-waitable")
def _wait_waitable(ctx: Ctx) -> None:
    """wait() on a waitable job that fails, then again."""
    jid = ctx.submit(ctx.sh("exit 4"), waitable=True)
    ctx.attempt("wait", lambda: job.wait(ctx.handle, jid))
    ctx.attempt("wait-again", lambda: job.wait(ctx.handle, jid))
    ctx.eventlog(jid)


@scenario("wait-not-waitable")
def _wait_not(ctx: Ctx) -> None:
    """wait() on a job submitted without waitable."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("wait", lambda: job.wait(ctx.handle, jid))


@scenario("wait-cancelled", isolated=True)
def _wait_cancelled(ctx: Ctx) -> None:
    """wait() on a cancelled waitable job, and wait-any with none left."""
    jid = ctx.submit(ctx.spec(["sleep", "30"]), waitable=True)
    ctx.wait_event(jid, "start")
    job.cancel(ctx.handle, jid)
    ctx.attempt("wait", lambda: job.wait(ctx.handle, jid))
    ctx.attempt("wait-any", lambda: job.wait(ctx.handle))


# -- listings --------------------------------------------------------------------------


@scenario("list-filters", isolated=True)
def _list_filters(ctx: Ctx) -> None:
    """job_list by state and result, with this scenario's jobs."""
    ok = ctx.submit(ctx.spec(["true"]))
    bad = ctx.submit(ctx.spec(["false"]))
    held = ctx.submit(ctx.spec(["true"]), urgency=0)
    for jid in (ok, bad):
        ctx.wait_event(jid, "clean")
        ctx.settled(jid, "INACTIVE")
    ctx.wait_event(held, "priority")
    ctx.settled(held, "SCHED")
    ctx.fact("pending", _list_ids(ctx.handle, ctx.jobids, states=PENDING))
    ctx.fact("inactive", _list_ids(ctx.handle, ctx.jobids, 2, states=INACTIVE))
    ctx.fact("completed", _list_ids(ctx.handle, ctx.jobids, results=COMPLETED))
    ctx.fact("failed", _list_ids(ctx.handle, ctx.jobids, results=FAILED))
    ctx.fact("all", _list_ids(ctx.handle, ctx.jobids))
    job.cancel(ctx.handle, held)
    ctx.wait_event(held, "clean")
    ctx.settled(held, "INACTIVE")
    ctx.fact("canceled", _list_ids(ctx.handle, ctx.jobids, results=CANCELED))
    ctx.fact("inactive-list", _list_ids(ctx.handle, ctx.jobids, 3, states=INACTIVE))


@scenario("list-attrs")
def _list_attrs(ctx: Ctx) -> None:
    """job_list_id with chosen attributes, and with an unknown one."""
    jid = ctx.submit(ctx.spec(["true"], name="attrs-job"))
    ctx.wait_event(jid, "clean")
    ctx.attempt(
        "some",
        lambda: job.job_list_id(ctx.handle, jid, attrs=["state", "result", "name", "ntasks"]).get(),
    )
    ctx.attempt("all", lambda: job.job_list_id(ctx.handle, jid).get())
    ctx.attempt("unknown-attr", lambda: job.job_list_id(ctx.handle, jid, attrs=["nosuch"]).get())
    ctx.attempt("list-unknown-attr", lambda: job.job_list(ctx.handle, attrs=["nosuchattr"]).get())


@scenario("list-running")
def _list_running(ctx: Ctx) -> None:
    """A running job's listing."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 30", duration=100))
    _wait_stdout(ctx, jid)
    ctx.settled(jid, "RUN")
    ctx.fact("running", _list_ids(ctx.handle, ctx.jobids, states=RUN))
    info = job.get_job(ctx.handle, jid) or {}
    ctx.fact("get_job", {k: v for k, v in info.items() if k not in ("runtime",)})
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("list-inactive-since")
def _list_since(ctx: Ctx) -> None:
    """job_list_inactive since a time."""
    first = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(first, "clean")
    mark = time.time()
    time.sleep(0.05)
    second = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(second, "clean")
    ctx.settled(second, "INACTIVE")
    deadline = time.monotonic() + 10.0
    while True:  # job-list follows the job manager asynchronously
        jobs = job.job_list_inactive(ctx.handle, since=mark).get_jobs()
        found = sorted(ctx.jobids.index(j["id"]) for j in jobs if j["id"] in ctx.jobids)
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ctx.fact("since", found)


# -- bad requests ----------------------------------------------------------------------


@scenario("bad-jobspec-version")
def _bad_version(ctx: Ctx) -> None:
    """A jobspec with version 2 sent raw."""
    doc = ctx.spec(["true"]).jobspec
    doc["version"] = 2
    ctx.attempt("submit", lambda: job.submit(ctx.handle, json.dumps(doc)))


@scenario("bad-jobspec-json")
def _bad_json(ctx: Ctx) -> None:
    """A jobspec that is not JSON."""
    ctx.attempt("submit", lambda: job.submit(ctx.handle, "{not json"))


@scenario("bad-jobspec-duration")
def _bad_duration(ctx: Ctx) -> None:
    """A negative duration sent raw: accepted, and run without a time limit."""
    doc = ctx.spec(["true"]).jobspec
    doc["attributes"]["system"]["duration"] = -5
    jid = ctx.attempt("submit", lambda: ctx.submit(json.dumps(doc)))
    if jid is not None:  # flux runs it without a time limit
        ctx.wait_event(JobID(jid), "clean")
        ctx.job_facts(JobID(jid))
        ctx.attempt(
            "listed-duration",
            lambda: job.job_list_id(ctx.handle, jid, attrs=["duration", "expiration"]).get(),
        )


@scenario("bad-queue")
def _bad_queue(ctx: Ctx) -> None:
    """A queue on an instance with no queues."""
    ctx.attempt("submit", lambda: ctx.submit(ctx.spec(["true"], queue="batch")))


@scenario("bank-attribute")
def _bank(ctx: Ctx) -> None:
    """A bank on an instance without accounting."""
    jid = ctx.attempt("submit", lambda: ctx.submit(ctx.spec(["true"], bank="mybank")))
    if jid is not None:
        ctx.wait_event(JobID(jid), "clean")
        ctx.listing(JobID(jid), "get_job")


@scenario("bad-eventlog-requests")
def _bad_eventlog(ctx: Ctx) -> None:
    """Eventlog and output watches on bad targets."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt("unknown-job", lambda: list(job.event_watch(ctx.handle, 987654321)))
    ctx.attempt(
        "unknown-eventlog", lambda: list(job.event_watch(ctx.handle, jid, eventlog="nosuch"))
    )
    ctx.attempt("event_wait-missing", lambda: job.event_wait(ctx.handle, jid, "nosuchevent"))
    ctx.attempt("output-unknown-job", lambda: job.job_output(ctx.handle, 987654321))
    ctx.attempt(
        "exec-eventlog",
        lambda: [e.name for e in job.event_watch(ctx.handle, jid, eventlog="guest.exec.eventlog")],
    )


@scenario("event-wait-exception")
def _event_wait_exc(ctx: Ctx) -> None:
    """event_wait for 'start' on a job cancelled while held raises JobException."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    job.cancel(ctx.handle, jid)
    ctx.attempt("wait-start", lambda: job.event_wait(ctx.handle, jid, "start").name)
    ctx.attempt("result", lambda: job.result(ctx.handle, jid).result)


@scenario("output-of-never-started")
def _output_never(ctx: Ctx) -> None:
    """Output facts of a job cancelled before it started."""
    jid = ctx.submit(ctx.spec(["echo", "x"]), urgency=0)
    ctx.wait_event(jid, "priority")
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.attempt("job_output", lambda: job.job_output(ctx.handle, jid))
    ctx.attempt("output_lines", lambda: list(job.output_watch_lines(ctx.handle, jid)))


@scenario("output-watch-lines")
def _watch_lines(ctx: Ctx) -> None:
    """output_watch_lines of a running job, with and without labels."""
    jid = ctx.submit(ctx.sh("echo a; sleep 0.2; echo b >&2; printf c"))
    ctx.fact("lines", sorted(map(list, job.output_watch_lines(ctx.handle, jid))))
    ctx.fact("labelled", sorted(map(list, job.output_watch_lines(ctx.handle, jid, labelio=True))))


@scenario("files-in-tmpdir")
def _tmpdir(ctx: Ctx) -> None:
    """The job's FLUX_JOB_TMPDIR: exists, is writable, and is removed after."""
    out = ctx.tmp / "seen"
    script = 'test -d "$FLUX_JOB_TMPDIR" && touch "$FLUX_JOB_TMPDIR/x" && echo "$FLUX_JOB_TMPDIR"'
    ctx.run(ctx.sh(f"{script} > {out}"))
    path = Path(out.read_text().strip())
    ctx.fact("removed", not path.exists())


@scenario("priority-order", isolated=True)
def _priority_order(ctx: Ctx) -> None:
    """Jobs start by urgency, then submit order."""
    log = ctx.tmp / "order"
    blocker = ctx.submit(ctx.spec(["sleep", "1"], cores_per_task=2))
    ctx.wait_event(blocker, "start")
    for name, urgency in (("low", 8), ("mid", 16), ("high", 24), ("mid2", 16)):
        ctx.submit(ctx.sh(f"echo {name} >> {log}", cores_per_task=2), urgency=urgency)
    for jid in ctx.jobids:
        ctx.wait_event(JobID(jid), "clean")
    ctx.fact("order", log.read_text().split())


@scenario("whole-instance-queued", isolated=True)
def _whole(ctx: Ctx) -> None:
    """A job that needs the whole instance waits in SCHED for a running one."""
    first = ctx.submit(ctx.sh("echo ready; sleep 1"))
    _wait_stdout(ctx, first)
    second = ctx.submit(ctx.spec(["nproc"], cores_per_task=2))
    ctx.wait_event(second, "priority")
    ctx.settled(second, "SCHED")
    ctx.fact("sched", _list_ids(ctx.handle, ctx.jobids, states=SCHED))
    ctx.wait_event(second, "clean")
    ctx.job_facts(second)


# -- queues (an instance configured with queues batch, the default, and debug) -------


@scenario("queue-default", instance="queues")
def _queue_default(ctx: Ctx) -> None:
    """A job that names no queue goes to the default one."""
    jid = ctx.run(ctx.spec(["true"]))
    ctx.fact("jobspec-queue", job.job_list_id(ctx.handle, jid, attrs=["queue"]).get())


@scenario("queue-named", instance="queues")
def _queue_named(ctx: Ctx) -> None:
    """A job submitted to the other queue, and a listing filtered by queue."""
    jid = ctx.run(ctx.spec(["true"], queue="debug"))
    other = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(other, "clean")
    ctx.settled(other, "INACTIVE")
    ctx.fact("debug", _list_ids(ctx.handle, ctx.jobids, queue="debug"))
    ctx.fact("batch", _list_ids(ctx.handle, ctx.jobids, queue="batch"))
    del jid


@scenario("queue-unknown", instance="queues")
def _queue_unknown(ctx: Ctx) -> None:
    """A queue the instance does not have, and an empty queue name."""
    ctx.attempt("submit", lambda: ctx.submit(ctx.spec(["true"], queue="nosuch")))
    js = ctx.spec(["true"])
    js.setattr("system.queue", "")
    ctx.attempt("submit-empty", lambda: ctx.submit(js))


@scenario("queue-held-cancel", instance="queues")
def _queue_held(ctx: Ctx) -> None:
    """A held job in a named queue, cancelled: its listing and events."""
    jid = ctx.submit(ctx.spec(["true"], queue="debug"), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.settled(jid, "SCHED")
    ctx.fact("pending", _list_ids(ctx.handle, ctx.jobids, states=PENDING, queue="debug"))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid, output=False)


# -- more states and raw requests -------------------------------------------------------


def _rpc(ctx: Ctx, topic: str, payload: Any) -> Any:
    return ctx.handle.rpc(topic, payload).get()


@scenario("depend-state-actions")
def _depend_actions(ctx: Ctx) -> None:
    """kill, a non-fatal raise and urgency changes on a job waiting for its begin-time,
    then a cancel."""
    js = ctx.spec(["true"])
    js.setattr("system.dependencies", [{"scheme": "begin-time", "value": str(time.time() + 3600)}])
    jid = ctx.submit(js)
    ctx.wait_event(jid, "dependency-add")
    ctx.attempt("kill", lambda: job.kill(ctx.handle, jid))
    ctx.attempt("raise-3", lambda: job.job_raise(ctx.handle, jid, "note", 3, "still waiting"))
    ctx.attempt("urgency-0", lambda: job.set_urgency(ctx.handle, jid, 0))
    ctx.attempt("urgency-31", lambda: job.set_urgency(ctx.handle, jid, 31))
    ctx.settled(jid, "DEPEND")
    ctx.fact("depend", _list_ids(ctx.handle, ctx.jobids, states=DEPEND))
    ctx.fact("sched-none", _list_ids(ctx.handle, ctx.jobids, 0, states=SCHED))
    job.cancel(ctx.handle, jid, "not any more")
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid, output=False)


@scenario("held-state-actions")
def _held_actions(ctx: Ctx) -> None:
    """A non-fatal raise and urgency changes on a held job, then a kill and a cancel."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.attempt("raise-5", lambda: job.job_raise(ctx.handle, jid, "info", 5, "held a while"))
    ctx.attempt("urgency-0-again", lambda: job.set_urgency(ctx.handle, jid, 0))
    ctx.attempt("kill-term", lambda: job.kill(ctx.handle, jid, signal.SIGTERM))
    ctx.attempt("cancel", lambda: job.cancel(ctx.handle, jid))
    ctx.attempt("cancel-again", lambda: job.cancel(ctx.handle, jid))
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    ctx.listing(jid, "get_job")


@scenario("running-state-actions")
def _running_actions(ctx: Ctx) -> None:
    """Urgency changes, a non-fatal raise and kill -CONT on a running job, then a cancel."""
    jid = ctx.submit(ctx.sh("echo ready; sleep 30"))
    _wait_stdout(ctx, jid)
    ctx.attempt("urgency", lambda: job.set_urgency(ctx.handle, jid, 20))
    ctx.attempt("raise-7", lambda: job.job_raise(ctx.handle, jid, "lint", 7, "fyi"))
    ctx.attempt("kill-cont", lambda: job.kill(ctx.handle, jid, signal.SIGCONT))
    ctx.settled(jid, "RUN")
    ctx.fact("no-pending", _list_ids(ctx.handle, ctx.jobids, 0, states=PENDING))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("list-filter-no-match")
def _list_no_match(ctx: Ctx) -> None:
    """Listings whose filters match none of this scenario's jobs."""
    jid = ctx.submit(ctx.spec(["true"], name="nomatch-job"))
    ctx.wait_event(jid, "clean")
    ctx.settled(jid, "INACTIVE")
    ctx.fact("running", _list_ids(ctx.handle, ctx.jobids, 0, states=RUN))
    ctx.fact("failed", _list_ids(ctx.handle, ctx.jobids, 0, results=FAILED))
    ctx.fact("other-name", _list_ids(ctx.handle, ctx.jobids, 0, name="no-such-name"))
    ctx.fact("other-user", _list_ids(ctx.handle, ctx.jobids, 0, userid=4242))
    ctx.fact("name", _list_ids(ctx.handle, ctx.jobids, name="nomatch-job"))
    ctx.attempt(
        "empty-answer",
        lambda: job.job_list(ctx.handle, states=RUN, name="no-such-name").get_jobs(),
    )


@scenario("bad-requests-job-manager")
def _bad_job_manager(ctx: Ctx) -> None:
    """Malformed job-manager requests (as a program using handle.rpc sends them)."""
    jid = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(jid, "priority")
    ctx.attempt("submit-no-J", lambda: _rpc(ctx, "job-ingest.submit", {"urgency": 16}))
    ctx.attempt("raise-no-type", lambda: _rpc(ctx, "job-manager.raise", {"id": jid, "severity": 0}))
    ctx.attempt(
        "raise-id-string",
        lambda: _rpc(ctx, "job-manager.raise", {"id": "x", "severity": 0, "type": "t", "note": ""}),
    )
    ctx.attempt("kill-no-signum", lambda: _rpc(ctx, "job-manager.kill", {"id": jid}))
    ctx.attempt("urgency-no-value", lambda: _rpc(ctx, "job-manager.urgency", {"id": jid}))
    ctx.attempt("wait-no-id", lambda: _rpc(ctx, "job-manager.wait", {}))
    ctx.attempt("no-such-method", lambda: _rpc(ctx, "job-manager.nosuchmethod", {}))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")


@scenario("bad-requests-job-info")
def _bad_job_info(ctx: Ctx) -> None:
    """Malformed job-info and job-list requests."""
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "clean")
    ctx.attempt(
        "lookup-unknown-key",
        lambda: _rpc(ctx, "job-info.lookup", {"id": jid, "keys": ["nosuchkey"], "flags": 0}),
    )
    ctx.attempt("lookup-no-keys", lambda: _rpc(ctx, "job-info.lookup", {"id": jid, "flags": 0}))
    ctx.attempt(
        "lookup-unknown-job",
        lambda: _rpc(ctx, "job-info.lookup", {"id": 424242, "keys": ["eventlog"], "flags": 0}),
    )
    ctx.attempt(
        "list-bad-constraint",
        lambda: job.job_list(ctx.handle, constraint={"nosuchop": [1]}).get_jobs(),
    )
    ctx.attempt(
        "list-no-max-entries", lambda: _rpc(ctx, "job-list.list", {"attrs": [], "constraint": {}})
    )
    ctx.attempt("list-id-no-id", lambda: _rpc(ctx, "job-list.list-id", {"attrs": []}))
    ctx.attempt(
        "list-id-unknown",
        lambda: job.job_list_id(ctx.handle, 424242, attrs=["state"]).get(),
    )


def _queue_rpc(ctx: Ctx, topic: str, **payload: Any) -> Any:
    return ctx.handle.rpc(f"job-manager.queue-{topic}", payload).get()


@scenario("queue-list-status", instance="queues")
def _queue_status(ctx: Ctx) -> None:
    """The queue list, each queue's status, and status requests that are wrong."""
    ctx.attempt("list", lambda: _queue_rpc(ctx, "list"))
    for name in ("batch", "debug"):
        ctx.attempt(f"status-{name}", functools.partial(_queue_rpc, ctx, "status", name=name))
    ctx.attempt("status-unknown", lambda: _queue_rpc(ctx, "status", name="nosuch"))
    ctx.attempt("status-no-name", lambda: _queue_rpc(ctx, "status"))


@scenario("queue-stop-start", instance="queues", isolated=True)
def _queue_stop_start(ctx: Ctx) -> None:
    """A job submitted to a stopped queue waits in SCHED until the queue starts."""
    ctx.attempt("stop", lambda: _queue_rpc(ctx, "start", name="debug", start=False, all=False))
    ctx.attempt("status", lambda: _queue_rpc(ctx, "status", name="debug"))
    jid = ctx.submit(ctx.spec(["true"], queue="debug"))
    ctx.wait_event(jid, "priority")
    ctx.settled(jid, "SCHED")
    ctx.fact("sched", _list_ids(ctx.handle, ctx.jobids, states=SCHED))
    ctx.attempt(
        "stop-reason",
        lambda: _queue_rpc(ctx, "start", name="debug", start=False, all=False, reason="maint"),
    )
    ctx.attempt("status-reason", lambda: _queue_rpc(ctx, "status", name="debug"))
    ctx.attempt("start", lambda: _queue_rpc(ctx, "start", name="debug", start=True, all=False))
    ctx.wait_event(jid, "clean")
    ctx.job_facts(jid)


@scenario("queue-disable-enable", instance="queues", isolated=True)
def _queue_disable(ctx: Ctx) -> None:
    """A disabled queue refuses submissions; enabled again, it takes them."""
    ctx.attempt(
        "disable-no-reason",
        lambda: _queue_rpc(ctx, "enable", name="debug", enable=False, all=False),
    )
    ctx.attempt(
        "disable",
        lambda: _queue_rpc(ctx, "enable", name="debug", enable=False, all=False, reason="closed"),
    )
    ctx.attempt("status", lambda: _queue_rpc(ctx, "status", name="debug"))
    ctx.attempt("submit", lambda: ctx.submit(ctx.spec(["true"], queue="debug")))
    ctx.attempt("submit-other", lambda: ctx.submit(ctx.spec(["true"], queue="batch")))
    ctx.attempt("enable", lambda: _queue_rpc(ctx, "enable", name="debug", enable=True, all=False))
    ctx.attempt("submit-again", lambda: ctx.submit(ctx.spec(["true"], queue="debug")))
    for jid in ctx.jobids:
        ctx.wait_event(JobID(jid), "clean")


@scenario("queue-bad-requests", instance="queues", isolated=True)
def _queue_bad(ctx: Ctx) -> None:
    """Queue requests without a name or --all, for an unknown queue, malformed."""
    ctx.attempt("start-no-all", lambda: _queue_rpc(ctx, "start", start=True, all=False))
    ctx.attempt("enable-no-all", lambda: _queue_rpc(ctx, "enable", enable=True, all=False))
    ctx.attempt(
        "start-unknown", lambda: _queue_rpc(ctx, "start", name="nosuch", start=True, all=False)
    )
    ctx.attempt(
        "enable-unknown", lambda: _queue_rpc(ctx, "enable", name="nosuch", enable=True, all=False)
    )
    ctx.attempt("start-no-start", lambda: _queue_rpc(ctx, "start", name="debug", all=False))
    ctx.attempt("start-all", lambda: _queue_rpc(ctx, "start", start=True, all=True))
    ctx.attempt("enable-all", lambda: _queue_rpc(ctx, "enable", enable=True, all=True))


@scenario("queue-anonymous")
def _queue_anonymous(ctx: Ctx) -> None:
    """The queue requests on an instance without named queues."""
    ctx.attempt("list", lambda: _queue_rpc(ctx, "list"))
    ctx.attempt("status", lambda: _queue_rpc(ctx, "status"))
    ctx.attempt("status-named", lambda: _queue_rpc(ctx, "status", name="batch"))
    ctx.attempt("start", lambda: _queue_rpc(ctx, "start", start=True, all=False))


@scenario("queue-new-stopped", instance="queues-new")
def _queue_new(ctx: Ctx) -> None:
    """Configured queues before anyone starts them: a job waits in SCHED."""
    for name in ("batch", "debug"):
        ctx.attempt(f"status-{name}", functools.partial(_queue_rpc, ctx, "status", name=name))
    jid = ctx.submit(ctx.spec(["true"]))
    ctx.wait_event(jid, "priority")
    ctx.settled(jid, "SCHED")
    ctx.fact("sched", _list_ids(ctx.handle, ctx.jobids, states=SCHED))
    job.cancel(ctx.handle, jid)
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)


# -- more dependency schemes ------------------------------------------------------------


def _with_deps(js: JobspecV1, *deps: tuple[str, str]) -> JobspecV1:
    js.setattr("system.dependencies", [{"scheme": s, "value": v} for s, v in deps])
    return js


@scenario("dep-afterstart")
def _dep_afterstart(ctx: Ctx) -> None:
    """afterstart (the current name of after) on a job held at first."""
    first = ctx.submit(ctx.spec(["sleep", "0.5"]), urgency=0)
    second = ctx.submit(_with_deps(ctx.spec(["true"]), ("afterstart", str(first))))
    ctx.wait_event(second, "validate")
    job.set_urgency(ctx.handle, first, 16)
    ctx.wait_event(second, "clean")
    ctx.eventlog(second, "dependent.events")


@scenario("dep-bad-schemes")
def _dep_bad_schemes(ctx: Ctx) -> None:
    """afterfinish (not a scheme), an after* value that is no job ID, a dependency on itself."""
    ctx.attempt(
        "afterfinish", lambda: ctx.submit(_with_deps(ctx.spec(["true"]), ("afterfinish", "1")))
    )
    ctx.attempt(
        "afterok-garbage", lambda: ctx.submit(_with_deps(ctx.spec(["true"]), ("afterok", "nope")))
    )
    ctx.attempt("empty-scheme", lambda: ctx.submit(_with_deps(ctx.spec(["true"]), ("", "x"))))


@scenario("dep-singleton", isolated=True)
def _dep_singleton(ctx: Ctx) -> None:
    """singleton: jobs of one name (and user) run one at a time, in submit order."""
    log = ctx.tmp / "order"
    first = ctx.submit(ctx.sh(f"echo first >> {log}; sleep 0.5", name="single"))
    ctx.wait_event(first, "start")
    second = ctx.submit(
        _with_deps(ctx.sh(f"echo second >> {log}", name="single"), ("singleton", ""))
    )
    third = ctx.submit(_with_deps(ctx.sh(f"echo third >> {log}", name="single"), ("singleton", "")))
    other = ctx.submit(
        _with_deps(ctx.sh(f"echo other >> {log}", name="other-name"), ("singleton", ""))
    )
    for jid in (second, third, other):
        ctx.wait_event(jid, "clean")
    ctx.eventlog(second, "second.events")
    ctx.eventlog(third, "third.events")
    ctx.eventlog(other, "other.events")
    ctx.fact("order", [line for line in log.read_text().split() if line != "other"])


@scenario("dep-singleton-no-name")
def _dep_singleton_no_name(ctx: Ctx) -> None:
    """singleton without an explicit job name."""
    ctx.attempt("submit", lambda: ctx.submit(_with_deps(ctx.spec(["true"]), ("singleton", ""))))


@scenario("bad-requests-misc")
def _bad_misc(ctx: Ctx) -> None:
    """Malformed memo, purge, feasibility and eventlog-watch requests."""
    held = ctx.submit(ctx.spec(["true"]), urgency=0)
    ctx.wait_event(held, "priority")
    ctx.attempt("memo-no-memo", lambda: _rpc(ctx, "job-manager.memo", {"id": held}))
    ctx.attempt("memo-unknown", lambda: _rpc(ctx, "job-manager.memo", {"id": 4242, "memo": {}}))
    ctx.attempt("purge-active", lambda: _rpc(ctx, "job-manager.purge-id", {"id": held, "force": 1}))
    ctx.attempt(
        "purge-unknown", lambda: _rpc(ctx, "job-manager.purge-id", {"id": 4242, "force": 1})
    )
    ctx.attempt("feasibility-no-jobspec", lambda: _rpc(ctx, "feasibility.check", {}))
    big = ctx.spec(["true"], cores_per_task=4).jobspec
    ctx.attempt("feasibility-too-big", lambda: _rpc(ctx, "feasibility.check", {"jobspec": big}))
    fits = ctx.spec(["true"]).jobspec
    ctx.attempt("feasibility-fits", lambda: _rpc(ctx, "feasibility.check", {"jobspec": fits}))
    ctx.attempt(
        "watch-no-path", lambda: _rpc(ctx, "job-info.eventlog-watch", {"id": held, "flags": 0})
    )
    job.cancel(ctx.handle, held)
    ctx.wait_event(held, "clean")


# -- the PMI-1 server of the job shell --------------------------------------------------

_PMI_CLIENT = r"""
import os, socket, sys
rank = int(os.environ["PMI_RANK"]); size = int(os.environ["PMI_SIZE"])
sock = socket.socket(fileno=int(os.environ["PMI_FD"]))
stream = sock.makefile("rwb", buffering=0)
def ask(line, answer=True):
    stream.write(line.encode() + b"\n")
    if answer:
        reply = stream.readline().decode().strip()
        print(f"{rank}: {line.split()[0]} -> {reply}")
        return reply
ask("cmd=init pmi_version=1 pmi_subversion=1")
ask("cmd=get_maxes")
ask("cmd=get_universe_size")
ask("cmd=get_appnum")
name = ask("cmd=get_my_kvsname").split("kvsname=")[1]
ask(f"cmd=put kvsname={name} key=k{rank} value=value of {rank}")
ask(f"cmd=get kvsname={name} key=k{rank}")
ask("cmd=barrier_in")
for key in ("k0", "k1", "PMI_process_mapping", "flux.instance-level", "flux.taskmap", "nosuch"):
    ask(f"cmd=get kvsname={name} key={key}")
ask("cmd=publish_name service=x port=y")
ask("cmd=finalize")
"""


@scenario("pmi-exchange")
def _pmi_exchange(ctx: Ctx) -> None:
    """Two tasks speak PMI-1 on PMI_FD: init, put, barrier, get, finalize."""
    script = ctx.tmp / "pmi.py"
    script.write_text(_PMI_CLIENT)
    jid = ctx.submit(ctx.spec(["python3", str(script)], num_tasks=2))
    ctx.wait_event(jid, "clean")
    out = job.job_output(ctx.handle, jid)
    ctx.fact("replies", sorted(ctx.norm_text(line) for line in out.stdout.splitlines()))
    ctx.fact("stderr", out.stderr)
    ctx.fact("result", job.result(ctx.handle, jid).result)


@scenario("pmi-abort")
def _pmi_abort(ctx: Ctx) -> None:
    """A task calls PMI_Abort: the job ends with an exec exception."""
    script = ctx.tmp / "abort.py"
    script.write_text(
        "import os, socket, time\n"
        "s = socket.socket(fileno=int(os.environ['PMI_FD']))\n"
        "s.sendall(b'cmd=init pmi_version=1 pmi_subversion=1\\n'); s.recv(100)\n"
        "if os.environ['PMI_RANK'] == '0':\n"
        "    s.sendall(b'cmd=abort exitcode=3 error_msg=giving up now\\n')\n"
        "time.sleep(30)\n"
    )
    jid = ctx.submit(ctx.spec(["python3", str(script)], num_tasks=2))
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    ctx.attempt("result", lambda: _result_summary(ctx, jid))


@scenario("pmi-off")
def _pmi_off(ctx: Ctx) -> None:
    """The shell option pmi=off: no PMI variables."""
    js = ctx.sh("env | grep ^PMI_ | cut -d= -f1 | sort; echo end")
    js.setattr_shell_option("pmi", "off")
    jid = ctx.submit(js)
    ctx.wait_event(jid, "clean")
    ctx.fact("stdout", job.job_output(ctx.handle, jid).stdout)


def _result_summary(ctx: Ctx, jid: JobID) -> dict[str, Any]:
    info = job.result(ctx.handle, jid)
    return {"result": info.result, "returncode": info.returncode}


# -- the PMI-1 client library the job shell names (FLUX_PMI_LIBRARY_PATH) -------------------

_PMI_LIBRARY_CLIENT = Path(__file__).resolve().parents[1] / "pmi_library_client.py"


def _client_reports(ctx: Ctx, stdout: str) -> None:
    """Each task's report (``tests/pmi_library_client.py``): a fact per call, by rank."""
    for line in sorted(stdout.splitlines()):
        report = json.loads(line)
        for index, (call, *answer) in enumerate(report["calls"]):
            ctx.fact(f"rank{report['rank']}.{index:02d} {call}", answer)


@scenario("pmi-library")
def _pmi_library(ctx: Ctx) -> None:
    """Two tasks load the job shell's PMI-1 library (ctypes) and call the whole API:
    init, identity, limits, put/commit/barrier/get of each other's values, error
    returns (long key or value, missing key, short buffer, NULL), cliques, the refused
    calls, finalize and after."""
    jid = ctx.submit(ctx.spec(["python3", str(_PMI_LIBRARY_CLIENT), "job"], num_tasks=2))
    ctx.wait_event(jid, "clean")
    out = job.job_output(ctx.handle, jid)
    _client_reports(ctx, out.stdout)
    ctx.fact("stderr", out.stderr)
    ctx.fact("result", job.result(ctx.handle, jid).result)


@scenario("pmi-library-singleton")
def _pmi_library_singleton(ctx: Ctx) -> None:
    """The library with no PMI channel (PMI_FD, PMI_RANK, PMI_SIZE unset): what each
    call answers, and PMI_Abort (a line on stderr, the exit code)."""
    jid = ctx.submit(ctx.spec(["python3", str(_PMI_LIBRARY_CLIENT), "singleton"]))
    ctx.wait_event(jid, "clean")
    out = job.job_output(ctx.handle, jid)
    _client_reports(ctx, out.stdout)
    ctx.fact("stderr", out.stderr)
    ctx.attempt("result", lambda: _result_summary(ctx, jid))


@scenario("pmi-library-abort")
def _pmi_library_abort(ctx: Ctx) -> None:
    """Task 0 calls PMI_Abort through the library (a message with a newline): the
    job ends with the exec exception, the other task is killed."""
    jid = ctx.submit(ctx.spec(["python3", str(_PMI_LIBRARY_CLIENT), "abort"], num_tasks=2))
    ctx.wait_event(jid, "clean")
    ctx.eventlog(jid)
    # Task 0's line only: whether task 1 printed before it was killed is a race.
    out = job.job_output(ctx.handle, jid)
    ctx.fact("stdout", [line for line in out.stdout.splitlines() if '"rank": 0' in line])
    ctx.attempt("result", lambda: _result_summary(ctx, jid))


_PMI_LIBRARY_ENV = r"""
import json, os
lib = os.environ.get("FLUX_PMI_LIBRARY_PATH")
search = os.environ.get("LD_LIBRARY_PATH")
facts = {"FLUX_PMI_LIBRARY_PATH": None, "LD_LIBRARY_PATH": None}
if lib is not None:
    where = os.path.dirname(lib)
    facts["FLUX_PMI_LIBRARY_PATH"] = {
        "absolute": os.path.isabs(lib),
        "name": os.path.basename(lib),
        "a file": os.path.isfile(lib),
        "libpmi.so.0 beside it": os.path.isfile(os.path.join(where, "libpmi.so.0")),
    }
if search is not None:
    here = os.path.dirname(lib) if lib else None
    facts["LD_LIBRARY_PATH"] = ["$LIBDIR" if p == here else p for p in search.split(":")]
print(json.dumps(facts, sort_keys=True))
"""


@scenario("pmi-library-env")
def _pmi_library_env(ctx: Ctx) -> None:
    """FLUX_PMI_LIBRARY_PATH and LD_LIBRARY_PATH (the library's directory first, then the
    job's own value) with and without LD_LIBRARY_PATH in the job's environment, with it
    empty, and with the shell option pmi off or naming pmi2."""
    cases: list[tuple[str, dict[str, str], str | None]] = [
        ("no LD_LIBRARY_PATH", {}, None),
        ("LD_LIBRARY_PATH set", {"LD_LIBRARY_PATH": "/x/one:/x/two"}, None),
        ("LD_LIBRARY_PATH empty", {"LD_LIBRARY_PATH": ""}, None),
        ("pmi=off", {"LD_LIBRARY_PATH": "/x/one"}, "off"),
        ("pmi=pmi2", {}, "pmi2"),
    ]
    jobs = []
    for name, extra, pmi in cases:
        js = ctx.spec(["python3", "-c", _PMI_LIBRARY_ENV], environment={**ctx.env, **extra})
        if pmi is not None:
            js.setattr_shell_option("pmi", pmi)
        jobs.append((name, ctx.submit(js)))
    for name, jid in jobs:
        ctx.wait_event(jid, "clean")
        out = job.job_output(ctx.handle, jid)
        ctx.fact(name, json.loads(out.stdout) if out.stdout else out.stderr)


# The terminus server of the job shell has scenarios of its own (registered on import).
from tests.differential import scenarios_terminus  # noqa: E402, F401
