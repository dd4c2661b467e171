"""What Task, Job and Pool share: identity, the cache, tags, and the pre-submission rule."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
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

__all__ = ["LiveObject"]


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
    """A model object backed by one flux job: a uuid, a site, and a cached snapshot.

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

    def __attrs_post_init__(self) -> None:
        self._cache = LiveCache(
            self._fetch,
            self._unsubmitted(),
            self._connection.auto_update,
            self._connection.update_cache_time,
        )

    # -- identity ------------------------------------------------------------------

    @property
    def uuid(self) -> JobID | None:
        """The object's id: its flux :class:`~fluxsdk.job.JobID`, set by ``submit()``."""
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
        """Refresh on property reads once the cache is stale (default True).

        When off, properties return the cached values until :meth:`update`.
        """
        return self._cache.auto_update

    @auto_update.setter
    def auto_update(self, value: bool) -> None:
        self._cache.auto_update = value

    @property
    def update_cache_time(self) -> float:
        """Seconds a cached snapshot is served before a read refreshes it (default 5)."""
        return self._cache.update_cache_time

    @update_cache_time.setter
    def update_cache_time(self, value: float) -> None:
        if not value >= 0:  # also refuses NaN
            raise ValueError(f"update_cache_time must be >= 0 seconds, got {value!r}")
        self._cache.update_cache_time = float(value)

    def update(self, flushcache: bool = False) -> None:
        """Refresh from the instance if the cache is stale, or now with ``flushcache``.

        Local edits (tags set since the last :meth:`commit`) are kept.

        :raises MissingJobException: (or Task/Pool) the object no longer exists.
        """
        if self._uuid is not None and not self._deleted:
            self._cache.update(flushcache)

    def _view(self) -> S:
        """The snapshot properties read: refreshed as ``auto_update`` says, once submitted."""
        if self._uuid is None or self._deleted:
            return self._cache.peek()
        return self._cache.snapshot

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
        site.watcher.track(uuid)
        if record is not None:
            site.watcher.ingest(record)

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
