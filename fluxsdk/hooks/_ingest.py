"""The instance's ingest hooks: every submitted jobspec transformed, then judged.

Like Flux's job-ingest pipeline (frobnicators, then validators), run for every
``job-ingest.submit`` whatever the client, before the job exists. Every call
is made in the plugin's own thread (see ``_worker``) and awaited with the
``ingest-timeout`` deadline, so the instance's event loop keeps serving while
plugins work (a plugin may itself send RPCs to the instance).

Fail closed: a plugin that raises, returns what its hook does not allow,
breaks the jobspec or misses its deadline refuses the submission, unless it
is advisory (then it is logged and left out). Rejections are answered as
Flux's job-ingest answers them: the plugin's errno (EPERM by default) and its
message; several validators' rejections give the largest errno and the
messages joined with ", ".
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import pluggy

from fluxsdk.hooks._call import FAILED
from fluxsdk.hooks._jobspecs import copy_json
from fluxsdk.hooks._values import Submission

if TYPE_CHECKING:
    from fluxsdk.hooks._instance import InstanceHooks
    from fluxsdk.job import Jobspec

__all__ = ["TRANSFORM", "VALIDATE", "IngestRejected", "ingest"]

log = logging.getLogger("fluxsdk.plugins")

TRANSFORM: Final = "fluxsdk_instance_jobspec_transform"
VALIDATE: Final = "fluxsdk_instance_jobspec_validate"

REFUSED: Final = "fails closed: the submission is refused"
ADVISORY_SKIPPED: Final = "advisory: the submission goes ahead without it"


class IngestRejected(Exception):
    """The submission is refused: answer it with ``errnum`` and ``message``."""

    def __init__(self, errnum: int, message: str) -> None:
        super().__init__(errnum, message)
        self.errnum = errnum
        self.message = message


@attrs.frozen
class _Outcome:
    """A call's result, or why it has none (``errnum`` > 0)."""

    result: object = None
    errnum: int = 0
    message: str = ""


def ordered(hooks: InstanceHooks, hook: str) -> list[pluggy.HookImpl]:
    """``hook``'s implementations in the order the instance loaded them,
    ``tryfirst`` ones first and ``trylast`` ones last (Flux's stacking order
    for frobnicators)."""
    impls = list(reversed(hooks.manager.impls(hook)))  # pluggy's list: registration order
    first = [i for i in impls if i.tryfirst]
    last = [i for i in impls if i.trylast]
    return first + [i for i in impls if not (i.tryfirst or i.trylast)] + last


async def ingest(
    hooks: InstanceHooks,
    document: Mapping[str, Any],
    submission: Submission,
    *,
    validate: bool = True,
) -> dict[str, Any]:
    """The jobspec ``document`` after every instance transform, once every
    validator (unless ``validate`` is False) accepted it; a new document,
    ``document`` itself is not changed.

    Raises:
        IngestRejected: a plugin rejected the jobspec or failed.
    """
    jobspec = _jobspec(copy_json(dict(document)))
    for impl in ordered(hooks, TRANSFORM):
        advisory = hooks.manager.is_advisory(impl.plugin_name)
        saved = copy_json(jobspec.jobspec) if advisory else None
        kwargs = {"jobspec": jobspec, "submission": submission, "instance": hooks.info}
        outcome = await _call(hooks, impl, TRANSFORM, kwargs, advisory)
        if not outcome.errnum and outcome.result is not None:
            outcome = _garbage(
                hooks,
                impl,
                TRANSFORM,
                f"returned {type(outcome.result).__name__}; edit the jobspec in place "
                "and return None",
                advisory,
            )
        if not outcome.errnum:
            problem = _invalid(jobspec)
            if problem is not None:
                outcome = _garbage(
                    hooks, impl, TRANSFORM, f"left an invalid jobspec ({problem})", advisory
                )
        if outcome.errnum:
            if not advisory:
                raise IngestRejected(outcome.errnum, outcome.message)
            assert saved is not None
            jobspec.jobspec = saved  # its changes are discarded
    if validate:
        await _validate(hooks, jobspec, submission)
    return dict(jobspec.jobspec)


async def _validate(hooks: InstanceHooks, jobspec: Jobspec, submission: Submission) -> None:
    impls = ordered(hooks, VALIDATE)
    if not impls:
        return
    calls = []
    for impl in impls:
        advisory = hooks.manager.is_advisory(impl.plugin_name)
        mine = _jobspec(_copy_for_validator(jobspec.jobspec))
        kwargs = {"jobspec": mine, "submission": submission, "instance": hooks.info}
        calls.append(_call(hooks, impl, VALIDATE, kwargs, advisory))
    outcomes = await asyncio.gather(*calls)
    worst = 0
    messages: list[str] = []
    for impl, outcome in zip(impls, outcomes, strict=True):
        advisory = hooks.manager.is_advisory(impl.plugin_name)
        errnum, message = outcome.errnum, outcome.message
        if not errnum:
            errnum, message = _verdict(hooks, impl, outcome.result, advisory)
        if errnum and not (advisory and outcome.result is FAILED):
            worst = max(worst, errnum)
            if message not in messages:
                messages.append(message)
    if worst:
        raise IngestRejected(worst, ", ".join(messages))


def _verdict(
    hooks: InstanceHooks, impl: pluggy.HookImpl, result: object, advisory: bool
) -> tuple[int, str]:
    """A validator's answer as (errno, message); (0, "") accepts."""
    if result is None:
        return 0, ""
    if isinstance(result, str):
        return errno.EPERM, result or "rejected"
    if (
        isinstance(result, tuple)
        and len(result) == 2
        and type(result[0]) is int
        and result[0] >= 0
        and isinstance(result[1], (str, type(None)))
    ):
        number, text = result
        if number == 0:
            return 0, ""
        return number, text or os.strerror(number)
    outcome = _garbage(
        hooks,
        impl,
        VALIDATE,
        f"returned {result!r}; expected None, a message, or an (errno, message) pair",
        advisory,
    )
    return (0, "") if advisory else (outcome.errnum, outcome.message)


def _garbage(
    hooks: InstanceHooks, impl: pluggy.HookImpl, hook: str, what: str, advisory: bool
) -> _Outcome:
    hooks.manager.calls.garbage(
        impl.plugin_name, hook, what, ADVISORY_SKIPPED if advisory else REFUSED
    )
    return _Outcome(errnum=errno.EPERM, message=f"plugin {impl.plugin_name!r} {what}")


async def _call(
    hooks: InstanceHooks,
    impl: pluggy.HookImpl,
    hook: str,
    kwargs: Mapping[str, Any],
    advisory: bool,
) -> _Outcome:
    """Make one call in the plugin's thread, awaited with the ingest deadline."""
    plugin = impl.plugin_name
    consequence = ADVISORY_SKIPPED if advisory else REFUSED
    if hooks.is_builtin(impl):
        errors: list[BaseException] = []
        result = hooks.manager.calls.call(impl, hook, kwargs, consequence, errors)
        return _raised(errors) if result is FAILED else _Outcome(result)
    task = hooks.worker(plugin).submit(impl, hook, kwargs, consequence)
    if task is None:
        log.warning("plugin %r is still in a call that missed its deadline (%s)", plugin, hook)
        return _Outcome(
            FAILED,
            errno.ETIMEDOUT,
            f"plugin {plugin!r} is still in a call that missed its deadline",
        )
    assert task.future is not None
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(task.future), hooks.ingest_timeout)
    except TimeoutError:
        hooks.worker(plugin).missed(task)
        log.warning(
            "plugin %r did not answer %s within %g s (%s)",
            plugin,
            hook,
            hooks.ingest_timeout,
            consequence,
        )
        return _Outcome(
            FAILED,
            errno.ETIMEDOUT,
            f"plugin {plugin!r} did not answer within {hooks.ingest_timeout:g} s",
        )
    return _raised(task.errors) if result is FAILED else _Outcome(result)


def _raised(errors: list[BaseException]) -> _Outcome:
    """A call that raised: refused with EPERM and the exception's message (Flux's answer)."""
    exc = errors[0] if errors else None
    message = str(exc) if exc is not None and str(exc) else type(exc).__name__
    return _Outcome(FAILED, errno.EPERM, message)


def _copy_for_validator(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose changes are not kept, sharing its environment.

    The environment (often the bulk of a jobspec) is not copied: the job is
    made of the jobspec without it (its tasks get J's), so a validator that
    changes it changes nothing.
    """
    system = document.get("attributes", {}).get("system", {})
    environment = system.get("environment") if isinstance(system, dict) else None
    if environment is None:
        return dict(copy_json(document))
    rest = dict(document)
    rest["attributes"] = dict(rest["attributes"])
    rest["attributes"]["system"] = {k: v for k, v in system.items() if k != "environment"}
    copy: dict[str, Any] = copy_json(rest)
    copy["attributes"]["system"]["environment"] = environment
    return copy


def _jobspec(document: dict[str, Any]) -> Jobspec:
    from fluxsdk.job import Jobspec, JobspecV1

    cls = JobspecV1 if document.get("version") == 1 else Jobspec
    jobspec = cls.__new__(cls)  # already checked by the instance: no second validation
    jobspec.jobspec = document
    return jobspec


def _invalid(jobspec: Jobspec) -> str | None:
    """Why ``jobspec`` (as a transform left it) is not a valid jobspec, or None."""
    from fluxsdk.errors import JobspecError
    from fluxsdk.job._jobspec_rules import check_canonical, check_top_level, check_v1

    try:
        doc = check_top_level(jobspec.jobspec)
        check_canonical(doc["resources"], doc["tasks"], doc["attributes"], doc["version"])
        check_v1(doc["resources"], doc["tasks"], doc["attributes"], doc["version"])
    except (JobspecError, KeyError, TypeError, ValueError) as exc:
        return str(exc)
    return None
