"""The hook specifications: every hook a fluxsdk plugin may implement.

Each function here is empty; its signature and docstring are the reference
(``docs/plugins.md`` is generated from them). A plugin implements a hook by
defining a function of the same name, marked with ``@fluxsdk.hookimpl``, that
takes any subset of the arguments, by name. New arguments may be added to a
hook in later versions; a plugin that names only the arguments it uses keeps
working.

Client-side hooks run in the process that uses fluxsdk, for every connector.
Instance-side hooks run inside an embedded instance that loaded the plugin
(``fluxsdk start --plugin NAME``), each plugin in a thread of its own.

Hooks that change or judge what is submitted (transforms and validators, on
either side) fail closed: a plugin that raises, misses its deadline or
returns what its hook does not allow stops the submission, unless it is
advisory. Observers fail open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fluxsdk.hooks._markers import hookspec

if TYPE_CHECKING:
    from fluxsdk.core.connectors import ConnectorFactory
    from fluxsdk.eventlog import EventLogEvent
    from fluxsdk.hooks._values import InstanceInfo, InstanceJob, Submission
    from fluxsdk.job._jobid import JobID
    from fluxsdk.job._jobspec import Jobspec

__all__ = [
    "fluxsdk_connectors",
    "fluxsdk_instance_job_event",
    "fluxsdk_instance_job_priority",
    "fluxsdk_instance_jobspec_transform",
    "fluxsdk_instance_jobspec_validate",
    "fluxsdk_job_event",
    "fluxsdk_jobspec_transform",
    "fluxsdk_jobspec_validate",
]

# -- client side: submission --------------------------------------------------------


@hookspec
def fluxsdk_jobspec_transform(jobspec: Jobspec, submission: Submission) -> None:
    """Change a jobspec before it is submitted: add defaults, rewrite the command,
    set the queue or bank.

    Edit ``jobspec`` in place (``jobspec.duration = "1h"``,
    ``jobspec.setattr("system.bank", "physics")``,
    ``jobspec.environment = {...}``) and return ``None``. The jobspec is the
    SDK's own copy: the object the caller passed to ``submit`` is never
    changed.

    Order: every transform runs before any validator. Transforms run in
    pluggy's order: those marked ``tryfirst=True`` first, those marked
    ``trylast=True`` last, and otherwise the most recently registered first.
    fluxsdk registers installed plugins in alphabetical order of their
    entry-point names, then the plugins passed to ``fluxsdk.hooks.register()``,
    so a plugin registered at run time transforms before installed ones, and
    an installed plugin named ``b`` before one named ``a``. A transform that
    must see the others' result (a final rewrite) should be ``trylast``.

    Called: by ``fluxsdk.job.submit`` and ``submit_async`` (and everything
    built on them), for every connector; not for a ``pre_signed`` jobspec
    (it is already signed), nor for a jobspec that is not valid JSON (the
    instance rejects it as before).

    Failures: a transform that raises, returns something other than ``None``,
    leaves an invalid jobspec or runs past its deadline (``FLUXSDK_PLUGIN_TIMEOUT``,
    default 10 s) fails closed: ``submit`` raises
    ``fluxsdk.hooks.PluginFailedError`` naming the plugin and what it did, and
    nothing is sent. An advisory plugin (``FLUXSDK_ADVISORY = True`` in the
    plugin, or named in ``FLUXSDK_ADVISORY_PLUGINS``) is reported by name in
    a warning instead, and the submission goes ahead as if it were not
    installed: the transforms run again from the submitted jobspec without
    it. A transform may therefore run more than once for one submission;
    make it depend on its arguments only. Calls run in a helper thread, so
    that the deadline can be kept.

    Args:
        jobspec: the jobspec to edit: a ``fluxsdk.job.Jobspec`` (a
            ``JobspecV1`` for version 1 jobspecs), already validated.
        submission: where the job goes and how: ``uri``, ``userid``,
            ``urgency``, ``flags`` (read-only).
    """


@hookspec
def fluxsdk_jobspec_validate(jobspec: Jobspec, submission: Submission) -> str | None:
    """Accept or reject a jobspec, after every transform.

    Return ``None`` to accept, or a message that tells the user what to
    change to reject: ``"duration 2h exceeds the site maximum of 1h"``. Every
    validator runs; if any rejects, ``submit`` raises
    ``fluxsdk.hooks.JobspecRejectedError`` (a ``ValueError`` and an
    ``OSError`` with errno EPERM) whose message names each rejecting plugin
    with its message, and nothing is sent to the instance.

    Called: by ``fluxsdk.job.submit`` and ``submit_async``, on the
    transformed jobspec, in the same order as transforms. Changes a validator
    makes to ``jobspec`` are not submitted.

    Failures: a validator that raises, returns something other than a
    string or ``None`` or runs past its deadline fails closed, as a
    transform does (``PluginFailedError``, nothing sent); an advisory one is
    reported by name in a warning and counts as accepting. Client-side
    validation is a service to users, not a security boundary: anyone can
    submit without the plugin installed. A policy that must hold for every
    client belongs in the instance: ``fluxsdk_instance_jobspec_validate``.

    Args:
        jobspec: the jobspec as it will be submitted (read it; do not change it).
        submission: where the job goes and how (read-only).
    """


# -- client side: events and connectors ---------------------------------------------


@hookspec
def fluxsdk_job_event(jobid: JobID, event: EventLogEvent, eventlog: str, uri: str) -> None:
    """Observe a job event that the SDK received.

    Called for every entry of a job eventlog that fluxsdk reads from an
    instance: ``fluxsdk.job.event_watch`` and ``event_wait``, ``result`` and
    ``wait`` helpers built on them, output watches (``eventlog`` is
    ``"guest.output"``), executor futures and the object model, which all
    watch through the same call. It runs in the thread that reads the event,
    before the caller sees it, so keep it short.

    Failures: an observer that raises is reported by name in a warning; the
    caller gets the event regardless.

    Args:
        jobid: the job (``int``; ``str(jobid)`` is its F58 form).
        event: the eventlog entry (``event.name``, ``event.timestamp``,
            ``event.context``); a copy, yours to keep.
        eventlog: which eventlog of the job: ``"eventlog"`` (RFC 21 events)
            or ``"guest.output"`` (RFC 24 output).
        uri: the URI of the instance the event came from.
    """


@hookspec
def fluxsdk_connectors() -> Mapping[str, ConnectorFactory] | None:
    """Provide connectors for URI schemes: return ``{scheme: factory}``.

    ``factory(uri)`` receives the parsed URI (``uri.scheme``, ``uri.path``,
    ``uri.text``...) and returns an open ``fluxsdk.core.connectors.Connector``,
    or raises an ``OSError`` that tells the user why it cannot. The built-in
    ``fluxsdk://`` connector (the embedded instance) is provided through this
    hook too. ``fluxsdk.core`` never imports the hooks: importing
    ``fluxsdk.hooks`` (``import fluxsdk`` does) installs this hook's table into
    it with ``fluxsdk.core.set_connector_lookup``.

    Called: once per process when the first handle is opened, and again after
    plugins are registered or unregistered.

    Order: when several plugins claim one scheme, the first in call order
    wins (``tryfirst``, then the most recently registered), so an installed
    plugin can replace a built-in connector; a warning names the others.
    Schemes added with ``fluxsdk.core.connectors.register_connector`` take
    precedence over this hook.

    Failures: a plugin that raises or returns anything but a mapping of valid
    scheme names to callables is reported by name and its connectors are
    skipped. A factory that raises something other than an ``OSError``, or
    returns something other than a ``Connector``, makes opening the handle
    fail with ``fluxsdk.hooks.PluginError`` naming the plugin.
    """


# -- instance side -------------------------------------------------------------------


@hookspec
def fluxsdk_instance_jobspec_transform(
    jobspec: Jobspec, submission: Submission, instance: InstanceInfo
) -> None:
    """Change every jobspec submitted to the instance, before the job exists
    (like a Flux job-ingest frobnicator).

    Edit ``jobspec`` in place and return ``None``; a transform that must
    refuse the job raises an exception whose message tells the user why (the
    submission is answered with errno EPERM and that message, as Flux answers
    a frobnicator that raises). The job is created from the transformed
    jobspec: its duration, queue and attributes are the transform's, and the
    jobspec that ``job-info.lookup`` returns is too. As in Flux, the job's
    tasks are launched from the signed jobspec as submitted (``J``), so the
    command and environment a transform sets are recorded, not run.

    Called: for every ``job-ingest.submit``, from any client (fluxsdk
    scripts, the CLI, executors, the object model, Flux's own tools), after
    the instance checked the jobspec and after any client-side transforms,
    before the validators. Instance transforms run in the order the instance
    loaded the plugins (configuration, then ``--plugin``), ``tryfirst``
    ones first and ``trylast`` ones last; each sees the changes of those
    before it.

    Failures: fail closed. A transform that raises, returns something other
    than ``None``, leaves an invalid jobspec or does not return within the
    instance's ``ingest-timeout`` (default 10 s) rejects the submission
    (EPERM, or ETIMEDOUT for a missed deadline); nothing is created. An
    advisory plugin (``FLUXSDK_ADVISORY = True``, or named in the instance
    configuration's ``advisory-plugins``) is logged and its changes are
    discarded instead. A plugin stuck past its deadline is not called again
    until that call returns (submissions fail closed meanwhile).

    Args:
        jobspec: the jobspec to edit, a ``fluxsdk.job.Jobspec`` (with its
            environment).
        submission: who submits and how: ``uri`` (the instance's),
            ``userid``, ``urgency``, ``flags``.
        instance: the instance (``uri``, ``statedir``, ``config``, ``queues``).
    """


@hookspec
def fluxsdk_instance_jobspec_validate(
    jobspec: Jobspec, submission: Submission, instance: InstanceInfo
) -> str | tuple[int, str] | None:
    """Accept or reject every jobspec submitted to the instance, after every
    transform (like a Flux job-ingest validator).

    Return ``None`` to accept, a message to reject with errno EPERM, or an
    ``(errno, message)`` pair to choose the errno (Flux validators' form;
    ``(0, ...)`` accepts). Raising rejects too, with the exception's message
    and EPERM. The submitter's ``submit`` fails with an ``OSError`` carrying
    that errno and message, as on Flux; when several validators reject, the
    errno is the largest and the messages are joined with ", ".

    Called: for every ``job-ingest.submit`` from any client, on the
    transformed jobspec, before the job exists. Unlike client-side
    validation, this holds for every client. Validators run at the same time,
    each in its plugin's thread, on copies of the jobspec. Not called for a
    submission with the ``novalidate`` flag (as in Flux).

    Failures: fail closed, as for transforms: a validator that returns
    something else or misses its deadline rejects the submission (EPERM or
    ETIMEDOUT); an advisory one is logged and counts as accepting.

    Args:
        jobspec: the jobspec as the job will have it (read it; do not change it).
        submission: who submits and how (read-only).
        instance: the instance (``uri``, ``statedir``, ``config``, ``queues``).
    """


@hookspec
def fluxsdk_instance_job_event(
    job: InstanceJob, event: EventLogEvent, instance: InstanceInfo
) -> None:
    """Observe every event of every job inside the embedded instance (like a
    Flux jobtap plugin).

    Called: for each event the instance posts to a job's main eventlog
    (``submit``, ``validate``, ``depend``, ``priority``, ``alloc``,
    ``start``, ``finish``, ``release``, ``free``, ``clean``, ``exception``,
    ``urgency``, ``memo``, ``flux-restart``...), after it is recorded. Calls
    are made from a thread dedicated to the plugin, one at a time, in the
    order the events happened, so the plugin needs no locking against
    itself, and a slow plugin never slows the instance: its events wait in a
    queue (up to 100,000; beyond that they are dropped and counted). The
    queue is drained when the instance shuts down, for at most
    ``plugin-drain`` seconds (default 5).

    Failures: a call that raises is logged with the plugin's name and the
    next event is delivered as usual; a call slower than the instance's
    ``plugin-slow`` threshold (default 0.1 s) is logged with its duration.
    ``fluxsdk plugins --uri URI`` shows each plugin's calls, failures, slow
    calls, queue length and dropped events.

    Args:
        job: the job as it is just after the event (state, urgency,
            priority, times...), a snapshot.
        event: the eventlog entry (``name``, ``timestamp``, ``context``), a copy.
        instance: the instance (``uri``, ``statedir``, ``config``), where a
            plugin finds its settings: ``instance.plugin_config("my-plugin")``.
    """


@hookspec(firstresult=True)
def fluxsdk_instance_job_priority(
    job: InstanceJob, jobspec: Mapping[str, Any], instance: InstanceInfo
) -> int | None:
    """Compute a job's priority from its urgency and jobspec (like a Flux
    jobtap priority plugin).

    Return the priority, an ``int`` from 0 to 4294967295 (higher runs
    first; 0 holds the job), or ``None`` to leave the decision to the next
    plugin. The first answer wins. The built-in default, registered through
    this same hook with ``trylast=True``, is Flux's: priority = urgency.

    Called: when a job's dependencies are met, and again when its urgency
    changes while it is pending. Not called for an urgency of 0 (the job is
    held: priority 0) or 31 (expedited: priority 4294967295), as in Flux.
    The scheduler runs pending jobs by priority, then submission time.

    Failures: the call is made in the plugin's thread with a deadline (the
    instance's ``plugin-timeout``, default 1 s). A plugin that raises, misses
    the deadline or returns anything but an ``int`` in range is logged with
    its name and the next plugin (in the end the default) decides. While a
    call that missed its deadline is still running, the plugin is skipped.

    Args:
        job: the job (``urgency``, ``userid``, ``queue``, ``ncores``...), a
            snapshot.
        jobspec: the job's jobspec as a mapping, without its environment; a
            copy.
        instance: the instance (``uri``, ``statedir``, ``config``).
    """
