"""``python -m fluxsdk.cli``: the ``fluxsdk`` command."""

from __future__ import annotations

import sys

from fluxsdk.cli import main

sys.exit(main())
