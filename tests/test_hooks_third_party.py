"""The plugin documentation is enough to write a plugin that type-checks and works.

The example plugin of ``docs/plugins.md`` is written out of the page into a
temporary directory, checked with ``mypy --strict`` against fluxsdk's own
types, installed (``pip install --target``, so this environment is left as it
was), and used by a fresh process and by an instance, each finding it through
its entry point. The page's hook reference must match the hookspecs.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxsdk import job
from fluxsdk.core import Flux
from fluxsdk.hooks._reference import update

from .hooks_support import REPO, job_record, plugin_instance

DOC = REPO / "docs" / "plugins.md"
_FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)\n```", re.DOTALL)


def test_the_hook_reference_matches_the_hookspecs() -> None:
    assert update(DOC, check=True), "run: python -m fluxsdk.hooks._reference docs/plugins.md"


def _write_example(directory: Path) -> dict[str, str]:
    files = dict(_FILE_BLOCK.findall(DOC.read_text()))
    assert set(files) == {"pyproject.toml", "fluxsdk_example_project.py"}
    for name, text in files.items():
        (directory / name).write_text(text + "\n")
    return files


def _mypy(directory: Path, target: str) -> subprocess.CompletedProcess[str]:
    # fluxsdk is found from its source (editable installs hide it from mypy); only the
    # plugin's own errors count.
    env = dict(os.environ, MYPYPATH=f"{REPO}{os.pathsep}{REPO / 'typings'}")
    argv = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"]
    argv += ["--cache-dir", str(directory / ".mypy_cache"), target]
    return subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The documented plugin, written out, and the directory it is installed into."""
    source = tmp_path_factory.mktemp("example-plugin")
    _write_example(source)
    site = tmp_path_factory.mktemp("example-site")
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    argv += ["--no-build-isolation", "--target", str(site), str(source)]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    yield source, site


def test_the_documented_plugin_passes_mypy_strict(example: tuple[Path, Path]) -> None:
    source = example[0]
    done = _mypy(source, "fluxsdk_example_project.py")
    assert done.returncode == 0, done.stdout + done.stderr
    # The check has teeth: a plugin that misuses fluxsdk's types fails it.
    wrong = source / "wrong_plugin.py"
    text = (source / "fluxsdk_example_project.py").read_text()
    wrong.write_text(text.replace("submission.uri", "submission.url"))
    done = _mypy(source, "wrong_plugin.py")
    assert done.returncode == 1 and '"Submission" has no attribute "url"' in done.stdout


def test_the_installed_plugin_works_in_a_new_process_and_an_instance(
    example: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = textwrap.dedent(
        """
        import json, os, sys
        import fluxsdk
        from fluxsdk import hooks, job
        info = {i.name: i for i in hooks.plugins()}["example-project"]
        out = {"source": info.source, "origin": info.origin, "hooks": list(info.hooks)}
        with fluxsdk.Flux() as h:
            spec = job.JobspecV1.from_command(["true"])
            try:
                job.submit(h, spec)
            except OSError as exc:
                out["rejected"] = [exc.errno, exc.strerror]
            os.environ["PROJECT"] = "physics"
            out["jobid"] = int(job.submit(h, spec))
        print(json.dumps(out))
        """
    )
    monkeypatch.setenv("PYTHONPATH", str(example[1]))
    with plugin_instance(tmp_path / "sd", plugins=["example-project"]) as uri, Flux(uri) as h:
        # A new process with the plugin installed: its client hook sets the project.
        env = dict(os.environ, FLUX_URI=uri)
        env.pop("PROJECT", None)
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["source"] == "entry point" and out["origin"] == "fluxsdk-example-project 1.0"
        # The instance's validator refuses a job without a project, as Flux answers.
        assert out["rejected"][0] == errno.EPERM
        assert out["rejected"][1].startswith(f"set PROJECT=<name> to submit to {uri}")
        lookup = {"id": out["jobid"], "keys": ["jobspec"], "flags": 1}
        stored = h.rpc("job-info.lookup", lookup).get()["jobspec"]
        assert stored["attributes"]["user"]["project"] == "physics"
        # This process does not have the plugin: the instance's hooks hold all the same.
        with pytest.raises(OSError, match="every job names its project"):
            job.submit(h, job.JobspecV1.from_command(["true"]))
        priorities = {}
        for project in ("debug", "physics"):
            spec = job.JobspecV1.from_command(["true"])
            spec.setattr("user.project", project)
            jobid = job.submit(h, spec, urgency=10)
            job.result(h, jobid)
            priorities[project] = job_record(h, jobid)["priority"]
    assert priorities == {"debug": 21, "physics": 10}
