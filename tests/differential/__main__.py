"""Command line: ``python -m tests.differential {record,embedded,live}``; see README.md."""

from tests.differential.cli import main

raise SystemExit(main())
