"""Plugins in the instance's ingest: every submitted jobspec transformed and judged.

Instance-side transforms and validators (fluxsdk's hooks, and Flux's own
validator and frobnicator plugin form) hold for every client, fail closed and
answer as Flux's job-ingest does. The plugins here are written to files and
loaded by path, as Flux loads a plugin it is given by path. Flux's recorded
answers to the same Flux-form plugin are in ``data/flux_ingest_plugins.json``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxsdk import hooks, job
from fluxsdk.core import Flux
from fluxsdk.hooks import hookimpl
from fluxsdk.job import Jobspec, JobspecV1

from .hooks_support import plugin_instance, plugin_list, submitted_jobspec, wait_for

RECORDED = json.loads((Path(__file__).parent / "data" / "flux_ingest_plugins.json").read_text())

# A validator and a frobnicator in Flux's plugin form, as a site writes them for Flux
# (only the import path differs: fluxsdk.job.* for flux.job.*). The same source
# was run on flux-core 0.88.0 to record RECORDED.
FLUX_FORM_PLUGIN = """
import errno

from fluxsdk.job.frobnicator import FrobnicatorPlugin
from fluxsdk.job.validator import ValidatorPlugin


class Validator(ValidatorPlugin):
    def __init__(self, parser):
        parser.add_argument("--forbid", default="nothing")

    def configure(self, args):
        self.forbid = args.forbid

    def validate(self, args):
        cmd = args.jobspec["tasks"][0]["command"]
        if cmd[0] == "raise":
            raise ValueError("plugin raised here")
        if cmd[0] == "einval":
            return (errno.EINVAL, "einval message")
        if cmd[0] == "enospc-no-message":
            return (errno.ENOSPC, None)
        if cmd[0] == self.forbid:
            return (errno.EPERM, f"{self.forbid} is forbidden by option")
        if args.jobspec["attributes"]["user"].get("frobbed") is None:
            return (errno.EINVAL, "validators run after frobnicators")


class Frobnicator(FrobnicatorPlugin):
    def configure(self, args, config):
        self.tag = config["site"]["tag"]

    def frob(self, jobspec, user, urgency, flags):
        if jobspec.tasks[0]["command"][0] == "frobraise":
            raise RuntimeError("frob raised here")
        jobspec.setattr("user.frobbed", [user, urgency, flags])
        jobspec.setattr("user.tag", self.tag)
"""


def _write(directory: Path, name: str, source: str) -> str:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def _submit_error(handle: Flux, command: list[str], **kwargs: Any) -> tuple[int, str]:
    with hooks.disabled(), pytest.raises(OSError) as caught:
        job.submit(handle, JobspecV1.from_command(command), **kwargs)
    return int(caught.value.errno or 0), str(caught.value.strerror)


def _job_count(handle: Flux) -> int:
    return len(job.job_list(handle, max_entries=0, attrs=["id"]).get_jobs())


# -- policy that holds for every client ----------------------------------------------------

NATIVE_VALIDATOR = """
from fluxsdk.hooks import hookimpl


@hookimpl
def fluxsdk_instance_jobspec_validate(jobspec, submission, instance):
    command = jobspec.tasks[0]["command"]
    if command[0] == "forbidden":
        return f"forbidden is not allowed on {instance.uri} (user {submission.userid})"
    if command[0] == "pair":
        return (22, "rejected with an errno of the plugin's choice")
    return None
"""


def test_an_instance_validator_rejects_jobs_from_clients_without_plugins(
    tmp_path: Path,
) -> None:
    plugin = _write(tmp_path, "policy", NATIVE_VALIDATOR)
    with plugin_instance(tmp_path / "state", plugins=[plugin]) as uri, Flux(uri) as handle:
        # This client runs no plugin at all (hooks disabled): the instance still judges.
        number, message = _submit_error(handle, ["forbidden"])
        assert number == errno.EPERM
        assert message == f"forbidden is not allowed on {uri} (user {os.getuid()})"
        assert _submit_error(handle, ["pair"]) == (
            errno.EINVAL,
            "rejected with an errno of the plugin's choice",
        )
        assert _job_count(handle) == 0  # refused before the job exists
        # A client that speaks the RPC directly (as Flux's own tools do) is judged too.
        signed = handle._sign_jobspec(JobspecV1.from_command(["forbidden"]).dumps().encode())
        with pytest.raises(OSError) as caught:
            handle.rpc("job-ingest.submit", {"J": signed, "urgency": 16, "flags": 0}).get()
        assert caught.value.errno == errno.EPERM
        with hooks.disabled():
            accepted = job.submit(handle, JobspecV1.from_command(["true"]))
            assert job.result(handle, accepted).returncode == 0
            # novalidate bypasses validators, as in Flux.
            job.submit(handle, JobspecV1.from_command(["forbidden"]), novalidate=True, urgency=0)
        # The executor (and everything built on submit) gets the instance's answer.
        with job.FluxExecutor(handle_args=(uri,)) as executor:
            future = executor.submit(JobspecV1.from_command(["forbidden"]))
            error = future.exception(timeout=60)
        assert isinstance(error, OSError) and error.errno == errno.EPERM
        listed = plugin_list(uri)["policy"]
        assert listed["hooks"] == ["fluxsdk_instance_jobspec_validate"]
        stats = listed["stats"]["fluxsdk_instance_jobspec_validate"]
        assert stats["calls"] == 5 and stats["failures"] == 0


# -- Flux's plugin form ----------------------------------------------------------------------


def test_flux_form_plugins_load_unchanged_and_answer_as_flux(tmp_path: Path) -> None:
    plugin = _write(tmp_path, "site", FLUX_FORM_PLUGIN)
    config = {
        "ingest": {
            "frobnicator": {"plugins": [plugin]},
            # As Flux's configuration for the recording: its default validator first.
            "validator": {"plugins": ["jobspec", plugin], "args": ["--forbid=rm"]},
        },
        "site": {"tag": "from-config"},
    }
    with (
        plugin_instance(tmp_path / "state", config=config) as uri,
        Flux(uri) as handle,
    ):
        for command, answer in RECORDED["refused"].items():
            assert _submit_error(handle, [command]) == tuple(answer), command
        # The option reached the plugin (flux's [ingest.validator] args).
        assert _submit_error(handle, ["rm"]) == (errno.EPERM, "rm is forbidden by option")
        with hooks.disabled():
            jobid = job.submit(handle, JobspecV1.from_command(["true"]), urgency=7, waitable=True)
        user = submitted_jobspec(handle, jobid)["attributes"]["user"]
        recorded = RECORDED["accepted"]["true"]["frobbed"]
        assert user["frobbed"] == [os.getuid(), *recorded[1:]]
        assert user["tag"] == "from-config"  # configure(args, config) got the configuration
        assert job.result(handle, jobid).returncode == 0
        listed = plugin_list(uri)["site"]
        assert listed["hooks"] == [
            "fluxsdk_instance_jobspec_transform",
            "fluxsdk_instance_jobspec_validate",
        ]
        assert "(Flux plugin)" in listed["origin"]


FRO_ENV = """
from fluxsdk.job.frobnicator import FrobnicatorPlugin


class Frobnicator(FrobnicatorPlugin):
    def frob(self, jobspec, user, urgency, flags):
        jobspec.environment = dict(jobspec.environment or {}, FROBBED="yes")
        jobspec.duration = 123
        jobspec.tasks[0]["command"] = ["printenv", "FROBBED"]
"""


def test_a_transformed_job_is_made_of_its_new_jobspec_and_runs_J_as_flux(
    tmp_path: Path,
) -> None:
    # Recorded on Flux: the stored jobspec and the time limit are the frobnicator's;
    # the tasks run from the signed jobspec (J) as submitted.
    recorded = RECORDED["frobnicator_changes_reach_the_stored_jobspec_and_R_but_tasks_run_J"]
    plugin = _write(tmp_path, "env", FRO_ENV)
    with plugin_instance(tmp_path / "state", plugins=[plugin]) as uri, Flux(uri) as handle:
        with hooks.disabled():
            jobid = job.submit(handle, JobspecV1.from_command(["echo", "hello"]))
        stored = submitted_jobspec(handle, jobid)
        assert stored["tasks"][0]["command"] == recorded["stored_command"]
        assert stored["attributes"]["system"]["duration"] == recorded["stored_duration"]
        assert job.get_job(handle, jobid) is not None
        assert job.job_output(handle, jobid).stdout == recorded["output_of_echo_hello"]
        record = job.get_job(handle, jobid)
        assert record is not None and record["duration"] == recorded["stored_duration"]


def test_fluxsdk_versions_of_fluxs_validators_and_frobnicators(tmp_path: Path) -> None:
    config = {
        # require-instance reads its limit with self.flux.conf_get, as on Flux.
        "ingest": {"validator": {"require-instance": {"mincores": 2}}},
        "policy": {"jobspec": {"defaults": {"system": {"duration": "1h", "queue": "batch"}}}},
        "queues": {
            "batch": {},
            "debug": {
                "requires": ["debug"],
                "policy": {"jobspec": {"defaults": {"system": {"duration": 60}}}},
            },
        },
    }
    names = ["feasibility", "require-instance", "defaults", "constraints"]
    with (
        plugin_instance(
            tmp_path / "state", plugins=names, config=config, queues=["batch", "debug"]
        ) as uri,
        Flux(uri) as handle,
    ):
        listed = plugin_list(uri)
        assert all(name in listed and listed[name]["error"] is None for name in names)
        # feasibility: more cores than the instance has, refused before it exists.
        big = JobspecV1.from_command(["true"], num_tasks=1, cores_per_task=3)
        with hooks.disabled(), pytest.raises(OSError) as caught:
            job.submit(handle, big, urgency=0)
        assert caught.value.errno == errno.EOVERFLOW  # the largest errno: feasibility's
        assert "unsatisfiable request" in str(caught.value.strerror)
        assert "Direct job submission disabled for jobs >= 2 cores" in str(caught.value.strerror)
        # require-instance: 2 cores is a job for an instance...
        pair = JobspecV1.from_command(["true"], num_tasks=2)
        with hooks.disabled(), pytest.raises(OSError) as caught:
            job.submit(handle, pair, urgency=0)
        assert caught.value.errno == errno.EINVAL
        assert str(caught.value.strerror) == (
            "Direct job submission disabled for jobs >= 2 cores. "
            "Please use flux-batch(1) or flux-alloc(1)"
        )
        with hooks.disabled():
            nested = JobspecV1.from_nest_command(["true"], num_slots=1, cores_per_slot=2)
            job.submit(handle, nested, urgency=0)  # ...which a nested instance is
            # defaults: the site's duration and default queue; the queue's own duration.
            plain = job.submit(handle, JobspecV1.from_command(["true"]), urgency=0)
            debug = JobspecV1.from_command(["true"])
            debug.queue = "debug"
            debug_id = job.submit(handle, debug, urgency=0)
        system = submitted_jobspec(handle, plain)["attributes"]["system"]
        assert (system["duration"], system["queue"]) == (3600, "batch")
        assert "constraints" not in system
        system = submitted_jobspec(handle, debug_id)["attributes"]["system"]
        assert system["duration"] == 60
        # constraints: the queue's required properties.
        assert system["constraints"] == {"properties": ["debug"]}
        # An unknown queue is refused by the frobnicators, with Flux's message.
        odd = JobspecV1.from_command(["true"])
        odd.queue = "nosuch"
        with hooks.disabled(), pytest.raises(OSError) as caught:
            job.submit(handle, odd, urgency=0)
        assert (caught.value.errno, caught.value.strerror) == (
            errno.EPERM,
            "Invalid queue 'nosuch' specified",
        )


# -- fail closed, advisory, deadlines --------------------------------------------------------

BROKEN_TRANSFORM = """
import time

from fluxsdk.hooks import hookimpl


@hookimpl
def fluxsdk_instance_jobspec_transform(jobspec):
    command = jobspec.tasks[0]["command"][0]
    jobspec.setattr("user.touched", True)
    if command == "raise":
        raise KeyError("transform bug")
    if command == "garbage":
        return {"not": "None"}
    if command == "break":
        jobspec.jobspec["tasks"] = "not a list"
    if command == "hang":
        time.sleep(2)
"""


@pytest.fixture
def broken_instance(tmp_path: Path) -> Iterator[tuple[str, Flux]]:
    plugin = _write(tmp_path, "broken", BROKEN_TRANSFORM)
    config = {"ingest-timeout": 0.3}
    with (
        plugin_instance(tmp_path / "state", plugins=[plugin], config=config) as uri,
        Flux(uri) as handle,
    ):
        yield uri, handle


def test_a_failing_instance_transform_refuses_the_submission(
    broken_instance: tuple[str, Flux],
) -> None:
    uri, handle = broken_instance
    assert _submit_error(handle, ["raise"]) == (errno.EPERM, "'transform bug'")
    number, message = _submit_error(handle, ["garbage"])
    assert number == errno.EPERM and message.startswith("plugin 'broken' returned dict")
    number, message = _submit_error(handle, ["break"])
    assert number == errno.EPERM and "plugin 'broken' left an invalid jobspec" in message
    assert _submit_error(handle, ["hang"]) == (
        errno.ETIMEDOUT,
        "plugin 'broken' did not answer within 0.3 s",
    )
    # Stuck in that call, the plugin is not called: submissions are refused meanwhile...
    number, message = _submit_error(handle, ["true"])
    assert number == errno.ETIMEDOUT and "still in a call that missed its deadline" in message
    assert _job_count(handle) == 0
    stats = plugin_list(uri)["broken"]["stats"]["fluxsdk_instance_jobspec_transform"]
    assert stats["timeouts"] == 2 and stats["failures"] == 3

    # ...until it returns.
    def accepted() -> bool:
        try:
            with hooks.disabled():
                job.submit(handle, JobspecV1.from_command(["true"]), urgency=0)
        except OSError:
            return False
        return True

    assert wait_for(accepted)


def test_an_advisory_instance_transform_is_left_out_when_it_fails(tmp_path: Path) -> None:
    plugin = _write(tmp_path, "broken", BROKEN_TRANSFORM)
    config = {"ingest-timeout": 0.3, "advisory-plugins": ["broken"]}
    with (
        plugin_instance(tmp_path / "state", plugins=[plugin], config=config) as uri,
        Flux(uri) as handle,
    ):
        assert plugin_list(uri)["broken"]["advisory"] is True

        def touched(command: str) -> bool | None:
            with hooks.disabled():
                jobid = job.submit(handle, JobspecV1.from_command([command]), urgency=0)
            user: dict[str, Any] = submitted_jobspec(handle, jobid)["attributes"].get("user", {})
            return user.get("touched")

        assert touched("true") is True  # it works: its change is kept
        # It fails: the job goes ahead without its changes.
        assert [touched(c) for c in ("raise", "garbage", "break", "hang")] == [None] * 4
        assert touched("true") is None  # still stuck in the late call: skipped


# -- the order of transforms, client and instance ---------------------------------------------

INSTANCE_STEP = """
from fluxsdk.hooks import hookimpl

NAME = {name!r}
EXPECTED = {expected!r}


@hookimpl
def fluxsdk_instance_jobspec_transform(jobspec):
    trail = jobspec.attributes.get("user", {{}}).get("trail", [])
    if trail != EXPECTED:
        raise ValueError(f"{{NAME}} saw {{trail}}, expected {{EXPECTED}}")
    jobspec.setattr("user.trail", [*trail, NAME])


@hookimpl
def fluxsdk_instance_jobspec_validate(jobspec):
    trail = jobspec.attributes["user"]["trail"]
    if trail != {final!r}:
        return f"{{NAME}} validated {{trail}}"
    return None
"""


class _ClientStep:
    """A client transform that appends its name, having checked what it was given."""

    def __init__(self, name: str, expected: list[str]) -> None:
        self.name = name
        self.expected = expected

    def step(self, jobspec: Jobspec) -> None:
        trail = jobspec.attributes.get("user", {}).get("trail", [])
        assert trail == self.expected, f"{self.name} saw {trail}, expected {self.expected}"
        jobspec.setattr("user.trail", [*trail, self.name])


class _Plain(_ClientStep):
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        self.step(jobspec)


class _First(_ClientStep):
    @hookimpl(tryfirst=True)
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        self.step(jobspec)


class _Last(_ClientStep):
    @hookimpl(trylast=True)
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        self.step(jobspec)


def test_transforms_run_in_the_documented_order_each_seeing_the_last(tmp_path: Path) -> None:
    # Documented order: client transforms (tryfirst, then the most recently registered
    # first, then trylast), client validators; then in the instance its transforms
    # (in the order it loaded them: configuration, then --plugin), then its validators.
    client = ["c-first", "c-newer", "c-older", "c-last"]
    instance = ["i-config-1", "i-config-2", "i-command-line"]
    final = client + instance
    paths = []
    for index, name in enumerate(instance):
        expected = client + instance[:index]
        source = INSTANCE_STEP.format(name=name, expected=expected, final=final)
        paths.append(_write(tmp_path, name.replace("-", "_"), source))
    config = {"plugins": paths[:2]}
    with (
        plugin_instance(tmp_path / "state", plugins=paths[2:], config=config) as uri,
        Flux(uri) as handle,
        hooks.registered(_Last("c-last", client[:3]), "c-last"),
        hooks.registered(_Plain("c-older", client[:2]), "c-older"),
        hooks.registered(_Plain("c-newer", client[:1]), "c-newer"),
        hooks.registered(_First("c-first", []), "c-first"),
    ):
        jobid = job.submit(handle, JobspecV1.from_command(["true"]), urgency=0)
        assert submitted_jobspec(handle, jobid)["attributes"]["user"]["trail"] == final
        assert list(plugin_list(uri))[-3:] == [p.rsplit("/", 1)[1][:-3] for p in paths]


def test_the_documented_flux_form_validator_works(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    section = doc.split("## Flux's validator and frobnicator plugins", 1)[1]
    source = section.split("```python\n", 1)[1].split("\n```", 1)[0]
    plugin = _write(tmp_path, "max_duration", source)
    config = {"ingest": {"validator": {"plugins": [plugin], "args": ["--max-hours=1"]}}}
    with plugin_instance(tmp_path / "state", config=config) as uri, Flux(uri) as handle:
        assert _submit_error(handle, ["true"]) == (errno.EINVAL, "set a duration of at most 3600 s")
        with hooks.disabled():
            job.submit(handle, JobspecV1.from_command(["true"], duration="30m"), urgency=0)


FLUX_PROBE = """
import json, sys
import flux, flux.job
from flux.job import JobspecV1

h = flux.Flux()
out = {"refused": {}}
for command in sys.argv[1:]:
    try:
        flux.job.submit(h, JobspecV1.from_command([command]), urgency=7, waitable=True)
    except OSError as exc:
        out["refused"][command] = [exc.errno, exc.strerror]
jobid = flux.job.submit(h, JobspecV1.from_command(["true"]), urgency=7, waitable=True)
out["frobbed"] = flux.job.job_kvs_lookup(h, jobid)["jobspec"]["attributes"]["user"]["frobbed"]
print(json.dumps(out))
"""


@pytest.mark.flux
def test_the_recorded_answers_are_real_fluxs(tmp_path: Path) -> None:
    # The same plugin (imports from flux.job) in real Flux's job-ingest: the
    # answers fluxsdk's instance is held to above are Flux's.
    import subprocess

    from .flux_broker import find_flux

    flux = find_flux()
    if flux is None:
        pytest.skip("no flux command: put flux-core's bin on PATH or set FLUXSDK_FLUX")
    plugin = _write(tmp_path, "site", FLUX_FORM_PLUGIN.replace("fluxsdk.job.", "flux.job."))
    (tmp_path / "conf.toml").write_text(
        f'[ingest.validator]\nplugins = ["jobspec", "{plugin}"]\n'
        f'[ingest.frobnicator]\nplugins = ["{plugin}"]\n[site]\ntag = "t"\n'
    )
    probe = _write(tmp_path, "probe", FLUX_PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUX_")}
    argv = [flux, "start", "--test-size=1", "-c", str(tmp_path / "conf.toml")]
    argv += [flux, "python", probe, *RECORDED["refused"]]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["refused"] == RECORDED["refused"]
    assert out["frobbed"][1:] == RECORDED["accepted"]["true"]["frobbed"][1:]


def test_jobspec_defaults_in_the_configuration_apply_as_in_flux(tmp_path: Path) -> None:
    # Flux enables its defaults and constraints frobnicators by itself when the
    # configuration has jobspec defaults or queues (flux-core #4598).
    config = {"policy": {"jobspec": {"defaults": {"system": {"duration": 120}}}}}
    with plugin_instance(tmp_path / "state", config=config) as uri, Flux(uri) as handle:
        assert {"defaults", "constraints"} <= set(plugin_list(uri))
        with hooks.disabled():
            jobid = job.submit(handle, JobspecV1.from_command(["true"]), urgency=0)
        assert submitted_jobspec(handle, jobid)["attributes"]["system"]["duration"] == 120
    off = dict(config, ingest={"frobnicator": {"disable": True}})
    with plugin_instance(tmp_path / "state2", config=off) as uri:
        assert "defaults" not in plugin_list(uri)


SLOW_VALIDATOR = """
import time

from fluxsdk.hooks import hookimpl


@hookimpl
def fluxsdk_instance_jobspec_validate(jobspec):
    time.sleep(2)
"""


def test_a_submission_in_ingest_when_the_instance_stops_is_answered(tmp_path: Path) -> None:
    from fluxsdk.instance import start_detached
    from fluxsdk.testing import shutdown

    plugin = _write(tmp_path, "slow", SLOW_VALIDATOR)
    uri = start_detached(tmp_path / "state", cores=1, gpus=0, plugins=[plugin])
    try:
        with Flux(uri) as handle:
            with hooks.disabled():
                future = job.submit_async(handle, JobspecV1.from_command(["true"]))
            assert wait_for(lambda: plugin_list(uri)["slow"]["queued"] == 1)
            shutdown(uri)
            with pytest.raises(OSError) as caught:
                future.get_id()
    finally:
        with contextlib.suppress(OSError):  # stopped already, unless the test failed early
            shutdown(uri)
    assert (caught.value.errno, caught.value.strerror) == (
        errno.ENOSYS,
        "the instance is shutting down",
    )


def test_a_flux_form_plugin_that_cannot_configure_refuses_every_job(tmp_path: Path) -> None:
    plugin = _write(tmp_path, "site", FLUX_FORM_PLUGIN)
    config = {"ingest": {"frobnicator": {"plugins": [plugin]}}}  # no "site" section to read
    with plugin_instance(tmp_path / "state", config=config) as uri, Flux(uri) as handle:
        for _ in range(2):  # configure is tried again on every job until it works
            assert _submit_error(handle, ["true"]) == (errno.EPERM, "'site'")
        assert _job_count(handle) == 0
