"""Installed fluxsdk gives type checkers its types: a wheel, and the README's editable install.

Each install goes into a fresh virtual environment (no pip in it, no fluxsdk but the one
installed), and ``mypy --strict`` checks there, from outside the repository, the typed sample
integration ``tests/typed_integration.py`` (it must pass) and a copy of it with planted errors
(each must be reported at its line). Offline: the wheel is built without an index or build
isolation, and the fresh environments see the dependencies installed here through a ``.pth``
naming a directory of links to exactly those distributions (fluxsdk's own requirements,
types-PyYAML for mypy, and hatchling to build the editable install).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import fluxsdk

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "typed_integration.py"
TOP_LEVEL_DIRS = ("tests", "bench", "examples", "plugins", "docs", "typings")

# (a line of the sample, the line that replaces it, the mypy error code it must raise)
PLANTED = [
    (
        "        futures = [executor.submit(job.JobspecV1.from_command(cmd)) for cmd in commands]",
        "        futures = "
        '[executor.submit(job.JobspecV1.from_command(cmd), "16") for cmd in commands]',
        "arg-type",
    ),
    (
        "            code: int = done.result()",
        "            code: str = done.result()",
        "assignment",
    ),
    ("    rc: int = info.returncode", "    rc: int = info.retuncode", "attr-defined"),
    (
        '            status: int = event_context(event, "finish")["status"]',
        '            status: str = event_context(event, "finish")["status"]',
        "assignment",
    ),
    (
        '            note: str = context["note"]',
        '            note: str = context["notes"]',
        "typeddict-item",
    ),
    ("        text: str = line", "        text: bytes = line", "assignment"),
    ("        name: str = info.name", "        name: int = info.name", "assignment"),
    (
        "    finished: bool = task.wait(timeout=60)",
        '    finished: bool = task.wait(timeout="60")',
        "arg-type",
    ),
    ("    state: TaskState = task.state", "    state: int = task.state", "assignment"),
    (
        '        jobid = job.submit(handle, job.JobspecV1.from_command(["echo", "out"]))',
        '        jobid = job.submit(handle, job.JobspecV1.from_command(["echo", "out"]), "16")',
        "arg-type",
    ),
]


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _closure(names: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` and everything they require (no extras)."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _link_dependencies(target: Path) -> None:
    """Fill ``target`` with links to the top-level files of fluxsdk's dependencies."""
    target.mkdir()
    requires = [Requirement(r) for r in importlib.metadata.requires("fluxsdk") or []]
    names = [r.name for r in requires if r.marker is None or r.marker.evaluate({"extra": ""})]
    names += ["types-PyYAML", "hatchling"]
    for dist in _closure(names):
        if dist.metadata["Name"] == "fluxsdk":
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops - {"..", "__pycache__"}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)


class FreshEnv:
    """A new virtual environment seeing only its own packages and the linked dependencies."""

    def __init__(self, path: Path, deps: Path) -> None:
        self.path = path
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        self.python = path / "bin" / "python"
        purelib = _run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            path,
        ).strip()
        Path(purelib, "zz_test_dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")

    def pip_install(self, *args: str) -> None:
        argv = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q"]
        argv += ["--disable-pip-version-check", "--no-index", "--no-deps"]
        _run([*argv, "--no-build-isolation", *args], self.path)

    def python_out(self, code: str) -> str:
        return _run([str(self.python), "-c", code], self.path).strip()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("packaging")
    _link_dependencies(work / "deps")
    # The sample and its planted copy; an empty mypy config, so nothing around is read.
    text = SAMPLE.read_text(encoding="utf-8")
    (work / "integration.py").write_text(text, encoding="utf-8")
    planted = text.splitlines()
    for good, bad, _code in PLANTED:
        (index,) = [i for i, line in enumerate(planted) if line == good]
        planted[index] = bad
    (work / "integration_planted.py").write_text("\n".join(planted) + "\n", encoding="utf-8")
    (work / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    yield work
    shutil.rmtree(work, ignore_errors=True)


def _mypy(work: Path, env: FreshEnv) -> dict[str, list[tuple[int, str]]]:
    """``mypy --strict`` in ``work`` for ``env``'s interpreter: errors per file, (line, code)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    argv = [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(env.python)]
    argv += ["--cache-dir", str(env.path / "mypy-cache"), "--show-error-codes", "--no-pretty"]
    argv += ["integration.py", "integration_planted.py"]
    proc = subprocess.run(argv, cwd=work, env=environ, capture_output=True, text=True, check=False)
    errors: dict[str, list[tuple[int, str]]] = {}
    for line in proc.stdout.splitlines():
        match = re.match(r"^([\w.]+):(\d+): error: .*\[([\w-]+)\]$", line)
        if match:
            errors.setdefault(match[1], []).append((int(match[2]), match[3]))
        else:
            assert ": note: " in line or line.startswith("Found "), proc.stdout + proc.stderr
    return errors


def _check_types(work: Path, env: FreshEnv) -> None:
    errors = _mypy(work, env)
    assert "integration.py" not in errors, errors["integration.py"]
    lines = (work / "integration_planted.py").read_text(encoding="utf-8").splitlines()
    expected = {(lines.index(bad) + 1, code) for _good, bad, code in PLANTED}
    # Each planted error at its line (some also make later lines wrong: those may be reported).
    assert expected <= set(errors.get("integration_planted.py", []))


def _check_exposes_only_fluxsdk(env: FreshEnv) -> None:
    code = f"import importlib.util as u; print([n for n in {TOP_LEVEL_DIRS!r} if u.find_spec(n)])"
    assert env.python_out(code) == "[]"


def test_wheel_install_gives_mypy_the_types(workdir: Path) -> None:
    # As a release is built: the sdist, then the wheel from it (with pip, offline).
    dist = workdir / "dist"
    build = f"from hatchling.build import build_sdist; print(build_sdist({str(dist)!r}))"
    sdist = dist / _run([sys.executable, "-c", build], ROOT).strip()
    argv = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    _run(
        [*argv, "--no-index", "--no-deps", "--no-build-isolation", "-w", str(dist), str(sdist)],
        ROOT,
    )
    (wheel,) = dist.glob("fluxsdk-*.whl")
    env = FreshEnv(workdir / "wheel-venv", workdir / "deps")
    env.pip_install(str(wheel))

    purelib = env.python_out("import sysconfig; print(sysconfig.get_path('purelib'))")
    where = env.python_out("import fluxsdk.job, fluxsdk.model; print(fluxsdk.__file__)")
    assert Path(where).parent == Path(purelib, "fluxsdk")
    # Package data is in the wheel: the marker of PEP 561 and the job-ID word lists.
    assert Path(purelib, "fluxsdk", "py.typed").is_file()
    words = "from fluxsdk.job import JobID; print(JobID(123456789).words)"
    assert env.python_out(words) == _run([sys.executable, "-c", words], ROOT).strip()
    # The PMI-1 client library compiled into the wheel (when this machine has a compiler).
    if shutil.which("cc") or shutil.which("gcc") or os.environ.get("CC"):
        found = env.python_out("from fluxsdk.instance._pmilib import pmi_library as p; print(p())")
        assert found == str(Path(purelib, "fluxsdk", "instance", "_lib", "libpmi.so"))
    version = _run([str(env.path / "bin" / "fluxsdk"), "--version"], workdir).strip()
    assert version == f"fluxsdk {fluxsdk.__version__}"
    _check_exposes_only_fluxsdk(env)
    _check_types(workdir, env)
    # And the sample runs there, against a new instance (scoped to the command).
    argv = [str(env.path / "bin" / "fluxsdk"), "start", str(env.python), "integration.py"]
    proc = subprocess.run(argv, cwd=workdir, timeout=300, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_editable_install_gives_mypy_the_types(workdir: Path) -> None:
    env = FreshEnv(workdir / "editable-venv", workdir / "deps")
    env.pip_install("-e", str(ROOT))

    # A plain path in a .pth file, as type checkers need; it holds fluxsdk and nothing else.
    purelib = Path(env.python_out("import sysconfig; print(sysconfig.get_path('purelib'))"))
    (pth,) = purelib.glob("_fluxsdk.pth")
    (entry,) = pth.read_text(encoding="utf-8").split()
    assert [p.name for p in Path(entry).iterdir()] == ["fluxsdk"]
    where = Path(env.python_out("import fluxsdk.job, fluxsdk.model; print(fluxsdk.__file__)"))
    assert where.resolve() == ROOT / "fluxsdk" / "__init__.py"
    assert not list(purelib.glob("__editable__*"))  # no import hook
    if shutil.which("cc") or shutil.which("gcc") or os.environ.get("CC"):  # built in the tree
        found = env.python_out("from fluxsdk.instance._pmilib import pmi_library as p; print(p())")
        assert found == str(ROOT / "fluxsdk" / "instance" / "_lib" / "libpmi.so")
    _check_exposes_only_fluxsdk(env)
    _check_types(workdir, env)
