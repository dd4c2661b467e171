"""The exceptions of the plugin machinery.

Both derive from :class:`~fluxsdk.errors.FluxSDKError` and from ``OSError``
(with an errno), so ``flux.job`` code that catches ``OSError`` around
``submit`` keeps working::

    FluxSDKError
    ├── InvalidInputError (ValueError)
    │   └── JobspecRejectedError (OSError, EPERM)  a validator plugin said no
    └── PluginError (OSError)                      a plugin cannot be found or used
        └── PluginFailedError                      a submission plugin failed: nothing sent
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from fluxsdk.errors import FluxSDKError, InvalidInputError
from fluxsdk.hooks._values import Rejection

__all__ = ["JobspecRejectedError", "PluginError", "PluginFailedError"]


class JobspecRejectedError(InvalidInputError, OSError):
    """A jobspec refused by one or more ``fluxsdk_jobspec_validate`` plugins.

    Also a ``ValueError`` and an ``OSError`` (``errno`` EPERM, as flux-core's
    job-ingest answers a jobspec its validators reject). ``rejections`` holds
    each plugin's name and message; ``str()`` shows them all.
    """

    def __init__(self, rejections: Sequence[Rejection]) -> None:
        self.rejections: tuple[Rejection, ...] = tuple(rejections)
        if len(self.rejections) == 1:
            only = self.rejections[0]
            message = f"jobspec rejected by plugin {only.plugin!r}: {only.message}"
        else:
            message = "jobspec rejected: " + "; ".join(
                f"plugin {r.plugin!r}: {r.message}" for r in self.rejections
            )
        OSError.__init__(self, errno.EPERM, message)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[type[JobspecRejectedError], tuple[tuple[Rejection, ...]]]:
        return (type(self), (self.rejections,))


class PluginError(FluxSDKError, OSError):
    """A plugin that cannot be found, loaded or used; the message names it.

    ``errno`` is ENOENT for a plugin that is not installed, EINVAL for one
    that does not follow the hook specifications, EIO for one that failed.
    """

    def __init__(self, errnum: int, message: str) -> None:
        OSError.__init__(self, errnum, message)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self) -> tuple[type[PluginError], tuple[int, str]]:
        return (type(self), (int(self.errno or 0), str(self.strerror)))


class PluginFailedError(PluginError):
    """A plugin that changes or judges submissions failed, so nothing was submitted.

    Raised by ``submit`` when a transform or validator that is not advisory
    raises, misses its deadline, returns what its hook does not allow or
    leaves an invalid jobspec. ``plugin`` and ``hook`` name it, ``failure``
    says what went wrong; ``errno`` is ETIMEDOUT for a missed deadline,
    EPERM otherwise (as flux-core's job-ingest answers a plugin that raises).
    """

    def __init__(self, plugin: str, hook: str, failure: str, errnum: int = errno.EPERM) -> None:
        self.plugin = plugin
        self.hook = hook
        self.failure = failure
        super().__init__(
            errnum,
            f"plugin {plugin!r} failed in {hook}: {failure}; nothing was submitted "
            f"(fix the plugin, or make it advisory: FLUXSDK_ADVISORY_PLUGINS={plugin})",
        )

    def __reduce__(self) -> tuple[type[PluginFailedError], tuple[str, str, str, int]]:  # type: ignore[override]
        return (type(self), (self.plugin, self.hook, self.failure, int(self.errno or 0)))
