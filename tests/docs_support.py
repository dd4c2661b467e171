"""Reading the runnable examples out of the documentation."""

from __future__ import annotations

import re
from pathlib import Path


def python_blocks(path: Path) -> list[str]:
    """The ``python`` code blocks of a Markdown file."""
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)
