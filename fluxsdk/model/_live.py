"""What Task, Job and Pool share: identity, the cache, tags, and the pre-submission rule."""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

import attrs

from fluxsdk.core import ConnectionLostError
from fluxsdk.job import JobID
from fluxsdk.model import _meta
from fluxsdk.model._cache import LiveCache
from fluxsdk.model._errors import UnauthorizedException, not_found, translate
from fluxsdk.model._meta import Kind
from fluxsdk.model._record import JobRecord
from fluxsdk.model._site import Site
from fluxsdk.model._states import RankedState

if TYPE_CHECKING:
    from fluxsdk.model._connection import Connection

__all__ = ["LiveObject", "StateCallback"]

log = logging.getLogger("fluxsdk.model")

StateCallback = Callable[[Any, RankedState], object]
"""A state-change callback: called with the object and its new state."""


class ObjectSnapshot(Protocol):
    """What every object's snapshot shows."""

    @property
    def rank(self) -> int:
        """The rank of the state."""

    @property
    def state(self) -> RankedState:
        """The object's state."""

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags stored in the instance."""


S = TypeVar("S", bound=ObjectSnapshot)


@attrs.define(eq=False)
class LiveObject(abc.ABC, Generic[S]):
    """A model object backed by one flux job: a uuid, a site, and its snapshot (pushed by
    the site's journal stream, or refreshed from a cache without one).

    Subclasses say how a snapshot is built (:meth:`_snapshot_of`) and what it
    is before submission (:meth:`_unsubmitted`).
    """

    kind: ClassVar[Kind]
    _by_record: ClassVar[bool] = True  # the snapshot follows from the job record alone

    _connection: Connection
    _name: str
    _shortname: str | None = None
    _tags: list[str] = attrs.field(factory=list)
    _site: Site | None = None
    _uuid: JobID | None = None
    _record: JobRecord | None = None
    _described: bool = True  # False: the jobspec description is still to be read
    _deleted: bool = False  # deleted by this object: nothing to refresh any more
    _cache: LiveCache[S] = attrs.field(init=False)
    _callbacks: list[StateCallback] = attrs.field(init=False, factory=list)
    _version: object = attrs.field(init=False, default=None)  # _sources() at the last rebuild

    def __attrs_post_init__(self) -> None:
        self._cache = LiveCache(
            self._fetch,
            self._unsubmitted(),
            self._connection.auto_update,
            self._connection.update_cache_time,
        )

    # -- identity ------------------------------------------------------------------

    @property
    def uuid(self) -> str | None:
        """The object's id as a string, as in Qarnot's SDK: its flux job ID in F58
        form (e.g. ``ƒ2XxTzYrB``), set by ``submit()``; None before.

        ``retrieve_*()`` take it back (so does any form of the job ID).
        """
        return None if self._uuid is None else self._uuid.f58

    @property
    def jobid(self) -> JobID | None:
        """The flux :class:`~fluxsdk.job.JobID` behind the object (None before
        ``submit()``): what ``fluxsdk.job`` functions take."""
        return self._uuid

    @property
    def name(self) -> str:
        """The given name. Can be set until submitted."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._check_unsubmitted("name")
        self._name = value

    @property
    def shortname(self) -> str | None:
        """A DNS-compliant name; defaults to the uuid in its RFC 19 ``words`` form
        (None until then). Can be set until submitted."""
        self._describe()
        if self._shortname is not None:
            return self._shortname
        return self._uuid.words if self._uuid is not None else None

    @shortname.setter
    def shortname(self, value: str) -> None:
        self._check_unsubmitted("shortname")
        self._shortname = check_shortname(value)

    # -- cache ---------------------------------------------------------------------

    @property
    def auto_update(self) -> bool:
        """Keep the object live (default True): every event the instance's journal
        delivered shows in the next property read (no request is sent).

        When off, the object's view is frozen: properties return the values of the
        last :meth:`update`, and no state callback is called. Where no journal
        stream can be had, properties are refreshed once older than
        :attr:`update_cache_time` instead.
        """
        return self._cache.auto_update

    @auto_update.setter
    def auto_update(self, value: bool) -> None:
        self._cache.auto_update = value

    @property
    def update_cache_time(self) -> float:
        """Seconds a cached snapshot is served before a read refreshes it (default 5).

        Used only where no journal stream can be had (e.g. as a guest of a
        multi-user Flux instance, whose journal is the owner's): with the stream
        up, objects are live and this has no effect.
        """
        return self._cache.update_cache_time

    @update_cache_time.setter
    def update_cache_time(self, value: float) -> None:
        if not value >= 0:  # also refuses NaN
            raise ValueError(f"update_cache_time must be >= 0 seconds, got {value!r}")
        self._cache.update_cache_time = float(value)

    def update(self, flushcache: bool = False) -> None:
        """Make sure the object is current: apply what the journal delivered (also to
        an object whose ``auto_update`` is off), and with ``flushcache`` first wait
        for every event the instance posted until now (one round trip).

        Without a journal stream: refresh if the cache is stale, or now with
        ``flushcache``. Local edits (tags set since the last :meth:`commit`) are kept.

        :raises MissingJobException: (or Task/Pool) the object no longer exists.
        """
        if self._uuid is None or self._deleted:
            return
        watcher = self._require_site().watcher
        if watcher.live:
            if flushcache:
                watcher.barrier()
            self._rebuild()
        else:
            self._cache.update(flushcache)

    def _view(self) -> S:
        """The snapshot properties read: live (or refreshed, without a stream) as
        ``auto_update`` says, once submitted."""
        if self._uuid is None or self._deleted:
            return self._cache.peek()
        watcher = self._require_site().watcher
        if watcher.live:
            if self._cache.auto_update:
                watcher.sync()
                if not self._by_record and self._version != self._sources():
                    self._rebuild()
            if watcher.live:
                return self._cache.peek()
        return self._cache.snapshot

    def _rebuild(self) -> None:
        """Rebuild the snapshot from the watcher's current records (no request while
        the stream is up)."""
        self._version = self._sources()
        snapshot, as_of = self._fetch(0.0)
        self._put(snapshot, as_of)

    def _put(self, snapshot: S, as_of: float | None = None) -> None:
        """Take a new snapshot; call the state callbacks if the state changed."""
        before = self._cache.peek().state
        self._cache.put(snapshot, as_of)
        after = self._cache.peek().state
        if after is not before:
            self._notify(after)

    def _sources(self) -> object:
        """What the snapshot is built from, as a value that changes when that does
        (for objects whose state does not follow from their own record alone)."""
        return self._require_site().watcher.version

    def _concerns(self, records: list[JobRecord]) -> bool:
        """Whether changes of these (other) jobs may change this object's state."""
        return False

    def _others_changed(self, records: list[JobRecord]) -> None:
        """Other jobs changed: rebuilt on the next read, or now if they concern this
        object and someone listens for its changes."""
        if self._deleted or not self._cache.auto_update:
            return
        if (self._callbacks or self._connection._callbacks) and self._concerns(records):
            self._rebuild()

    def _pushed(self, record: JobRecord) -> None:
        """The watcher has a new record of this object's job."""
        if self._deleted or not self._cache.auto_update:
            return
        if not self._by_record:
            self._others_changed([record])
            return
        site = self._require_site()
        listing = site.listed(record)
        if listing is None or listing.deleted:
            return  # deleted elsewhere: the next update() says so
        self._record = record
        self._put(self._snapshot_of(record, listing.tags))

    # -- reacting to change --------------------------------------------------------

    def on_state_change(self, callback: StateCallback) -> StateCallback:
        """Call ``callback(obj, state)`` whenever this object's state changes.

        Callbacks run in the thread that uses the connection, when events are
        delivered: from a property read, :meth:`update`, ``wait()``,
        :meth:`Connection.process_events`, or an ``async for`` over
        :meth:`states`. No thread of your own is needed. An exception raised by
        a callback is logged (logger ``fluxsdk.model``) and does not stop the
        others. Returns ``callback`` (so this works as a decorator).
        """
        self._callbacks.append(callback)
        return callback

    def remove_state_callback(self, callback: StateCallback) -> None:
        """Stop calling ``callback`` (see :meth:`on_state_change`)."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def _notify(self, state: RankedState) -> None:
        for callback in [*self._callbacks, *self._connection._callbacks]:
            try:
                callback(self, state)
            except Exception:
                log.exception("state callback %r failed for %r", callback, self)

    async def _states(self) -> AsyncIterator[RankedState]:
        """Each state the object takes from now on, until a final one (asyncio)."""
        last: RankedState | None = None
        while True:
            if self._uuid is not None and not self._deleted:
                self.update()
            state = self._cache.peek().state
            if state is not last:
                last = state
                yield state
            if state.is_final or self._uuid is None:
                return
            watcher = self._require_site().watcher
            if not await watcher.await_event() and not watcher.live:
                await asyncio.sleep(self._cache.update_cache_time)
                self.update(flushcache=True)

    def _fetch(self, max_age: float) -> tuple[S, float]:
        site = self._require_site()
        assert self._uuid is not None
        try:
            site.watcher.refresh(max_age)
            record = site.watcher.fetch(self._uuid)
        except ConnectionLostError:
            if site.pool is None:
                raise
            # A pool's nested instance took its jobs with it when it stopped.
            hint = f"its pool {JobID(site.pool)} was closed"
            raise not_found(self.kind, self._uuid, hint) from None
        if record is not None and record is self._record and self._by_record and not record.final:
            # The watcher's record did not change: neither did the snapshot made from it.
            return self._cache.peek(), site.watcher.refreshed_at
        listing = site.listed(record) if record is not None else None
        if record is None or listing is None or listing.deleted:
            raise not_found(self.kind, self._uuid)
        self._record = record
        return self._snapshot_of(record, listing.tags), site.watcher.refreshed_at

    @abc.abstractmethod
    def _unsubmitted(self) -> S:
        """The snapshot of an object not yet submitted (each kind has its own)."""

    @abc.abstractmethod
    def _snapshot_of(self, record: JobRecord, tags: tuple[str, ...]) -> S:
        """The snapshot of a submitted object, from its job-list record and tags."""

    # -- tags ----------------------------------------------------------------------

    @property
    def tags(self) -> list[str]:
        """Custom tags, kept in the instance (listings filter on them).

        Before submission, edit the list in place or assign it. Afterwards,
        assign a new list and call :meth:`commit` to store it; until then the
        local value is kept (refreshes do not overwrite it).
        """
        if self._uuid is None:
            return self._tags
        snapshot_tags = list(self._view().tags)
        return list(self._cache.edited("tags", snapshot_tags))

    @tags.setter
    def tags(self, value: Iterable[str]) -> None:
        tags = _check_tags(value)
        if self._uuid is None:
            self._tags = tags
        else:
            self._cache.edit("tags", tags)

    def commit(self) -> None:
        """Store local edits (tags) in the instance.

        :raises UnauthorizedException: the object's job is no longer active
            (flux keeps the memos of ended jobs as they were).
        """
        if self._uuid is None or not self._cache.has_edit("tags"):
            return
        tags = self._cache.edited("tags", [])
        self._post_memo({_meta.KEY: self._memo_listing(tags)}, "commit tags of")
        self._cache.drop_edit("tags")
        self._cache.expire()

    def _memo_listing(self, tags: list[str]) -> dict[str, Any]:
        return _meta.memo_listing(self.kind, None, tags)

    def _post_memo(self, memo: Mapping[str, Any], action: str) -> None:
        site = self._require_site()
        try:
            site.memo(self._require_uuid(), memo).get()
        except FileNotFoundError:
            if site.watcher.fetch(self._require_uuid()) is None:
                raise not_found(self.kind, self._uuid) from None
            raise UnauthorizedException(
                f"cannot {action} {self.kind} {self._uuid}: it has ended, and flux keeps "
                f"the data of ended jobs as it was"
            ) from None
        except OSError as exc:
            raise translate(exc, self.kind, self._uuid, action) from None

    # -- helpers -------------------------------------------------------------------

    def _check_unsubmitted(self, what: str) -> None:
        if self._uuid is not None:
            raise AttributeError(
                f"can't set {what}: {self.kind} {self._uuid} is already submitted "
                f"(create a new {self.kind} to change it)"
            )

    def _require_uuid(self) -> JobID:
        if self._uuid is None:
            raise AttributeError(f"{self.kind} {self._name!r} is not submitted yet: submit() it")
        return self._uuid

    def _require_site(self) -> Site:
        self._require_uuid()
        assert self._site is not None
        return self._site

    def _describe(self) -> None:
        """Read the object's jobspec description, once, if it was listed without it."""
        if self._described:
            return
        site = self._require_site()
        try:
            meta = site.meta(self._require_uuid())
        except OSError as exc:
            raise translate(exc, self.kind, self._uuid, "read") from None
        if meta is None:
            raise not_found(self.kind, self._uuid)
        self._load(meta)
        self._described = True

    def _load(self, meta: Mapping[str, Any]) -> None:
        """Fill the description from the jobspec's model metadata."""
        self._shortname = meta.get("shortname")

    def _attach(self, site: Site, uuid: JobID, record: JobRecord | None) -> None:
        """Bind to the flux job that realises the object."""
        self._site = site
        self._uuid = uuid
        self._record = record
        watcher = site.watcher
        watcher.track(uuid)
        watcher.subscribe(uuid, self, dependent=not self._by_record)
        if record is not None:
            # The journal's record, if it has one, is the current one.
            self._record = watcher.ingest(record)

    def __repr__(self) -> str:
        state = self._cache.peek().state
        return f"<{type(self).__name__} {self._name!r} {self._uuid or '(unsubmitted)'} {state}>"


def check_shortname(value: str) -> str:
    """``value`` if it is a DNS label (RFC 1123: a-z, 0-9, '-', at most 63 characters)."""
    from fluxsdk.errors import InvalidInputError

    ok = (
        isinstance(value, str)
        and 0 < len(value) <= 63
        and value[0] != "-"
        and value[-1] != "-"
        and all(c.isascii() and (c.isdigit() or c.islower() or c == "-") for c in value)
    )
    if not ok:
        raise InvalidInputError(
            f"shortname {value!r} is not DNS-compliant: use 1 to 63 lowercase letters, "
            "digits and '-', not starting or ending with '-'"
        )
    return value


def _check_tags(value: Iterable[str]) -> list[str]:
    if isinstance(value, str):
        raise TypeError(f"tags must be a list of strings, not a string ({value!r})")
    tags = list(value)
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"tags must be strings, got {tag!r}")
    return tags
