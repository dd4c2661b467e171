"""Loading YAML (or JSON) jobspecs within limits.

``yaml.safe_load`` trusts its input in three ways this loader does not: it
reads any size, nests as deep as the interpreter's stack allows (then raises
``RecursionError``), and lets aliases share nodes, so a few hundred bytes can
stand for billions of values (a "billion laughs") that whatever walks the
document later must visit one by one. :func:`load_yaml` bounds all three and
measures an alias-expanded document before it builds any Python object.
"""

from __future__ import annotations

from typing import IO, Any, Final

import yaml

from fluxsdk.errors import JobspecError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "load_yaml"]

# The largest document read, in bytes (or characters, for text).
MAX_YAML_BYTES: Final = 4 << 20
# The deepest nesting of sequences and mappings, aliases expanded.
MAX_YAML_DEPTH: Final = 100
# The most nodes a document may hold once its aliases are expanded.
MAX_YAML_NODES: Final = 1_000_000


class _Loader(yaml.SafeLoader):
    """A safe loader whose composer refuses to nest deeper than the limit."""

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise JobspecError(f"YAML is nested deeper than {MAX_YAML_DEPTH} levels")
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1


def _read(stream: str | bytes | IO[str] | IO[bytes]) -> str | bytes:
    text = stream if isinstance(stream, (str, bytes)) else stream.read(MAX_YAML_BYTES + 1)
    if len(text) > MAX_YAML_BYTES:
        raise JobspecError(f"YAML document exceeds the limit of {MAX_YAML_BYTES} bytes")
    return text


def _measure(
    node: yaml.Node, depth: int, memo: dict[int, tuple[int, int]], open_: set[int]
) -> tuple[int, int]:
    """``(nodes, height)`` of ``node`` with its aliases expanded, within the limits."""
    key = id(node)
    known = memo.get(key)
    if known is not None:
        if depth + known[1] - 1 > MAX_YAML_DEPTH:
            raise JobspecError(f"YAML aliases nest deeper than {MAX_YAML_DEPTH} levels")
        return known
    if key in open_:
        raise JobspecError("YAML alias refers to a node that contains it (a recursive alias)")
    if depth > MAX_YAML_DEPTH:
        raise JobspecError(f"YAML aliases nest deeper than {MAX_YAML_DEPTH} levels")
    if isinstance(node, yaml.SequenceNode):
        children: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [item for pair in node.value for item in pair]
    else:
        children = []
    open_.add(key)
    size, height = 1, 1
    for child in children:
        child_size, child_height = _measure(child, depth + 1, memo, open_)
        size += child_size
        height = max(height, child_height + 1)
        if size > MAX_YAML_NODES:
            raise JobspecError(f"YAML alias expansion exceeds the limit of {MAX_YAML_NODES} nodes")
    open_.discard(key)
    memo[key] = (size, height)
    return size, height


def load_yaml(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """Parse one YAML (or JSON) document within the limits above.

    Raises:
        JobspecError: (a ``ValueError``) the text is not YAML, or exceeds a limit.
    """
    text = _read(stream)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader checks the characters at once
        raise JobspecError(f"not valid YAML or JSON: {exc}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node, 1, {}, set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise JobspecError(f"not valid YAML or JSON: {exc}") from None
    except RecursionError:
        raise JobspecError(f"YAML is nested deeper than {MAX_YAML_DEPTH} levels") from None
    finally:
        loader.dispose()
