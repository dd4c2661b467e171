"""Calling one hook implementation at a time: failures named and contained, time kept.

pluggy stops a hook call at the first implementation that raises, and does not
say which plugin it was. fluxsdk calls implementations one by one instead, so a
plugin that raises is reported by name and the others still run; every call is
timed, and a slow one is logged with its duration.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs
import pluggy

__all__ = ["FAILED", "Calls", "HookStats"]

log = logging.getLogger("fluxsdk.plugins")


class _Failed:
    """The outcome of a call that raised (it was reported already)."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Final = _Failed()
"""Returned by :meth:`Calls.call` in place of a result when the plugin raised."""


@attrs.define
class HookStats:
    """What one plugin's implementation of one hook has done so far."""

    calls: int = 0
    failures: int = 0
    slow: int = 0
    timeouts: int = 0
    dropped: int = 0
    seconds: float = 0.0
    max_seconds: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        """The figures as plain JSON values."""
        return attrs.asdict(self)


class Calls:
    """Calls implementations and keeps per-plugin, per-hook statistics."""

    def __init__(self, slow_seconds: float) -> None:
        self.slow_seconds = slow_seconds
        """Calls taking longer than this are logged as slow."""
        self.stats: dict[tuple[str, str], HookStats] = {}
        # Tracebacks are logged once per plugin and hook; later failures get one line.
        self._traced: set[tuple[str, str]] = set()

    def stats_for(self, plugin: str, hook: str) -> HookStats:
        """The statistics of ``plugin``'s implementation of ``hook`` (created empty)."""
        key = (plugin, hook)
        stats = self.stats.get(key)
        if stats is None:
            stats = self.stats[key] = HookStats()
        return stats

    def call(
        self,
        impl: pluggy.HookImpl,
        hook: str,
        kwargs: Mapping[str, Any],
        consequence: str = "ignored",
        errors: list[BaseException] | None = None,
    ) -> object:
        """Call ``impl`` with the arguments it names; its result, or :data:`FAILED`.

        A failure is logged with ``consequence`` (what happens because of it)
        and, if ``errors`` is given, the exception is appended to it.
        """
        stats = self.stats_for(impl.plugin_name, hook)
        start = time.perf_counter()
        try:
            return impl.function(*[kwargs[name] for name in impl.argnames])
        except (Exception, SystemExit) as exc:  # a plugin's sys.exit() must not end the SDK
            stats.failures += 1
            what = f"raised {type(exc).__name__}: {exc}"
            self._report(impl.plugin_name, hook, what, exc, consequence)
            if errors is not None:
                errors.append(exc)
            return FAILED
        finally:
            elapsed = time.perf_counter() - start
            stats.calls += 1
            stats.seconds += elapsed
            stats.max_seconds = max(stats.max_seconds, elapsed)
            if elapsed > self.slow_seconds:
                stats.slow += 1
                log.warning(
                    "plugin %r is slow: %s took %.3f s (threshold %.3f s)",
                    impl.plugin_name,
                    hook,
                    elapsed,
                    self.slow_seconds,
                )

    def garbage(self, plugin: str, hook: str, what: str, consequence: str = "ignored") -> None:
        """Report that ``plugin``'s ``hook`` returned something unusable (``what``)."""
        self.stats_for(plugin, hook).failures += 1
        self._report(plugin, hook, what, None, consequence)

    def _report(
        self, plugin: str, hook: str, what: str, exc: BaseException | None, consequence: str
    ) -> None:
        key = (plugin, hook)
        trace = exc is not None and key not in self._traced
        if trace:
            self._traced.add(key)
        log.warning(
            "plugin %r failed in %s: %s (%s)",
            plugin,
            hook,
            what,
            consequence,
            exc_info=exc if trace else None,
        )
