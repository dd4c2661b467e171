"""The rules a jobspec must follow: RFC 14 (canonical) and RFC 25 (version 1).

Each check raises :class:`~fluxsdk.errors.JobspecError` (a ``ValueError``) or
:class:`~fluxsdk.errors.JobspecTypeError` (also a ``TypeError``) whose ``path``
names the offending place, e.g. ``resources[0].with[1].count``, and whose
message says what was expected. The rules are pure functions of the document so
that the client and the instance apply exactly the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fluxsdk.errors import InvalidDependencyError, InvalidIdsetError, JobspecError, JobspecTypeError

__all__ = ["TOP_LEVEL_KEYS", "check_canonical", "check_document", "check_v1"]

TOP_LEVEL_KEYS = frozenset({"resources", "tasks", "attributes", "version"})

_RANGE_OPERATORS = ("+", "*", "^")
_TASK_COUNT_KEYS = frozenset({"per_slot", "per_resource", "total"})
# RFC 25: the only resource graphs a V1 jobspec may describe.
_V1_SLOT_CHILDREN = (("core",), ("core", "gpu"), ("gpu", "core"))
_CONSTRAINT_OPERATORS = frozenset({"and", "or", "not", "properties", "hostlist", "ranks"})


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    """Name a value's type the way a YAML/JSON author thinks of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def _is_int(value: object) -> bool:
    # bool is an int subclass, but `count: true` is never a count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _expect_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise JobspecTypeError(f"expected a mapping, got {_kind(value)}", path)
    return value


def _expect_list(value: object, path: str, *, nonempty: bool = True) -> Sequence[Any]:
    if not _is_list(value):
        raise JobspecTypeError(f"expected a list, got {_kind(value)}", path)
    assert isinstance(value, Sequence)
    if nonempty and len(value) == 0:
        raise JobspecError("expected a list with at least one entry, got an empty list", path)
    return value


def _expect_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise JobspecTypeError(f"expected a string, got {_kind(value)}", path)
    return value


def _expect_positive_int(value: object, path: str) -> int:
    if not _is_int(value):
        raise JobspecTypeError(f"expected a positive integer, got {_kind(value)}", path)
    assert isinstance(value, int)
    if value < 1:
        raise JobspecError(f"expected a positive integer, got {value}", path)
    return value


def check_document(doc: object, path: str = "") -> None:
    """Check that ``doc`` is plain JSON data: string keys, finite numbers.

    YAML can express values that JSON cannot (dates, non-string keys, NaN);
    a jobspec must survive a round trip through JSON unchanged.
    """
    if doc is None or isinstance(doc, (str, bool, int)):
        return
    if isinstance(doc, float):
        if not math.isfinite(doc):
            raise JobspecError(f"expected a finite number, got {doc}", path)
        return
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            if not isinstance(key, str):
                raise JobspecTypeError(f"keys must be strings, got {_kind(key)} {key!r}", path)
            check_document(value, _join(path, key))
        return
    if isinstance(doc, Sequence) and not isinstance(doc, (str, bytes)):
        for index, value in enumerate(doc):
            check_document(value, _join(path, index))
        return
    raise JobspecTypeError(f"expected JSON data, got {_kind(doc)}", path)


def check_top_level(doc: object) -> Mapping[str, Any]:
    """Check the keys of a whole jobspec document (RFC 14: exactly four)."""
    doc = _expect_mapping(doc, "")
    missing = TOP_LEVEL_KEYS.difference(doc)
    if missing:
        raise JobspecError(f"missing required key(s): {', '.join(sorted(missing))}")
    extra = set(doc).difference(TOP_LEVEL_KEYS)
    if extra:
        raise JobspecError(
            f"unknown top-level key(s): {', '.join(sorted(extra))} "
            "(expected resources, tasks, attributes and version)"
        )
    return doc


# --- RFC 14: the canonical jobspec ------------------------------------------------


def check_canonical(
    resources: object, tasks: object, attributes: object, version: object, *, ingest: bool = False
) -> None:
    """Apply every RFC 14 rule to the four sections of a jobspec.

    With ``ingest``, two system attributes are checked only as far as Flux's
    job-ingest checks them: ``duration`` need only be a number (Flux runs a
    job with a negative one without a time limit), and a dependency need only
    have string ``scheme`` and ``value`` (the scheme's own checks come later,
    with that scheme's errors).
    """
    if not _is_int(version):
        raise JobspecTypeError(f"expected an integer, got {_kind(version)}", "version")
    assert isinstance(version, int)
    if version < 1:
        raise JobspecError(f"expected an integer >= 1, got {version}", "version")
    labels: dict[str, str] = {}
    for index, resource in enumerate(_expect_list(resources, "resources")):
        _check_resource(resource, _join("resources", index), labels)
    for index, task in enumerate(_expect_list(tasks, "tasks")):
        _check_task(task, _join("tasks", index))
    _check_attributes(attributes, ingest)


def _check_resource(resource: object, path: str, labels: dict[str, str]) -> None:
    resource = _expect_mapping(resource, path)
    if "type" not in resource:
        raise JobspecError("missing required key 'type'", path)
    rtype = _expect_str(resource["type"], _join(path, "type"))
    if "count" not in resource:
        raise JobspecError("missing required key 'count'", path)
    _check_resource_count(resource["count"], rtype, _join(path, "count"))
    for key in ("id", "unit", "label"):
        if key in resource:
            _expect_str(resource[key], _join(path, key))
    if "exclusive" in resource and not isinstance(resource["exclusive"], bool):
        raise JobspecTypeError(
            f"expected true or false, got {_kind(resource['exclusive'])}", _join(path, "exclusive")
        )
    if "label" in resource:
        label = resource["label"]
        if label in labels:
            raise JobspecError(f"label {label!r} is already used at {labels[label]}", path)
        labels[label] = path
    elif rtype == "slot":
        raise JobspecError("a slot must have a 'label'", path)
    if "with" in resource:
        children = _expect_list(resource["with"], _join(path, "with"))
        for index, child in enumerate(children):
            _check_resource(child, _join(_join(path, "with"), index), labels)
    elif rtype == "slot":
        raise JobspecError("a slot must contain resources ('with' is missing)", path)


def _check_resource_count(count: object, rtype: str, path: str) -> None:
    if isinstance(count, Mapping):
        _check_count_range(count, path)
    elif isinstance(count, str):
        _check_count_string(count, path)
    elif _is_int(count):
        assert isinstance(count, int)
        # Only node, slot and core need at least one; a count of 0 is a
        # legitimate request for anything else (say gpu: 0).
        if rtype in ("node", "slot", "core") and count < 1:
            raise JobspecError(f"a {rtype} count must be at least 1, got {count}", path)
        if count < 0:
            raise JobspecError(f"a count must not be negative, got {count}", path)
    else:
        raise JobspecTypeError(
            "expected an integer, an idset or range string, or a mapping with 'min', "
            f"got {_kind(count)}",
            path,
        )


def _check_count_range(count: Mapping[str, Any], path: str) -> None:
    unknown = set(count).difference({"min", "max", "operator", "operand"})
    if unknown:
        raise JobspecError(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            "(expected min, max, operator, operand)",
            path,
        )
    if "min" not in count:
        raise JobspecError("a count range must have 'min'", path)
    for key in ("min", "max", "operand"):
        if key in count:
            _expect_positive_int(count[key], _join(path, key))
    if "max" in count and count["max"] < count["min"]:
        raise JobspecError(
            f"max ({count['max']}) must be greater than or equal to min ({count['min']})", path
        )
    if ("operator" in count) != ("operand" in count):
        raise JobspecError("'operator' and 'operand' must be given together", path)
    if "operator" in count:
        operator = count["operator"]
        if not isinstance(operator, str) or len(operator) != 1:
            raise JobspecTypeError(
                f"expected one of {', '.join(_RANGE_OPERATORS)}, got {operator!r}",
                _join(path, "operator"),
            )
        if operator not in _RANGE_OPERATORS:
            raise JobspecError(
                f"expected one of {', '.join(_RANGE_OPERATORS)}, got {operator!r}",
                _join(path, "operator"),
            )
        if operator in ("*", "^") and count["operand"] < 2:
            raise JobspecError(
                f"with operator {operator!r} the operand must be at least 2", _join(path, "operand")
            )
        if operator == "^" and count["min"] < 2:
            raise JobspecError("with operator '^' min must be at least 2", _join(path, "min"))


def _check_count_string(count: str, path: str) -> None:
    """A count string: an RFC 22 idset, or a range ``MIN+`` / ``MIN-MAX[:OPERAND[:OP]]``."""
    from fluxsdk.idset import decode

    try:
        decode(count)
        return
    except InvalidIdsetError:
        pass
    expected = "expected an idset such as '2,4-8' or a range such as '2+' or '2-32:2:*'"
    parts = count.split(":")
    first = parts[0]
    if len(parts) > 3 or ("-" not in first and not first.endswith("+")):
        raise JobspecError(f"{expected}, got {count!r}", path)
    limits: dict[str, Any] = {}
    try:
        if first.endswith("+"):
            limits["min"] = int(first[:-1])
        else:
            low, _, high = first.partition("-")
            limits["min"], limits["max"] = int(low), int(high)
        if len(parts) > 1:
            limits["operand"], limits["operator"] = int(parts[1]), "+"
        if len(parts) > 2:
            limits["operator"] = parts[2]
    except ValueError:
        raise JobspecError(f"{expected}, got {count!r}", path) from None
    _check_count_range(limits, path)


def _check_task(task: object, path: str) -> None:
    task = _expect_mapping(task, path)
    for key in ("command", "slot", "count"):
        if key not in task:
            raise JobspecError(f"missing required key {key!r}", path)
    command = task["command"]
    if not _is_list(command):
        raise JobspecTypeError(
            f"expected a list of strings (the program and its arguments), got {_kind(command)}",
            _join(path, "command"),
        )
    if len(command) == 0:
        raise JobspecError(
            "expected at least the program name, got an empty list", _join(path, "command")
        )
    for index, arg in enumerate(command):
        _expect_str(arg, _join(_join(path, "command"), index))
    _expect_str(task["slot"], _join(path, "slot"))
    count = _expect_mapping(task["count"], _join(path, "count"))
    keys = set(count).intersection(_TASK_COUNT_KEYS)
    if len(count) != 1 or len(keys) != 1:
        raise JobspecError(
            "expected exactly one of per_slot, per_resource or total, "
            f"got {', '.join(sorted(map(str, count))) or 'none'}",
            _join(path, "count"),
        )
    (key,) = keys
    cpath = _join(_join(path, "count"), key)
    if key == "per_resource":
        per_resource = _expect_mapping(count[key], cpath)
        if "type" not in per_resource or "count" not in per_resource:
            raise JobspecError("expected a mapping with 'type' and 'count'", cpath)
        _expect_str(per_resource["type"], _join(cpath, "type"))
        _expect_positive_int(per_resource["count"], _join(cpath, "count"))
    else:
        _expect_positive_int(count[key], cpath)
    if "attributes" in task:
        _expect_mapping(task["attributes"], _join(path, "attributes"))
    if "distribution" in task:
        _expect_str(task["distribution"], _join(path, "distribution"))


def _check_attributes(attributes: object, ingest: bool = False) -> None:
    attributes = _expect_mapping(attributes, "attributes")
    unknown = set(attributes).difference({"system", "user"})
    if unknown:
        raise JobspecError(
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (expected system and/or user)",
            "attributes",
        )
    for key in ("system", "user"):
        if key in attributes:
            _expect_mapping(attributes[key], _join("attributes", key))
    if "system" in attributes:
        _check_system_attributes(attributes["system"], ingest)


def _check_system_attributes(system: Mapping[str, Any], ingest: bool = False) -> None:
    path = "attributes.system"
    if "duration" in system:
        duration = system["duration"]
        dpath = _join(path, "duration")
        if not _is_number(duration):
            raise JobspecTypeError(f"expected a number of seconds, got {_kind(duration)}", dpath)
        if not ingest and (not math.isfinite(duration) or duration < 0):
            raise JobspecError(f"expected a finite number >= 0, got {duration}", dpath)
    for key in ("cwd", "queue", "bank", "project"):
        if key in system:
            _expect_str(system[key], _join(path, key))
    if "environment" in system:
        epath = _join(path, "environment")
        for name, value in _expect_mapping(system["environment"], epath).items():
            if value is not None and not isinstance(value, str):
                raise JobspecTypeError(
                    f"expected a string (or null to unset), got {_kind(value)}", _join(epath, name)
                )
    if "job" in system:
        jpath = _join(path, "job")
        for name, value in _expect_mapping(system["job"], jpath).items():
            _expect_str(value, _join(jpath, name))
    if "shell" in system:
        shell = _expect_mapping(system["shell"], _join(path, "shell"))
        if "options" in shell:
            _expect_mapping(shell["options"], _join(path, "shell.options"))
    if "dependencies" in system:
        _check_dependencies(system["dependencies"], _join(path, "dependencies"), ingest)
    if "constraints" in system:
        _check_constraint(system["constraints"], _join(path, "constraints"))


def _check_dependencies(dependencies: object, path: str, ingest: bool = False) -> None:
    from fluxsdk.job._dependency import validate_dependency

    for index, dependency in enumerate(_expect_list(dependencies, path, nonempty=False)):
        try:
            validate_dependency(dependency, values=not ingest)
        except InvalidDependencyError as exc:
            raise JobspecError(str(exc), _join(path, index)) from None


def _check_constraint(constraint: object, path: str) -> None:
    """RFC 31: a mapping of operator -> list of arguments, nested for and/or/not."""
    for operator, args in _expect_mapping(constraint, path).items():
        opath = _join(path, operator)
        if operator not in _CONSTRAINT_OPERATORS:
            raise JobspecError(
                f"unknown constraint operator {operator!r} "
                f"(expected one of {', '.join(sorted(_CONSTRAINT_OPERATORS))})",
                path,
            )
        for index, arg in enumerate(_expect_list(args, opath, nonempty=False)):
            if operator in ("and", "or", "not"):
                _check_constraint(arg, _join(opath, index))
            else:
                _expect_str(arg, _join(opath, index))


# --- RFC 25: version 1 ----------------------------------------------------------


def check_v1(
    resources: Sequence[Any], tasks: Sequence[Any], attributes: Mapping[str, Any], version: int
) -> None:
    """Apply the RFC 25 rules on top of RFC 14 (call after :func:`check_canonical`)."""
    if version != 1:
        raise JobspecError(f"a V1 jobspec must have version 1, got {version}", "version")
    if len(resources) != 1:
        raise JobspecError(
            f"expected exactly one top-level resource (node or slot), got {len(resources)}",
            "resources",
        )
    _check_v1_graph(resources[0], "resources[0]")
    if len(tasks) != 1:
        raise JobspecError(f"expected exactly one task, got {len(tasks)}", "tasks")
    count = tasks[0]["count"]
    if "per_resource" in count:
        raise JobspecError(
            "per_resource is not allowed in V1 (use per_slot or total)", "tasks[0].count"
        )
    if "per_slot" in count and count["per_slot"] != 1:
        raise JobspecError(
            f"per_slot must be 1 in V1, got {count['per_slot']}", "tasks[0].count.per_slot"
        )
    if "system" not in attributes:
        raise JobspecError("missing required key 'system'", "attributes")
    if "duration" not in attributes["system"]:
        raise JobspecError(
            "missing required key 'duration' (seconds, 0 for unlimited)", "attributes.system"
        )


def _check_v1_graph(top: Mapping[str, Any], path: str) -> None:
    """Allow only slot>core, node>slot>core, slot>(core,gpu), node>slot>(core,gpu)."""
    shape_help = "V1 allows node>slot>core, slot>core, node>slot>(core,gpu) and slot>(core,gpu)"
    slot, spath = top, path
    if top["type"] == "node":
        _check_v1_count(top, path)
        children = top.get("with", [])
        if len(children) != 1 or children[0]["type"] != "slot":
            raise JobspecError(f"a node must contain exactly one slot; {shape_help}", path)
        slot, spath = children[0], _join(_join(path, "with"), 0)
    elif top["type"] != "slot":
        raise JobspecError(
            f"the top-level resource must be node or slot, got {top['type']!r}", path
        )
    _check_v1_count(slot, spath)
    children = slot["with"]
    types = tuple(child["type"] for child in children)
    if types not in _V1_SLOT_CHILDREN:
        raise JobspecError(
            f"a slot must contain core, or core and gpu, got {', '.join(types)}; {shape_help}",
            spath,
        )
    for index, child in enumerate(children):
        cpath = _join(_join(spath, "with"), index)
        _check_v1_count(child, cpath)
        if "with" in child:
            raise JobspecError(f"a {child['type']} cannot contain other resources in V1", cpath)


def _check_v1_count(resource: Mapping[str, Any], path: str) -> None:
    if not _is_int(resource["count"]):
        raise JobspecTypeError(
            f"V1 counts must be integers, got {_kind(resource['count'])}", _join(path, "count")
        )
