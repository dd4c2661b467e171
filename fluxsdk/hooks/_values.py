"""The values fluxsdk hands to hooks: frozen, so a plugin cannot change them.

Plugins receive copies of what the SDK or the instance holds, never the live
objects: whatever a plugin does with its arguments, the job's real state is
unchanged (the one exception is the jobspec a transform is given to edit).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from fluxsdk.job._jobid import JobID

__all__ = ["InstanceInfo", "InstanceJob", "Rejection", "Submission"]

# Submission flags, as libjob defines them (kept here: hooks sit below fluxsdk.job).
_WAITABLE: Final = 4
_DEBUG: Final = 2
_NOVALIDATE: Final = 8


@attrs.frozen(kw_only=True)
class Submission:
    """What is being submitted, besides the jobspec: where, by whom, and how."""

    uri: str
    """The URI of the instance the job goes to (``fluxsdk://...``, ``local://...``)."""
    userid: int
    """The submitting user's numeric ID."""
    urgency: int
    """The requested urgency, 0 (hold) to 31 (expedite); 16 is the default."""
    flags: int
    """libjob's submission flags (``FLUX_JOB_WAITABLE``, ``FLUX_JOB_DEBUG``...)."""

    @property
    def waitable(self) -> bool:
        """True if the job was submitted with ``waitable=True``."""
        return bool(self.flags & _WAITABLE)

    @property
    def debug(self) -> bool:
        """True if the job was submitted with ``debug=True``."""
        return bool(self.flags & _DEBUG)

    @property
    def novalidate(self) -> bool:
        """True if the job was submitted with ``novalidate=True``."""
        return bool(self.flags & _NOVALIDATE)


@attrs.frozen(kw_only=True)
class Rejection:
    """One validator's refusal: which plugin, and the message it gave."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"{self.plugin}: {self.message}"


@attrs.frozen(kw_only=True)
class InstanceJob:
    """A snapshot of one job inside the embedded instance, taken when a hook is called.

    Times are seconds since the epoch; a state's time is ``None`` until the
    job reaches it.
    """

    id: JobID
    """The job's ID (an ``int``; ``str(job.id)`` is its F58 form)."""
    userid: int
    """The submitting user's numeric ID."""
    name: str
    """The job name (the command's basename unless the jobspec names it)."""
    queue: str | None
    """The job's queue, or ``None`` on an instance without queues."""
    urgency: int
    """The job's urgency, 0 (held) to 31 (expedited)."""
    priority: int | None
    """The job's priority, once the instance has computed it."""
    state: str
    """The RFC 21 state name: ``DEPEND``, ``PRIORITY``, ``SCHED``, ``RUN``,
    ``CLEANUP`` or ``INACTIVE`` (``NEW`` before validation)."""
    ntasks: int
    """How many tasks the job runs."""
    ncores: int
    """How many cores the job asked for in all."""
    duration: float
    """The job's time limit in seconds; 0 means none."""
    t_submit: float
    """When the job was submitted."""
    t_run: float | None
    """When the job was allocated its resources (entered ``RUN``)."""
    t_inactive: float | None
    """When the job ended (entered ``INACTIVE``)."""
    result: str | None
    """Once inactive: ``COMPLETED``, ``FAILED``, ``CANCELED`` or ``TIMEOUT``."""


@attrs.frozen(kw_only=True)
class InstanceInfo:
    """The embedded instance a hook runs in."""

    uri: str
    """The instance's URI (``fluxsdk:///path/to/statedir``)."""
    statedir: Path
    """The instance's state directory: a good default home for a plugin's files."""
    config: Mapping[str, Any] = attrs.field(factory=dict)
    """The instance's configuration file as a mapping (empty without one)."""
    queues: tuple[str, ...] = ()
    """The instance's named queues (the first is the default); empty without queues."""

    def plugin_config(self, name: str) -> Mapping[str, Any]:
        """The configuration section named ``name`` (a plugin's own), or ``{}``.

        Raises:
            TypeError: the section exists but is not a mapping.
        """
        section = self.config.get(name, {})
        if section is None:
            return {}
        if not isinstance(section, Mapping):
            raise TypeError(
                f"the {name!r} section of the instance configuration must be a mapping, "
                f"not {type(section).__name__}"
            )
        return section
