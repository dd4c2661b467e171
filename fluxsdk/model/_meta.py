"""Where the model keeps its data in the instance, so every process sees the same objects.

Nothing lives only in client memory. Each object is a flux job:

* its **jobspec** carries the object's description at submission, immutable:
  ``attributes.user.fluxsdk`` = ``{"kind": "task"|"job"|"pool"|"registry",
  "name": ..., "tags": [...], ...}`` (see :func:`model_meta`);
* its **memos** (``job-manager.memo``, listed by ``job-list`` as
  ``annotations.user``) carry what changes later, one key per fact so that
  processes writing different facts never overwrite each other:

  ==========================  ==================================================
  ``fluxsdk``                 ``{"kind", "job", "tags"}``: what listings filter on
  ``fluxsdk_terminated``      a job was terminated at this time
  ``fluxsdk_completed``       a job was seen completed at this time
  ``fluxsdk_deleting``        a job is being deleted
  ``fluxsdk_deleted``         the object was deleted at this time
  ``fluxsdk_closing``         a pool was closed at this time
  ``fluxsdk_del_<id>``        (registry only) the inactive job ``<id>`` was deleted
  ==========================  ==================================================

Memos are accepted only while a job is active (flux's rule). A Job is a held
job (urgency 0) that never runs, so it stays active and takes memos until it
is deleted. Deleting an *inactive* task is recorded in the site's registry,
itself a held job named :data:`REGISTRY_NAME`, until the instance offers a
purge (``job-manager.purge-id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import attrs

__all__ = [
    "KEY",
    "REGISTRY_NAME",
    "Kind",
    "Listing",
    "listing_of",
    "memo_listing",
    "model_meta",
]

KEY: Final = "fluxsdk"
"""The jobspec user attribute and the memo key of the model."""
TERMINATED: Final = "fluxsdk_terminated"
COMPLETED: Final = "fluxsdk_completed"
DELETING: Final = "fluxsdk_deleting"
DELETED: Final = "fluxsdk_deleted"
CLOSING: Final = "fluxsdk_closing"
TOMBSTONE_PREFIX: Final = "fluxsdk_del_"
REGISTRY_NAME: Final = "fluxsdk-registry"
"""The job name of a site's registry of deleted inactive jobs."""
VERSION: Final = 1

Kind = Literal["task", "job", "pool", "registry"]
_KINDS: Final = ("task", "job", "pool", "registry")


@attrs.frozen
class Listing:
    """What a listing needs to know about a model object, from its memo or jobspec."""

    kind: Kind
    job: str | None = None
    """The uuid of the Job a task belongs to."""
    tags: tuple[str, ...] = ()
    deleted: bool = False

    def matches(self, tags: Sequence[str] | None, tags_intersect: Sequence[str] | None) -> bool:
        """Any-of ``tags`` and all-of ``tags_intersect`` (both must hold when both are given)."""
        if self.deleted:
            return False
        if tags and not set(tags) & set(self.tags):
            return False
        return not (tags_intersect and not set(tags_intersect) <= set(self.tags))


def model_meta(jobspec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The model's description in a jobspec, or None for a job the model did not create."""
    attributes = jobspec.get("attributes")
    user = attributes.get("user") if isinstance(attributes, Mapping) else None
    meta = user.get(KEY) if isinstance(user, Mapping) else None
    if isinstance(meta, Mapping) and meta.get("kind") in _KINDS:
        return dict(meta)
    return None


def memo_listing(kind: Kind, job: str | None, tags: Sequence[str]) -> dict[str, Any]:
    """The ``fluxsdk`` memo value a new object gets."""
    return {"kind": kind, "job": job, "tags": list(tags)}


def listing_of(memo: Mapping[str, Any], meta: Mapping[str, Any] | None) -> Listing | None:
    """The listing of a job from its memos, falling back on its jobspec description.

    Returns None for a job that is no model object.
    """
    listed = memo.get(KEY)
    source: Mapping[str, Any] | None = listed if isinstance(listed, Mapping) else meta
    if source is None or source.get("kind") not in _KINDS:
        return None
    tags = source.get("tags") or []
    job = source.get("job")
    return Listing(
        kind=source["kind"],
        job=job if isinstance(job, str) else None,
        tags=tuple(str(t) for t in tags),
        deleted=DELETED in memo,
    )
