"""Abstract bases shared by flux's journal-style interfaces (``flux.abc``)."""

from __future__ import annotations

from fluxsdk.abc.journal import JournalConsumerBase, JournalEventBase

__all__ = ["JournalConsumerBase", "JournalEventBase"]
