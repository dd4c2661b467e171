"""Jobspec and JobspecV1 against RFC 14/25, the shared vectors and flux.job's factories."""

from __future__ import annotations

import datetime
import io
import json
import os
import pathlib
import stat
from typing import Any

import pytest
import yaml

from fluxsdk.errors import FluxSDKError, JobspecError, JobspecTypeError
from fluxsdk.job import Jobspec, JobspecV1, validate_jobspec
from tests.conftest import SHARED

VECTORS = SHARED / "vectors" / "jobspec"


def _files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _ids(paths: list[pathlib.Path]) -> list[str]:
    return [p.name for p in paths]


VALID = _files(VECTORS / "valid")
VALID_V1 = _files(VECTORS / "valid_v1")
INVALID = _files(VECTORS / "invalid")
INVALID_V1 = _files(VECTORS / "invalid_v1")
RFC14_EXAMPLES = _files(SHARED / "specs" / "data" / "spec_14")
RFC25_EXAMPLES = _files(SHARED / "specs" / "data" / "spec_25")
RFC26_EXAMPLES = _files(SHARED / "specs" / "data" / "spec_26")


def test_vectors_are_present() -> None:
    """The conformance floor must actually run, not be silently empty."""
    if not SHARED.is_dir():
        pytest.skip(f"conformance vectors not found at {SHARED}")
    assert VALID and VALID_V1 and INVALID and INVALID_V1


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_vectors_accepted(path: pathlib.Path) -> None:
    jobspec = Jobspec.from_yaml_file(path)
    assert jobspec.jobspec == yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", VALID_V1, ids=_ids(VALID_V1))
def test_valid_v1_vectors_accepted_by_both_classes(path: pathlib.Path) -> None:
    assert JobspecV1.from_yaml_file(path).version == 1
    assert Jobspec.from_yaml_file(path).version == 1


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
@pytest.mark.parametrize("cls", [Jobspec, JobspecV1])
def test_invalid_vectors_rejected(cls: type[Jobspec], path: pathlib.Path) -> None:
    with pytest.raises(JobspecError) as info:
        cls.from_yaml_file(path)
    assert isinstance(info.value, (ValueError, TypeError))
    assert isinstance(info.value, FluxSDKError)
    assert str(info.value)


@pytest.mark.parametrize("path", INVALID_V1, ids=_ids(INVALID_V1))
def test_invalid_v1_vectors_rejected_by_v1(path: pathlib.Path) -> None:
    with pytest.raises(JobspecError):
        JobspecV1.from_yaml_file(path)


@pytest.mark.parametrize("path", RFC14_EXAMPLES, ids=_ids(RFC14_EXAMPLES))
def test_rfc14_examples_accepted(path: pathlib.Path) -> None:
    Jobspec.from_yaml_file(path)


@pytest.mark.parametrize("path", RFC25_EXAMPLES, ids=_ids(RFC25_EXAMPLES))
def test_rfc25_examples_accepted_as_v1(path: pathlib.Path) -> None:
    JobspecV1.from_yaml_file(path)


@pytest.mark.parametrize("path", RFC26_EXAMPLES, ids=_ids(RFC26_EXAMPLES))
def test_rfc26_dependency_examples_accepted(path: pathlib.Path) -> None:
    """Each RFC 26 example is a dependencies array; a jobspec carrying it is valid."""
    dependencies = yaml.safe_load(path.read_text())
    doc = _doc(attributes={"system": {"duration": 0, "dependencies": dependencies}})
    jobspec = JobspecV1(**doc)
    assert jobspec.getattr("system.dependencies") == dependencies


@pytest.mark.parametrize("path", VALID + VALID_V1, ids=_ids(VALID + VALID_V1))
def test_round_trip_json_and_yaml(path: pathlib.Path) -> None:
    original = Jobspec.from_yaml_file(path)
    via_json = Jobspec.from_yaml_stream(original.dumps())
    via_yaml = Jobspec.from_yaml_stream(yaml.safe_dump(original.jobspec))
    assert via_json.jobspec == original.jobspec
    assert via_yaml.jobspec == original.jobspec
    assert json.loads(via_yaml.dumps()) == json.loads(original.dumps())


# --- error paths name the offending place -----------------------------------------

BASE: dict[str, Any] = {
    "version": 1,
    "resources": [
        {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}
    ],
    "tasks": [{"command": ["true"], "slot": "task", "count": {"per_slot": 1}}],
    "attributes": {"system": {"duration": 0}},
}


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(BASE))
    for dotted, value in changes.items():
        node: Any = doc
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("changes", "error", "path"),
    [
        ({"resources__0__count": 0}, JobspecError, "resources[0].count"),
        ({"resources__0__count": True}, JobspecTypeError, "resources[0].count"),
        ({"resources__0__with__0__count": -1}, JobspecError, "resources[0].with[0].count"),
        ({"resources__0__with__0__type": 3}, JobspecTypeError, "resources[0].with[0].type"),
        ({"resources__0__count": {"min": 2, "max": 1}}, JobspecError, "resources[0].count"),
        ({"resources__0__count": "2-x"}, JobspecError, "resources[0].count"),
        ({"resources": []}, JobspecError, "resources"),
        ({"tasks": []}, JobspecError, "tasks"),
        ({"tasks__0__command": ["a", 1]}, JobspecTypeError, "tasks[0].command[1]"),
        ({"tasks__0__command": "true"}, JobspecTypeError, "tasks[0].command"),
        ({"tasks__0__count": {"per_slot": 1, "total": 2}}, JobspecError, "tasks[0].count"),
        ({"tasks__0__count": {"total": 0}}, JobspecError, "tasks[0].count.total"),
        ({"attributes__system__duration": -1}, JobspecError, "attributes.system.duration"),
        ({"attributes__system__duration": "1h"}, JobspecTypeError, "attributes.system.duration"),
        (
            {"attributes__system__environment": {"A": 1}},
            JobspecTypeError,
            "attributes.system.environment.A",
        ),
        ({"attributes__system__cwd": 5}, JobspecTypeError, "attributes.system.cwd"),
        ({"attributes__system__job": {"name": 5}}, JobspecTypeError, "attributes.system.job.name"),
        (
            {"attributes__system__constraints": {"bogus": []}},
            JobspecError,
            "attributes.system.constraints",
        ),
        (
            {"attributes__system__dependencies": [{"scheme": "afterok"}]},
            JobspecError,
            "attributes.system.dependencies[0]",
        ),
        ({"version": True}, JobspecTypeError, "version"),
    ],
)
def test_errors_name_the_path(changes: dict[str, Any], error: type[Exception], path: str) -> None:
    with pytest.raises(error) as info:
        Jobspec(**_doc(**changes))
    assert isinstance(info.value, JobspecError)
    assert info.value.path == path
    assert str(info.value).startswith(path + ": ")


def test_duplicate_labels_rejected() -> None:
    doc = _doc()
    doc["resources"].append(json.loads(json.dumps(doc["resources"][0])))
    with pytest.raises(JobspecError, match="label 'task' is already used"):
        Jobspec(**doc)


def test_v1_rules() -> None:
    with pytest.raises(JobspecError, match="per_slot must be 1"):
        JobspecV1(**_doc(tasks__0__count={"per_slot": 2}))
    Jobspec(**_doc(tasks__0__count={"per_slot": 2}))  # canonical allows it
    with pytest.raises(JobspecError, match="duration"):
        JobspecV1(**_doc(attributes={"system": {}}))
    with pytest.raises(JobspecTypeError, match="V1 counts must be integers"):
        JobspecV1(**_doc(resources__0__count="1-2"))
    with pytest.raises(JobspecError, match="version 1"):
        JobspecV1(**_doc(version=2))
    two_tasks = _doc()
    two_tasks["tasks"].append(two_tasks["tasks"][0])
    with pytest.raises(JobspecError, match="exactly one task"):
        JobspecV1(**two_tasks)


def test_yaml_syntax_error_is_a_value_error() -> None:
    with pytest.raises(JobspecError, match="not valid YAML"):
        Jobspec.from_yaml_stream("foo: bar: baz")
    with pytest.raises(ValueError):
        Jobspec.from_yaml_stream("[1, 2")


def test_yaml_values_json_cannot_hold_are_rejected() -> None:
    text = yaml.safe_dump(_doc(attributes={"system": {"duration": 0}, "user": {"when": None}}))
    text = text.replace("when: null", "when: 2024-01-02")
    with pytest.raises(JobspecTypeError, match=r"attributes\.user\.when"):
        Jobspec.from_yaml_stream(text)
    with pytest.raises(JobspecError, match="finite"):
        Jobspec.from_yaml_stream(text.replace("2024-01-02", ".nan"))


def test_top_level_keys_checked_on_load() -> None:
    with pytest.raises(JobspecError, match="unknown top-level key"):
        Jobspec.from_yaml_stream(json.dumps({**BASE, "extra": 1}))
    with pytest.raises(JobspecTypeError, match="expected a mapping"):
        Jobspec.from_yaml_stream("- 1\n- 2\n")


def test_from_yaml_stream_accepts_file_objects() -> None:
    text = yaml.safe_dump(BASE)
    assert JobspecV1.from_yaml_stream(io.StringIO(text)).jobspec == BASE
    assert JobspecV1.from_yaml_stream(io.BytesIO(text.encode())).jobspec == BASE


# --- factories produce exactly what flux.job produces -----------------------------


def test_from_command_minimal() -> None:
    js = JobspecV1.from_command(["hostname"], environment={})
    assert js.jobspec == {
        "resources": [
            {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}
        ],
        "tasks": [{"command": ["hostname"], "slot": "task", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 0, "environment": {}}},
        "version": 1,
    }


def test_from_command_default_environment_is_callers() -> None:
    js = JobspecV1.from_command(["true"])
    assert js.environment == dict(os.environ)


def test_from_command_nodes_and_gpus() -> None:
    js = JobspecV1.from_command(
        ["app"],
        num_tasks=4,
        cores_per_task=2,
        gpus_per_task=1,
        num_nodes=2,
        exclusive=True,
        environment={},
    )
    assert js.resources == [
        {
            "type": "node",
            "count": 2,
            "exclusive": True,
            "with": [
                {
                    "type": "slot",
                    "count": 2,
                    "label": "task",
                    "with": [{"type": "core", "count": 2}, {"type": "gpu", "count": 1}],
                }
            ],
        }
    ]
    assert js.tasks[0]["count"] == {"per_slot": 1}
    assert js.resource_counts() == {"node": 2, "slot": 4, "core": 8, "gpu": 4}


def test_from_command_uneven_spread_uses_total() -> None:
    js = JobspecV1.from_command(["app"], num_tasks=3, num_nodes=2, environment={})
    assert js.tasks[0]["count"] == {"total": 3}
    assert js.resources[0]["with"][0]["count"] == 2


def test_from_command_gpus_zero_adds_no_gpu() -> None:
    js = JobspecV1.from_command(["app"], gpus_per_task=0, environment={})
    assert js.resource_counts() == {"slot": 1, "core": 1}


def test_from_command_keywords() -> None:
    js = JobspecV1.from_command(
        ["app"],
        duration="1.5m",
        environment={"A": "1"},
        cwd=pathlib.Path("/tmp"),
        name="myjob",
        queue="batch",
        bank="physics",
        input="in.txt",
        output="out.{{id}}",
        error="err.txt",
        label_io=True,
        unbuffered=True,
        rlimits={"nofile": 100},
        env_expand={"X": "{{tmpdir}}"},
    )
    assert js.duration == 90.0
    assert js.environment == {"A": "1"}
    assert js.cwd == "/tmp"
    assert js.getattr("job.name") == "myjob"
    assert js.queue == "batch"
    assert js.getattr("bank") == "physics"
    assert (js.stdin, js.stdout, js.stderr) == ("in.txt", "out.{{id}}", "err.txt")
    assert (js.input, js.output, js.error) == ("in.txt", "out.{{id}}", "err.txt")
    options = js.getattr("shell.options")
    assert options["output"]["stdout"] == {
        "type": "file",
        "path": "out.{{id}}",
        "label": True,
        "buffer": {"type": "none"},
    }
    assert options["output"]["stderr"]["label"] is True
    assert options["rlimit"] == {"nofile": 100}
    assert options["env-expand"] == {"X": "{{tmpdir}}"}
    assert js.unbuffered


def test_output_none_and_kvs_are_not_files() -> None:
    js = JobspecV1.from_command(["app"], output="kvs", error="none", environment={})
    assert js.output is None and js.error is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_tasks": 0}, "num_tasks must be an integer >= 1"),
        ({"num_tasks": 1.5}, "num_tasks must be an integer"),
        ({"cores_per_task": 0}, "cores_per_task"),
        ({"gpus_per_task": -1}, "gpus_per_task"),
        ({"num_nodes": 2}, "must not be greater than num_tasks"),
        ({"exclusive": True}, "exclusive needs num_nodes"),
        ({"duration": -5}, "must not be negative"),
        ({"duration": float("inf")}, "finite"),
        ({"duration": "forever"}, "duration"),
    ],
)
def test_from_command_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(JobspecError, match=message):
        JobspecV1.from_command(["app"], **kwargs)


@pytest.mark.parametrize("command", ["true", [], [b"true"], None])
def test_from_command_rejects_bad_commands(command: Any) -> None:
    with pytest.raises(JobspecError):
        JobspecV1.from_command(command)


def test_per_resource() -> None:
    js = JobspecV1.per_resource(
        ["app"], ncores=4, nnodes=2, per_resource_type="core", per_resource_count=1, environment={}
    )
    assert js.resources == [
        {
            "type": "node",
            "count": 2,
            "with": [
                {
                    "type": "slot",
                    "count": 1,
                    "label": "task",
                    "with": [{"type": "core", "count": 2}],
                }
            ],
        }
    ]
    assert js.getattr("shell.options.per-resource") == {"type": "core", "count": 1}
    js = JobspecV1.per_resource(["app"], nnodes=3, exclusive=True, gpus_per_node=2, environment={})
    assert js.resource_counts() == {"node": 3, "slot": 3, "core": 3, "gpu": 6}
    assert JobspecV1.per_resource(["app"], ncores=5, environment={}).resource_counts() == {
        "slot": 5,
        "core": 5,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ncores": 4, "per_resource_type": "socket", "per_resource_count": 1}, "node' or 'core"),
        ({"ncores": 4, "per_resource_type": "core"}, "needs per_resource_count"),
        ({"ncores": 4, "per_resource_count": 1}, "needs per_resource_type"),
        ({"ncores": 3, "nnodes": 2}, "divisible"),
        ({"ncores": 1, "nnodes": 2}, "less than nnodes"),
        ({"nnodes": 2}, "needs exclusive"),
        ({}, "needs ncores or nnodes"),
        ({"ncores": 2, "gpus_per_node": 1}, "gpus_per_node needs nnodes"),
    ],
)
def test_per_resource_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(JobspecError, match=message):
        JobspecV1.per_resource(["app"], **kwargs)


def test_from_nest_command() -> None:
    js = JobspecV1.from_nest_command(
        ["sleep", "1"], num_slots=2, cores_per_slot=2, broker_opts=["-v"], environment={}
    )
    assert js.tasks[0]["command"] == ["flux", "broker", "-v", "sleep", "1"]
    assert js.resource_counts() == {"slot": 2, "core": 4}
    assert js.getattr("shell.options") == {
        "per-resource": {"type": "node"},
        "mpi": "none",
        "exit-timeout": "none",
    }


def test_from_batch_command() -> None:
    script = "#!/bin/sh\necho hi\n"
    js = JobspecV1.from_batch_command(script, "mybatch", args=["a"], conf={"x": 1}, environment={})
    assert js.tasks[0]["command"] == [
        "flux",
        "broker",
        "-c{{tmpdir}}/conf.json",
        "{{tmpdir}}/script",
        "a",
    ]
    files = js.getattr("files")
    assert files["script"] == {"mode": 0o700 | stat.S_IFREG, "data": script, "encoding": "utf-8"}
    assert files["conf.json"] == {"mode": 0o600 | stat.S_IFREG, "data": {"x": 1}}
    assert js.getattr("job.name") == "mybatch"
    with pytest.raises(JobspecError, match="shebang"):
        JobspecV1.from_batch_command("echo hi", "x")


def test_add_file_from_disk(tmp_path: pathlib.Path) -> None:
    text, binary = tmp_path / "a.txt", tmp_path / "b.bin"
    text.write_text("hello")
    binary.write_bytes(b"\xff\x00")
    js = JobspecV1.from_command(["app"], environment={})
    js.add_file("a", str(text))
    js.add_file("b", str(binary))
    files = js.getattr("files")
    assert files["a"]["data"] == "hello" and files["a"]["encoding"] == "utf-8"
    assert files["b"] == {
        "mode": os.stat(binary).st_mode,
        "size": 2,
        "data": "/wA=",
        "encoding": "base64",
    }


# --- properties and attribute access ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (10, 10.0),
        (2.5, 2.5),
        ("1.5h", 5400.0),
        ("100ms", 0.1),
        (0, 0.0),
        (datetime.timedelta(minutes=2), 120.0),
    ],
)
def test_duration_setter(value: Any, seconds: float) -> None:
    js = JobspecV1.from_command(["app"], environment={})
    js.duration = value
    assert js.duration == seconds
    assert isinstance(js.duration, float)


@pytest.mark.parametrize("value", [None, [1], True])
def test_duration_setter_type_errors(value: Any) -> None:
    js = JobspecV1.from_command(["app"], environment={})
    with pytest.raises(TypeError):
        js.duration = value


def test_getattr_setattr_key_rules() -> None:
    js = JobspecV1.from_command(["app"], environment={})
    js.setattr("foo", 1)
    js.setattr("user.tag", "x")
    js.setattr("attributes.system.bar.baz", [1])
    assert js.getattr("foo") == 1
    assert js.getattr("system.foo") == 1
    assert js.getattr("attributes.system.foo") == 1
    assert js.attributes["user"] == {"tag": "x"}
    assert js.getattr("bar.baz") == [1]
    with pytest.raises(KeyError):
        js.getattr("missing")
    with pytest.raises(KeyError):
        js.getattr("foo.deeper")
    with pytest.raises(JobspecTypeError):
        js.setattr("foo.deeper", 2)


def test_unbuffered_toggle_restores_jobspec() -> None:
    js = JobspecV1.from_command(["app"], environment={})
    before = json.loads(js.dumps())
    js.unbuffered = True
    assert js.unbuffered
    js.unbuffered = False
    assert not js.unbuffered
    assert json.loads(js.dumps()) == before


def test_property_setters_reject_wrong_types() -> None:
    js = JobspecV1.from_command(["app"], environment={})
    with pytest.raises(TypeError):
        js.queue = 5  # type: ignore[assignment]
    with pytest.raises(TypeError):
        js.cwd = 5  # type: ignore[assignment]
    with pytest.raises(TypeError):
        js.environment = ["A=1"]  # type: ignore[assignment]
    with pytest.raises(TypeError):
        js.stdout = 5  # type: ignore[assignment]
    with pytest.raises(TypeError):
        js.unbuffered = "yes"  # type: ignore[assignment]


def test_resource_walk_and_counts_seed_example() -> None:
    resources = [
        {
            "type": "slot",
            "count": 2,
            "label": "a",
            "with": [{"type": "core", "count": 4}, {"type": "memory", "count": 1, "unit": "GB"}],
        },
        {
            "type": "slot",
            "count": 10,
            "label": "b",
            "with": [{"type": "core", "count": 1}, {"type": "memory", "count": 24, "unit": "GB"}],
        },
    ]
    tasks = [{"command": ["app"], "slot": "a", "count": {"per_slot": 1}}]
    js = Jobspec(resources, tasks, attributes={}, version=1)
    assert js.resource_counts() == {"slot": 12, "core": 18, "memory": 242}
    walk = [(p["type"] if p else None, r["type"], n) for p, r, n in js.resource_walk()]
    assert walk == [
        (None, "slot", 2),
        ("slot", "core", 8),
        ("slot", "memory", 2),
        (None, "slot", 10),
        ("slot", "core", 10),
        ("slot", "memory", 240),
    ]
    assert [r["type"] for r in js] == ["slot", "core", "memory", "slot", "core", "memory"]


def test_resource_walk_range_counts_use_minimum() -> None:
    js = Jobspec(**_doc(resources__0__count={"min": 3, "max": 9}))
    assert js.resource_counts() == {"slot": 3, "core": 3}
    js = Jobspec(**_doc(resources__0__count="2-32:2:*"))
    assert js.resource_counts() == {"slot": 2, "core": 2}


def test_constructor_keeps_flux_signature() -> None:
    js = JobspecV1(BASE["resources"], BASE["tasks"], attributes=BASE["attributes"])
    assert js.version == 1
    assert repr(js).startswith("JobspecV1([{")
    assert str(js) == str(js.jobspec)


def test_validate_jobspec_chooses_class_by_version() -> None:
    ok, js = validate_jobspec(json.dumps(BASE))
    assert ok and type(js) is JobspecV1
    ok, js = validate_jobspec(json.dumps({**BASE, "version": 7}))
    assert ok and type(js) is Jobspec
    with pytest.raises(JobspecError):
        validate_jobspec(json.dumps({**BASE, "version": 7}), require_version=1)
    ok, js = validate_jobspec(JobspecV1.from_command(["app"], environment={}))
    assert type(js) is JobspecV1
    with pytest.raises(JobspecError):
        validate_jobspec("{}")
    with pytest.raises(TypeError):
        validate_jobspec(None)  # type: ignore[arg-type]
