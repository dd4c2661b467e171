"""Command-line submission plugins (fluxsdk.cli.plugin, as flux.cli.plugin) and apply_options."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from fluxsdk.cli.plugin import CLIPlugin, CLIPluginOption, CLIPluginRegistry, PluginArgsProxy
from fluxsdk.job import JobspecV1

# A plugin adding --tag (as --site-tag) that copies it into a shell option,
# and whose preinit records what it saw.
TAGGER = """
from fluxsdk.cli.plugin import CLIPlugin

class Tagger(CLIPlugin):
    \"\"\"Tags jobs.\"\"\"
    seen = []

    def __init__(self, prog, prefix="site"):
        super().__init__(prog, prefix=prefix)
        self.add_option("--tag", default="untagged", help="a tag")
        if self.prog == "batch":
            self.add_option("--batch-only")

    def preinit(self, args):
        Tagger.seen.append(args.tag)

    def modify_jobspec(self, args, jobspec):
        jobspec.setattr_shell_option("tag", args.tag)
        args.tag = "rewritten"
        jobspec.setattr_shell_option("after", args.site_tag)

    def validate(self, jobspec):
        if jobspec.getattr("shell.options.tag") == "forbidden":
            raise ValueError("tag forbidden")
"""


@pytest.fixture
def plugindir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tagger.py").write_text(TAGGER)
    monkeypatch.setenv("FLUX_CLI_PLUGINPATH", str(tmp_path))
    monkeypatch.delenv("FLUX_CLI_PLUGINPATH_OVERRIDE", raising=False)
    return tmp_path


def test_option_names_and_dests() -> None:
    opt = CLIPluginOption("--my-opt", "site", default=1)
    assert (opt.name, opt.dest) == ("--site-my-opt", "site_my_opt")
    assert CLIPluginOption("--x", None).dest == "x"
    assert CLIPluginOption("--x", "p", dest="chosen").dest == "chosen"
    with pytest.raises(ValueError, match="long options"):
        CLIPluginOption("-x", "p")


def test_plugin_prog_drops_flux_prefix() -> None:
    assert CLIPlugin("flux submit").prog == "submit"


def test_proxy_reads_and_writes_through_aliases() -> None:
    ns = SimpleNamespace(site_tag="a", other=1)
    proxy = PluginArgsProxy(ns, {"tag": "site_tag"})
    assert proxy.tag == "a" and proxy.other == 1
    proxy.tag = "b"
    assert ns.site_tag == "b"


def test_registry_loads_plugins_for_a_command(plugindir: Path) -> None:
    submit = CLIPluginRegistry("submit")
    assert [type(p).__name__ for p in submit.plugins] == ["Tagger"]
    assert [o.dest for o in submit.options] == ["site_tag"]
    assert [o.dest for o in CLIPluginRegistry("batch").options] == [
        "site_tag",
        "site_batch_only",
    ]


def test_clashing_plugin_is_dropped(plugindir: Path) -> None:
    (plugindir / "zclash.py").write_text(TAGGER.replace("class Tagger", "class Clash"))
    registry = CLIPluginRegistry("submit")
    assert [type(p).__name__ for p in registry.plugins] == ["Tagger"]


def test_override_path_replaces_the_search_path(
    plugindir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUX_CLI_PLUGINPATH_OVERRIDE", "")
    assert CLIPluginRegistry("submit").plugins == []


def test_apply_options_runs_plugins(plugindir: Path) -> None:
    js = JobspecV1.from_command(["a"], environment={})
    js.apply_options(prog="submit", site_tag="hello")
    opts = js.jobspec["attributes"]["system"]["shell"]["options"]
    # The plugin read its option by the registered name and wrote it back.
    assert opts["tag"] == "hello" and opts["after"] == "rewritten"


def test_apply_options_seeds_plugin_defaults_before_preinit(plugindir: Path) -> None:
    js = JobspecV1.from_submit(["a"], env=["-*"])
    assert js.getattr("shell.options.tag") == "untagged"
    js = JobspecV1.from_command(["a"], environment={})
    js.apply_options(prog="submit", _preinit=False, site_tag="x")
    assert js.getattr("shell.options.tag") == "x"


def test_apply_options_rejects_unknown_and_unprefixed_keywords(plugindir: Path) -> None:
    js = JobspecV1.from_command(["a"], environment={})
    with pytest.raises(TypeError, match="'tag'"):
        js.apply_options(prog="submit", tag="x")
    with pytest.raises(TypeError, match="'site_tag'"):
        js.apply_options(site_tag="x")  # without prog no plugin is loaded


def test_registry_validate_and_help(plugindir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = CLIPluginRegistry("submit")
    js = JobspecV1.from_command(["a"], environment={})
    js.setattr_shell_option("tag", "forbidden")
    with pytest.raises(ValueError, match="tag forbidden"):
        registry.validate(js)
    with pytest.raises(SystemExit):
        registry.print_help("site-tag")
    assert "Tags jobs." in capsys.readouterr().out
    with pytest.raises(ValueError, match="no such option"):
        registry.print_help("--nope")
    registry.print_plugins()
    assert "--site-tag" in capsys.readouterr().out


def test_plugin_file_errors_propagate(plugindir: Path) -> None:
    (plugindir / "broken.py").write_text(textwrap.dedent("raise RuntimeError('broken plugin')\n"))
    with pytest.raises(RuntimeError, match="broken plugin"):
        CLIPluginRegistry("submit")
