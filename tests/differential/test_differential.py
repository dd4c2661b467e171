"""The embedded instance against real Flux 0.88's recorded answers, scenario by scenario.

Every scenario of :mod:`tests.differential.scenarios` runs once on a fresh
embedded instance of the recorded size (one node, 2 cores); each scored fact
is compared with ``recordings/flux-0.88.json``. A difference fails unless it
is listed, with its reason, in ``expected_differences.json`` (and a listed
difference that has gone away fails too, so the list stays true). With a real
Flux found (``$FLUXSDK_FLUX``, ``flux`` on PATH, or /opt/flux/bin/flux) the
same scenarios also run on it and must agree with the recording exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from fluxsdk._ffi import LibfluxUnavailableError, load_libflux
from tests.differential import compare as cmp
from tests.differential import scenarios  # noqa: F401  (registers the scenarios)
from tests.differential.cli import run_embedded, run_live
from tests.differential.harness import SCENARIOS
from tests.flux_broker import FluxBrokerError

MIN_SCENARIOS = 60


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, Any]]:
    """Real Flux's facts."""
    return cmp.load_recording()


@pytest.fixture(scope="module")
def embedded_facts() -> dict[str, dict[str, Any]]:
    """Every scenario's facts on a fresh embedded instance (run once for the module)."""
    return run_embedded()


@pytest.fixture(scope="module")
def report(
    recorded: dict[str, dict[str, Any]], embedded_facts: dict[str, dict[str, Any]]
) -> cmp.Report:
    """The whole comparison, printed for the log."""
    result = cmp.compare(recorded, embedded_facts, cmp.load_expected())
    print("\n" + result.summary())
    return result


def test_enough_scenarios_are_recorded(recorded: dict[str, dict[str, Any]]) -> None:
    assert len(SCENARIOS) >= MIN_SCENARIOS
    assert sorted(recorded) == sorted(SCENARIOS), "re-record: scenarios and recording differ"


def test_expected_differences_name_recorded_facts(recorded: dict[str, dict[str, Any]]) -> None:
    for key, reason in cmp.load_expected().items():
        scenario_name, fact = key.split("/", 1)
        # (the fact may exist on one side only, e.g. events flux never posts)
        assert scenario_name in recorded and fact, f"{key} names no recorded scenario"
        assert reason.strip(), f"{key} needs a reason"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_agrees_with_flux(name: str, report: cmp.Report) -> None:
    """Each scored fact of the scenario is real Flux's, or a listed difference."""
    assert name not in report.broken, report.broken.get(name)
    unexpected = {k: v for k, v in report.unexpected.items() if k.startswith(f"{name}/")}
    assert not unexpected, "\n".join(
        f"{key}: flux {flux!r} != embedded {ours!r}" for key, (flux, ours) in unexpected.items()
    )
    fixed = [k for k in report.fixed if k.startswith(f"{name}/")]
    assert not fixed, f"now agreeing, remove from expected_differences.json: {fixed}"


@pytest.mark.flux
def test_live_flux_agrees_with_its_recording(recorded: dict[str, dict[str, Any]]) -> None:
    """A live Flux gives the recorded facts (a drift or a flaky scenario shows here)."""
    flux = cmp.find_live_flux()
    if flux is None:
        pytest.skip("no real flux found ($FLUXSDK_FLUX, PATH, /opt/flux/bin)")
    cmp.use_libflux_of(flux)
    try:
        load_libflux()
    except LibfluxUnavailableError as exc:
        pytest.skip(f"libflux-core not loadable: {exc}")
    try:
        observed = run_live(flux)
    except FluxBrokerError as exc:
        pytest.skip(f"flux start did not come up: {exc}")
    result = cmp.compare(recorded, observed, {})
    if not result.ok:
        # Real Flux's job-list follows its job manager asynchronously, and a loaded machine
        # can stretch that past a scenario's patience. A drift repeats: run the scenarios
        # that differed again, alone, and judge them on that run.
        names = sorted({key.split("/", 1)[0] for key in result.unexpected} | set(result.broken))
        print("\n" + result.summary() + f"\nrunning again, alone: {names}")
        again = run_live(flux, names)
        result = cmp.compare({n: recorded[n] for n in names}, again, {})
    assert result.ok, result.summary()
