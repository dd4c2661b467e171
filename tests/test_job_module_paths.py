"""flux's module paths under fluxsdk.job: ``Jobspec`` and ``JobID`` are modules and classes."""

from __future__ import annotations

import importlib
import types

import fluxsdk.job
from fluxsdk.job import _jobid, _jobspec


def test_jobspec_and_jobid_modules_export_the_classes() -> None:
    from fluxsdk.job.JobID import JobID, id_encode, id_parse
    from fluxsdk.job.Jobspec import Jobspec, JobspecV1, validate_jobspec

    assert Jobspec is _jobspec.Jobspec and JobspecV1 is _jobspec.JobspecV1
    assert validate_jobspec is _jobspec.validate_jobspec
    assert JobID is _jobid.JobID and id_parse is _jobid.id_parse and id_encode is _jobid.id_encode


def test_package_attributes_stay_the_classes() -> None:
    # Importing the submodules (or an import hook binding them under a second
    # name, which sets the attribute on the package) leaves the classes in place.
    for name in ("Jobspec", "JobID"):
        module = importlib.import_module(f"fluxsdk.job.{name}")
        setattr(fluxsdk.job, name, module)
        assert isinstance(getattr(fluxsdk.job, name), type)
    assert fluxsdk.job.Jobspec is _jobspec.Jobspec and fluxsdk.job.JobID is _jobid.JobID


def test_other_package_attributes_are_settable() -> None:
    stand_in = types.ModuleType("stand_in")
    original = fluxsdk.job.submit
    try:
        fluxsdk.job.submit = stand_in  # type: ignore[assignment]
        assert fluxsdk.job.submit is stand_in  # type: ignore[comparison-overlap]
    finally:
        fluxsdk.job.submit = original


def test_batch_config_is_exported() -> None:
    from fluxsdk.job import BatchConfig
    from fluxsdk.job._utils import BatchConfig as Impl

    assert BatchConfig is Impl and "BatchConfig" in fluxsdk.job.__all__
