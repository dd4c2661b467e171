"""``flux broker`` as a job, on the embedded instance as on real Flux.

Without a command, Flux's broker would run an interactive shell, which a job
cannot have (its stdin is no terminal): the job fails at once with exit code 1
(recorded on flux-core 0.88). With a command the nested instance runs it, and
announces its URI in a ``uri`` memo; the model's pools run such a command.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.job import JobspecV1
from fluxsdk.model._pool import POOL_PROGRAM
from tests.test_model_helpers import until

NO_TTY = "stdin is not a tty - can't run interactive shell"  # flux 0.88's words


@pytest.fixture(params=["embedded", pytest.param("flux", marks=pytest.mark.flux)])
def h(request: pytest.FixtureRequest, fluxsdk_uri: str) -> Iterator[Flux]:
    uri = fluxsdk_uri
    if request.param == "flux":
        uri = request.getfixturevalue("flux_uri")
    with Flux(uri) as handle:
        yield handle


def test_a_broker_without_a_command_fails_at_once(h: Flux) -> None:
    jobid = job.submit(h, JobspecV1.from_nest_command([], num_slots=1))
    info = job.result(h, jobid)
    assert info.returncode == 1 and info.result == "FAILED"
    assert job.job_output(h, jobid).stderr.rstrip().endswith(NO_TTY)


def test_a_pool_program_keeps_the_nested_instance_until_cancelled(h: Flux) -> None:
    jobid = job.submit(h, JobspecV1.from_nest_command(list(POOL_PROGRAM), num_slots=1))

    def announced() -> bool:
        info = job.get_job(h, jobid)
        assert info is not None and info["state"] != "INACTIVE", info
        return bool(info.get("annotations", {}).get("user", {}).get("uri"))

    until(announced, 60)
    job.cancel(h, jobid)
    assert job.result(h, jobid).result == "CANCELED"
