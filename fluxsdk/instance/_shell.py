"""What Flux's job shell does before tasks run, for the embedded instance.

From a job's jobspec and allocation this builds a :class:`Launch`: the
command with its ``{{templates}}`` expanded, the task layout (one task per
slot, or per node/core with the ``per-resource`` shell option), the job's
temporary directory (``FLUX_JOB_TMPDIR``) holding the RFC 37 files of the
jobspec (a batch script, a ``conf.json``), stdio paths, and, for
``flux broker ...`` jobs (``from_nest_command`` / ``from_batch_command``), a
nested fluxsdk instance in place of a Flux broker.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

import attrs

from fluxsdk._uri import embedded_uri
from fluxsdk.idset import IDset
from fluxsdk.instance._exec import TaskPlan
from fluxsdk.instance._job import MAX_TASKS, Job
from fluxsdk.instance._sched import Allocation, Resources
from fluxsdk.job._jobid import JobID

__all__ = ["Launch", "PtyOption", "ShellError", "prepare_launch", "pty_option"]


class ShellError(Exception):
    """The job cannot be launched as its jobspec asks (the message says why)."""


@attrs.frozen
class PtyOption:
    """flux's shell option ``pty``: which tasks run on a terminal, and how.

    ``ranks``: the tasks on a terminus session ``task<rank>``; ``capture``:
    their terminal's output goes to the output log (as the task's stdout);
    ``interactive``: task 0's terminal waits for a client (``flux job attach``)
    and the shell announces it in ``shell.init`` (``"pty": "terminus.0"``).
    """

    ranks: frozenset[int]
    capture: bool
    interactive: bool


def pty_option(value: Any, ntasks: int) -> PtyOption | None:
    """The ``pty`` shell option as flux's shell reads it (None: not given).

    Any value that is not an object means every task, captured; an object
    may give ``ranks`` (an idset string, ``"all"`` or one rank), ``capture``
    (default 1) and ``interactive`` (then ``ranks`` defaults to 0 and
    ``capture`` to 0, and task 0 always has a terminal).

    :raises ShellError: an object with other keys, or values of the wrong type.
    """
    if value is None:
        return None
    tasks = frozenset(range(ntasks))
    if not isinstance(value, Mapping):
        return PtyOption(tasks, True, False)
    # Checked as flux's shell unpacks it (jansson's words): types, then unknown keys.
    for key in ("capture", "interactive"):
        if key in value and (not isinstance(value[key], int) or isinstance(value[key], bool)):
            got = _json_type(value[key])
            raise ShellError(f"invalid shell pty option: Expected integer, got {got}")
    unknown = [key for key in value if key not in ("ranks", "capture", "interactive")]
    if unknown:
        left = ", ".join(map(str, unknown))
        raise ShellError(
            f"invalid shell pty option: {len(unknown)} object item(s) left unpacked: {left}"
        )
    interactive = bool(value.get("interactive", 0))
    capture = bool(value.get("capture", 0 if interactive else 1))
    ranks = value.get("ranks", "0" if interactive else "all")
    if isinstance(ranks, int) and not isinstance(ranks, bool):
        chosen = frozenset({ranks})
    elif isinstance(ranks, str) and ranks == "all":
        chosen = tasks
    elif isinstance(ranks, str):
        try:
            chosen = frozenset(IDset(ranks))
        except ValueError:
            raise ShellError(f"invalid shell pty option: ranks {ranks!r} is not an idset") from None
    else:
        chosen = tasks  # flux ignores a ranks value of another type
    chosen &= tasks
    if interactive:
        chosen |= {0}  # interactive attach is to task 0
    return PtyOption(chosen, capture, interactive)


def _json_type(value: Any) -> str:
    """A JSON value's type as jansson names it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    for kind, name in ((Mapping, "object"), (list, "array"), (str, "string"), (int, "integer")):
        if isinstance(value, kind):
            return name
    return "real" if isinstance(value, float) else "null"


@attrs.frozen
class Launch:
    """Everything needed to start a job's tasks."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    plans: list[TaskPlan]
    tmpdir: str
    stdin_path: str | None
    stdout_path: str | None
    stderr_path: str | None
    unbuffered: bool
    nested_uri: str | None
    output_append: bool = False
    output_label: dict[str, bool] = attrs.field(factory=dict)
    rlimits: dict[str, int] = attrs.field(factory=dict)
    options: dict[str, Any] = attrs.field(factory=dict)
    pty: PtyOption | None = None
    pty_error: str | None = None  # a pty option flux's shell refuses (its init fails)

    def cleanup(self) -> None:
        """Remove the job's temporary directory (and a nested instance's state)."""
        try:
            os.rmdir(self.tmpdir)  # most jobs leave it empty: one system call
        except OSError:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def prepare_launch(
    job: Job, jobspec: Mapping[str, Any], allocation: Allocation, resources: Resources
) -> Launch:
    """Lay out a job's tasks and its temporary directory.

    :raises ShellError: a shell option or file of the jobspec is malformed or
        cannot be staged.
    """
    system = _mapping(jobspec["attributes"].get("system"), "attributes.system")
    options = _mapping(_mapping(system.get("shell"), "shell").get("options"), "shell options")
    env = {
        k: v for k, v in _mapping(system.get("environment"), "environment").items() if v is not None
    }
    output = _mapping(options.get("output"), "shell option output")
    streams = {s: _mapping(output.get(s), f"shell option output.{s}") for s in ("stdout", "stderr")}
    paths = {s: _path(streams[s].get("path"), f"output.{s}.path") for s in streams}
    input_ = _mapping(options.get("input"), "shell option input")
    stdin_options = _mapping(input_.get("stdin"), "shell option input.stdin")
    stdin = _path(stdin_options.get("path"), "input.stdin.path")
    buffer = _mapping(streams["stdout"].get("buffer"), "shell option output.stdout.buffer")
    cwd = _path(system.get("cwd"), "cwd")
    rlimits = dict(_mapping(options.get("rlimit"), "shell option rlimit"))
    jobid = JobID(job.id)
    f58 = jobid.f58
    tmpdir = _job_tmpdir(jobid.f58plain)
    try:
        _stage_files(tmpdir, _mapping(system.get("files"), "files"))
        plans = _plan_tasks(job, allocation, resources, options.get("per-resource"))
        if not plans:
            raise ShellError("no tasks to run")
        plans = _bind(plans, allocation, resources, options.get("cpu-affinity", "on"))
        values = {
            "tmpdir": tmpdir,
            "id": f58,
            "jobid": f58,
            "name": job.name,
            "size": str(len(plans)),
            "nnodes": str(len(allocation.ranks)),
        }
        argv = [_expand(arg, values) for arg in jobspec["tasks"][0]["command"]]
        nested_uri = None
        if argv[:2] == ["flux", "broker"]:
            argv, plans, nested_uri = _nested_instance(argv[2:], plans, allocation, tmpdir)
        pty, pty_error = None, None
        try:
            pty = pty_option(options.get("pty"), len(plans))
        except ShellError as exc:
            pty_error = str(exc)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    env["FLUX_JOB_TMPDIR"] = tmpdir
    expand = options.get("env-expand")
    if isinstance(expand, Mapping):
        # The shell's env-expand option: values with {{templates}} expanded.
        env.update({str(k): _expand(str(v), values) for k, v in expand.items()})
    return Launch(
        argv=argv,
        env=env,
        cwd=cwd,
        plans=plans,
        tmpdir=tmpdir,
        stdin_path=stdin,
        stdout_path=_expand(paths["stdout"], values) if paths["stdout"] else None,
        stderr_path=_expand(paths["stderr"], values) if paths["stderr"] else None,
        unbuffered=buffer.get("type") == "none",
        nested_uri=nested_uri,
        output_append=output.get("mode") == "append",
        output_label={s: bool(streams[s].get("label")) for s in ("stdout", "stderr")},
        rlimits=rlimits,
        options=dict(options),
        pty=pty,
        pty_error=pty_error,
    )


# This process's part of job directory names: job IDs repeat across instances.
_TMPDIR_TOKEN = os.urandom(4).hex()


def _job_tmpdir(f58plain: str) -> str:
    """Make a job's private temporary directory (mode 0700, a name nobody had)."""
    path = os.path.join(job_tmp_base(), f"fluxsdk-{f58plain}-{_TMPDIR_TOKEN}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:  # taken (by anyone): a random name, as mkdtemp makes them
        return tempfile.mkdtemp(prefix=f"fluxsdk-{f58plain}-", dir=job_tmp_base())
    return path


@functools.cache
def job_tmp_base() -> str:
    """Where job temporary directories go: ``$TMPDIR`` if set, else ``/dev/shm``
    when it is a writable tmpfs (a job directory is made and removed per job,
    ~7x cheaper there than on a disk), else the system's temporary directory."""
    if os.environ.get("TMPDIR"):
        return tempfile.gettempdir()
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return tempfile.gettempdir()


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    """A jobspec object the shell reads (absent: empty); else a ShellError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ShellError(f"{what} must be an object, not {type(value).__name__}")
    return value


def _path(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ShellError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _expand(text: str, values: Mapping[str, str]) -> str:
    """Expand the mustache templates Flux's shell knows (``{{tmpdir}}``, ``{{id}}``, ...)."""
    if "{{" not in text:
        return text
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _stage_files(tmpdir: str, files: Mapping[str, Any]) -> None:
    """Write the jobspec's RFC 37 files into the job's temporary directory."""
    for name, ref in files.items():
        ref = _mapping(ref, f"file {name!r}")
        path = os.path.normpath(os.path.join(tmpdir, name))
        if not path.startswith(tmpdir + os.sep):
            raise ShellError(f"file {name!r} would be written outside the job's directory")
        data = ref.get("data")
        if isinstance(data, (dict, list)):
            content = json.dumps(data).encode()
        elif ref.get("encoding") == "base64":
            content = base64.b64decode(data or "")
        else:
            content = str(data or "").encode()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        mode = ref.get("mode", 0o600)
        if not isinstance(mode, int) or isinstance(mode, bool):
            raise ShellError(f"file {name!r}: mode must be an integer")
        os.chmod(path, stat.S_IMODE(mode))


def _plan_tasks(
    job: Job, allocation: Allocation, resources: Resources, per_resource: Any
) -> list[TaskPlan]:
    """Place tasks: one per slot (rank order, filling each node in turn), or
    ``count`` per node or per core with the ``per-resource`` shell option."""
    request = job.request
    plans: list[TaskPlan] = []
    if isinstance(per_resource, Mapping) and per_resource.get("type") in ("node", "core"):
        count = per_resource.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ShellError("shell option per-resource.count must be a positive integer")
        units_total = sum(
            1 if per_resource["type"] == "node" else len(allocation.cores[rank])
            for rank in allocation.ranks
        )
        if units_total * count > MAX_TASKS:
            raise ShellError(
                f"per-resource asks for {units_total * count} tasks; "
                f"at most {MAX_TASKS} run per job"
            )
        for rank in allocation.ranks:
            node = resources.nodes[rank]
            cores, gpus = allocation.cores[rank], allocation.gpus.get(rank, ())
            units = [cores] if per_resource["type"] == "node" else [(c,) for c in cores]
            for local_id, unit in enumerate(u for u in units for _ in range(count)):
                cpus = tuple(node.cpus[c] for c in unit)
                plans.append(TaskPlan(len(plans), rank, local_id, cpus, gpus))
        return plans
    slots: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []
    for rank in allocation.ranks:
        cores, gpus = allocation.cores[rank], allocation.gpus.get(rank, ())
        node = resources.nodes[rank]
        per = max(request.cores_per_slot, 1)
        nslots = len(cores) // per if not allocation.exclusive else max(request.nslots, 1)
        gper = request.gpus_per_slot
        for s in range(nslots):
            slot_cores = cores[s * per : (s + 1) * per] or cores
            slot_gpus = gpus[s * gper : (s + 1) * gper] if gper else ()
            slots.append((rank, tuple(node.cpus[c] for c in slot_cores), slot_gpus))
    local: dict[int, int] = {}
    for task_rank in range(request.ntasks):
        node_rank, cpus, gpus = slots[task_rank % len(slots)]
        local_id = local.get(node_rank, 0)
        local[node_rank] = local_id + 1
        plans.append(TaskPlan(task_rank, node_rank, local_id, cpus, gpus))
    return plans


# What ``flux broker`` does without a command: its initial program is an interactive
# shell, which needs a terminal; a job's stdin is none, so the broker fails (exit 1).
_INTERACTIVE_SHELL = (
    "import os, sys\n"
    "if not os.isatty(0):\n"
    '    sys.exit("broker.crit[0]: stdin is not a tty - can\'t run interactive shell")\n'
    "shell = os.environ.get('SHELL', '/bin/bash')\n"
    "os.execvp(shell, [shell])\n"
)


def _bind(
    plans: list[TaskPlan], allocation: Allocation, resources: Resources, mode: Any
) -> list[TaskPlan]:
    """CPU affinity as flux's shell sets it (option ``cpu-affinity``):

    ``on`` (the default) binds every task to all of its node's allocated
    cores, ``per-task`` splits them evenly between the node's tasks, ``off``
    leaves tasks unbound (an empty CPU tuple).
    """
    if mode == "off":
        return [attrs.evolve(p, cpus=()) for p in plans]
    by_node: dict[int, list[TaskPlan]] = {}
    for plan in plans:
        by_node.setdefault(plan.node_rank, []).append(plan)
    out: dict[int, TaskPlan] = {}
    for rank, tasks in by_node.items():
        node_cpus = resources.nodes[rank].cpus
        cpus = tuple(sorted({node_cpus[c] for c in allocation.cores.get(rank, ())}))
        for index, plan in enumerate(tasks):
            mine = cpus
            if mode == "per-task":
                low = index * len(cpus) // len(tasks)
                high = max((index + 1) * len(cpus) // len(tasks), low + 1)
                mine = cpus[low:high]
            out[plan.rank] = attrs.evolve(plan, cpus=mine)
    return [out[p.rank] for p in plans]


def _nested_instance(
    broker_args: list[str], plans: list[TaskPlan], allocation: Allocation, tmpdir: str
) -> tuple[list[str], list[TaskPlan], str | None]:
    """Replace ``flux broker [OPTIONS] [CMD...]`` with a nested fluxsdk instance.

    One instance serves the whole allocation (its nodes become the nested
    instance's nodes), so a single task runs it, on the first node, with every
    CPU the job was given there. Broker options are Flux's and do not apply.
    Without a command, as in Flux, the initial program would be an interactive
    shell: with no terminal the job fails at once (exit code 1).
    """
    command = list(broker_args)
    while command and command[0].startswith("-"):
        if command.pop(0) == "--":
            break
    first = allocation.ranks[0]
    if not command:
        cpus = tuple(sorted({c for plan in plans if plan.node_rank == first for c in plan.cpus}))
        plan = TaskPlan(0, first, 0, cpus, allocation.gpus.get(first, ()))
        return [sys.executable, "-c", _INTERACTIVE_SHELL], [plan], None
    cores = len(allocation.cores[first])
    gpus = len(allocation.gpus.get(first, ()))
    statedir = os.path.join(tmpdir, "instance")
    argv = [sys.executable, "-m", "fluxsdk.instance", "--statedir", statedir]
    argv += ["--size", str(len(allocation.ranks)), "--cores", str(cores), "--gpus", str(gpus)]
    if command:
        argv += ["--", *command]
    cpus = tuple(sorted({cpu for plan in plans if plan.node_rank == first for cpu in plan.cpus}))
    gpu_ids = allocation.gpus.get(first, ())
    return argv, [TaskPlan(0, first, 0, cpus, gpu_ids)], embedded_uri(statedir)
