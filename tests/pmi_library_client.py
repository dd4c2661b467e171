"""A job's task calling a PMI-1 client library, as an MPI runtime would (through ctypes).

Run as a task: ``python3 pmi_library_client.py MODE``. It loads the library the job shell
names in ``FLUX_PMI_LIBRARY_PATH`` (Flux's own ``libpmi.so`` under real Flux, fluxsdk's on the
embedded instance) and prints one JSON object: the task's rank and, in order, each call made
with its return code and what it gave back. Modes:

- ``job``: the whole API in a job (init, identity, limits, put/commit/barrier/get of every
  task's value, error cases, cliques, the refused calls, finalize and after);
- ``singleton``: the same library with no PMI channel (``PMI_FD``, ``PMI_RANK``,
  ``PMI_SIZE`` removed from the environment), ending with ``PMI_Abort`` (which exits);
- ``abort``: rank 0 initializes and calls ``PMI_Abort``, the others wait to be killed.

Only the standard library is used: the task's ``python3`` runs it.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from typing import Any

Calls = list[list[Any]]


def _int_out(lib: ctypes.CDLL, name: str, calls: Calls) -> int:
    value = ctypes.c_int(-99)
    rc = getattr(lib, name)(ctypes.byref(value))
    calls.append([name, rc, value.value])
    return value.value


def _string_out(lib: ctypes.CDLL, name: str, length: int, calls: Calls, label: str = "") -> str:
    buf = ctypes.create_string_buffer(max(length, 1))
    rc = getattr(lib, name)(buf, length)
    text = buf.value.decode() if rc == 0 else None
    calls.append([label or f"{name}({length})", rc, text])
    return text or ""


def _get(lib: ctypes.CDLL, kvsname: str, key: str, length: int, calls: Calls, label: str) -> None:
    buf = ctypes.create_string_buffer(max(length, 1))
    rc = lib.PMI_KVS_Get(kvsname.encode(), key.encode(), buf, length)
    calls.append([label, rc, buf.value.decode() if rc == 0 else None])


def _put(lib: ctypes.CDLL, kvsname: str, key: str, value: str, calls: Calls, label: str) -> None:
    calls.append([label, lib.PMI_KVS_Put(kvsname.encode(), key.encode(), value.encode())])


def job(lib: ctypes.CDLL) -> Calls:
    """The whole API inside a job."""
    calls: Calls = []
    spawned = ctypes.c_int(-99)
    calls.append(["PMI_Init", lib.PMI_Init(ctypes.byref(spawned)), spawned.value])
    calls.append(["PMI_Init again", lib.PMI_Init(ctypes.byref(spawned))])
    _int_out(lib, "PMI_Initialized", calls)
    rank = _int_out(lib, "PMI_Get_rank", calls)
    size = _int_out(lib, "PMI_Get_size", calls)
    _int_out(lib, "PMI_Get_universe_size", calls)
    _int_out(lib, "PMI_Get_appnum", calls)
    name_max = _int_out(lib, "PMI_KVS_Get_name_length_max", calls)
    key_max = _int_out(lib, "PMI_KVS_Get_key_length_max", calls)
    value_max = _int_out(lib, "PMI_KVS_Get_value_length_max", calls)
    _int_out(lib, "PMI_Get_id_length_max", calls)
    kvsname = _string_out(lib, "PMI_KVS_Get_my_name", name_max, calls, "PMI_KVS_Get_my_name")
    _string_out(lib, "PMI_KVS_Get_my_name", 2, calls)  # too short for the name
    _string_out(lib, "PMI_KVS_Get_my_name", 0, calls)
    _string_out(lib, "PMI_Get_id", name_max, calls)
    _string_out(lib, "PMI_Get_kvs_domain_id", name_max, calls)

    _put(lib, kvsname, f"k{rank}", f"value of {rank}: a=b c", calls, "put mine")
    _put(lib, kvsname, "x" * (key_max - 1), "longest key", calls, "put key of length max-1")
    _put(lib, kvsname, "x" * key_max, "v", calls, "put key of length max")
    _put(lib, kvsname, f"big{rank}", "v" * (value_max - 1), calls, "put value of length max-1")
    _put(lib, kvsname, "toobig", "v" * value_max, calls, "put value of length max")
    calls.append(["PMI_KVS_Put(NULL key)", lib.PMI_KVS_Put(kvsname.encode(), None, b"v")])
    calls.append(["PMI_KVS_Commit", lib.PMI_KVS_Commit(kvsname.encode())])
    calls.append(["PMI_KVS_Commit(NULL)", lib.PMI_KVS_Commit(None)])
    calls.append(["PMI_Barrier", lib.PMI_Barrier()])

    for other in range(size):
        _get(lib, kvsname, f"k{other}", value_max, calls, f"get k{other}")
    other = (rank + 1) % size
    _get(lib, kvsname, f"big{other}", value_max, calls, "get the next task's long value")
    _get(lib, kvsname, f"big{other}", value_max - 1, calls, "get it into a buffer too short")
    _get(lib, kvsname, "x" * (key_max - 1), value_max, calls, "get key of length max-1")
    _get(lib, kvsname, "x" * key_max, value_max, calls, "get key of length max")
    _get(lib, kvsname, "nosuchkey", value_max, calls, "get a key nobody put")
    _get(lib, kvsname, f"k{rank}", 0, calls, "get with length 0")
    _get(lib, kvsname, "PMI_process_mapping", value_max, calls, "get PMI_process_mapping")
    _get(lib, kvsname, "flux.taskmap", value_max, calls, "get flux.taskmap")

    clique = _int_out(lib, "PMI_Get_clique_size", calls)
    ranks = (ctypes.c_int * max(clique, 1))()
    rc = lib.PMI_Get_clique_ranks(ranks, clique)
    calls.append(["PMI_Get_clique_ranks", rc, list(ranks)])
    calls.append(["PMI_Get_clique_ranks(short)", lib.PMI_Get_clique_ranks(ranks, clique - 1)])
    calls.append(["PMI_Get_clique_ranks(NULL)", lib.PMI_Get_clique_ranks(None, clique)])
    for name in ("PMI_Get_size", "PMI_Get_rank", "PMI_Initialized", "PMI_Get_clique_size"):
        calls.append([f"{name}(NULL)", getattr(lib, name)(None)])

    calls.extend(_refused(lib))
    calls.append(["PMI_Barrier before finalize", lib.PMI_Barrier()])
    calls.append(["PMI_Finalize", lib.PMI_Finalize()])
    calls.append(["PMI_Finalize again", lib.PMI_Finalize()])
    _int_out(lib, "PMI_Get_rank", calls)
    _int_out(lib, "PMI_Initialized", calls)
    calls.append(["PMI_Init after finalize", lib.PMI_Init(None)])
    return calls


def _refused(lib: ctypes.CDLL) -> Calls:
    port = ctypes.create_string_buffer(64)
    key = ctypes.create_string_buffer(64)
    val = ctypes.create_string_buffer(64)
    errors = (ctypes.c_int * 1)()
    nargs = ctypes.c_int(0)
    return [
        ["PMI_Publish_name", lib.PMI_Publish_name(b"service", b"port")],
        ["PMI_Unpublish_name", lib.PMI_Unpublish_name(b"service")],
        ["PMI_Lookup_name", lib.PMI_Lookup_name(b"service", port)],
        [
            "PMI_Spawn_multiple",
            lib.PMI_Spawn_multiple(0, None, None, None, None, None, 0, None, errors),
        ],
        ["PMI_KVS_Create", lib.PMI_KVS_Create(key, 64)],
        ["PMI_KVS_Destroy", lib.PMI_KVS_Destroy(b"name")],
        ["PMI_KVS_Iter_first", lib.PMI_KVS_Iter_first(b"name", key, 64, val, 64)],
        ["PMI_KVS_Iter_next", lib.PMI_KVS_Iter_next(b"name", key, 64, val, 64)],
        ["PMI_Parse_option", lib.PMI_Parse_option(0, None, ctypes.byref(nargs), None, None)],
        ["PMI_Args_to_keyval", lib.PMI_Args_to_keyval(None, None, None, None)],
        ["PMI_Free_keyvals", lib.PMI_Free_keyvals(None, 0)],
        ["PMI_Get_options", lib.PMI_Get_options(key, ctypes.byref(nargs))],
    ]


def singleton(lib: ctypes.CDLL) -> Calls:
    """No PMI channel: what each call answers, then PMI_Abort (which exits the task)."""
    for name in ("PMI_FD", "PMI_RANK", "PMI_SIZE"):
        os.environ.pop(name, None)
    calls: Calls = []
    spawned = ctypes.c_int(-99)
    calls.append(["PMI_Init", lib.PMI_Init(ctypes.byref(spawned)), spawned.value])
    for name in (
        "PMI_Initialized",
        "PMI_Get_rank",
        "PMI_Get_size",
        "PMI_Get_universe_size",
        "PMI_Get_appnum",
        "PMI_KVS_Get_name_length_max",
        "PMI_KVS_Get_key_length_max",
        "PMI_KVS_Get_value_length_max",
        "PMI_Get_clique_size",
    ):
        _int_out(lib, name, calls)
    _string_out(lib, "PMI_KVS_Get_my_name", 64, calls)
    _put(lib, "kvs", "key", "value", calls, "PMI_KVS_Put")
    calls.append(["PMI_KVS_Commit", lib.PMI_KVS_Commit(b"kvs")])
    _get(lib, "kvs", "key", 64, calls, "PMI_KVS_Get")
    calls.append(["PMI_Barrier", lib.PMI_Barrier()])
    ranks = (ctypes.c_int * 1)()
    calls.append(["PMI_Get_clique_ranks", lib.PMI_Get_clique_ranks(ranks, 1)])
    calls.append(["PMI_Finalize", lib.PMI_Finalize()])
    calls.extend(_refused(lib))
    return calls


def main() -> None:
    """Run the mode named on the command line; print the rank and the calls as JSON."""
    mode = sys.argv[1]
    lib = ctypes.CDLL(os.environ["FLUX_PMI_LIBRARY_PATH"])
    rank = int(os.environ.get("PMI_RANK", "0"))
    if mode == "abort":
        spawned = ctypes.c_int(-99)
        print(json.dumps({"rank": rank, "init": lib.PMI_Init(ctypes.byref(spawned))}), flush=True)
        if rank == 0:
            lib.PMI_Abort(3, b"giving up\non line two")
        time.sleep(120)
        return
    calls = job(lib) if mode == "job" else singleton(lib)
    print(json.dumps({"rank": rank, "calls": calls}), flush=True)
    if mode == "singleton":
        lib.PMI_Abort(7, b"alone")  # exits 7, after a line on stderr


if __name__ == "__main__":
    main()
