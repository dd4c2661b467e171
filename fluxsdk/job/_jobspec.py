"""Jobspec and JobspecV1: what a job runs, on what, and how (RFC 14, RFC 25).

Call-compatible with ``flux.job.Jobspec`` / ``flux.job.JobspecV1``: the same
constructors, properties and methods, producing the same documents. Every
rejection raises :class:`~fluxsdk.errors.JobspecError` (a ``ValueError``) or
:class:`~fluxsdk.errors.JobspecTypeError` (a ``TypeError``) naming the
offending path.
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import os
import pathlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, TypeVar

from fluxsdk._json import MAX_DEPTH, too_deep
from fluxsdk.errors import InvalidDurationError, JobspecError, JobspecTypeError
from fluxsdk.job import _jobspec_rules as rules
from fluxsdk.job._options import apply_options as apply
from fluxsdk.job._utils import BatchConfig, normalize_conf
from fluxsdk.job._yaml import load_yaml
from fluxsdk.util import Fileref, del_treedict, parse_fsd, set_treedict

__all__ = ["Jobspec", "JobspecV1", "validate_jobspec"]

_J = TypeVar("_J", bound="Jobspec")
_V1 = TypeVar("_V1", bound="JobspecV1")
PathLike = str | os.PathLike[str]
Duration = int | float | str | datetime.timedelta


def _attr_key(key: str) -> str:
    """Expand a short attribute key: ``duration`` -> ``attributes.system.duration``."""
    if key.startswith("attributes."):
        return key
    if not key.startswith(("user.", "system.")):
        key = "system." + key
    return "attributes." + key


def _resource(
    rtype: str, count: int, children: list[dict[str, Any]] | None = None, exclusive: bool = False
) -> dict[str, Any]:
    if count < 1:
        raise JobspecError(f"a {rtype} count must be at least 1, got {count}")
    res: dict[str, Any] = {"type": rtype, "count": count}
    if exclusive:
        res["exclusive"] = True
    if children:
        res["with"] = children
    return res


def _slot(count: int, children: list[dict[str, Any]]) -> dict[str, Any]:
    slot = _resource("slot", count, children)
    slot["label"] = "task"
    return slot


def _min_count(count: Any) -> int:
    """The smallest count a resource request can be satisfied with."""
    if isinstance(count, Mapping):
        return int(count["min"])
    if isinstance(count, str):
        head = count.split(":")[0].split(",")[0].lstrip("[")
        return int(head.rstrip("+").split("-")[0])
    return int(count)


def _load_yaml(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    return load_yaml(stream)


class Jobspec:
    """A canonical jobspec (RFC 14).

    Construct it from its four sections, or from YAML with
    :meth:`from_yaml_stream` / :meth:`from_yaml_file`. The document lives in
    :attr:`jobspec`, a plain dict that :meth:`dumps` encodes as JSON.
    """

    top_level_keys = rules.TOP_LEVEL_KEYS

    def __init__(
        self,
        resources: Sequence[Any],
        tasks: Sequence[Any],
        attributes: Mapping[str, Any],
        version: int,
    ) -> None:
        """Validate and wrap the four sections of a jobspec.

        :raises JobspecError: a section breaks RFC 14 (``ValueError``).
        :raises JobspecTypeError: a value has the wrong type (``TypeError``).
        """
        rules.check_canonical(resources, tasks, attributes, version)
        #: The jobspec itself, as a plain dict.
        self.jobspec: dict[str, Any] = {
            "resources": resources,
            "tasks": tasks,
            "attributes": attributes,
            "version": version,
        }
        self._validate()

    def _validate(self) -> None:
        """Class-specific rules; the canonical class has none beyond RFC 14."""

    # -- construction from text -------------------------------------------------

    @classmethod
    def from_yaml_stream(cls: type[_J], yaml_stream: str | bytes | IO[str] | IO[bytes]) -> _J:
        """Create a jobspec from YAML (or JSON) text or a file-like object."""
        return cls._from_document(_load_yaml(yaml_stream))

    @classmethod
    def from_yaml_file(cls: type[_J], filename: PathLike) -> _J:
        """Create a jobspec from a path to a YAML (or JSON) file."""
        with open(filename, "rb") as stream:
            return cls.from_yaml_stream(stream)

    @classmethod
    def _from_document(cls: type[_J], doc: Any) -> _J:
        doc = rules.check_top_level(doc)
        rules.check_document(doc)
        return cls(**doc)

    # -- sections ------------------------------------------------------------------

    @property
    def resources(self) -> Any:
        """Jobspec resources section."""
        return self.jobspec.get("resources")

    @property
    def tasks(self) -> Any:
        """Jobspec tasks section."""
        return self.jobspec.get("tasks")

    @property
    def attributes(self) -> Any:
        """Jobspec attributes section."""
        return self.jobspec.get("attributes")

    @property
    def version(self) -> Any:
        """Jobspec version section."""
        return self.jobspec.get("version")

    # -- attributes ----------------------------------------------------------------

    def getattr(self, key: str) -> Any:
        """Get an attribute by dotted key (``system.duration``, ``user.x``, or
        ``attributes.system.duration``; a bare key means ``system.<key>``).

        :raises KeyError: a component of the key does not exist.
        """
        value: Any = self.jobspec
        for part in _attr_key(key).split("."):
            if not isinstance(value, Mapping) or value.get(part) is None:
                raise KeyError(key)
            value = value[part]
        return value

    def setattr(self, key: str, val: Any) -> None:
        """Set an attribute by dotted key (same key rules as :meth:`getattr`)."""
        full = _attr_key(key)
        try:
            set_treedict(self.jobspec, full, val)
        except TypeError as exc:
            raise JobspecTypeError(f"cannot set {full} to {val!r}: {exc}", full) from None

    def setattr_shell_option(self, key: str, val: Any) -> None:
        """Set a job shell option: ``attributes.system.shell.options.<key>``."""
        self.setattr("system.shell.options." + key, val)

    def _system_attr(self, key: str) -> Any:
        try:
            return self.jobspec["attributes"]["system"][key]
        except (KeyError, TypeError):
            return None

    @property
    def duration(self) -> Any:
        """The job's time limit in seconds (0 means unlimited), or None if unset.

        Set it from an int or float of seconds, an RFC 23 string such as
        ``"1.5h"``, or a :class:`datetime.timedelta`.
        """
        return self._system_attr("duration")

    @duration.setter
    def duration(self, duration: Duration) -> None:
        if isinstance(duration, str):
            try:
                seconds = parse_fsd(duration)
            except InvalidDurationError as exc:
                raise JobspecError(str(exc), "attributes.system.duration") from None
        elif isinstance(duration, datetime.timedelta):
            seconds = duration.total_seconds()
        elif isinstance(duration, (int, float)) and not isinstance(duration, bool):
            seconds = float(duration)
        else:
            raise JobspecTypeError(
                "duration must be seconds (int or float), an RFC 23 string or a timedelta, "
                f"got {type(duration).__name__}",
                "attributes.system.duration",
            )
        if math.isnan(seconds) or math.isinf(seconds):
            raise JobspecError(
                f"duration must be finite, got {duration!r} (use 0 for unlimited)",
                "attributes.system.duration",
            )
        if seconds < 0:
            raise JobspecError(
                f"duration must not be negative, got {duration!r}", "attributes.system.duration"
            )
        self.setattr("system.duration", seconds)

    @property
    def queue(self) -> Any:
        """Target queue of the job, or None."""
        return self._system_attr("queue")

    @queue.setter
    def queue(self, queue: str) -> None:
        if not isinstance(queue, str):
            raise JobspecTypeError(
                f"queue must be a string, got {type(queue).__name__}", "attributes.system.queue"
            )
        self.setattr("system.queue", queue)

    @property
    def cwd(self) -> Any:
        """Working directory of the job, or None."""
        return self._system_attr("cwd")

    @cwd.setter
    def cwd(self, cwd: PathLike) -> None:
        cwd = os.fspath(cwd) if isinstance(cwd, os.PathLike) else cwd
        if not isinstance(cwd, str):
            raise JobspecTypeError(
                f"cwd must be a string or path, got {type(cwd).__name__}", "attributes.system.cwd"
            )
        self.setattr("system.cwd", cwd)

    @property
    def environment(self) -> Any:
        """Environment of the job (a mapping), or None."""
        return self._system_attr("environment")

    @environment.setter
    def environment(self, environ: Mapping[str, str | None]) -> None:
        # Assigned as given, not copied: later changes to `environ` show here too.
        if not isinstance(environ, Mapping):
            raise JobspecTypeError(
                f"environment must be a mapping, got {type(environ).__name__}",
                "attributes.system.environment",
            )
        self.setattr("system.environment", environ)

    def _get_io_path(self, iotype: str, stream: str) -> Any:
        try:
            return self.getattr(f"shell.options.{iotype}.{stream}.path")
        except KeyError:
            return None

    def _set_io_path(self, iotype: str, stream: str, path: PathLike) -> None:
        path = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(path, str):
            raise JobspecTypeError(
                f"the path must be a string or path, got {type(path).__name__}",
                f"attributes.system.shell.options.{iotype}.{stream}.path",
            )
        self.setattr_shell_option(f"{iotype}.{stream}.type", "file")
        self.setattr_shell_option(f"{iotype}.{stream}.path", path)

    @property
    def input(self) -> Any:
        """Path the job's stdin is read from, or None."""
        return self._get_io_path("input", "stdin")

    @input.setter
    def input(self, path: PathLike) -> None:
        self._set_io_path("input", "stdin", path)

    @property
    def output(self) -> Any:
        """Path the job's stdout is written to, or None."""
        return self._get_io_path("output", "stdout")

    @output.setter
    def output(self, path: PathLike) -> None:
        self._set_io_path("output", "stdout", path)

    @property
    def error(self) -> Any:
        """Path the job's stderr is written to, or None."""
        return self._get_io_path("output", "stderr")

    @error.setter
    def error(self, path: PathLike) -> None:
        self._set_io_path("output", "stderr", path)

    # flux.job names these both ways.
    stdin = input
    stdout = output
    stderr = error

    @property
    def unbuffered(self) -> bool:
        """True if stdout and stderr are unbuffered."""
        try:
            return bool(
                self.getattr("shell.options.output.stdout.buffer.type") == "none"
                and self.getattr("shell.options.output.stderr.buffer.type") == "none"
            )
        except KeyError:
            return False

    @unbuffered.setter
    def unbuffered(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise JobspecTypeError("unbuffered must be True or False")
        if value:
            self.setattr_shell_option("output.stdout.buffer.type", "none")
            self.setattr_shell_option("output.stderr.buffer.type", "none")
            self.setattr_shell_option("output.batch-timeout", 0.05)
            self.setattr_shell_option("input.batch-timeout", 0.0)
            return
        options = "attributes.system.shell.options"
        for stream in ("stdout", "stderr"):
            del_treedict(self.jobspec, f"{options}.output.{stream}.buffer", remove_empty=True)
        # Remove the batch timeouts only if they are the ones `unbuffered` set.
        for key, default in (("output.batch-timeout", 0.05), ("input.batch-timeout", 0.0)):
            try:
                if self.getattr(f"shell.options.{key}") == default:
                    del_treedict(self.jobspec, f"{options}.{key}", remove_empty=True)
            except KeyError:
                pass

    def add_file(
        self,
        path: str,
        data: str | Mapping[str, Any],
        perms: int | None = None,
        encoding: str | None = None,
    ) -> None:
        """Add a file to ``attributes.system.files`` (RFC 37 file archive).

        ``data`` is the file's content when it is a mapping (JSON content), has
        newlines, or ``encoding`` is given ("utf-8" or "base64"); otherwise it
        is the path of a local file whose content is read now.
        """
        if not isinstance(data, (str, Mapping)):
            raise JobspecTypeError("data must be a mapping or a string")
        if isinstance(data, str) and encoding is None and "\n" in data:
            encoding = "utf-8"
        ref = Fileref(data, perms=0o600 if perms is None else perms, encoding=encoding)
        files = self._system_attr("files") or {}
        files[path] = ref
        self.setattr("system.files", files)

    # -- resources -----------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        """Iterate over every resource vertex, depth-first, pre-order."""
        return (resource for _, resource, _ in self.resource_walk())

    def resource_walk(self) -> Iterator[tuple[Any, Any, int]]:
        """Traverse the resources depth-first, pre-order.

        Yields ``(parent, resource, count)``: ``parent`` is None at the top
        level; ``count`` multiplies the resource's count by its ancestors'
        (so 2 slots each with 4 cores yield 8 cores). A range count counts as
        its minimum.
        """

        def walk(
            resources: Iterable[Any], parent: Any, factor: int
        ) -> Iterator[tuple[Any, Any, int]]:
            for resource in resources:
                count = factor * _min_count(resource["count"])
                yield parent, resource, count
                yield from walk(resource.get("with", ()), resource, count)

        return walk(self.resources, None, 1)

    def resource_counts(self) -> dict[str, int]:
        """Total count of each resource type, e.g. ``{"slot": 12, "core": 18}``.

        Units are ignored: counts of one type are assumed to share a unit.
        """
        counts: dict[str, int] = collections.defaultdict(int)
        for _, resource, count in self.resource_walk():
            counts[resource["type"]] += count
        return counts

    # -- encoding ------------------------------------------------------------------

    def dumps(self, **kwargs: Any) -> str:
        """Encode the jobspec as JSON (keyword arguments go to :func:`json.dumps`)."""
        return json.dumps(self.jobspec, ensure_ascii=False, **kwargs)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.resources}, {self.tasks}, "
            f"attributes={self.attributes}, version={self.version})"
        )

    def __str__(self) -> str:
        return str(self.jobspec)


class JobspecV1(Jobspec):
    """A version 1 jobspec (RFC 25): the shapes Flux's schedulers run.

    Resources are ``slot>core``, ``node>slot>core``, ``slot>(core,gpu)`` or
    ``node>slot>(core,gpu)``; there is exactly one task; and
    ``attributes.system.duration`` is required (0 = unlimited). Build one with
    :meth:`from_command`, :meth:`per_resource`, :meth:`from_batch_command` or
    :meth:`from_nest_command`, then adjust it with the setters.
    """

    def __init__(
        self,
        resources: Sequence[Any],
        tasks: Sequence[Any],
        attributes: Mapping[str, Any],
        version: int = 1,
    ) -> None:
        """Validate and wrap the sections of a V1 jobspec (version must be 1)."""
        if version != 1:
            raise JobspecError(f"a V1 jobspec must have version 1, got {version!r}", "version")
        super().__init__(resources, tasks, attributes, version)

    def _validate(self) -> None:
        rules.check_v1(self.resources, self.tasks, self.attributes, self.version)

    def _set_extra_options(
        self,
        duration: Duration | None = None,
        environment: Mapping[str, str | None] | None = None,
        env_expand: Mapping[str, str] | None = None,
        cwd: PathLike | None = None,
        rlimits: Mapping[str, int] | None = None,
        name: str | None = None,
        input: PathLike | None = None,
        output: PathLike | None = None,
        error: PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: str | None = None,
        bank: str | None = None,
    ) -> JobspecV1:
        """Apply the optional keywords shared by every factory."""
        if duration is not None:
            self.duration = duration
        # As in flux.job: without an explicit environment, the job gets the caller's.
        self.environment = dict(os.environ) if environment is None else environment
        if env_expand is not None:
            if not isinstance(env_expand, Mapping):
                raise JobspecTypeError("env_expand must be a mapping")
            self.setattr_shell_option("env-expand", env_expand)
        if cwd is not None:
            self.cwd = cwd
        if rlimits is not None:
            if not isinstance(rlimits, Mapping):
                raise JobspecTypeError("rlimits must be a mapping")
            self.setattr_shell_option("rlimit", rlimits)
        if name is not None:
            if not isinstance(name, str):
                raise JobspecTypeError("name must be a string", "attributes.system.job.name")
            self.setattr("job.name", name)
        if input is not None:
            self.input = input
        # "none" and "kvs" name the default destinations, not files.
        if output is not None and output not in ("none", "kvs"):
            self.output = output
            if label_io:
                self.setattr_shell_option("output.stdout.label", True)
        if error is not None and error not in ("none", "kvs"):
            self.error = error
            if label_io:
                self.setattr_shell_option("output.stderr.label", True)
        if unbuffered:
            self.unbuffered = True
        if queue is not None:
            self.queue = queue
        if bank is not None:
            if not isinstance(bank, str):
                raise JobspecTypeError("bank must be a string", "attributes.system.bank")
            self.setattr("bank", bank)
        return self

    @classmethod
    def from_command(
        cls,
        command: Sequence[str],
        num_tasks: int = 1,
        cores_per_task: int = 1,
        gpus_per_task: int | None = None,
        num_nodes: int | None = None,
        exclusive: bool = False,
        duration: Duration | None = None,
        environment: Mapping[str, str | None] | None = None,
        env_expand: Mapping[str, str] | None = None,
        cwd: PathLike | None = None,
        rlimits: Mapping[str, int] | None = None,
        name: str | None = None,
        input: PathLike | None = None,
        output: PathLike | None = None,
        error: PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: str | None = None,
        bank: str | None = None,
    ) -> JobspecV1:
        """Build the minimal V1 jobspec that runs ``command``.

        :param command: the program and its arguments.
        :param num_tasks: number of tasks (one slot each, unless ``num_nodes``).
        :param cores_per_task: cores allocated to each task.
        :param gpus_per_task: GPUs allocated to each task.
        :param num_nodes: spread the tasks over this many nodes.
        :param exclusive: allocate whole nodes (needs ``num_nodes``).
        :param duration: time limit: seconds, an RFC 23 string or a timedelta.
        :param environment: the job's environment (default: a copy of ``os.environ``).
        :param env_expand: variables whose ``{{templates}}`` the shell expands.
        :param cwd: working directory.
        :param rlimits: resource limits, e.g. ``{"nofile": 12000}`` (-1 = unlimited).
        :param name: job name (default: the command's first word).
        :param input: read stdin from this file.
        :param output: write stdout to this file (stderr too unless ``error``).
        :param error: write stderr to this file.
        :param label_io: label file output with the task rank.
        :param unbuffered: disable output buffering as much as practical.
        :param queue: target queue.
        :param bank: accounting bank.
        """
        _check_command(command)
        _check_count("num_tasks", num_tasks, 1)
        _check_count("cores_per_task", cores_per_task, 1)
        if gpus_per_task is not None:
            _check_count("gpus_per_task", gpus_per_task, 0)
        if num_nodes is not None:
            _check_count("num_nodes", num_nodes, 1)
            if num_nodes > num_tasks:
                raise JobspecError(
                    f"num_nodes ({num_nodes}) must not be greater than num_tasks ({num_tasks})"
                )
        elif exclusive:
            raise JobspecError("exclusive needs num_nodes (whole nodes are what is exclusive)")
        children = [_resource("core", cores_per_task)]
        if gpus_per_task:
            children.append(_resource("gpu", gpus_per_task))
        task_count: dict[str, int] = {"per_slot": 1}
        if num_nodes is not None:
            slots_per_node = math.ceil(num_tasks / num_nodes)
            if num_tasks % num_nodes:
                # An uneven spread leaves some slots empty.
                task_count = {"total": num_tasks}
            top = _resource("node", num_nodes, [_slot(slots_per_node, children)], exclusive)
        else:
            top = _slot(num_tasks, children)
        tasks = [{"command": list(command), "slot": "task", "count": task_count}]
        jobspec = cls([top], tasks, attributes={"system": {"duration": 0}})
        return jobspec._set_extra_options(
            duration=duration,
            environment=environment,
            env_expand=env_expand,
            cwd=cwd,
            rlimits=rlimits,
            name=name,
            input=input,
            output=output,
            error=error,
            label_io=label_io,
            unbuffered=unbuffered,
            queue=queue,
            bank=bank,
        )

    @classmethod
    def per_resource(
        cls,
        command: Sequence[str],
        ncores: int | None = None,
        nnodes: int | None = None,
        per_resource_type: str | None = None,
        per_resource_count: int | None = None,
        gpus_per_node: int | None = None,
        exclusive: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build a V1 jobspec from a count of cores and/or nodes, running
        ``per_resource_count`` tasks per ``per_resource_type`` ("node" or "core").

        :param ncores: total number of cores.
        :param nnodes: total number of nodes.
        :param per_resource_type: "node" or "core" (with ``per_resource_count``).
        :param per_resource_count: tasks per resource of that type.
        :param gpus_per_node: GPUs per node (needs ``nnodes``).
        :param exclusive: allocate whole nodes (needs ``nnodes``).
        :param kwargs: the optional keywords of :meth:`from_command`.
        """
        _check_command(command)
        per_resource: dict[str, Any] | None = None
        if per_resource_type is not None and per_resource_count is not None:
            if per_resource_type not in ("node", "core"):
                raise JobspecError(
                    f"per_resource_type must be 'node' or 'core', got {per_resource_type!r}"
                )
            _check_count("per_resource_count", per_resource_count, 1)
            per_resource = {"type": per_resource_type, "count": per_resource_count}
        elif per_resource_type is not None:
            raise JobspecError("per_resource_type needs per_resource_count")
        elif per_resource_count is not None:
            raise JobspecError("per_resource_count needs per_resource_type")
        if ncores is not None:
            _check_count("ncores", ncores, 1)
        if gpus_per_node is not None:
            _check_count("gpus_per_node", gpus_per_node, 0)
            if not nnodes:
                raise JobspecError("gpus_per_node needs nnodes")
        if nnodes is not None:
            _check_count("nnodes", nnodes, 1)
        elif exclusive:
            raise JobspecError("exclusive needs nnodes (whole nodes are what is exclusive)")
        if nnodes and ncores:
            if ncores < nnodes:
                raise JobspecError(f"ncores ({ncores}) must not be less than nnodes ({nnodes})")
            if ncores % nnodes:
                raise JobspecError(f"ncores ({ncores}) must be divisible by nnodes ({nnodes})")
            nslots, slot_size = 1, ncores // nnodes
        elif ncores:
            nslots, slot_size = ncores, 1
        elif nnodes:
            if not exclusive:
                raise JobspecError("nnodes without ncores needs exclusive=True")
            nslots, slot_size = 1, 1
        else:
            raise JobspecError("per_resource needs ncores or nnodes")
        children = [_resource("core", slot_size)]
        if gpus_per_node:
            children.append(_resource("gpu", gpus_per_node))
        top = _slot(nslots, children)
        if nnodes:
            top = _resource("node", nnodes, [top], exclusive)
        tasks = [{"command": list(command), "slot": "task", "count": {"per_slot": 1}}]
        attributes: dict[str, Any] = {"system": {"duration": 0}}
        if per_resource:
            set_treedict(attributes, "system.shell.options.per-resource", per_resource)
        return cls([top], tasks, attributes=attributes)._set_extra_options(**kwargs)

    @classmethod
    def from_batch_command(
        cls,
        script: str,
        jobname: str,
        args: Iterable[str] | None = None,
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        num_nodes: int | None = None,
        broker_opts: Iterable[str] | None = None,
        exclusive: bool = False,
        conf: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build a jobspec for a nested instance whose initial program is ``script``.

        The script (text starting with ``#!``) travels inside the jobspec as
        the file ``script`` and runs with ``args`` once the nested instance is
        up. The other parameters are those of :meth:`from_nest_command`.
        """
        if not isinstance(script, str) or not script.startswith("#!"):
            raise JobspecError(f"the script for {jobname!r} must start with '#!' (a shebang line)")
        jobspec = cls.from_nest_command(
            ["{{tmpdir}}/script", *(args or ())],
            num_slots=num_slots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=num_nodes,
            broker_opts=broker_opts,
            exclusive=exclusive,
            conf=conf,
            name=jobname,
            **kwargs,
        )
        jobspec.add_file("script", script, perms=0o700, encoding="utf-8")
        return jobspec

    @classmethod
    def from_nest_command(
        cls,
        command: Sequence[str],
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        num_nodes: int | None = None,
        broker_opts: Iterable[str] | None = None,
        exclusive: bool = False,
        conf: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build a jobspec for a nested instance whose initial program is ``command``.

        :param command: initial program of the nested instance.
        :param num_slots: number of slots, which with ``cores_per_slot`` and
            ``gpus_per_slot`` size the nested instance's allocation.
        :param cores_per_slot: cores per slot.
        :param gpus_per_slot: GPUs per slot.
        :param num_nodes: spread the slots over this many nodes.
        :param broker_opts: options for the nested instance's broker.
        :param exclusive: allocate whole nodes.
        :param conf: configuration for the nested instance (sent as ``conf.json``).
        :param kwargs: the optional keywords of :meth:`from_command`.
        """
        _check_command(command, allow_empty=True)  # allowed: flux then runs an interactive shell
        opts = list(broker_opts or ())
        if conf is not None:
            opts.append("-c{{tmpdir}}/conf.json")
        jobspec = cls.from_command(
            ["flux", "broker", *opts, *command],
            num_tasks=num_slots,
            cores_per_task=cores_per_slot,
            gpus_per_task=gpus_per_slot,
            num_nodes=num_nodes,
            exclusive=exclusive,
            **kwargs,
        )
        # One broker per node, whatever the slot count, as flux.job does.
        jobspec.setattr_shell_option("per-resource.type", "node")
        jobspec.setattr_shell_option("mpi", "none")
        jobspec.setattr_shell_option("exit-timeout", "none")
        if conf is not None:
            jobspec.add_file("conf.json", conf)
        return jobspec

    @classmethod
    def from_submit(
        cls,
        command: Sequence[str],
        *,
        ntasks: int = 1,
        nodes: int | None = None,
        cores_per_task: int = 1,
        gpus_per_task: int | None = None,
        exclusive: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: PathLike | None = None,
        output: PathLike | None = None,
        error: PathLike | None = None,
        input: PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build the jobspec ``flux submit`` would: :meth:`from_command` + :meth:`apply_options`.

        The caller's environment and default resource limits are propagated
        (pass ``env=``/``rlimit=`` rules to filter them); every other
        keyword of :meth:`apply_options`, and options added by ``submit``
        command-line plugins, may be given. Plugins run after the resources
        are laid out, so a ``preinit`` callback cannot resize the job.
        """
        jobspec = cls.from_command(
            command,
            num_tasks=ntasks,
            cores_per_task=cores_per_task,
            gpus_per_task=gpus_per_task,
            num_nodes=nodes,
            exclusive=exclusive,
            name=name,
            queue=queue,
            bank=bank,
            cwd=cwd,
            output=output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
        )
        return jobspec.apply_options(
            prog="submit", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    @classmethod
    def from_alloc(
        cls,
        *,
        nslots: int | None = None,
        nodes: int | None = None,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        exclusive: bool = False,
        broker_opts: Iterable[str] | None = None,
        conf: Mapping[str, Any] | BatchConfig | str | None = None,
        bg: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: PathLike | None = None,
        output: PathLike | None = None,
        error: PathLike | None = None,
        input: PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build the jobspec ``flux alloc`` would: a nested instance, options applied.

        Give ``nslots``, or ``nodes`` alone (one slot per node, exclusive).
        ``conf`` is a dict, a :class:`~fluxsdk.job.BatchConfig` or a
        ``--conf`` string; ``bg`` starts the instance without an initial
        program (``-Sbroker.rc2_none=1``) and captures its pty. ``cwd``
        defaults to the current directory. Other keywords go to
        :meth:`apply_options` (plugins of the ``alloc`` command).

        Raises:
            JobspecError: neither ``nslots`` nor ``nodes`` is given.
        """
        if nslots is None:
            if nodes is None:
                raise JobspecError("from_alloc() requires nslots or nodes")
            nslots, exclusive = nodes, True
        opts = list(broker_opts or ())
        if bg:
            opts.append("-Sbroker.rc2_none=1")
        jobspec = cls.from_nest_command(
            [],
            num_slots=nslots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=nodes,
            broker_opts=opts,
            exclusive=exclusive,
            conf=normalize_conf(conf),
            name=name,
            queue=queue,
            bank=bank,
            cwd=os.getcwd() if cwd is None else cwd,
            output=output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
        )
        if bg:
            jobspec.setattr_shell_option("pty.capture", 1)
        return jobspec.apply_options(
            prog="alloc", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    @classmethod
    def from_batch(
        cls,
        script: PathLike | None = None,
        *,
        content: str | None = None,
        nslots: int | None = None,
        nodes: int | None = None,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        exclusive: bool = False,
        broker_opts: Iterable[str] | None = None,
        conf: Mapping[str, Any] | BatchConfig | str | None = None,
        wrap: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: PathLike | None = None,
        output: PathLike | None = None,
        error: PathLike | None = None,
        input: PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """Build the jobspec ``flux batch`` would: a nested instance running a script.

        Give the script as a file (``script``; the job is named after the
        file) or as text (``content``; the job is named ``batch``), not both.
        ``wrap`` prepends ``#!/bin/sh`` to a script without a shebang. One
        slot by default, or ``nodes`` alone (one slot per node, exclusive);
        output goes to ``flux-{{id}}.out`` and ``cwd`` is the current
        directory unless given. Other keywords go to :meth:`apply_options`.

        Raises:
            TypeError: both or neither of ``script`` and ``content`` are given.
            JobspecError: the script does not start with ``#!``.
        """
        if script is not None and content is not None:
            raise TypeError("from_batch() accepts 'script' or 'content', not both")
        if content is None:
            if script is None:
                raise TypeError(
                    "from_batch() requires 'script' (file path) or 'content' (inline script)"
                )
            path = pathlib.Path(script)
            name = path.name if name is None else name
            content = path.read_text(encoding="utf-8")
        if wrap and not content.startswith("#!"):
            content = "#!/bin/sh\n" + content
        if nslots is None:
            if nodes is not None:
                nslots, exclusive = nodes, True
            else:
                nslots = 1
        jobspec = cls.from_batch_command(
            content,
            "batch" if name is None else name,
            num_slots=nslots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=nodes,
            broker_opts=broker_opts,
            exclusive=exclusive,
            conf=normalize_conf(conf),
            cwd=os.getcwd() if cwd is None else cwd,
            output="flux-{{id}}.out" if output is None else output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
            queue=queue,
            bank=bank,
        )
        return jobspec.apply_options(
            prog="batch", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    def apply_options(
        self: _V1,
        args: Any = None,
        *,
        prog: str | None = None,
        _preinit: bool = True,
        env: str | Sequence[str] | None = None,
        rlimit: str | Sequence[str] | None = None,
        signal: str | None = None,
        taskmap: str | None = None,
        dependency: str | Sequence[str] | None = None,
        requires: str | Sequence[str] | None = None,
        shell_options: Mapping[str, Any] | None = None,
        time_limit: str | float | None = None,
        attributes: Mapping[str, Any] | None = None,
        add_file: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> _V1:
        """Apply ``flux submit`` options to this jobspec in place; returns self.

        Options come as keywords, or as attributes of ``args`` (an
        ``argparse.Namespace`` or any object, as the command line passes;
        it may also carry ``setopt``/``setattr`` lists of ``KEY[=VALUE]``
        strings); keywords win. Absent options change nothing.

        :param prog: ``"submit"``, ``"run"``, ``"batch"`` or ``"alloc"``:
            run that command's plugins (see :mod:`fluxsdk.cli.plugin`); their
            options are accepted as extra keywords under their prefixed names.
        :param env: ``--env`` rules: ``VAR=VALUE``, ``VAR`` (glob), ``-PATTERN``,
            ``^FILE``; values with ``{{...}}`` go to the shell's ``env-expand``.
            Applied only when given (``[]`` propagates the whole environment)
            or when ``args`` is.
        :param rlimit: ``--rlimit`` rules: ``NAME``, ``NAME=VALUE``, ``-NAME``
            (``"-*"`` propagates none). Applied only when given or with ``args``.
        :param signal: ``[SIG][@TIME]``: signal the job TIME before it expires
            (default SIGUSR1, 60 s).
        :param taskmap: task mapping, e.g. ``"block"``, ``"cyclic:2"``.
        :param dependency: RFC 26 dependency URIs, e.g. ``["afterok:ƒ2"]``.
        :param requires: RFC 35 constraint terms, and-ed, e.g. ``["host:n1", "gpu"]``.
        :param shell_options: shell options as a dict, applied after ``setopt``.
        :param time_limit: seconds, or an RFC 23 duration such as ``"30m"``.
        :param attributes: jobspec attributes by dotted key: a bare key is
            under ``system.``, a leading ``.`` under ``attributes.``.
        :param add_file: ``--add-file`` values: ``PATH``, ``NAME=PATH``,
            ``NAME=TEXT`` (with a newline), ``NAME:PERMS=...``.
        :raises TypeError: a keyword is neither an option nor a plugin's option.
        :raises ValueError: an option value is invalid.
        """
        apply(
            self,
            args,
            prog=prog,
            preinit=_preinit,
            options={
                "env": env,
                "rlimit": rlimit,
                "signal": signal,
                "taskmap": taskmap,
                "dependency": dependency,
                "requires": requires,
                "shell_options": shell_options,
                "time_limit": time_limit,
                "attributes": attributes,
                "add_file": add_file,
            },
            plugin_options=kwargs,
        )
        return self


def _check_command(command: object, allow_empty: bool = False) -> None:
    if isinstance(command, (str, bytes)) or not isinstance(command, Sequence):
        raise JobspecTypeError(
            f"command must be a list of strings, got {type(command).__name__}", "tasks[0].command"
        )
    if len(command) == 0 and not allow_empty:
        raise JobspecError("command must name a program, got an empty list", "tasks[0].command")
    for index, arg in enumerate(command):
        if not isinstance(arg, str):
            raise JobspecTypeError(
                f"command arguments must be strings, got {type(arg).__name__}",
                f"tasks[0].command[{index}]",
            )


def _check_count(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise JobspecTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise JobspecError(f"{name} must be an integer >= {minimum}, got {value}")


def validate_jobspec(
    jobspec: Jobspec | str | bytes, require_version: int | None = None
) -> tuple[bool, Jobspec]:
    """Validate a jobspec given as an object or as JSON/YAML text.

    The class is chosen by the document's ``version`` (1 -> :class:`JobspecV1`)
    unless ``require_version`` forces one. Returns ``(True, jobspec_object)``.

    :raises JobspecError: the jobspec is invalid (a ``ValueError``).
    :raises JobspecTypeError: a value has the wrong type (a ``TypeError``).
    """
    if isinstance(jobspec, Jobspec):
        jobspec = jobspec.dumps()
    if isinstance(jobspec, bytes):
        jobspec = jobspec.decode("utf-8", errors="surrogateescape")
    if not isinstance(jobspec, str):
        raise JobspecTypeError(
            f"jobspec must be a Jobspec or a string, got {type(jobspec).__name__}"
        )
    try:
        doc = json.loads(jobspec)
        deep = too_deep(doc)
    except RecursionError:
        deep = True
    except ValueError:
        doc, deep = _load_yaml(jobspec), False  # the YAML loader has its own limits
    if deep:
        raise JobspecError(f"jobspec is nested deeper than {MAX_DEPTH} levels")
    doc = rules.check_top_level(doc)
    if require_version == 1 or (require_version is None and doc.get("version") == 1):
        return True, JobspecV1._from_document(doc)
    return True, Jobspec._from_document(doc)
