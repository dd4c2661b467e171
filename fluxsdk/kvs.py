"""Reading a Flux instance's KVS, as ``flux.kvs`` (the part jobs need).

Flux keeps each job's records in its KVS (``job.<dothex>``: ``eventlog``,
``jobspec``, ``J``, ``R``, ``guest.exec.eventlog``, ``guest.output``...);
:func:`fluxsdk.job.job_kvs` opens that directory. This module reads keys over
flux-core's ``kvs.lookup`` RPC, so the same calls work on a real Flux broker
(any key there) and on the embedded instance, which serves jobs' directories.

* :func:`get` returns a key's value (JSON decoded when it is JSON, else text,
  else bytes), or a :class:`KVSDir` for a directory.
* :func:`exists` and :func:`isdir` test a key; :func:`get_dir` opens a
  directory; :func:`walk` walks one, as ``os.walk``.
* :class:`KVSDir` is a read-only mapping of a directory's entries.

fluxsdk reads the KVS but does not write it: flux's ``put``/``commit`` and
namespaces are a store of their own, outside what fluxsdk offers; writing
through a :class:`KVSDir` raises :class:`KVSReadOnlyError`.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
from collections.abc import Generator, Iterator, Mapping
from types import TracebackType
from typing import Any, NoReturn

from fluxsdk.constants import FLUX_KVS_READDIR
from fluxsdk.core import Flux
from fluxsdk.errors import FluxSDKError, InvalidInputError

__all__ = [
    "KVSDir",
    "KVSReadOnlyError",
    "exists",
    "get",
    "get_dir",
    "get_key_direct",
    "isdir",
    "join",
    "walk",
]

_DIR_TYPES = frozenset({"dir", "dirref"})


class KVSReadOnlyError(FluxSDKError, OSError):
    """A write to the KVS: fluxsdk reads the KVS (jobs' directories) but never writes it."""

    def __init__(self, what: str) -> None:
        super().__init__(
            errno.EROFS,
            f"{what}: fluxsdk's KVS access is read-only (it reads jobs' directories); "
            "keep data of your own in files or in the job's memo",
        )


def _namespace(namespace: str | None) -> str:
    """The namespace to read: as given, else ``$FLUX_KVS_NAMESPACE``, else ``primary``."""
    return namespace or os.environ.get("FLUX_KVS_NAMESPACE") or "primary"


def _lookup(flux_handle: Flux, key: str, flags: int, namespace: str | None) -> dict[str, Any]:
    """The RFC 11 tree object at ``key`` (``kvs.lookup``); errors are OSErrors."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"a KVS key must be a non-empty string, not {key!r}")
    payload = {"key": key, "namespace": _namespace(namespace), "flags": flags}
    val: dict[str, Any] = flux_handle.rpc("kvs.lookup", payload).get()["val"]
    return val


def _decode_value(treeobj: Mapping[str, Any]) -> Any:
    """A ``val`` tree object's data as flux returns it: JSON, else text, else bytes."""
    if treeobj.get("type") != "val":
        raise OSError(errno.EPROTO, f"expected a value, got a {treeobj.get('type')!r} object")
    try:
        data = base64.b64decode(treeobj.get("data", ""), validate=True)
    except (binascii.Error, TypeError):
        raise OSError(errno.EPROTO, "a KVS value is not valid base64") from None
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    try:
        return json.loads(text)
    except ValueError:
        return text


def get_key_direct(flux_handle: Flux, key: str, namespace: str | None = None) -> Any:
    """The value of ``key`` (JSON decoded, else text, else bytes; None if empty).

    Raises:
        FileNotFoundError: no such key.
        IsADirectoryError: ``key`` is a directory (see :func:`get`).
    """
    return _decode_value(_lookup(flux_handle, key, 0, namespace))


def _is_dir(flux_handle: Flux, key: str, namespace: str | None) -> bool | None:
    """True for a directory, False for a value, None when ``key`` does not exist."""
    try:
        _lookup(flux_handle, key, 0, namespace)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.EISDIR:
            return True
        raise
    return False


def exists(flux_handle: Flux, key: str, namespace: str | None = None) -> bool:
    """True if ``key`` exists, as a value or a directory."""
    return _is_dir(flux_handle, key, namespace) is not None


def isdir(flux_handle: Flux, key: str, namespace: str | None = None) -> bool:
    """True if ``key`` is a directory (False if it is a value or does not exist)."""
    return _is_dir(flux_handle, key, namespace) is True


def get_dir(flux_handle: Flux, key: str = ".", namespace: str | None = None) -> KVSDir:
    """The directory at ``key`` as a :class:`KVSDir`.

    Raises:
        FileNotFoundError: no such key.
        NotADirectoryError: ``key`` is a value.
    """
    return KVSDir(flux_handle, key, namespace=namespace)


def get(flux_handle: Flux, key: str, namespace: str | None = None) -> Any:
    """The value at ``key`` (see :func:`get_key_direct`), or a :class:`KVSDir` for a directory."""
    try:
        return get_key_direct(flux_handle, key, namespace=namespace)
    except IsADirectoryError:
        return get_dir(flux_handle, key, namespace=namespace)


def join(*args: str) -> str:
    """KVS path components joined with ``.``, empty ones left out."""
    return ".".join(part for part in args if part)


class KVSDir(Mapping[str, Any]):
    """A KVS directory: a read-only mapping from entry names to values or sub-directories.

    The entries are read once, when the object is made; values are read when
    indexed (``kvsdir["R"]``), so they are current. A sub-directory indexes
    as another :class:`KVSDir`.

    Args:
        flux_handle: a :class:`~fluxsdk.core.Flux` handle.
        path: the directory's key (``"."``, the root, by default).
        namespace: the KVS namespace (default ``$FLUX_KVS_NAMESPACE`` or
            ``primary``).

    Raises:
        FileNotFoundError: no such directory.
        NotADirectoryError: ``path`` is a value.
    """

    def __init__(self, flux_handle: Flux, path: str = ".", namespace: str | None = None) -> None:
        self.fhdl = flux_handle
        self.path = path
        self.namespace = namespace
        base = ".".join(part for part in path.split(".") if part)
        self._prefix = base + "." if base else ""
        treeobj = _lookup(flux_handle, path, FLUX_KVS_READDIR, namespace)
        if treeobj.get("type") != "dir" or not isinstance(treeobj.get("data"), dict):
            raise OSError(errno.EPROTO, f"kvs.lookup of {path!r} did not return a directory")
        self._entries: dict[str, bool] = {
            name: entry.get("type") in _DIR_TYPES for name, entry in treeobj["data"].items()
        }

    def __repr__(self) -> str:
        return f"KVSDir({self.path!r})"

    def key_at(self, key: str) -> str:
        """The full key of ``key`` in this directory."""
        return self._prefix + key

    def exists(self, name: str) -> bool:
        """True if ``name`` exists in this directory (asks the instance)."""
        return exists(self.fhdl, self.key_at(name), namespace=self.namespace)

    def __getitem__(self, key: str) -> Any:
        try:
            return get(self.fhdl, self.key_at(key), namespace=self.namespace)
        except OSError:
            raise KeyError(f"{key} not found under directory {self.key_at('')}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def files(self) -> Generator[str, None, None]:
        """The names of the entries that are values."""
        return (name for name, is_dir in self._entries.items() if not is_dir)

    def directories(self) -> Generator[str, None, None]:
        """The names of the entries that are directories."""
        return (name for name, is_dir in self._entries.items() if is_dir)

    def list_all(self) -> tuple[list[str], list[str]]:
        """``(files, directories)``: the entries' names, split by kind."""
        return list(self.files()), list(self.directories())

    def __enter__(self) -> KVSDir:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    # -- writes: flux's KVSDir writes through a transaction; fluxsdk reads only --

    def __setitem__(self, key: str, value: Any) -> NoReturn:
        raise KVSReadOnlyError(f"setting {self.key_at(key)}")

    def __delitem__(self, key: str) -> NoReturn:
        raise KVSReadOnlyError(f"deleting {self.key_at(key)}")

    def mkdir(self, key: str, contents: Mapping[str, Any] | None = None) -> NoReturn:
        """Not supported: raises :class:`KVSReadOnlyError`."""
        raise KVSReadOnlyError(f"making directory {self.key_at(key)}")

    def fill(self, contents: Mapping[str, Any]) -> NoReturn:
        """Not supported: raises :class:`KVSReadOnlyError`."""
        raise KVSReadOnlyError(f"filling {self.key_at('')}")

    def commit(self, flags: int = 0) -> NoReturn:
        """Not supported: raises :class:`KVSReadOnlyError`."""
        raise KVSReadOnlyError(f"committing {self.key_at('')}")


def walk(
    directory: str | KVSDir,
    topdown: bool = False,
    flux_handle: Flux | None = None,
    namespace: str | None = None,
) -> Generator[tuple[str, list[str], list[str]], None, None]:
    """Walk a KVS directory tree as ``os.walk``: ``(path, dirs, files)`` per directory.

    ``path`` is relative to ``directory`` (``""`` for ``directory`` itself).
    ``directory`` is a :class:`KVSDir` or a key (then ``flux_handle`` is needed).

    Raises:
        InvalidInputError: a key was given without a handle.
    """
    if isinstance(directory, str):
        if flux_handle is None:
            raise InvalidInputError("walk() of a key needs flux_handle")
        directory = KVSDir(flux_handle, directory, namespace=namespace)
    yield from _walk(directory, "", topdown)


def _walk(
    kvsdir: KVSDir, relpath: str, topdown: bool
) -> Generator[tuple[str, list[str], list[str]], None, None]:
    files, dirs = kvsdir.list_all()
    if topdown:
        yield relpath, dirs, files
    for name in dirs:
        sub = KVSDir(kvsdir.fhdl, kvsdir.key_at(name), namespace=kvsdir.namespace)
        yield from _walk(sub, join(relpath, name), topdown)
    if not topdown:
        yield relpath, dirs, files
