"""fluxsdk's PMI-1 client library (``libpmi.so``, csrc/libpmi), as tasks and MPI use it.

- The library the install built exports the PMI-1 symbols Flux's ``libpmi.so`` exports (read
  from the ELF dynamic symbol table), under the soname ``libpmi.so.0``.
- Tasks of embedded jobs (2 tasks on a node, 4 tasks on 2 nodes) load it from
  ``FLUX_PMI_LIBRARY_PATH`` with ctypes and exchange values through it; a process with no PMI
  channel gets Flux's singleton answers. The same programs are differential scenarios
  (``pmi-library*`` in tests/differential), recorded on Flux 0.88 with Flux's own library.
- Against a PMI-1 server played by the test: task maps in every form Flux reads (clique
  calls), and the wire protocol's corners. Each case's answers were taken from Flux's own
  ``libpmi.so``; when it is installed (``/opt/flux`` or ``$FLUXSDK_FLUX``'s prefix) the cases
  also run against it, so a drift in either shows.
- The build hook (hatch_build.py): it compiles the library where the package finds it, and
  without a compiler it warns and builds nothing.

The library is built at install; these tests need no compiler unless the install had one:
without the library they fail if a compiler is on this machine (the install should have
built it) and skip otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.instance._pmilib import LIBRARY_DIR, pmi_library, pmi_library_env
from fluxsdk.job import JobspecV1
from fluxsdk.testing import instance_running

ROOT = Path(__file__).resolve().parents[1]
CLIENT = Path(__file__).resolve().parent / "pmi_library_client.py"

# What Flux 0.88's libpmi.so exports (nm -D --defined-only), and so must this one.
FLUX_EXPORTS = frozenset(
    {
        "PMI_Abort",
        "PMI_Args_to_keyval",
        "PMI_Barrier",
        "PMI_Finalize",
        "PMI_Free_keyvals",
        "PMI_Get_appnum",
        "PMI_Get_clique_ranks",
        "PMI_Get_clique_size",
        "PMI_Get_id",
        "PMI_Get_id_length_max",
        "PMI_Get_kvs_domain_id",
        "PMI_Get_options",
        "PMI_Get_rank",
        "PMI_Get_size",
        "PMI_Get_universe_size",
        "PMI_Init",
        "PMI_Initialized",
        "PMI_KVS_Commit",
        "PMI_KVS_Create",
        "PMI_KVS_Destroy",
        "PMI_KVS_Get",
        "PMI_KVS_Get_key_length_max",
        "PMI_KVS_Get_my_name",
        "PMI_KVS_Get_name_length_max",
        "PMI_KVS_Get_value_length_max",
        "PMI_KVS_Iter_first",
        "PMI_KVS_Iter_next",
        "PMI_KVS_Put",
        "PMI_Lookup_name",
        "PMI_Parse_option",
        "PMI_Publish_name",
        "PMI_Spawn_multiple",
        "PMI_Unpublish_name",
        "flux_pmi_library",
    }
)


def _load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fluxsdk_hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hatch_build = _load_hook()


@pytest.fixture(scope="module")
def library() -> Path:
    """The library the install built (see the module docstring when there is none)."""
    pmi_library.cache_clear()
    path = pmi_library()
    if path is None:
        if hatch_build.find_compiler() is not None:
            pytest.fail(f"a C compiler is here but {LIBRARY_DIR} has no libpmi.so: reinstall")
        pytest.skip("fluxsdk was installed without a C compiler: no PMI-1 client library")
    return path


def _flux_library() -> Path | None:
    """Flux's own libpmi.so, if a Flux is installed here."""
    flux = os.environ.get("FLUXSDK_FLUX", "/opt/flux/bin/flux")
    path = Path(flux).resolve().parents[1] / "lib" / "flux" / "libpmi.so"
    return path if path.is_file() else None


# -- the ELF dynamic symbol table ---------------------------------------------------------


def elf_dynamic(path: Path) -> tuple[frozenset[str], str | None]:
    """A 64-bit little-endian ELF shared object's defined global dynamic symbols, and its
    soname (DT_SONAME), read from its section headers, ``.dynsym`` and ``.dynamic``."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not ELF64 little-endian"
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize
        )
        sections.append((kind, offset, size, link, entsize))

    def string(table: int, at: int) -> str:
        start = sections[table][1] + at
        return data[start : data.index(b"\0", start)].decode()

    symbols: set[str] = set()
    soname = None
    for kind, offset, size, link, entsize in sections:
        if kind == 11:  # SHT_DYNSYM
            for at in range(offset + entsize, offset + size, entsize):  # entry 0 is null
                name, info, _other, shndx = struct.unpack_from("<IBBH", data, at)
                if shndx != 0 and info >> 4 in (1, 2):  # defined; GLOBAL or WEAK
                    symbols.add(string(link, name))
        elif kind == 6:  # SHT_DYNAMIC
            for at in range(offset, offset + size, entsize):
                tag, value = struct.unpack_from("<qQ", data, at)
                if tag == 14:  # DT_SONAME
                    soname = string(link, value)
    return frozenset(symbols), soname


def test_library_exports_what_fluxs_libpmi_exports(library: Path) -> None:
    symbols, soname = elf_dynamic(library)
    assert symbols == FLUX_EXPORTS  # the PMI-1 API and nothing of its insides
    assert soname == "libpmi.so.0"
    assert (library.parent / "libpmi.so.0").resolve().read_bytes() == library.read_bytes()
    flux = _flux_library()
    if flux is not None:
        assert elf_dynamic(flux) == (FLUX_EXPORTS, "libpmi.so.0")


def test_env_puts_the_library_directory_first(library: Path) -> None:
    directory = str(library.parent)
    assert pmi_library_env({}) == {
        "FLUX_PMI_LIBRARY_PATH": str(library),
        "LD_LIBRARY_PATH": directory,
    }
    assert pmi_library_env({"LD_LIBRARY_PATH": "/a:/b"})["LD_LIBRARY_PATH"] == f"{directory}:/a:/b"
    assert pmi_library_env({"LD_LIBRARY_PATH": ""})["LD_LIBRARY_PATH"] == f"{directory}:"
    assert library.is_absolute()


# -- embedded jobs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with instance_running(tmp_path_factory.mktemp("pmilib"), size=2, cores=2) as uri:
        yield uri


def _run_job(uri: str, mode: str, **kwargs: Any) -> tuple[dict[int, dict[str, list[Any]]], str]:
    """Run the client in a job; each task's calls by rank ({call: answer}), and the job's
    ID (F58)."""
    with Flux(uri) as handle:
        jid = job.submit(handle, JobspecV1.from_command(["python3", str(CLIENT), mode], **kwargs))
        job.event_wait(handle, jid, "clean", raiseJobException=False)
        out = job.job_output(handle, jid)
        assert out.stderr == ""
        assert job.result(handle, jid).returncode == 0
    reports = {}
    for line in out.stdout.splitlines():
        report = json.loads(line)
        calls: dict[str, list[Any]] = {}
        for call, *answer in report["calls"]:
            calls.setdefault(call, answer)  # the first of a name (before finalize)
        calls["after finalize"] = report["calls"][-3:]
        reports[report["rank"]] = calls
    return reports, jid.f58


@pytest.mark.parametrize(
    ("tasks", "nodes", "mapping", "taskmap", "cliques"),
    [
        (2, 1, "(vector,(0,1,2))", "[[0,1,2,1]]", [[0, 1], [0, 1]]),
        (4, 2, "(vector,(0,2,2))", "[[0,2,2,1]]", [[0, 1], [0, 1], [2, 3], [2, 3]]),
    ],
)
def test_tasks_exchange_values_through_the_library(
    library: Path,
    two_nodes: str,
    tasks: int,
    nodes: int,
    mapping: str,
    taskmap: str,
    cliques: list[list[int]],
) -> None:
    # The answers Flux 0.88 gives with its libpmi.so for the same jobs (flux run -N -n).
    reports, f58 = _run_job(two_nodes, "job", num_tasks=tasks, num_nodes=nodes)
    assert sorted(reports) == list(range(tasks))
    for rank, calls in reports.items():
        assert calls["PMI_Init"] == [0, 0]
        assert calls["PMI_Init again"] == [1]  # PMI_ERR_INIT
        assert calls["PMI_Get_rank"] == [0, rank]
        assert calls["PMI_Get_size"] == calls["PMI_Get_universe_size"] == [0, tasks]
        assert calls["PMI_Get_appnum"] == [0, 0]
        assert calls["PMI_KVS_Get_name_length_max"] == [0, 64]
        assert calls["PMI_KVS_Get_key_length_max"] == [0, 64]
        assert calls["PMI_KVS_Get_value_length_max"] == [0, 1024]
        assert calls["PMI_KVS_Get_my_name"] == calls["PMI_Get_id(64)"] == [0, f58]
        assert calls["PMI_KVS_Get_my_name(2)"] == [-1, None]  # PMI_FAIL: no room
        assert calls["PMI_KVS_Get_my_name(0)"] == [3, None]  # PMI_ERR_INVALID_ARG
        assert calls["put mine"] == calls["PMI_KVS_Commit"] == calls["PMI_Barrier"] == [0]
        assert calls["put key of length max"] == [5]  # PMI_ERR_INVALID_KEY_LENGTH
        assert calls["put value of length max"] == [7]  # PMI_ERR_INVALID_VAL_LENGTH
        for other in range(tasks):  # every task's value, after the barrier
            assert calls[f"get k{other}"] == [0, f"value of {other}: a=b c"]
        assert calls["get the next task's long value"] == [0, "v" * 1023]
        assert calls["get it into a buffer too short"] == [-1, None]
        assert calls["get key of length max"] == [5, None]
        assert calls["get a key nobody put"] == [4, None]  # PMI_ERR_INVALID_KEY
        assert calls["get PMI_process_mapping"] == [0, mapping]
        assert calls["get flux.taskmap"] == [0, f'{{"version":1,"map":{taskmap}}}']
        assert calls["PMI_Get_clique_size"] == [0, len(cliques[rank])]
        assert calls["PMI_Get_clique_ranks"] == [0, cliques[rank]]
        assert calls["PMI_Get_clique_ranks(short)"] == [13]  # PMI_ERR_INVALID_SIZE
        assert calls["PMI_Spawn_multiple"] == calls["PMI_Publish_name"] == [-1]
        assert calls["PMI_Finalize"] == [0]
        assert calls["PMI_Finalize again"] == [1]
        assert calls["after finalize"] == [
            ["PMI_Get_rank", 1, -99],
            ["PMI_Initialized", 0, 0],
            ["PMI_Init after finalize", -1],
        ]


def test_pmi_off_gives_no_library(library: Path, two_nodes: str) -> None:
    code = "import os; print(os.environ.get('FLUX_PMI_LIBRARY_PATH'), os.environ.get('X'))"
    with Flux(two_nodes) as handle:
        js = JobspecV1.from_command(
            ["python3", "-c", code], environment={"X": "1", "PATH": "/usr/bin:/bin"}
        )
        js.setattr_shell_option("pmi", "off")
        jid = job.submit(handle, js)
        job.event_wait(handle, jid, "clean")
        assert job.job_output(handle, jid).stdout == "None 1\n"


def test_singleton_answers_and_abort(library: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMI_")}
    env["FLUX_PMI_LIBRARY_PATH"] = str(library)
    proc = subprocess.run(
        [sys.executable, str(CLIENT), "singleton"], env=env, capture_output=True, text=True
    )
    # Flux's libpmi.so: PMI_Init fails without PMI_FD (falling back is the caller's choice),
    # the others answer PMI_ERR_INIT (1), the refused ones PMI_FAIL; PMI_Abort exits.
    assert proc.returncode == 7
    assert proc.stderr == "PMI_Abort: (-1) alone\n"
    calls = {call: answer for call, *answer in json.loads(proc.stdout)["calls"]}
    assert calls.pop("PMI_Init") == [-1, -99]
    assert calls.pop("PMI_Initialized") == [0, 0]
    refused = [name for name, answer in calls.items() if answer == [-1]]
    assert len(refused) == 12 and "PMI_Spawn_multiple" in refused
    assert all(answer[0] == 1 for name, answer in calls.items() if name not in refused)


# -- against a server played by the test -------------------------------------------------------


class PlayedServer:
    """A PMI-1 server on one socket: answers from ``kvs``; ``replies`` replaces the
    answer to a command (None: close the channel instead)."""

    def __init__(
        self, kvs: dict[str, str], replies: Mapping[str, str | None] | None = None
    ) -> None:
        self.kvs = dict(kvs)
        self.replies = dict(replies or {})
        self.requests: list[str] = []
        self.ours, self.theirs = socket.socketpair()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, line: str) -> str | None:
        words = dict(w.split("=", 1) for w in line.split(" value=")[0].split() if "=" in w)
        cmd = words.get("cmd", "")
        if cmd in self.replies:
            return self.replies[cmd]
        if cmd == "get":
            value = self.kvs.get(words["key"])
            return "cmd=get_result rc=4" if value is None else f"cmd=get_result rc=0 value={value}"
        if cmd == "put":
            self.kvs[words["key"]] = line.split(" value=", 1)[1]
            return "cmd=put_result rc=0"
        return {
            "init": "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=1",
            "get_maxes": "cmd=maxes rc=0 kvsname_max=64 keylen_max=64 vallen_max=1024",
            "get_my_kvsname": "cmd=my_kvsname rc=0 kvsname=played",
            "barrier_in": "cmd=barrier_out rc=0",
            "finalize": "cmd=finalize_ack rc=0",
        }.get(cmd, "")

    def _serve(self) -> None:
        with self.ours, self.ours.makefile("rb") as stream:
            for raw in stream:
                line = raw.decode().rstrip("\n")
                self.requests.append(line)
                answer = self._answer(line)
                if answer is None:
                    return
                if answer:
                    self.ours.sendall(answer.encode() + b"\n")

    def run(self, lib: Path, code: str, rank: int = 0, size: int = 4, **env: str) -> Any:
        """Run ``code`` (with ``lib``, the loaded library) as a task of rank ``rank``;
        the JSON it prints last, or the exit status if it printed nothing."""
        fd = self.theirs.fileno()
        environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PMI_FD": str(fd)}
        environ.update(PMI_RANK=str(rank), PMI_SIZE=str(size), **env)
        prelude = (
            "import ctypes, json\n"
            f"lib = ctypes.CDLL({str(lib)!r})\n"
            "def out(name, *args):\n"
            "    v = ctypes.c_int(-99); rc = getattr(lib, name)(*args, ctypes.byref(v))\n"
            "    return [rc, v.value]\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", prelude + code],
            env=environ,
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.theirs.close()
        self.thread.join(timeout=10)
        if proc.stdout.strip():
            return json.loads(proc.stdout.splitlines()[-1])
        return proc.returncode


_CLIQUE = """
rc = lib.PMI_Init(None)
size = out("PMI_Get_clique_size")
n = max(size[1], 1)  # as MPI asks: as many ranks as the clique has
ranks = (ctypes.c_int * n)(*[-1] * n)
rc2 = lib.PMI_Get_clique_ranks(ranks, n)
print(json.dumps([rc, size, rc2, [r for r in ranks if r >= 0]]))
"""

# (flux.taskmap, PMI_process_mapping, rank) -> (clique size, its ranks), or PMI_FAIL (-1)
# from the clique calls; None: the key is not there. Flux's libpmi.so gives the same.
TASKMAPS: list[tuple[str | None, str | None, int, tuple[int, list[int]] | int]] = [
    (None, "(vector,(0,2,2))", 3, (2, [2, 3])),
    (None, "(vector,(0,1,2),(1,1,1))", 2, (1, [2])),
    (None, " (vector, (0,2,1), (0,2,1))", 2, (2, [0, 2])),  # cyclic
    (None, "(vector,(1,1,2),(0,1,2))", 0, (2, [0, 1])),  # node 1 first
    (None, "", 3, (1, [3])),  # an empty mapping says nothing: the task alone
    (None, "(vector,(0,x,2))", 3, (1, [3])),  # unreadable: the task alone
    (None, "(0,2,2)", 3, (1, [3])),  # no "vector," prefix
    (None, None, 3, (1, [3])),  # no map at all
    (None, "0,2;1,3", 1, (2, [1, 3])),  # raw: node 0 has 0 and 2, node 1 has 1 and 3
    (None, "0-1;2-3", 2, (2, [2, 3])),
    (None, "0;2", 0, (1, [0])),  # raw with task 1 on no node: unreadable
    (None, "0-1;1-3", 0, (1, [0])),  # task 1 on two nodes
    (None, "0,,1;2-3", 3, (2, [2, 3])),  # RFC 22 idsets: an empty element is nothing
    (None, "1,0;2-3", 3, (1, [3])),  # ids out of order: unreadable
    (None, "0-1,1-2;3", 1, (1, [1])),  # overlapping ranges too
    (None, "0-1;2-2;3", 3, (1, [3])),  # and a range that is one id
    (None, "00-1;2-3", 3, (1, [3])),  # and a leading zero
    ('{"version":1,"map":[[0,2,1,2]]}', None, 3, (2, [1, 3])),
    ("[[0,1,3,1],[1,1,1,1]]", None, 3, (1, [3])),  # the bare array
    ('{ "x": {"y": [1, "a\\"]"]}, "map" : [[0,2,2,1]] , "version" : 1 }', None, 1, (2, [0, 1])),
    ('{"version":1,"map":[]}', "(vector,(0,2,2))", 3, (1, [3])),  # unknown; not looked past
    ('{"version":2,"map":[[0,2,2,1]]}', "(vector,(0,4,1))", 3, (1, [3])),
    ('{"version":1,"map":[[0,2,2,1]]}', "(vector,(0,4,1))", 3, (2, [2, 3])),  # taskmap first
    ('{"version":1,"map":[[0,2,2,1]]} x', None, 3, (1, [3])),
    ('{"version":1,"map":[[0,1,1.5,1]]}', None, 0, (1, [0])),
    ('{"version":1,"map":[[00,2,2,1]]}', None, 3, (1, [3])),  # JSON has no leading zeros
    ('{"version":1,"map":[[0,2,2,1,"more"]]}', None, 3, (2, [2, 3])),  # past 4: not read
    ('{"version":1,"map":[[0,2,2]]}', None, 3, (1, [3])),  # fewer than 4
    ('{"version":1,"map":[[0,0,2,1]]}', None, 0, (1, [0])),  # no node
    ('{"version":1,"map":[[0,2,2,1]]}', None, 5, -1),  # the rank is on no node
]


def _libraries(library: Path) -> list[Path]:
    flux = _flux_library()
    return [library] if flux is None else [library, flux]


@pytest.mark.parametrize(("taskmap", "mapping", "rank", "expected"), TASKMAPS)
def test_clique_from_each_task_map_form(
    library: Path,
    taskmap: str | None,
    mapping: str | None,
    rank: int,
    expected: tuple[int, list[int]] | int,
) -> None:
    kvs = {}
    if taskmap is not None:
        kvs["flux.taskmap"] = taskmap
    if mapping is not None:
        kvs["PMI_process_mapping"] = mapping
    for lib in _libraries(library):
        init, size, rc, ranks = PlayedServer(kvs).run(lib, _CLIQUE, rank=rank)
        assert init == 0
        if isinstance(expected, int):
            assert (size[0], rc) == (expected, expected), lib
        else:
            assert (size, rc, ranks) == ([0, expected[0]], 0, expected[1]), lib


def test_server_answers_reach_the_caller(library: Path) -> None:
    code = """
buf = ctypes.create_string_buffer(64)
init = lib.PMI_Init(None)
get = lib.PMI_KVS_Get(b"played", b"quirk", buf, 64)
print(json.dumps([init, get, buf.value.decode(), lib.PMI_Barrier(), lib.PMI_Finalize()]))
"""
    replies: dict[str, str | None] = {
        # mpiexec.hydra (MPICH 4.1.1, 4.2.0) appends " found=TRUE" to a get's value.
        "get": "cmd=get_result rc=0 value=a b found=TRUE",
        "barrier_in": "cmd=barrier_out rc=9",  # a server's nonzero rc is returned as is
        "finalize": "cmd=something_else rc=0",  # not the reply asked for: PMI_FAIL
    }
    for lib in _libraries(library):
        assert PlayedServer({}, replies).run(lib, code) == [0, 0, "a b", 9, -1]


def test_init_fails_as_the_server_says(library: Path) -> None:
    code = "print(json.dumps([lib.PMI_Init(None), out('PMI_Initialized')]))"
    for lib in _libraries(library):
        refusing = {"init": "cmd=response_to_init rc=-1"}
        assert PlayedServer({}, refusing).run(lib, code) == [-1, [0, 0]]
        old = {"init": "cmd=response_to_init rc=0 pmi_version=1 pmi_subversion=0"}
        assert PlayedServer({}, old).run(lib, code) == [-1, [0, 0]]
        assert PlayedServer({}, {"init": None}).run(lib, code) == [-1, [0, 0]]  # hung up
        maxes = {"get_maxes": "cmd=maxes rc=0 kvsname_max=64"}  # missing limits
        assert PlayedServer({}, maxes).run(lib, code) == [-1, [0, 0]]


def test_spawned_and_a_closed_channel(library: Path) -> None:
    code = """
spawned = ctypes.c_int(-99)
init = lib.PMI_Init(ctypes.byref(spawned))
print(json.dumps([init, spawned.value, lib.PMI_Barrier()]))
"""
    for lib in _libraries(library):
        server = PlayedServer({}, {"barrier_in": None})
        assert server.run(lib, code, PMI_SPAWNED="1") == [0, 1, -1]


def test_abort_tells_the_server_on_one_line(library: Path) -> None:
    code = "lib.PMI_Init(None); lib.PMI_Abort(3, b'giving up\\non two lines')"
    for lib in _libraries(library):
        server = PlayedServer({})
        assert server.run(lib, code) == 3  # PMI_Abort exits with the code given
        assert server.requests[-1] == "cmd=abort exitcode=3 error_msg=giving up on two lines"


def test_a_newline_never_reaches_the_wire(library: Path) -> None:
    # fluxsdk's library refuses a key or value with a newline (Flux's would send it and
    # break the channel): PMI_ERR_INVALID_VAL, PMI_ERR_INVALID_KEY.
    code = """
lib.PMI_Init(None)
print(json.dumps([lib.PMI_KVS_Put(b"played", b"k", b"a\\nb"),
                  lib.PMI_KVS_Put(b"played", b"k\\n", b"a"),
                  lib.PMI_KVS_Get(b"played", b"k\\n", ctypes.create_string_buffer(8), 8)]))
"""
    server = PlayedServer({})
    assert server.run(library, code) == [6, 4, 4]
    assert not any(line.startswith(("cmd=put", "cmd=get ")) for line in server.requests)


# -- the build hook -------------------------------------------------------------------------


def test_hook_builds_the_library_where_the_package_finds_it() -> None:
    assert Path(ROOT, hatch_build.PMI_LIBRARY_DIR) == LIBRARY_DIR
    assert (ROOT / ".gitignore").read_text().count("fluxsdk/instance/_lib/") == 1


def test_hook_compiles_with_cc(tmp_path: Path) -> None:
    compiler = hatch_build.find_compiler()
    if compiler is None:
        pytest.skip("no C compiler here")
    warnings: list[str] = []
    built = hatch_build.build_pmi_library(ROOT, tmp_path / "a", warnings.append, link_soname=True)
    assert warnings == [] and built == tmp_path / "a" / "libpmi.so"
    assert os.readlink(tmp_path / "a" / "libpmi.so.0") == "libpmi.so"
    assert elf_dynamic(built) == (FLUX_EXPORTS, "libpmi.so.0")
    copy = hatch_build.build_pmi_library(ROOT, tmp_path / "b", warnings.append, link_soname=False)
    assert copy is not None and not (tmp_path / "b" / "libpmi.so.0").is_symlink()
    assert (tmp_path / "b" / "libpmi.so.0").read_bytes() == copy.read_bytes()


def test_hook_without_a_compiler_warns_and_builds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "lib"
    out.mkdir()
    (out / "libpmi.so").write_bytes(b"stale")  # from an earlier install
    (out / "libpmi.so.0").symlink_to("libpmi.so")
    warnings: list[str] = []
    no_cc = {"PATH": str(tmp_path / "empty")}
    assert hatch_build.find_compiler(no_cc) is None
    assert (
        hatch_build.build_pmi_library(ROOT, out, warnings.append, link_soname=True, environ=no_cc)
        is None
    )
    assert list(out.iterdir()) == []
    (warning,) = warnings
    assert "no C compiler found" in warning and "FLUX_PMI_LIBRARY_PATH" in warning
    broken = {"PATH": "", "CC": str(tmp_path / "no-such-cc")}
    assert (
        hatch_build.build_pmi_library(ROOT, out, warnings.append, link_soname=True, environ=broken)
        is None
    )
    assert "could not run" in warnings[-1]
    failing = {"PATH": os.environ.get("PATH", ""), "CC": "false"}
    assert (
        hatch_build.build_pmi_library(ROOT, out, warnings.append, link_soname=True, environ=failing)
        is None
    )
    assert "compiling libpmi.so failed" in warnings[-1]


def _build_wheel(dist: Path, env: dict[str, str]) -> Path:
    code = f"from hatchling.build import build_wheel; print(build_wheel({str(dist)!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return dist / proc.stdout.strip().splitlines()[-1]


def test_wheel_carries_the_library_for_this_platform(tmp_path: Path) -> None:
    if hatch_build.find_compiler() is None:
        pytest.skip("no C compiler here")
    wheel = _build_wheel(tmp_path, dict(os.environ))
    assert wheel.name.endswith(f"-py3-none-{hatch_build.platform_tag()}.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/WHEEL")]
        assert "Root-Is-Purelib: false" in zf.read(metadata).decode()
        lib = zf.read("fluxsdk/instance/_lib/libpmi.so")
        assert zf.read("fluxsdk/instance/_lib/libpmi.so.0") == lib
    (tmp_path / "libpmi.so").write_bytes(lib)
    assert elf_dynamic(tmp_path / "libpmi.so") == (FLUX_EXPORTS, "libpmi.so.0")


def test_wheel_without_a_compiler_is_pure_python(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path, {**os.environ, "CC": "false"})
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if "/_lib/" in n]
