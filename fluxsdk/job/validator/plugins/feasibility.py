"""Reject jobs that the instance's resources can never run, before they exist.

fluxsdk's counterpart of Flux's ``feasibility`` validator: each job is checked
with a ``feasibility.check`` request to the instance (its scheduler's
answer, e.g. EOVERFLOW "unsatisfiable request: ..."). An instance without
that service (ENOSYS) accepts every job, as on Flux.
"""

from __future__ import annotations

import errno

from fluxsdk.job.validator import ValidatorJobInfo, ValidatorPlugin

SERVICE = "feasibility.check"


class Validator(ValidatorPlugin):
    """Ask the scheduler whether the job could ever run."""

    def validate(self, job: ValidatorJobInfo) -> tuple[int, str | None] | None:
        """Accept if the scheduler says the job fits (or has no opinion)."""
        try:
            self.flux.rpc(SERVICE, job.jobinfo).get()
        except OSError as exc:
            if exc.errno == errno.ENOSYS:
                return None
            return exc.errno or errno.EINVAL, exc.strerror
        return None
