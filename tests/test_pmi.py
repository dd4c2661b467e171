"""The embedded instance's PMI-1 server: the pieces a job's tasks rely on.

Its wire protocol is checked against real Flux by the differential scenarios
``pmi-exchange``, ``pmi-abort`` and ``pmi-off`` (tests/differential).
"""

from __future__ import annotations

from fluxsdk.instance._exec import TaskPlan
from fluxsdk.instance._pmi import _fields, process_mapping


def _plans(*per_node: int) -> list[TaskPlan]:
    plans: list[TaskPlan] = []
    for node, count in enumerate(per_node):
        for local in range(count):
            plans.append(TaskPlan(len(plans), node, local, (), ()))
    return plans


def test_process_mapping_is_rfc13_vector_blocks() -> None:
    assert process_mapping(_plans(2), [0]) == "(vector,(0,1,2))"
    assert process_mapping(_plans(2, 2, 2), [0, 1, 2]) == "(vector,(0,3,2))"
    assert process_mapping(_plans(2, 1, 1), [0, 1, 2]) == "(vector,(0,1,2),(1,2,1))"


def test_request_fields_keep_spaces_in_strings() -> None:
    assert _fields("cmd=put kvsname=f1 key=k value=a b=c") == {
        "cmd": "put",
        "kvsname": "f1",
        "key": "k",
        "value": "a b=c",
    }
    assert _fields("cmd=abort exitcode=3 error_msg=giving up") == {
        "cmd": "abort",
        "exitcode": "3",
        "error_msg": "giving up",
    }
