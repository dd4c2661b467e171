"""The typed facade the SDK calls its client-side hooks through.

One method per hook, so the SDK's calls are type-checked and every rule of
the hooks (order, containment, checking what plugins return) is written once,
here. Without implementations a method returns at once: a submission costs
one cached lookup per hook when no plugin is interested.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import pluggy

from fluxsdk.eventlog import EventLogEvent
from fluxsdk.hooks._call import FAILED
from fluxsdk.hooks._errors import JobspecRejectedError
from fluxsdk.hooks._global import get_plugin_manager, is_disabled
from fluxsdk.hooks._jobspecs import JobspecMemo, copy_json
from fluxsdk.hooks._manager import PluginManager
from fluxsdk.hooks._values import Rejection, Submission

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["ClientHooks", "client_hooks"]

TRANSFORM: Final = "fluxsdk_jobspec_transform"
VALIDATE: Final = "fluxsdk_jobspec_validate"
JOB_EVENT: Final = "fluxsdk_job_event"


class ClientHooks:
    """Client-side hooks of one plugin manager (see :mod:`fluxsdk.hooks.hookspecs`)."""

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self.jobspecs = JobspecMemo()

    # -- submission ------------------------------------------------------------------

    def prepare_jobspec(self, spec: bytes, *, uri: str, urgency: int, flags: int) -> bytes:
        """The jobspec to sign and submit: ``spec`` transformed and validated by plugins.

        Returns ``spec`` itself when no plugin transforms or validates, or when
        it is not a jobspec fluxsdk can parse (the instance then rejects it,
        as it would without plugins).

        Raises:
            JobspecRejectedError: a validator rejected the jobspec.
        """
        transforms = self.manager.impls(TRANSFORM)
        validators = self.manager.impls(VALIDATE)
        if not (transforms or validators) or is_disabled():
            return spec
        jobspec = self.jobspecs.parse(spec)
        if jobspec is None:
            return spec
        submission = Submission(uri=uri, userid=os.getuid(), urgency=urgency, flags=flags)
        passes = _Transforms(self.manager, transforms, self.jobspecs, spec, submission)
        jobspec, text = passes.run(jobspec)
        rejections: list[Rejection] = []
        for impl in validators:
            result = self.manager.calls.call(
                impl, VALIDATE, {"jobspec": jobspec, "submission": submission}
            )
            if result is None or result is FAILED:
                continue
            if isinstance(result, str):
                rejections.append(Rejection(plugin=impl.plugin_name, message=result or "rejected"))
            else:
                self.manager.calls.garbage(
                    impl.plugin_name,
                    VALIDATE,
                    f"returned {type(result).__name__}; expected a message (str) or None",
                )
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


class _Transforms:
    """One submission's transform pass.

    Transforms edit one working copy in turn. If one raises, returns a value,
    or leaves a jobspec that no longer validates, it is reported and the pass
    starts again from the submitted jobspec without it, so the result is what
    the well-behaved plugins make of the user's jobspec.
    """

    def __init__(
        self,
        manager: PluginManager,
        impls: tuple[pluggy.HookImpl, ...],
        jobspecs: JobspecMemo,
        spec: bytes,
        submission: Submission,
    ) -> None:
        self.manager = manager
        self.impls = list(impls)
        self.jobspecs = jobspecs
        self.spec = spec
        self.submission = submission

    def _fresh(self) -> Jobspec:
        jobspec = self.jobspecs.parse(self.spec)
        assert jobspec is not None  # it parsed before
        return jobspec

    def run(self, jobspec: Jobspec) -> tuple[Jobspec, str]:
        """The transformed ``jobspec`` (a fresh copy of the submitted one) and its text."""
        while True:
            culprit = self._apply(jobspec, check_each=False)
            if culprit is not None:
                self.impls.remove(culprit)
                jobspec = self._fresh()
                continue
            text, error = self.jobspecs.check(jobspec)
            if error is None:
                return jobspec, text
            # Someone broke the jobspec: replay, checking after each, to find whom.
            culprit = self._apply(self._fresh(), check_each=True)
            if culprit is None:  # not reproducible: keep the user's jobspec as it was
                self.impls.clear()
            else:
                self.impls.remove(culprit)
            jobspec = self._fresh()

    def _apply(self, jobspec: Jobspec, *, check_each: bool) -> pluggy.HookImpl | None:
        """Run the transforms on ``jobspec``; the first that misbehaves, or None."""
        kwargs: Mapping[str, Any] = {"jobspec": jobspec, "submission": self.submission}
        calls = self.manager.calls
        for impl in self.impls:
            result = calls.call(impl, TRANSFORM, kwargs)
            if result is FAILED:
                return impl
            if result is not None:
                calls.garbage(
                    impl.plugin_name,
                    TRANSFORM,
                    f"returned {type(result).__name__}; edit the jobspec in place and "
                    "return None (its changes were discarded)",
                )
                return impl
            if check_each:
                error = self.jobspecs.check(jobspec)[1]
                if error is not None:
                    calls.garbage(
                        impl.plugin_name,
                        TRANSFORM,
                        f"left an invalid jobspec ({error}); its changes were discarded",
                    )
                    return impl
        return None


_cache: dict[int, ClientHooks] = {}


def client_hooks() -> ClientHooks:
    """The client-side hooks of this process's plugin manager."""
    manager = get_plugin_manager()
    hooks = _cache.get(id(manager))
    if hooks is None or hooks.manager is not manager:
        hooks = _cache[id(manager)] = ClientHooks(manager)
    return hooks
