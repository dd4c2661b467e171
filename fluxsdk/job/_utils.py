"""Submission-option helpers shared by the jobspec builders, as ``flux.job._utils``.

These turn the option values of ``flux submit`` (``--env``, ``--rlimit``,
``--signal``, ``--taskmap``, ``--requires``, ``--setopt``/``--setattr``,
``--add-file``, ``--conf``) into jobspec content. Flux scripts import some of
them (:func:`decode_signal`, :class:`BatchConfig`) from here, so they keep
flux's names; :meth:`fluxsdk.job.JobspecV1.apply_options` uses the rest.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import pathlib
import re
import resource
import signal
import sys
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from string import Template
from typing import IO, TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qs

from fluxsdk.constraint.parser import ConstraintParser
from fluxsdk.errors import InvalidInputError
from fluxsdk.job._dependency import dependency_array_create
from fluxsdk.util import dict_merge, get_treedict, parse_fsd, set_treedict, xdg_searchpath

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = [
    "BatchConfig",
    "MiniConstraintParser",
    "decode_duration",
    "decode_signal",
    "dependency_array_create",
    "filter_dict",
    "get_filtered_environment",
    "get_filtered_rlimits",
    "get_rlimits",
    "jobspec_add_file",
    "list_split",
    "normalize_conf",
    "parse_jobspec_keyval",
    "parse_signal_option",
    "uri_entry",
]


def decode_signal(val: int | str) -> int:
    """Return a signal number from a number, a numeric string, or a name.

    ``10``, ``"10"``, ``"SIGUSR1"`` and ``"USR1"`` are all accepted.

    Raises:
        InvalidInputError: (a ``ValueError``) ``val`` names no signal.
    """
    if isinstance(val, int):
        return val
    try:
        return int(val)
    except ValueError:
        pass
    name = val if val.startswith("SIG") else f"SIG{val}"
    sig = getattr(signal.Signals, name, None)
    if sig is None:
        raise InvalidInputError(f"signal '{val}' is invalid: expected a number or a name like USR1")
    return int(sig)


def decode_duration(val: float | int | str) -> float:
    """Return seconds from a number, a numeric string, or an RFC 23 duration (``"1.5m"``)."""
    if isinstance(val, (int, float)):
        return float(val)
    try:
        return float(val)
    except ValueError:
        return parse_fsd(val)


def parse_signal_option(arg: str | None) -> dict[str, Any]:
    """Read ``--signal=[SIG][@TIME]`` into the ``signal`` shell option.

    The signal defaults to SIGUSR1 and the time before expiration to 60 s:
    ``"@2m"`` -> ``{"signum": 10, "timeleft": 120.0}``.

    Raises:
        InvalidInputError: the signal or the time is invalid.
    """
    signo: int | str = signal.SIGUSR1
    tleft: float | str = 60.0
    if arg is not None:
        sig, _, time = arg.partition("@")
        if time:
            tleft = time
        if sig:
            signo = sig
    try:
        signum = decode_signal(signo)
        if signum <= 0:
            raise InvalidInputError("signal must be > 0")
        timeleft = decode_duration(tleft)
    except ValueError as exc:
        raise InvalidInputError(f"--signal={arg}: {exc}") from None
    return {"signum": signum, "timeleft": timeleft}


class MiniConstraintParser(ConstraintParser):
    """The ``--requires`` syntax: bare words are properties, ``host:``/``rank:`` shorthands."""

    operator_map: ClassVar[Mapping[str | None, str]] = {
        None: "properties",
        "host": "hostlist",
        "hosts": "hostlist",
        "rank": "ranks",
    }
    split_values: ClassVar[Mapping[str, str]] = {"properties": ","}
    combined_terms = frozenset({"properties"})


def _number_or_str(value: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            continue
    return value


def uri_entry(uri: str, name: str) -> dict[str, Any]:
    """Read ``scheme[:value][?key=val&...]`` into ``{"scheme":, "value":, key: val}``.

    Used for ``--taskmap`` (``"cyclic:2"`` -> ``{"scheme": "cyclic", "value": "2"}``).
    Query values that look like numbers become numbers; a repeated key gives
    a list.

    Raises:
        InvalidInputError: ``uri`` has no scheme.
    """
    scheme, _, rest = uri.partition(":")
    value, _, query = rest.partition("?")
    if not scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise InvalidInputError(f'Invalid {name} URI "{uri}": expected scheme[:value]')
    entry: dict[str, Any] = {"scheme": scheme.lower(), "value": value}
    for key, vals in parse_qs(query).items():
        converted = [_number_or_str(v) for v in vals]
        entry[key] = converted if len(converted) > 1 else converted[0]
    return entry


_V = TypeVar("_V")


def filter_dict(env: Mapping[str, _V], pattern: str, reverseMatch: bool = True) -> dict[str, _V]:
    """Drop (or, with ``reverseMatch=False``, keep only) keys matching ``pattern``.

    ``pattern`` is a shell glob, or a regular expression when written
    ``/regex/``.
    """
    if pattern.startswith("/"):
        regex = re.compile(pattern[1:].rstrip("/"))
    else:
        regex = re.compile(fnmatch.translate(pattern))
    return {k: v for k, v in env.items() if bool(regex.match(k)) != reverseMatch}


def get_rlimits(name: str = "*") -> dict[str, int]:
    """Return the current soft limits whose ``RLIMIT_`` name matches the glob ``name``.

    Keys are lowercase names without the prefix (``"nofile"``), as the job
    shell's rlimit option expects.

    Raises:
        InvalidInputError: no limit matches.
    """
    pattern = f"RLIMIT_{name}".upper()
    limits = {
        attr[len("RLIMIT_") :].lower(): resource.getrlimit(getattr(resource, attr))[0]
        for attr in fnmatch.filter(dir(resource), pattern)
    }
    if not limits:
        raise InvalidInputError(f'No corresponding rlimit matching "{name}"')
    return limits


def list_split(opts: str | Iterable[str] | None) -> list[str]:
    """Flatten ``opts``, splitting each member on commas (``["a,b", "c"]`` -> a, b, c)."""
    if isinstance(opts, str):
        opts = [opts]
    return [part for opt in opts or () for part in opt.split(",")]


# Limits not propagated unless asked for (as flux submit does).
_RLIMIT_DEFAULT_RULES = (
    "-memlock",
    "-ofile",
    "-msgqueue",
    "-nice",
    "-rtprio",
    "-rttime",
    "-sigpending",
)


def get_filtered_rlimits(user_rules: str | Iterable[str] | None = None) -> dict[str, int]:
    """Return the resource limits to propagate to a job, after ``--rlimit`` rules.

    Start from every current limit less the defaults above; then each rule
    ``-NAME`` drops matching limits, ``NAME`` adds the current value of
    matching limits, ``NAME=VALUE`` sets one (``unlimited``/``infinity``/
    ``inf`` for no limit). ``"-*"`` propagates none.

    Raises:
        InvalidInputError: a rule names no limit or has a bad value.
    """
    rules = [*_RLIMIT_DEFAULT_RULES, *list_split(user_rules)]
    limits = get_rlimits()
    for rule in rules:
        if rule.startswith("-"):
            limits = filter_dict(limits, rule[1:].lower())
            continue
        name, eq, text = rule.partition("=")
        if not eq:
            limits.update(get_rlimits(name.lower()))
            continue
        if not hasattr(resource, f"RLIMIT_{name}".upper()):
            raise InvalidInputError(f'Invalid rlimit "{name}"')
        if text in ("unlimited", "infinity", "inf"):
            limits[name.lower()] = resource.RLIM_INFINITY
        else:
            try:
                limits[name.lower()] = int(text)
            except ValueError:
                raise InvalidInputError(f"Invalid value in {name}={text}") from None
    return limits


def get_filtered_environment(
    rules: Iterable[str] | None, environ: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Apply ``--env`` rules to ``environ`` (default: a copy of ``os.environ``).

    Returns ``(environment, env_expand)``. Rules, in order:

    * ``-PATTERN`` removes matching variables (glob, or ``/regex/``);
    * ``^FILE`` reads more rules from FILE, one a line;
    * ``VAR`` adds matching variables from this process's environment that
      are not set yet;
    * ``VAR=VALUE`` sets VAR, expanding ``$NAME`` from the environment built
      so far, then this process's; a value holding ``{{`` is a mustache
      template for the job shell and goes to ``env_expand`` instead.

    Raises:
        InvalidInputError: a file cannot be read or a ``$NAME`` is undefined.
    """
    env_expand: dict[str, str] = {}
    env = dict(os.environ) if environ is None else environ
    for rule in rules or ():
        if rule.startswith("-"):
            env = filter_dict(env, rule[1:])
        elif rule.startswith("^"):
            path = os.path.expanduser(rule[1:])
            try:
                with open(path) as stream:
                    lines = [line.strip() for line in stream]
            except OSError as exc:
                raise InvalidInputError(f"--env: {exc}") from None
            env, more = get_filtered_environment(lines, environ=env)
            env_expand.update(more)
        else:
            var, eq, value = rule.partition("=")
            if not eq:
                for key, val in filter_dict(os.environ, var, reverseMatch=False).items():
                    env.setdefault(key, val)
            elif "{{" in value:
                env_expand[var] = value
            else:
                try:
                    lookup: ChainMap[str, str] = ChainMap(env, os.environ)
                    env[var] = Template(value).substitute(lookup)
                except ValueError:
                    raise InvalidInputError(f"--env: Unable to substitute {rule}") from None
                except KeyError as exc:
                    raise InvalidInputError(f"--env: Variable {exc} not found in {rule}") from None
    return env, env_expand


_Loader = Callable[[IO[bytes]], Any]


class BatchConfig:
    """Build a broker configuration from ``--conf`` values, as ``flux batch``/``alloc`` do.

    Each :meth:`update` merges one value into :attr:`config` (None until the
    first update).
    """

    loaders: ClassVar[dict[str, _Loader]] = {".toml": tomllib.load, ".json": json.load}

    def __init__(self) -> None:
        self.config: dict[str, Any] | None = None

    def update_string(self, value: str) -> BatchConfig:
        """Merge a JSON or TOML document."""
        try:
            conf = json.loads(value)
        except json.JSONDecodeError:
            try:
                conf = tomllib.loads(value)
            except tomllib.TOMLDecodeError:
                raise InvalidInputError(
                    "--conf: failed to parse multiline as TOML or JSON"
                ) from None
        self.config = dict_merge(self.config or {}, conf)
        return self

    def update_keyval(self, keyval: str) -> BatchConfig:
        """Set a dotted key: ``resource.noverify=true`` (the value is JSON, else a string)."""
        key, _, text = keyval.partition("=")
        value: Any
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if self.config is None:
            self.config = {}
        try:
            set_treedict(self.config, key, value)
        except TypeError as exc:
            raise TypeError(f"failed to set {key} to {value}: {exc}") from None
        return self

    def update_file(self, path: str, extension: str = ".toml") -> BatchConfig:
        """Merge a ``.toml`` or ``.json`` file."""
        loader = self.loaders.get(extension)
        if loader is None:
            raise InvalidInputError(f"--conf: {path} must end in .toml or .json")
        try:
            with open(path, "rb") as stream:
                conf = loader(stream)
        except OSError as exc:
            raise InvalidInputError(f"--conf: {exc}") from None
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInputError(f"--conf: parse error: {path}: {exc}") from None
        self.config = dict_merge(self.config or {}, conf)
        return self

    def update_named_config(self, name: str) -> BatchConfig:
        """Merge the first ``NAME.toml`` or ``NAME.json`` in the XDG ``flux/config`` dirs."""
        for directory in xdg_searchpath(subdir="config"):
            for ext in (".toml", ".json"):
                path = directory / f"{name}{ext}"
                if path.exists():
                    try:
                        with open(path, "rb") as stream:
                            conf = self.loaders[ext](stream)
                    except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
                        raise InvalidInputError(f"--conf={name}: {path}: {exc}") from None
                    self.config = dict_merge(self.config or {}, conf)
                    return self
        raise InvalidInputError(f"--conf: named config '{name}' not found")

    def update(self, value: str) -> BatchConfig:
        """Merge ``value`` into the configuration and return self.

        ``value`` is read as: a JSON or TOML document if it has a newline;
        else ``dotted.key=value`` if it has ``=``; else a file path if it
        ends in ``.toml`` or ``.json``; else the name of a config in the XDG
        search path.

        Raises:
            InvalidInputError: (a ``ValueError``) the value cannot be read.
        """
        if self.config is None:
            self.config = {}
        if "\n" in value:
            return self.update_string(value)
        if "=" in value:
            return self.update_keyval(value)
        extension = pathlib.Path(value).suffix
        if extension in (".toml", ".json"):
            return self.update_file(value, extension)
        return self.update_named_config(value)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value at a dotted key, or ``default``."""
        return get_treedict(self.config or {}, key, default=default)


def normalize_conf(conf: Mapping[str, Any] | BatchConfig | str | None) -> dict[str, Any] | None:
    """Return ``conf`` (a dict, a :class:`BatchConfig`, or a ``--conf`` string) as a dict."""
    if conf is None:
        return None
    if isinstance(conf, BatchConfig):
        return conf.config
    if isinstance(conf, Mapping):
        return dict(conf)
    return BatchConfig().update(str(conf)).config


def jobspec_add_file(jobspec: Jobspec, arg: str) -> None:
    """Attach a file given as ``--add-file`` does.

    ``PATH`` attaches a local file under its base name; ``NAME=PATH`` under
    NAME; ``NAME=TEXT`` with a newline (or a ``\\n`` escape) attaches TEXT;
    ``NAME:PERMS=...`` sets octal permissions.

    Raises:
        InvalidInputError: the name is missing or the file cannot be read.
    """
    perms = None
    name, _, data = arg.replace("\\n", "\n").partition("=")
    if not data:
        if "\n" in name:
            raise InvalidInputError("--add-file: file name missing")
        data, name = name, os.path.basename(name)
    else:
        plain, _, permstr = name.partition(":")
        with contextlib.suppress(ValueError):  # else the ':' belongs to the name
            perms, name = int(permstr, base=8), plain
    try:
        jobspec.add_file(name, data, perms=perms)
    except (TypeError, ValueError, OSError) as exc:
        raise InvalidInputError(f"--add-file={arg}: {exc}") from None


def parse_jobspec_keyval(label: str, keyval: str) -> tuple[str, Any]:
    """Read ``--setopt``/``--setattr`` ``KEY[=VALUE]``.

    VALUE is JSON when it parses as JSON, else a string; without ``=`` it
    is 1. ``^KEY=FILE`` loads the value from a JSON file.

    Raises:
        InvalidInputError: the file does not hold JSON.
        OSError: the file cannot be read.
    """
    key, eq, text = keyval.partition("=")
    if not eq:
        return key, 1
    if key.startswith("^"):
        with open(text) as stream:
            try:
                return key.lstrip("^"), json.load(stream)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{label}: {text}: {exc}") from exc
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text
