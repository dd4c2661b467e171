"""``flux.job.Jobspec``: the module path flux scripts import jobspec classes from.

``from fluxsdk.job.Jobspec import Jobspec, JobspecV1`` works as
``from flux.job.Jobspec import ...`` does; the classes live in
:mod:`fluxsdk.job._jobspec`. As in flux, ``fluxsdk.job.Jobspec`` (the
attribute of the package) stays the class.
"""

from __future__ import annotations

from fluxsdk.job._jobspec import Jobspec, JobspecV1, validate_jobspec

__all__ = ["Jobspec", "JobspecV1", "validate_jobspec"]
