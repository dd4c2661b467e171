"""``flux.job.JobID``: the module path flux scripts import job-ID helpers from.

``from fluxsdk.job.JobID import JobID, id_parse, id_encode`` works as
``from flux.job.JobID import ...`` does; the code lives in
:mod:`fluxsdk.job._jobid`. As in flux, ``fluxsdk.job.JobID`` (the attribute of
the package) stays the class.
"""

from __future__ import annotations

from fluxsdk.job._jobid import ENCODINGS, JobID, id_encode, id_parse

__all__ = ["ENCODINGS", "JobID", "id_encode", "id_parse"]
