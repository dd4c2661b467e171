"""Message watchers: callbacks for the events (and requests) a handle receives.

``Flux.msg_watcher_create(callback, type_mask, topic_glob, args)`` returns a
:class:`MessageWatcher`; once started, the handle's reactor calls
``callback(flux_handle, watcher, message, args)`` for each matching message,
as flux's ``MessageWatcher`` does. Messages are handed to watchers from
``reactor_run()`` only, never from inside a blocking ``get()``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fluxsdk.constants import FLUX_MATCHTAG_NONE, FLUX_MSGTYPE_ANY
from fluxsdk.core._message import Message
from fluxsdk.core._reactor import Watcher

if TYPE_CHECKING:
    from fluxsdk.core._handle import Flux

__all__ = ["MessageCallback", "MessageWatcher"]

MessageCallback = Callable[["Flux", "MessageWatcher", Message, Any], object]


class MessageWatcher(Watcher):
    """Calls ``callback(flux_handle, watcher, message, args)`` for matching messages.

    A message matches when its type is in ``type_mask`` (``FLUX_MSGTYPE_*``
    bits), its topic matches the shell-style ``topic_glob``, and, unless
    ``match_tag`` is ``FLUX_MATCHTAG_NONE``, its matchtag is ``match_tag``.
    A started watcher keeps ``reactor_run()`` running until it is stopped.
    """

    def __init__(
        self,
        flux_handle: Flux,
        type_mask: int,
        callback: MessageCallback,
        topic_glob: str = "*",
        match_tag: int = FLUX_MATCHTAG_NONE,
        args: Any = None,
    ) -> None:
        super().__init__(flux_handle)
        self.type_mask = type_mask or FLUX_MSGTYPE_ANY
        self.callback = callback
        self.topic_glob = topic_glob or "*"
        self.match_tag = match_tag
        self.args = args
        self._started = False
        self._referenced = True

    def matches(self, message: Message) -> bool:
        """True if ``message`` is one this watcher handles."""
        if not message.type & self.type_mask:
            return False
        if self.match_tag != FLUX_MATCHTAG_NONE and message.matchtag != self.match_tag:
            return False
        return fnmatch.fnmatchcase(message.topic, self.topic_glob)

    def start(self) -> MessageWatcher:
        """Start handing matching messages to the callback."""
        if not self._started:
            self._started = True
            self.flux_handle._add_msg_watcher(self)
            if self._referenced:
                self.flux_handle.get_reactor().ref()
        return self

    def stop(self) -> MessageWatcher:
        """Stop (it can be started again)."""
        if self._started:
            self._started = False
            self.flux_handle._remove_msg_watcher(self)
            if self._referenced:
                self.flux_handle.get_reactor().unref()
        return self

    def ref(self) -> MessageWatcher:
        """Let this watcher keep ``reactor_run()`` running (the default)."""
        if not self._referenced:
            self._referenced = True
            if self._started:
                self.flux_handle.get_reactor().ref()
        return self

    def unref(self) -> MessageWatcher:
        """Do not let this watcher alone keep ``reactor_run()`` running."""
        if self._referenced:
            self._referenced = False
            if self._started:
                self.flux_handle.get_reactor().unref()
        return self
