"""Flux's job validator plugin interface: ``flux.job.validator``, for fluxsdk.

A validator plugin written for Flux (a module with a ``Validator`` class
derived from :class:`ValidatorPlugin`) loads unchanged into an embedded
instance's ingest hooks: ``fluxsdk start --plugin path/to/plugin.py``, or
Flux's ``ingest.validator.plugins`` in the instance configuration. fluxsdk's
own plugins in :mod:`fluxsdk.job.validator.plugins` (``feasibility``,
``require-instance``) load by name. See ``docs/plugins.md``.
"""

from __future__ import annotations

from fluxsdk.job.validator.validator import ValidatorJobInfo, ValidatorPlugin, ValidatorResult

__all__ = ["ValidatorJobInfo", "ValidatorPlugin", "ValidatorResult"]
