"""The job manager's journal (``flux.job.journal``): every job's main events, as they happen.

::

    from fluxsdk.job import JournalConsumer

    consumer = JournalConsumer(handle).start()
    while (event := consumer.poll(timeout=5.0)) is not None:
        print(event)  # e.g. "ƒ2xWbRq7: 1733481423.12345 finish status=0"

The stream is ``job-manager.events-journal`` (owner only): with ``full`` the
history of every job first (time ordered), else that of the active jobs,
then each event as it is posted. ``submit`` events carry the job's redacted
jobspec and ``alloc`` events its R.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fluxsdk.abc.journal import JournalConsumerBase, JournalEventBase
from fluxsdk.core import Flux
from fluxsdk.job._jobid import JobID

__all__ = ["SENTINEL_EVENT", "JournalConsumer", "JournalEvent"]

SENTINEL_ID = -1
"""The id of the response that ends the backlog (FLUX_JOBID_ANY as JSON sends it)."""


class JournalEvent(JournalEventBase):
    """One event of the job manager's journal.

    Attributes:
        jobid: the :class:`~fluxsdk.job.JobID` of the job the event belongs to.
        name: the RFC 21 event name; timestamp, context: as in the eventlog.
        jobspec: the job's redacted jobspec, on ``submit`` events (else None).
        R: the job's R, on ``alloc`` events (else None).
    """

    def __init__(
        self,
        jobid: int,
        event: Mapping[str, Any],
        jobspec: dict[str, Any] | None = None,
        R: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(event)
        self.jobid = JobID(jobid & 0xFFFFFFFFFFFFFFFF) if jobid == SENTINEL_ID else JobID(jobid)
        self.jobspec: dict[str, Any] | None = None
        self.R: dict[str, Any] | None = None
        if self.is_empty():
            return
        if self.name == "submit":
            self.jobspec = jobspec
        elif self.name == "alloc":
            self.R = R

    def is_empty(self) -> bool:
        """True for the sentinel (the end of the backlog)."""
        return int(self.jobid) == 0xFFFFFFFFFFFFFFFF or "name" not in self

    def __str__(self) -> str:
        if self.is_empty():
            return "-1: End of historical data stream"
        parts = [
            f"{self.jobid.f58}:",
            f"{self.timestamp:<0.5f}",
            self.name,
            self.context_string,
            f"jobspec={self.jobspec}" if self.jobspec else "",
            f"R={self.R}" if self.R else "",
        ]
        return " ".join(part for part in parts if part)


SENTINEL_EVENT = JournalEvent(SENTINEL_ID, {})
"""The empty event a :class:`JournalConsumer` made with ``include_sentinel=True``
hands out where the backlog ends."""


class JournalConsumer(JournalConsumerBase[JournalEvent]):
    """Reads ``job-manager.events-journal``: every job's main events (RFC 21).

    :param flux_handle: the handle (the instance owner's: guests get EPERM).
    :param full: start with the history of every job, inactive ones too
        (False: only that of the active jobs).
    :param since: skip events not newer than this timestamp.
    :param include_sentinel: hand out :data:`SENTINEL_EVENT` where history ends.

    Call :meth:`start`, then :meth:`poll` (blocking) or :meth:`set_callback`
    (called from ``Flux.reactor_run()``); :meth:`stop` ends the stream, and
    ``None`` comes out once the events already sent are consumed.
    """

    SENTINEL_EVENT: ClassVar[JournalEventBase] = SENTINEL_EVENT

    def __init__(
        self,
        flux_handle: Flux,
        full: bool = True,
        since: float = 0.0,
        include_sentinel: bool = False,
    ) -> None:
        super().__init__(
            flux_handle,
            "job-manager.events-journal",
            full=full,
            since=since,
            include_sentinel=include_sentinel,
        )

    @property
    def request_payload(self) -> dict[str, Any]:
        """``{"full": ...}``."""
        return {"full": self.full}

    def process_response(self, resp: Mapping[str, Any]) -> dict[str, Any]:
        """The job id, jobspec and R of a response, for :meth:`create_event`."""
        return {"jobid": resp.get("id"), "jobspec": resp.get("jobspec"), "R": resp.get("R")}

    def create_event(
        self,
        entry: Mapping[str, Any],
        jobid: int = SENTINEL_ID,
        jobspec: dict[str, Any] | None = None,
        R: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> JournalEvent:
        """The :class:`JournalEvent` of one entry."""
        return JournalEvent(jobid, entry, jobspec=jobspec, R=R)
