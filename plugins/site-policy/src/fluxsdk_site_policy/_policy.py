"""A site policy: its YAML form, checked, and where to find it.

The file has two optional sections; every key is optional::

    defaults:                 # filled in when a jobspec leaves them unset
      duration: 1h            # RFC 23 duration or seconds (0, "unlimited", counts as unset)
      queue: batch
      environment:            # variables added unless the job sets them
        OMP_NUM_THREADS: "1"
    limits:                   # jobspecs beyond them are rejected
      max-duration: 1d        # also rejects jobs without a time limit
      queues: [batch, debug]
      max-cores: 64
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import yaml
from fluxsdk.errors import InvalidDurationError
from fluxsdk.util import parse_fsd

__all__ = [
    "ENV_POLICY",
    "Policy",
    "PolicyError",
    "find_policy_file",
    "load_policy",
    "parse_policy",
]

ENV_POLICY: Final = "FLUXSDK_SITE_POLICY"
"""Names the policy file (an empty value: no policy)."""

_DEFAULT_KEYS: Final = frozenset({"duration", "queue", "environment"})
_LIMIT_KEYS: Final = frozenset({"max-duration", "queues", "max-cores"})


class PolicyError(ValueError):
    """A policy file that cannot be read or does not follow the format."""


@attrs.frozen(kw_only=True)
class Policy:
    """The defaults and limits of one policy file."""

    path: Path
    default_duration: float | None = None
    default_queue: str | None = None
    default_environment: Mapping[str, str] = attrs.field(factory=dict)
    max_duration: float | None = None
    queues: tuple[str, ...] | None = None
    max_cores: int | None = None


def find_policy_file() -> Path | None:
    """``$FLUXSDK_SITE_POLICY``, else the first of ``$XDG_CONFIG_HOME/fluxsdk/
    site-policy.yaml`` and ``/etc/fluxsdk/site-policy.yaml`` that exists."""
    named = os.environ.get(ENV_POLICY)
    if named is not None:
        return Path(named) if named.strip() else None
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user = Path(config_home, "fluxsdk", "site-policy.yaml")
    for candidate in (user, Path("/etc/fluxsdk/site-policy.yaml")):
        if candidate.is_file():
            return candidate
    return None


def _duration(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PolicyError(f"{where} must be an RFC 23 duration such as 1h, not {value!r}")
    try:
        seconds = parse_fsd(value) if isinstance(value, str) else float(value)
    except InvalidDurationError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    if seconds < 0:
        raise PolicyError(f"{where} must not be negative")
    return seconds


def _section(doc: Mapping[str, Any], name: str, keys: frozenset[str]) -> Mapping[str, Any]:
    section = doc.get(name) or {}
    if not isinstance(section, Mapping):
        raise PolicyError(f"{name} must be a mapping")
    unknown = sorted(set(section) - keys)
    if unknown:
        raise PolicyError(f"{name}: unknown key(s) {', '.join(map(str, unknown))}")
    return section


def load_policy(path: Path) -> Policy:
    """Read and check the policy in ``path``.

    Raises:
        PolicyError: the file cannot be read or breaks the format.
    """
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read {path}: {exc}") from None
    return parse_policy(doc, path)


def parse_policy(doc: Any, path: Path) -> Policy:
    """Check the policy ``doc`` (the file's content) read from ``path``.

    Raises:
        PolicyError: it breaks the format.
    """
    if not isinstance(doc, Mapping):
        raise PolicyError(f"{path}: the policy must be a mapping")
    unknown = sorted(set(doc) - {"defaults", "limits"})
    if unknown:
        raise PolicyError(f"{path}: unknown section(s) {', '.join(map(str, unknown))}")
    defaults = _section(doc, "defaults", _DEFAULT_KEYS)
    limits = _section(doc, "limits", _LIMIT_KEYS)
    fields: dict[str, Any] = {"path": path}
    if "duration" in defaults:
        fields["default_duration"] = _duration(defaults["duration"], "defaults.duration")
    if "queue" in defaults:
        if not isinstance(defaults["queue"], str):
            raise PolicyError("defaults.queue must be a queue name")
        fields["default_queue"] = defaults["queue"]
    environment = defaults.get("environment") or {}
    if not isinstance(environment, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
    ):
        raise PolicyError("defaults.environment must map names to strings (quote numbers)")
    fields["default_environment"] = dict(environment)
    if "max-duration" in limits:
        fields["max_duration"] = _duration(limits["max-duration"], "limits.max-duration")
    if "queues" in limits:
        queues = limits["queues"]
        if not isinstance(queues, list) or not all(isinstance(q, str) for q in queues):
            raise PolicyError("limits.queues must be a list of queue names")
        fields["queues"] = tuple(queues)
    if "max-cores" in limits:
        cores = limits["max-cores"]
        if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
            raise PolicyError("limits.max-cores must be a positive integer")
        fields["max_cores"] = cores
    return Policy(**fields)
