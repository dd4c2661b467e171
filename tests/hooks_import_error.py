"""A plugin that cannot even be imported (for the failure-rule tests)."""

from __future__ import annotations

raise ImportError("hooks_import_error is broken on purpose")
