"""Jobspecs for the transform pass: parsed and checked once, copied cheaply.

Scripts submit the same jobspec again and again (loops, ``--cc``, executors),
and well-behaved transforms turn it into the same result each time. So the
submitted text is validated once and kept as a template that each submission
copies, and a transformed text already known to be valid is not checked again.
Both memories are small and bounded.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from fluxsdk.job._jobspec import Jobspec

__all__ = ["JobspecMemo", "copy_json"]

MEMO_SIZE: Final = 32


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (faster than copy.deepcopy for small documents)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


class JobspecMemo:
    """Recently seen jobspecs: validated templates by submitted bytes, and
    transformed texts known to be valid."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._templates: OrderedDict[bytes, Jobspec] = OrderedDict()
        self._valid: OrderedDict[str, None] = OrderedDict()

    def parse(self, spec: bytes) -> Jobspec | None:
        """A fresh, validated Jobspec of ``spec``, yours to change; None if ``spec``
        is not a valid JSON jobspec."""
        template = self._templates.get(spec)
        if template is None:
            template = _validated(spec)
            if template is None:
                return None
            self._remember(self._templates, spec, template)
        fresh = copy.copy(template)  # the same class, no re-validation...
        fresh.jobspec = copy_json(template.jobspec)  # ...and a document of its own
        return fresh

    def check(self, jobspec: Jobspec) -> tuple[str, str | None]:
        """``jobspec``'s JSON text, and why it is not a valid jobspec (None if it is)."""
        from fluxsdk.job import validate_jobspec

        try:
            text = jobspec.dumps()
            if text not in self._valid:
                validate_jobspec(text)
                self._remember(self._valid, text, None)
        except (ValueError, TypeError) as exc:
            return "", str(exc)
        return text, None

    def _remember(self, memo: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        memo[key] = value
        if len(memo) > self._size:
            memo.popitem(last=False)


def _validated(spec: bytes) -> Jobspec | None:
    from fluxsdk.job import validate_jobspec

    try:
        text = spec.decode("utf-8")
        if not isinstance(json.loads(text), dict):  # YAML or junk: the instance decides
            return None
        return validate_jobspec(text)[1]
    except (ValueError, TypeError):
        return None
