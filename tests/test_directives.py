"""RFC 36 submission directives (fluxsdk.job.directives) against real Flux's recorded answers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from fluxsdk.job.directives import Directive, DirectiveParser

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_directives.json").read_text()
)["scripts"]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_directives_as_flux(name: str) -> None:
    want = RECORDED[name]
    lines = want["script"].splitlines(keepends=True)
    if "error" in want:
        with pytest.raises(ValueError) as info:
            DirectiveParser(lines)
        # Same line number and the same first words as flux's message.
        assert str(info.value).startswith(want["error"].split(":")[0])
        return
    parser = DirectiveParser(lines)
    assert [[d.lineno, d.action, d.args] for d in parser.directives] == want["ok"]
    assert parser.script == want["script"]


def test_parser_reads_a_file_object() -> None:
    parser = DirectiveParser(io.StringIO("#!/bin/sh\n# flux: -N2 # two nodes\necho\n"))
    assert parser.sentinel == "# flux:" and parser.prefix == "# "
    assert [d.args for d in parser.directives] == [["-N2"]]


def test_multiline_literal_from_the_rfc() -> None:
    script = (
        '# flux: --setattr=user.conf="""\n# flux: [config]\n# flux:   item = "foo"\n# flux: """\n'
    )
    (directive,) = DirectiveParser(script.splitlines(keepends=True)).directives
    assert directive.args == ['--setattr=user.conf=[config]\n  item = "foo"\n']
    assert directive.lineno == 1


def test_directive_actions() -> None:
    assert Directive("").action == "NOOP"
    assert str(Directive("-N1 # comment", 3)) == "SETARGS(['-N1'])"
    with pytest.raises(ValueError, match="line 7: Unknown directive"):
        Directive("run me", 7)
    with pytest.raises(ValueError, match="No closing quotation"):
        Directive("--name='x", 2)
