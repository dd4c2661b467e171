"""Flux's jobspec frobnicator plugin interface: ``flux.job.frobnicator``, for fluxsdk.

A frobnicator plugin written for Flux (a module with a ``Frobnicator`` class
derived from :class:`FrobnicatorPlugin`) loads unchanged into an embedded
instance's ingest hooks: ``fluxsdk start --plugin path/to/plugin.py``, or
Flux's ``ingest.frobnicator.plugins`` in the instance configuration. fluxsdk's
own plugins in :mod:`fluxsdk.job.frobnicator.plugins` (``defaults``,
``constraints``) load by name. See ``docs/plugins.md``.
"""

from __future__ import annotations

from fluxsdk.job.frobnicator.frobnicator import FrobnicatorPlugin

__all__ = ["FrobnicatorPlugin"]
