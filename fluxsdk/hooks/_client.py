"""The typed facade the SDK calls its client-side hooks through.

One method per hook, so the SDK's calls are type-checked and every rule of
the hooks (order, containment, checking what plugins return) is written once,
here. Without implementations a method returns at once: a submission costs
one cached lookup per hook when no plugin is interested.

Transforms and validators change or judge what is submitted, so they fail
closed: one that fails stops the submission with a
:class:`~fluxsdk.hooks.PluginFailedError` naming it, unless it is advisory.
Their calls run in a helper thread, each bounded by the manager's deadline
(see ``_deadline``). Observers fail open: a failure is only reported.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import pluggy

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks._call import FAILED
from fluxsdk.hooks._deadline import Clock, Late, Runner
from fluxsdk.hooks._errors import JobspecRejectedError, PluginFailedError
from fluxsdk.hooks._global import get_plugin_manager, is_disabled
from fluxsdk.hooks._jobspecs import JobspecMemo, copy_json
from fluxsdk.hooks._manager import PluginManager
from fluxsdk.hooks._values import Rejection, Submission

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["ClientHooks", "client_hooks"]

log = logging.getLogger("fluxsdk.plugins")

TRANSFORM: Final = "fluxsdk_jobspec_transform"
VALIDATE: Final = "fluxsdk_jobspec_validate"
JOB_EVENT: Final = "fluxsdk_job_event"


class ClientHooks:
    """Client-side hooks of one plugin manager (see :mod:`fluxsdk.hooks.hookspecs`)."""

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self.pid = os.getpid()
        """The process these hooks (and their helper threads) belong to."""
        self.jobspecs = JobspecMemo()
        self.runner = Runner()
        self.stuck: dict[str, float] = {}
        """Plugins in a call that missed its deadline, with when it started."""

    def _late(self, late: Late) -> None:
        """A call of ``late.what`` missed its deadline: skip the plugin until it returns."""
        self.stuck[late.what] = time.monotonic() - late.seconds

    def returned(self, plugin: str, hook: str) -> None:
        """``plugin``'s call that missed its deadline has returned: it is called again."""
        started = self.stuck.pop(plugin, None)
        if started is not None:
            log.warning(
                "plugin %r returned from a late %s call after %.3f s; it is called again",
                plugin,
                hook,
                time.monotonic() - started,
            )

    # -- submission ------------------------------------------------------------------

    def prepare_jobspec(self, spec: bytes, *, uri: str, urgency: int, flags: int) -> bytes:
        """The jobspec to sign and submit: ``spec`` transformed and validated by plugins.

        Returns ``spec`` itself when no plugin transforms or validates, or when
        it is not a jobspec fluxsdk can parse (the instance then rejects it,
        as it would without plugins).

        Raises:
            JobspecRejectedError: a validator rejected the jobspec.
            PluginFailedError: a transform or validator that is not advisory
                failed (raised, missed its deadline, returned what its hook
                does not allow, broke the jobspec); nothing may be submitted.
        """
        transforms = self.manager.impls(TRANSFORM)
        validators = self.manager.impls(VALIDATE)
        if not (transforms or validators) or is_disabled():
            return spec
        if self.jobspecs.parse(spec) is None:
            return spec
        submission = Submission(uri=uri, userid=os.getuid(), urgency=urgency, flags=flags)
        deadline = self.manager.deadline
        skipped: set[str] = set()
        while True:
            one = _Pass(self, transforms, validators, spec, submission, frozenset(skipped))
            try:
                text, rejections = self.runner.run(one.run, deadline, self._late)
            except Late as late:
                plugin, hook = late.what, one.hook
                what = f"did not return within its {deadline:g} s deadline"
                if not self.manager.is_advisory(plugin):
                    self.manager.calls.garbage(plugin, hook, what, REFUSED)
                    raise PluginFailedError(plugin, hook, what, errno.ETIMEDOUT) from None
                self.manager.calls.garbage(plugin, hook, what, ADVISORY_SKIPPED)
                skipped.add(plugin)
                continue
            if rejections:
                raise JobspecRejectedError(rejections)
            return text.encode("utf-8", errors="surrogateescape")

    # -- events ------------------------------------------------------------------------

    def job_event(self, jobid: int, event: EventLogEvent, eventlog: str, uri: str) -> None:
        """Show ``event`` of job ``jobid`` to every ``fluxsdk_job_event`` plugin."""
        impls = self.manager.impls(JOB_EVENT)
        if not impls or is_disabled():
            return
        from fluxsdk.job import JobID  # the job layer is loaded whenever events flow

        job = JobID(jobid)
        for impl in impls:
            # Each plugin gets its own copy: none can change what the caller sees.
            mine = EventLogEvent(copy_json(dict(event)))
            kwargs = {"jobid": job, "event": mine, "eventlog": eventlog, "uri": uri}
            result = self.manager.calls.call(impl, JOB_EVENT, kwargs)
            if result is not None and result is not FAILED:
                self.manager.calls.garbage(
                    impl.plugin_name, JOB_EVENT, f"returned {type(result).__name__}, not None"
                )


REFUSED: Final = "fails closed: nothing was submitted"
ADVISORY_SKIPPED: Final = "advisory: the submission goes ahead without it"


class _Abandoned(Exception):
    """The caller gave up on this pass (a call missed its deadline)."""


class _Pass:
    """One submission's plugin pass: the transforms, then the validators.

    Transforms edit one working copy in turn. A plugin that fails (raises,
    returns a value, leaves a jobspec that no longer validates, is stuck in
    a call that missed its deadline) stops the submission with
    :class:`PluginFailedError`, unless it is advisory: then it is reported,
    and the pass starts again from the submitted jobspec without it, so the
    result is what the other plugins make of the user's jobspec.
    """

    def __init__(
        self,
        hooks: ClientHooks,
        transforms: tuple[pluggy.HookImpl, ...],
        validators: tuple[pluggy.HookImpl, ...],
        spec: bytes,
        submission: Submission,
        skipped: frozenset[str],
    ) -> None:
        self.hooks = hooks
        self.manager = hooks.manager
        self.transforms = [i for i in transforms if i.plugin_name not in skipped]
        self.validators = [i for i in validators if i.plugin_name not in skipped]
        self.spec = spec
        self.submission = submission
        self.hook = TRANSFORM
        self.clock = Clock()

    def run(self, clock: Clock) -> tuple[str, list[Rejection]]:
        """The transformed jobspec's text and the validators' rejections."""
        self.clock = clock
        jobspec = self._fresh()
        while True:
            culprit = self._apply(jobspec, check_each=False)
            if culprit is None:
                text, error = self.hooks.jobspecs.check(jobspec)
                if error is None:
                    break
                # Someone broke the jobspec: replay, checking after each, to find whom.
                culprit = self._apply(self._fresh(), check_each=True)
                if culprit is None:
                    names = ", ".join(i.plugin_name for i in self.transforms)
                    raise PluginFailedError(
                        names, TRANSFORM, f"together they left an invalid jobspec ({error})"
                    )
            self.transforms.remove(culprit)
            jobspec = self._fresh()
        return text, self._validate(jobspec)

    def _fresh(self) -> Jobspec:
        jobspec = self.hooks.jobspecs.parse(self.spec)
        assert jobspec is not None  # it parsed before
        return jobspec

    def _call(self, impl: pluggy.HookImpl, hook: str, kwargs: Mapping[str, Any]) -> object:
        """Call ``impl``; its result, or :data:`FAILED` (after :meth:`_failed`)."""
        plugin = impl.plugin_name
        self.hook = hook
        stuck = self.hooks.stuck.get(plugin)
        if stuck is not None:
            what = (
                f"is still in a call that missed its deadline {time.monotonic() - stuck:.1f} s ago"
            )
            self._failed(impl, hook, what, errno.ETIMEDOUT)
            return FAILED
        errors: list[BaseException] = []
        advisory = self.manager.is_advisory(plugin)
        self.clock.start(plugin)
        try:
            result = self.manager.calls.call(
                impl, hook, kwargs, ADVISORY_SKIPPED if advisory else REFUSED, errors
            )
        finally:
            if self.clock.stop():  # this is the call that missed its deadline
                self.hooks.returned(plugin, hook)
        if self.clock.abandoned:
            raise _Abandoned
        if result is FAILED and not advisory:
            what = f"raised {type(errors[0]).__name__}: {errors[0]}" if errors else "failed"
            raise PluginFailedError(plugin, hook, what)
        return result

    def _failed(
        self, impl: pluggy.HookImpl, hook: str, what: str, errnum: int = errno.EPERM
    ) -> None:
        """Report ``impl``'s failure; raise unless it is advisory."""
        plugin = impl.plugin_name
        if self.manager.is_advisory(plugin):
            self.manager.calls.garbage(plugin, hook, what, ADVISORY_SKIPPED)
            return
        self.manager.calls.garbage(plugin, hook, what, REFUSED)
        raise PluginFailedError(plugin, hook, what, errnum)

    def _apply(self, jobspec: Jobspec, *, check_each: bool) -> pluggy.HookImpl | None:
        """Run the transforms on ``jobspec``; the first advisory one that failed, or None."""
        kwargs: Mapping[str, Any] = {"jobspec": jobspec, "submission": self.submission}
        for impl in self.transforms:
            result = self._call(impl, TRANSFORM, kwargs)
            if result is FAILED:
                return impl
            if result is not None:
                self._failed(
                    impl,
                    TRANSFORM,
                    f"returned {type(result).__name__}; edit the jobspec in place and return None",
                )
                return impl
            if check_each:
                error = self.hooks.jobspecs.check(jobspec)[1]
                if error is not None:
                    self._failed(impl, TRANSFORM, f"left an invalid jobspec ({error})")
                    return impl
        return None

    def _validate(self, jobspec: Jobspec) -> list[Rejection]:
        rejections: list[Rejection] = []
        kwargs: Mapping[str, Any] = {"jobspec": jobspec, "submission": self.submission}
        for impl in self.validators:
            result = self._call(impl, VALIDATE, kwargs)
            if result is None or result is FAILED:
                continue
            if isinstance(result, str):
                rejections.append(Rejection(plugin=impl.plugin_name, message=result or "rejected"))
            else:
                self._failed(
                    impl,
                    VALIDATE,
                    f"returned {type(result).__name__}; expected a message (str) or None",
                )
        return rejections


_cache: dict[int, ClientHooks] = {}


def client_hooks() -> ClientHooks:
    """The client-side hooks of this process's plugin manager.

    A forked child gets hooks of its own: its parent's helper threads (and
    the calls they were stuck in) do not exist in it.
    """
    manager = get_plugin_manager()
    hooks = _cache.get(id(manager))
    if hooks is None or hooks.manager is not manager or hooks.pid != os.getpid():
        hooks = _cache[id(manager)] = ClientHooks(manager)
    return hooks
