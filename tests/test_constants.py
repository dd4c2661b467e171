"""fluxsdk.constants against flux-core v0.88.0's ``flux.constants``, as recorded."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import fluxsdk
import fluxsdk.constants as constants

RECORDED = Path(__file__).parent / "data" / "flux_constants.json"


def _recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())["constants"]
    return data


def test_every_flux_constant_has_flux_value() -> None:
    recorded = _recorded()
    ours = {name: getattr(constants, name) for name in constants.__all__}
    assert ours == recorded


def test_no_constant_beyond_flux() -> None:
    names = {n for n in dir(constants) if n.startswith("FLUX_")}
    assert names == set(_recorded())


def test_flux_constants_reachable_after_import_fluxsdk() -> None:
    # `import flux` alone makes `flux.constants` usable in flux's bindings.
    assert fluxsdk.constants.FLUX_JOB_STATE_INACTIVE == 64


def test_job_modules_share_the_values() -> None:
    # (fluxsdk.job's functions shadow some of its module names: import by path)
    for module in ("submit", "info", "wait", "event"):
        names = importlib.import_module(f"fluxsdk.job.{module}").__dict__
        shared = {n: v for n, v in names.items() if n.startswith("FLUX_")}
        assert shared, module
        assert all(getattr(constants, n) == v for n, v in shared.items()), module
