"""job-list filters (states, results, since, name, queue, constraints) give flux's answers.

The same six jobs as in ``tests/data/flux_job_list_filters.json`` (recorded on
flux-core v0.88.0) are made on a fresh embedded instance and listed the same ways.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import fluxsdk
from fluxsdk import job
from fluxsdk.constants import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_STATE_ACTIVE,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_PENDING,
    FLUX_JOB_STATE_RUN,
    FLUX_JOB_STATE_RUNNING,
    FLUX_USERID_UNKNOWN,
)
from fluxsdk.core import Flux
from fluxsdk.job import JobspecV1
from fluxsdk.testing import instance_running

RECORDED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "flux_job_list_filters.json").read_text()
)["listings"]


@pytest.fixture(scope="module")
def six_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flux, dict[int, str]]]:
    statedir = tmp_path_factory.mktemp("filters") / "instance"
    with instance_running(statedir, cores=2) as uri, fluxsdk.Flux(uri) as h:

        def sub(command: list[str], name: str, urgency: int = 16) -> int:
            spec = JobspecV1.from_command(command)
            spec.setattr("system.job.name", name)
            return int(job.submit(h, spec, urgency=urgency, waitable=True))

        ids: dict[str, int] = {}
        for name, command in (("ok1", ["true"]), ("fail", ["false"]), ("ok2", ["true"])):
            ids[name] = sub(command, name)
            job.wait(h, ids[name])
            time.sleep(0.01)  # distinct t_inactive
        ids["canc"] = sub(["true"], "canc", urgency=0)
        job.cancel(h, ids["canc"])
        job.wait(h, ids["canc"])
        ids["run"] = sub(["sleep", "60"], "run")
        job.event_wait(h, ids["run"], "start")
        ids["held"] = sub(["true"], "held", urgency=0)
        yield h, {v: k for k, v in ids.items()}
        job.cancel(h, ids["run"])
        job.cancel(h, ids["held"])


def names(six: tuple[Flux, dict[int, str]], **kwargs: Any) -> list[str] | str:
    h, by_id = six
    try:
        return [by_id[j["id"]] for j in job.job_list(h, **kwargs).get_jobs()]
    except OSError as exc:
        return f"OSError {exc.errno} {exc.strerror}"


def t2(six: tuple[Flux, dict[int, str]]) -> float:
    h, _ = six
    inactive = job.job_list(h, states=FLUX_JOB_STATE_INACTIVE, attrs=["t_inactive"]).get_jobs()
    value: float = inactive[1]["t_inactive"]
    return value


CASES: dict[str, Callable[[tuple[Flux, dict[int, str]]], dict[str, Any]]] = {
    "all": lambda s: {},
    "pending": lambda s: {"states": FLUX_JOB_STATE_PENDING},
    "running": lambda s: {"states": FLUX_JOB_STATE_RUNNING},
    "active": lambda s: {"states": FLUX_JOB_STATE_ACTIVE},
    "inactive": lambda s: {"states": FLUX_JOB_STATE_INACTIVE},
    "completed": lambda s: {"results": FLUX_JOB_RESULT_COMPLETED},
    "failed|canceled": lambda s: {"results": FLUX_JOB_RESULT_FAILED | FLUX_JOB_RESULT_CANCELED},
    "pending+completed": lambda s: {
        "states": FLUX_JOB_STATE_PENDING,
        "results": FLUX_JOB_RESULT_COMPLETED,
    },
    "since_t2": lambda s: {"since": t2(s)},
    "since_t2_inactive": lambda s: {"since": t2(s), "states": FLUX_JOB_STATE_INACTIVE},
    "name_ok1": lambda s: {"name": "ok1"},
    "max2": lambda s: {"max_entries": 2},
    "c_not_inactive": lambda s: {"constraint": {"not": [{"states": ["inactive"]}]}},
    "c_or": lambda s: {"constraint": {"or": [{"name": ["run"]}, {"results": ["failed"]}]}},
    "c_states_num": lambda s: {"constraint": {"states": [FLUX_JOB_STATE_RUN, "sched"]}},
    "c_results_names": lambda s: {"constraint": {"results": ["completed", "canceled"]}},
    "c_bad_op": lambda s: {"constraint": {"bogus": [1]}},
    "c_bad_state": lambda s: {"constraint": {"states": ["bogus"]}},
    "c_userid_any": lambda s: {"userid": FLUX_USERID_UNKNOWN},
    "c_t_inactive": lambda s: {"constraint": {"t_inactive": [f">={t2(s)}"]}},
    "c_t_submit": lambda s: {"constraint": {"t_submit": [">=0"]}},
    "c_queue": lambda s: {"queue": "q"},
    "since_neg": lambda s: {"since": -1.0},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_listing_matches_flux(six_jobs: tuple[Flux, dict[int, str]], case: str) -> None:
    assert names(six_jobs, **CASES[case](six_jobs)) == RECORDED[case]


def test_job_list_inactive_max_entries(six_jobs: tuple[Flux, dict[int, str]]) -> None:
    h, by_id = six_jobs
    got = [by_id[j["id"]] for j in job.job_list_inactive(h, 0.0, 2).get_jobs()]
    assert got == RECORDED["inactive_max2"]
