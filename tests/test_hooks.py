"""Plugins, client side: registration rules, entry points, and every client hook.

Each hook is tested through the public API that calls it (``job.submit``,
``event_watch``, ``Flux(uri)``) against the session's real instance, with
well-behaved plugins and with deliberately broken ones: a broken plugin must be
reported by name and must never change what the user gets otherwise.
"""

from __future__ import annotations

import errno
import importlib.metadata
import inspect
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fluxsdk
from fluxsdk import hooks, job
from fluxsdk.core import Flux
from fluxsdk.core._uri import FluxURI, parse_uri
from fluxsdk.core.connectors import Connector, open_connector
from fluxsdk.core.connectors._embedded import open_embedded
from fluxsdk.hooks import (
    JobspecRejectedError,
    PluginError,
    PluginManager,
    Submission,
    hookimpl,
    hookspecs,
)
from fluxsdk.hooks._client import client_hooks
from fluxsdk.hooks._connectors import plugin_connectors
from fluxsdk.hooks._global import ENV_ALLOW, ENV_BLOCK, _load
from fluxsdk.job import Jobspec, JobspecV1

from .hooks_support import Recorder, submitted_environment, submitted_jobspec, wait_for

CONTRACT = {
    "fluxsdk_jobspec_transform",
    "fluxsdk_jobspec_validate",
    "fluxsdk_job_event",
    "fluxsdk_connectors",
    "fluxsdk_instance_job_event",
    "fluxsdk_instance_job_priority",
    "fluxsdk_instance_jobspec_transform",
    "fluxsdk_instance_jobspec_validate",
}
FIRST_PARTY = {
    "site-policy": (
        "fluxsdk-site-policy",
        {
            "fluxsdk_jobspec_transform",
            "fluxsdk_instance_jobspec_transform",
            "fluxsdk_instance_jobspec_validate",
        },
    ),
    "audit": ("fluxsdk-audit", {"fluxsdk_instance_job_event"}),
    "fair-share": (
        "fluxsdk-fair-share",
        {"fluxsdk_instance_job_event", "fluxsdk_instance_job_priority"},
    ),
}


@pytest.fixture
def plugin_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Warnings of the plugin machinery, captured."""
    caplog.set_level(logging.WARNING, logger="fluxsdk.plugins")
    return caplog


def _spec(*command: str) -> JobspecV1:
    return JobspecV1.from_command(list(command) or ["true"])


# -- the specifications ----------------------------------------------------------------


def test_hookspecs_are_the_contract_typed_and_documented() -> None:
    assert set(hookspecs.__all__) == CONTRACT
    for name in CONTRACT:
        spec = getattr(hookspecs, name)
        assert (spec.__doc__ or "").strip(), name
        signature = inspect.signature(spec)
        assert signature.return_annotation is not inspect.Signature.empty, name
        for parameter in signature.parameters.values():
            assert parameter.annotation is not inspect.Parameter.empty, (name, parameter)
            # Every argument is explained in the docstring.
            assert f"{parameter.name}:" in (spec.__doc__ or ""), (name, parameter.name)


def test_public_names_are_sorted_and_real() -> None:
    assert hooks.__all__ == sorted(hooks.__all__)
    for name in hooks.__all__:
        assert getattr(hooks, name) is not None
    assert hooks.ENTRY_POINT_GROUP == "fluxsdk"
    # fluxsdk.hookimpl / fluxsdk.hookspec, once exported from the package root, are these.
    assert getattr(fluxsdk, "hookimpl", hookimpl) is hookimpl
    assert getattr(fluxsdk, "hookspec", hooks.hookspec) is hooks.hookspec


def test_errors_are_catchable_as_flux_job_code_does() -> None:
    rejection = JobspecRejectedError([hooks.Rejection(plugin="p", message="no")])
    assert isinstance(rejection, OSError) and isinstance(rejection, ValueError)
    assert isinstance(rejection, fluxsdk.FluxSDKError)
    assert rejection.errno == errno.EPERM
    assert str(rejection) == "jobspec rejected by plugin 'p': no"
    error = PluginError(errno.ENOENT, "gone")
    assert isinstance(error, OSError) and error.errno == errno.ENOENT and str(error) == "gone"
    import pickle

    again = pickle.loads(pickle.dumps(rejection))
    assert again.rejections == rejection.rejections and str(again) == str(rejection)


# -- registration rules ------------------------------------------------------------------


class _Unmarked:
    def fluxsdk_job_event(self, jobid: int) -> None:
        """Not marked: pluggy would silently ignore it."""


class _Misspelt:
    @hookimpl
    def fluxsdk_jobspec_tranform(self, jobspec: Jobspec) -> None:
        """A typo of fluxsdk_jobspec_transform."""


class _UnknownArgument:
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec, queue: str) -> None:
        """Asks for an argument the hook does not have."""


class _Wrapper:
    @hookimpl(wrapper=True)
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> Iterator[None]:
        """Wrappers are not supported."""
        yield


@pytest.mark.parametrize(
    ("plugin", "words"),
    [
        (_Unmarked(), "not marked with @fluxsdk.hookimpl"),
        (_Misspelt(), "did you mean fluxsdk_jobspec_transform"),
        (_UnknownArgument(), "queue"),
        (_Wrapper(), "is a wrapper"),
    ],
)
def test_a_plugin_that_breaks_the_rules_is_refused_by_name(plugin: object, words: str) -> None:
    manager = PluginManager()
    with pytest.raises(PluginError) as caught:
        manager.register(plugin, "bad-plugin")
    assert caught.value.errno == errno.EINVAL
    assert "bad-plugin" in str(caught.value) and words in str(caught.value)
    assert manager.get_plugin("bad-plugin") is None
    assert manager.impls("fluxsdk_jobspec_transform") == ()
    manager.check_pending()  # nothing half-registered is left behind


def test_duplicates_and_blocked_names_are_refused() -> None:
    manager = PluginManager()
    plugin = Recorder()
    assert manager.register(plugin, "rec") == "rec"
    with pytest.raises(PluginError) as caught:
        manager.register(Recorder(), "rec")
    assert caught.value.errno == errno.EEXIST
    manager.set_blocked("nope")
    with pytest.raises(PluginError) as caught:
        manager.register(Recorder(), "nope")
    assert caught.value.errno == errno.EPERM
    generation = manager.generation
    assert manager.unregister(name="rec") is plugin
    assert manager.generation > generation and manager.info("rec") is None


def test_implementations_are_called_in_pluggy_order() -> None:
    calls: list[str] = []

    def plugin(name: str, tryfirst: bool = False, trylast: bool = False) -> object:
        class Plugin:
            @hookimpl(tryfirst=tryfirst, trylast=trylast)
            def fluxsdk_jobspec_transform(self) -> None:
                calls.append(name)

        return Plugin()

    manager = PluginManager()
    manager.register(plugin("a"), "a")
    manager.register(plugin("last", trylast=True), "last")
    manager.register(plugin("b"), "b")
    manager.register(plugin("first", tryfirst=True), "first")
    assert [i.plugin_name for i in manager.impls("fluxsdk_jobspec_transform")] == [
        "first",
        "b",
        "a",
        "last",
    ]


# -- entry points ------------------------------------------------------------------------


def test_first_party_plugins_load_through_their_entry_points() -> None:
    installed = {ep.name: ep for ep in importlib.metadata.entry_points(group="fluxsdk")}
    missing = set(FIRST_PARTY) - set(installed)
    assert not missing, (
        f"install the first-party plugins first: pip install -e plugins/site-policy "
        f"-e plugins/audit -e plugins/fair-share (missing: {sorted(missing)})"
    )
    manager = PluginManager()
    manager.load_entry_points()
    for name, (distribution, hook_names) in FIRST_PARTY.items():
        info = manager.info(name)
        assert info is not None and info.loaded, name
        assert info.source == "entry point"
        assert info.origin.startswith(distribution + " ")
        assert set(info.hooks) == hook_names
    # The process's own manager has them too (loaded on first use).
    loaded = {info.name for info in hooks.plugins() if info.loaded}
    assert set(FIRST_PARTY) <= loaded or ENV_ALLOW in os.environ


def test_allow_and_block_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_ALLOW, "audit, fluxsdk-fair-share")
    monkeypatch.setenv(ENV_BLOCK, "fair-share")
    names = {info.name for info in _load().infos()}
    assert "audit" in names and "fair-share" not in names and "site-policy" not in names
    assert "fluxsdk.hooks._builtin" in names  # built-ins always load
    monkeypatch.setenv(ENV_ALLOW, "none")
    monkeypatch.delenv(ENV_BLOCK)
    assert [info.name for info in _load().infos()] == ["fluxsdk.hooks._builtin"]


def _fake_distribution(root: Path, name: str, entry_points: str) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_an_entry_point_that_fails_to_import_is_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin_log: pytest.LogCaptureFixture
) -> None:
    _fake_distribution(
        tmp_path, "broken-dist", "[fluxsdk]\naaa-broken = tests.hooks_import_error\n"
    )
    _fake_distribution(tmp_path, "typo-dist", "[fluxsdk]\naab-missing = no_such_module_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager()
    manager.load_entry_points()
    broken = manager.info("aaa-broken")
    assert broken is not None and not broken.loaded and broken.origin == "broken-dist 1.0"
    assert "ImportError: hooks_import_error is broken on purpose" in (broken.error or "")
    assert "aaa-broken" in plugin_log.text and "not loaded" in plugin_log.text
    missing = manager.info("aab-missing")
    assert missing is not None and "ModuleNotFoundError" in (missing.error or "")
    # The others loaded all the same.
    assert all((manager.info(name) or broken).loaded for name in FIRST_PARTY)


def test_named_plugins_unknown_names_fail_clearly() -> None:
    manager = PluginManager()
    info = manager.load_named("fluxsdk-audit", source="command line")  # by distribution name
    assert info.name == "audit" and info.loaded
    with pytest.raises(PluginError) as caught:
        manager.load_named("audti", source="command line")
    assert caught.value.errno == errno.ENOENT
    assert "no plugin named 'audti'" in str(caught.value) and "audit" in str(caught.value)
    failed = manager.load_named("tests.hooks_import_error", source="command line")
    assert not failed.loaded and "broken on purpose" in (failed.error or "")


# -- transforms and validators -------------------------------------------------------------


class _Defaults:
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec, submission: Submission) -> None:
        jobspec.setattr("user.defaults", f"urgency={submission.urgency}")
        jobspec.environment = {**(jobspec.environment or {}), "FROM_PLUGIN": "1"}
        if not jobspec.duration:
            jobspec.duration = 60


class _Limit:
    def __init__(self, message: str | None) -> None:
        self.message = message
        self.seen: list[Any] = []

    @hookimpl
    def fluxsdk_jobspec_validate(self, jobspec: Jobspec) -> str | None:
        self.seen.append(jobspec.getattr("user.defaults") if "user" in jobspec.attributes else None)
        jobspec.duration = 1  # changes made by validators are not submitted
        return self.message


def test_transforms_shape_what_is_submitted_and_leave_the_callers_jobspec(
    flux_handle: Flux,
) -> None:
    spec = _spec("printenv", "FROM_PLUGIN")
    before = spec.dumps()
    limit = _Limit(None)
    with hooks.registered(_Defaults(), "defaults"), hooks.registered(limit, "limit"):
        jobid = job.submit(flux_handle, spec, urgency=10)
    assert spec.dumps() == before
    assert limit.seen == ["urgency=10"]  # validators see the transformed jobspec
    stored = submitted_jobspec(flux_handle, jobid)
    assert stored["attributes"]["user"]["defaults"] == "urgency=10"
    assert stored["attributes"]["system"]["duration"] == 60  # not the validator's 1
    assert submitted_environment(flux_handle, jobid)["FROM_PLUGIN"] == "1"
    assert job.job_output(flux_handle, jobid).stdout == "1\n"


def test_each_submission_is_transformed_afresh(flux_handle: Flux) -> None:
    class Wrap:
        @hookimpl
        def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
            jobspec.tasks[0]["command"].insert(0, "env")  # nested: must not pile up

    spec = _spec("true")
    with hooks.registered(Wrap(), "wrap"):
        ids = [job.submit(flux_handle, spec) for _ in range(3)]
    commands = [submitted_jobspec(flux_handle, i)["tasks"][0]["command"] for i in ids]
    assert commands == [["env", "true"]] * 3
    assert spec.tasks[0]["command"] == ["true"]


def test_a_rejection_is_a_typed_error_naming_each_plugin(flux_handle: Flux) -> None:
    first, second, fine = (
        _Limit("duration 2h exceeds 1h"),
        _Limit("queue x is closed"),
        _Limit(None),
    )
    with (
        hooks.registered(first, "limits"),
        hooks.registered(second, "queues"),
        hooks.registered(fine, "fine"),
    ):
        with pytest.raises(JobspecRejectedError) as caught:
            job.submit(flux_handle, _spec())
        with pytest.raises(OSError) as as_os_error:  # what flux.job scripts catch
            job.submit_async(flux_handle, _spec())
    error = caught.value
    assert error.errno == errno.EPERM and as_os_error.value.errno == errno.EPERM
    assert {(r.plugin, r.message) for r in error.rejections} == {
        ("limits", "duration 2h exceeds 1h"),
        ("queues", "queue x is closed"),
    }
    assert "plugin 'limits': duration 2h exceeds 1h" in str(error)
    assert len(fine.seen) == 2  # every validator ran


class _Raises:
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        jobspec.setattr("user.half_done", True)
        raise RuntimeError("transform bug")


class _Garbage:
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> object:
        jobspec.setattr("user.garbage", True)
        return {"not": "None"}


class _Breaks:
    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        jobspec.jobspec["tasks"] = "not a list"


class _Exits:
    @hookimpl
    def fluxsdk_jobspec_transform(self) -> None:
        sys.exit(2)


def _job_count(handle: Flux) -> int:
    return len(job.job_list(handle, max_entries=0, attrs=["id"]).get_jobs())


class _Before:
    @hookimpl(tryfirst=True)
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        jobspec.setattr("user.before", True)


class _After:
    @hookimpl(trylast=True)
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        jobspec.setattr("user.after", True)


BROKEN_TRANSFORMS = [
    (_Raises, "raised RuntimeError: transform bug"),
    (_Garbage, "returned dict"),
    (_Breaks, "left an invalid jobspec"),
    (_Exits, "raised SystemExit"),
]


@pytest.mark.parametrize(("broken", "words"), BROKEN_TRANSFORMS)
def test_a_failing_transform_stops_the_submission_naming_it(
    flux_handle: Flux, plugin_log: pytest.LogCaptureFixture, broken: type, words: str
) -> None:
    # Fail closed: a site's transform that breaks must not let the job go out unchanged.
    count = _job_count(flux_handle)
    with (
        hooks.registered(_Before(), "before"),
        hooks.registered(broken(), "broken"),
        hooks.registered(_After(), "after"),
    ):
        with pytest.raises(hooks.PluginFailedError) as caught:
            job.submit(flux_handle, _spec())
        with pytest.raises(OSError) as as_os_error:  # what flux.job scripts catch
            job.submit_async(flux_handle, _spec())
    error = caught.value
    assert (error.plugin, error.hook) == ("broken", "fluxsdk_jobspec_transform")
    assert words in error.failure and "plugin 'broken' failed" in str(error)
    assert error.errno == errno.EPERM and as_os_error.value.errno == errno.EPERM
    assert "plugin 'broken' failed in fluxsdk_jobspec_transform" in plugin_log.text
    assert _job_count(flux_handle) == count  # nothing reached the instance


@pytest.mark.parametrize(("broken", "words"), BROKEN_TRANSFORMS)
def test_an_advisory_transform_that_fails_is_skipped_and_its_changes_discarded(
    flux_handle: Flux,
    plugin_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    broken: type,
    words: str,
) -> None:
    # Advisory by configuration (as FLUXSDK_ADVISORY_PLUGINS=broken does).
    manager = hooks.get_plugin_manager()
    monkeypatch.setattr(manager, "advisory_names", frozenset({"broken"}))
    with (
        hooks.registered(_Before(), "before"),
        hooks.registered(broken(), "broken"),
        hooks.registered(_After(), "after"),
    ):
        assert manager.is_advisory("broken") and not manager.is_advisory("before")
        jobid = job.submit(flux_handle, _spec())
    user = submitted_jobspec(flux_handle, jobid)["attributes"]["user"]
    assert user == {"before": True, "after": True}  # the others' changes are kept
    assert "plugin 'broken' failed in fluxsdk_jobspec_transform" in plugin_log.text
    assert words in plugin_log.text and "advisory" in plugin_log.text
    assert job.result(flux_handle, jobid).returncode == 0


class _RaisingValidator:
    @hookimpl
    def fluxsdk_jobspec_validate(self) -> str | None:
        raise KeyError("validator bug")


class _GarbageValidator:
    @hookimpl
    def fluxsdk_jobspec_validate(self) -> object:
        return False


@pytest.mark.parametrize(
    ("broken", "words"),
    [(_RaisingValidator, "raised KeyError: 'validator bug'"), (_GarbageValidator, "returned bool")],
)
def test_a_failing_validator_stops_the_submission_naming_it(
    flux_handle: Flux, broken: type, words: str
) -> None:
    count = _job_count(flux_handle)
    with hooks.registered(broken(), "judge"), pytest.raises(hooks.PluginFailedError) as caught:
        job.submit(flux_handle, _spec())
    assert (caught.value.plugin, caught.value.hook) == ("judge", "fluxsdk_jobspec_validate")
    assert words in str(caught.value)
    assert _job_count(flux_handle) == count


def test_an_advisory_validator_that_fails_counts_as_accepting(
    flux_handle: Flux, plugin_log: pytest.LogCaptureFixture
) -> None:
    # Advisory in code: the plugin says so itself.
    class Raises(_RaisingValidator):
        FLUXSDK_ADVISORY = True

    class Garbage(_GarbageValidator):
        FLUXSDK_ADVISORY = True

    with hooks.registered(Raises(), "raises"), hooks.registered(Garbage(), "garbage"):
        infos = {i.name: i for i in hooks.plugins()}
        assert infos["raises"].advisory and infos["garbage"].advisory
        jobid = job.submit(flux_handle, _spec())
    assert job.result(flux_handle, jobid).returncode == 0
    assert "plugin 'raises' failed in fluxsdk_jobspec_validate" in plugin_log.text
    assert "plugin 'garbage' failed" in plugin_log.text and "returned bool" in plugin_log.text


def test_advisory_plugins_are_named_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from fluxsdk.hooks._global import ENV_ADVISORY, ENV_TIMEOUT

    monkeypatch.setenv(ENV_ALLOW, "none")
    monkeypatch.setenv(ENV_ADVISORY, "site_policy, other")
    monkeypatch.setenv(ENV_TIMEOUT, "2.5")
    manager = _load()
    assert manager.advisory_names == {"site-policy", "other"} and manager.deadline == 2.5
    manager.register(_Raises(), "other")
    assert manager.is_advisory("other")
    monkeypatch.setenv(ENV_TIMEOUT, "soon")
    with pytest.raises(ValueError, match="FLUXSDK_PLUGIN_TIMEOUT='soon'"):
        _load()


class _Hangs:
    """A transform that blocks until released (a plugin stuck on a dead server)."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.returned = threading.Event()

    @hookimpl
    def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
        self.release.wait()
        jobspec.setattr("user.hung", True)
        self.returned.set()


def test_a_transform_past_its_deadline_stops_the_submission(
    flux_handle: Flux, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = hooks.get_plugin_manager()
    monkeypatch.setattr(manager, "deadline", 0.2)
    count = _job_count(flux_handle)
    hangs = _Hangs()
    with hooks.registered(hangs, "hangs"):
        try:
            with pytest.raises(hooks.PluginFailedError) as caught:
                job.submit(flux_handle, _spec())
            assert caught.value.errno == errno.ETIMEDOUT
            assert "did not return within its 0.2 s deadline" in str(caught.value)
            # While it is stuck, the plugin is not called again: submissions fail at once.
            with pytest.raises(hooks.PluginFailedError, match="still in a call"):
                job.submit(flux_handle, _spec())
            assert _job_count(flux_handle) == count
        finally:
            hangs.release.set()
        assert hangs.returned.wait(10)
        assert wait_for(lambda: "hangs" not in client_hooks().stuck)
        jobid = job.submit(flux_handle, _spec())  # it answers again: it is called again
    assert submitted_jobspec(flux_handle, jobid)["attributes"]["user"] == {"hung": True}


def test_an_advisory_transform_past_its_deadline_is_skipped(
    flux_handle: Flux, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = hooks.get_plugin_manager()
    monkeypatch.setattr(manager, "deadline", 0.2)
    hangs = _Hangs()
    hangs.FLUXSDK_ADVISORY = True  # type: ignore[attr-defined]
    with hooks.registered(hangs, "hangs"), hooks.registered(_After(), "after"):
        try:
            jobid = job.submit(flux_handle, _spec())
        finally:
            hangs.release.set()
    assert submitted_jobspec(flux_handle, jobid)["attributes"]["user"] == {"after": True}


def test_a_slow_plugin_is_visible(flux_handle: Flux, plugin_log: pytest.LogCaptureFixture) -> None:
    class Slow:
        @hookimpl
        def fluxsdk_jobspec_validate(self) -> None:
            time.sleep(0.15)

    manager = hooks.get_plugin_manager()
    with hooks.registered(Slow(), "slowpoke"):
        job.submit(flux_handle, _spec())
    assert "plugin 'slowpoke' is slow: fluxsdk_jobspec_validate took 0.1" in plugin_log.text
    assert manager.calls.stats_for("slowpoke", "fluxsdk_jobspec_validate").slow == 1


def test_jobspecs_plugins_cannot_see_go_out_as_given(flux_handle: Flux) -> None:
    limit = _Limit("never")
    with hooks.registered(limit, "never"):
        with hooks.disabled():
            job.submit(flux_handle, _spec())
        # YAML, or junk: the instance answers as it would without plugins.
        with pytest.raises(OSError) as caught:
            job.submit(flux_handle, "version: 1\n")
        assert not isinstance(caught.value, JobspecRejectedError)
        # A signed request is sent as is.
        signed = flux_handle._sign_jobspec(_spec().dumps().encode())
        job.submit(flux_handle, signed, pre_signed=True)
    assert limit.seen == []


def test_no_plugin_no_cost_path_returns_the_same_bytes() -> None:
    from fluxsdk.hooks._client import ClientHooks

    spec = b'{"anything": true}'
    assert ClientHooks(PluginManager()).prepare_jobspec(spec, uri="u", urgency=16, flags=0) is spec


# -- job events ----------------------------------------------------------------------------


def test_observers_see_each_event_the_sdk_receives(flux_handle: Flux) -> None:
    recorder = Recorder()
    jobid = job.submit(flux_handle, _spec("echo", "hi"), waitable=True)
    with hooks.registered(recorder, "recorder"):
        names = [event.name for event in job.event_watch(flux_handle, jobid)]
        assert [name for _, name, _, _ in recorder.events] == names
        assert {e[2] for e in recorder.events} == {"eventlog"}
        job.job_output(flux_handle, jobid)
        assert {(j, u) for j, _, _, u in recorder.events} == {(int(jobid), flux_handle.uri)}
        assert any(e[2] == "guest.output" for e in recorder.events)
        recorder.events.clear()
        assert job.result(flux_handle, jobid).returncode == 0  # result() watches too
        assert [e[1] for e in recorder.events][-1] == "clean"
    recorder.events.clear()
    list(job.event_watch(flux_handle, jobid))
    assert recorder.events == []  # unregistered


def test_observers_cannot_break_or_change_what_the_caller_gets(
    flux_handle: Flux, plugin_log: pytest.LogCaptureFixture
) -> None:
    class Vandal:
        @hookimpl
        def fluxsdk_job_event(self, event: Any) -> str:
            event.context.clear()
            event["name"] = "vandalised"
            raise RuntimeError("observer bug")

    jobid = job.submit(flux_handle, _spec())
    expected = list(job.event_watch(flux_handle, jobid))
    with hooks.registered(Vandal(), "vandal"):
        got = list(job.event_watch(flux_handle, jobid))
        watch = job.event_watch_async(flux_handle, jobid)
        peeked = watch.get_event(autoreset=False)
        assert watch.get_event() == peeked  # a peek then a read: one notification
        watch.cancel()
    assert got == expected
    assert "plugin 'vandal' failed in fluxsdk_job_event" in plugin_log.text
    stats = hooks.get_plugin_manager().calls.stats_for("vandal", "fluxsdk_job_event")
    assert stats.calls == len(expected) + 1 and stats.failures == stats.calls


# -- connectors ------------------------------------------------------------------------------


class _Alias:
    """Provides alias:///path for the embedded instance at that path."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    @hookimpl
    def fluxsdk_connectors(self) -> dict[str, Any]:
        return {"alias": self.open}

    def open(self, uri: FluxURI) -> Connector:
        self.opened.append(uri.text)
        return open_embedded(parse_uri("fluxsdk://" + uri.text.split("://", 1)[1]))


def test_connectors_come_from_plugins_built_in_ones_too(fluxsdk_uri: str) -> None:
    table = plugin_connectors()
    assert table["fluxsdk"].plugin == "fluxsdk.hooks._builtin"
    alias = _Alias()
    with hooks.registered(alias, "alias"):
        uri = fluxsdk_uri.replace("fluxsdk://", "alias://")
        with Flux(uri) as handle:
            jobid = job.submit(handle, _spec())
            assert job.result(handle, jobid).returncode == 0
        assert alias.opened == [uri]
    with pytest.raises(ValueError, match="unknown URI scheme"):
        open_connector(parse_uri(uri))


def test_a_plugin_may_replace_a_built_in_connector(fluxsdk_uri: str) -> None:
    opened: list[str] = []

    class Override:
        @hookimpl
        def fluxsdk_connectors(self) -> dict[str, Any]:
            def open_(uri: FluxURI) -> Connector:
                opened.append(uri.text)
                return open_embedded(uri)

            return {"fluxsdk": open_}

    with hooks.registered(Override(), "override"), Flux(fluxsdk_uri):
        pass
    assert opened == [fluxsdk_uri]


def test_broken_connector_plugins_are_named(
    fluxsdk_uri: str, plugin_log: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def fluxsdk_connectors(self) -> dict[str, Any]:
            return {
                "crash": lambda uri: 1 / 0,
                "junk": lambda uri: "not a connector",
                "refused": lambda uri: (_ for _ in ()).throw(ConnectionRefusedError("down")),
                "bad scheme!": lambda uri: None,
            }

    class Garbage:
        @hookimpl
        def fluxsdk_connectors(self) -> list[str]:
            return ["alias"]

    path = fluxsdk_uri.split("://", 1)[1]
    with hooks.registered(Broken(), "broken"), hooks.registered(Garbage(), "garbage"):
        with pytest.raises(PluginError, match=r"plugin 'broken'.*crash://.*ZeroDivisionError"):
            Flux(f"crash://{path}")
        with pytest.raises(PluginError, match=r"plugin 'broken'.*returned str, not a Connector"):
            Flux(f"junk://{path}")
        with pytest.raises(ConnectionRefusedError):  # an OSError is the connector's answer
            Flux(f"refused://{path}")
        with Flux(fluxsdk_uri):  # the rest keeps working
            pass
    assert "plugin 'garbage' failed in fluxsdk_connectors: returned list" in plugin_log.text
    assert "bad entry 'bad scheme!'" in plugin_log.text


# -- fluxsdk plugins ---------------------------------------------------------------------------


def _run_plugins_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    import argparse

    from fluxsdk.cli import _plugins

    parser = argparse.ArgumentParser(prog="fluxsdk")
    _plugins.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plugins", *argv])
    assert args.func(args) == 0
    return capsys.readouterr().out


def test_the_plugins_command_lists_what_is_loaded_and_from_where(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    class Advisory(_Limit):
        FLUXSDK_ADVISORY = True

    with hooks.registered(Recorder(), "recorder"), hooks.registered(Advisory(None), "nicety"):
        text = _run_plugins_command(["--order"], capsys)
        data = json.loads(_run_plugins_command(["--json", "--order"], capsys))
    nicety = next(line for line in text.splitlines() if "nicety" in line)
    assert nicety.endswith("[advisory: fails open]")
    assert "- fluxsdk_jobspec_validate (client)" in text
    assert "fluxsdk.hooks._builtin" in text and "built-in" in text
    assert "recorder" in text and "register()" in text
    names = {entry["name"]: entry for entry in data["plugins"]}
    assert names["recorder"]["hooks"] == ["fluxsdk_job_event"]
    assert data["order"]["fluxsdk_job_event"][0] == "recorder"
    if "site-policy" in names:
        assert names["site-policy"]["origin"].startswith("fluxsdk-site-policy ")
        assert "entry point" in text


def test_the_deadline_runner_gives_up_on_a_stuck_call_and_hears_when_it_returns() -> None:
    import threading

    from fluxsdk.hooks._deadline import Clock, Late, Runner

    release, ended = threading.Event(), threading.Event()
    heard: list[tuple[str, bool]] = []

    def stuck_pass(clock: Clock) -> str:
        clock.start("stuck")
        release.wait()
        heard.append(("returned, given up on", clock.stop()))
        ended.set()
        return "too late"

    def quick_pass(clock: Clock) -> str:
        clock.start("quick")
        heard.append(("returned, given up on", clock.stop()))
        return "in time"

    runner = Runner()
    late: list[Late] = []
    with pytest.raises(Late) as caught:
        runner.run(stuck_pass, 0.2, late.append)
    assert caught.value.what == "stuck" and late == [caught.value]
    assert runner.run(quick_pass, 0.2) == "in time"  # another helper thread serves
    release.set()
    assert ended.wait(10)
    assert heard == [("returned, given up on", False), ("returned, given up on", True)]
    assert runner.run(quick_pass, 0) == "in time"  # no deadline: inline


def test_a_forked_child_runs_its_plugin_passes_in_threads_of_its_own() -> None:
    import json

    class Tag:
        @hookimpl
        def fluxsdk_jobspec_transform(self, jobspec: Jobspec) -> None:
            jobspec.setattr("user.tagged", True)

    spec = _spec().dumps().encode()
    with hooks.registered(Tag(), "tag"):
        parent = client_hooks()
        parent.prepare_jobspec(spec, uri="u", urgency=16, flags=0)  # a helper thread exists
        pid = os.fork()
        if pid == 0:  # the child: the parent's helper thread is not here
            status = 1
            try:
                hooks_here = client_hooks()
                text = hooks_here.prepare_jobspec(spec, uri="u", urgency=16, flags=0)
                tagged = json.loads(text)["attributes"]["user"]["tagged"]
                status = 0 if hooks_here is not parent and tagged is True else 2
            finally:
                os._exit(status)
        status = _reap(pid)
    assert os.waitstatus_to_exitcode(status) == 0


def _reap(pid: int, patience: float = 30.0) -> int:
    """The wait status of child ``pid``; a child that hangs is killed and fails the test."""
    until = time.monotonic() + patience
    while time.monotonic() < until:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"child {pid} hung (killed)")
