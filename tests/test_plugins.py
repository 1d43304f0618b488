"""The plugin manager: entry points, broken plugins, duplicates, disabling, tracing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import coderepo
from conftest import run_process

BITBUCKET = """
    from typing import Optional
    import attrs, coderepo

    @attrs.frozen
    class BitbucketConfig:
        workspace: str
        repository: str
        token: Optional[str] = coderepo.secret_field()

    @coderepo.hookimpl
    def repository_types():
        return [coderepo.RepositoryType("bitbucket", BitbucketConfig, "Bitbucket Cloud")]

    @coderepo.hookimpl
    def login(repository):
        if repository.type != "bitbucket":
            return None
        if repository.config.token != "good":
            raise coderepo.AuthenticationError("bitbucket rejected the token")
        return True
"""


def test_third_party_plugin_found_through_entry_points(make_distribution, run) -> None:
    make_distribution("coderepo-bitbucket", {"coderepo_bitbucket": BITBUCKET}, {"bitbucket": "coderepo_bitbucket"}, "2.3")
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["bitbucket"] == {
        "name": "bitbucket",
        "distribution": "coderepo-bitbucket",
        "version": "2.3",
        "module": "coderepo_bitbucket",
        "status": "loaded",
        "error": None,
        "types": ["bitbucket"],
        "hooks": ["login", "repository_types"],
        "options": {"bitbucket": ["workspace", "repository", "token"]},
    }
    text = run("plugins").stdout
    assert "type bitbucket: Bitbucket Cloud" in text
    assert "options: --workspace (required), --repository (required), --token (secret; or --token-env=VAR)" in text
    assert run("register", "bb", "--type=bitbucket", "--workspace=w", "--repository=r", "--token=bad").exit_code == 0
    refused = run("login", "bb")
    assert refused.exit_code == 1 and refused.stderr.strip() == "Error: bitbucket rejected the token"
    run("update", "bb", "--token=good")
    assert run("login", "bb").exit_code == 0


def test_builtin_types_are_plugins_of_the_core_distribution(run) -> None:
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["git"]["distribution"] == "coderepo" and infos["git"]["types"] == ["git"]
    assert infos["custom"]["types"] == ["custom"]
    assert infos["github"]["distribution"] == "coderepo-github"
    assert infos["gitlab"]["distribution"] == "coderepo-gitlab"
    assert all(i["status"] == "loaded" for i in infos.values())
    text = run("plugins").stdout
    assert "git  [loaded]  coderepo " in text


def test_broken_plugin_is_reported_and_others_keep_working(make_distribution, run) -> None:
    make_distribution("coderepo-broken", {"coderepo_broken": "import does_not_exist\n"}, {"broken": "coderepo_broken"})
    assert run("register", "x", "--type", "git", "--url=/r").exit_code == 0
    listed = run("list", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["name"] == "x"
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["broken"]["status"] == "failed"
    assert infos["broken"]["error"] == "ModuleNotFoundError: No module named 'does_not_exist'"
    assert infos["git"]["status"] == "loaded"
    text = run("plugins").stdout
    assert "broken  [failed]" in text and "error: ModuleNotFoundError" in text
    unknown = run("register", "y", "--type", "broken")
    assert unknown.exit_code == 2 and "not loaded: broken (failed)" in unknown.stderr


def test_broken_plugin_as_whole_process(make_distribution) -> None:
    make_distribution("coderepo-broken", {"coderepo_broken": "raise RuntimeError('boom at import')\n"}, {"broken": "coderepo_broken"})
    assert run_process("register", "x", "--type", "git", "--url=/r").returncode == 0
    listed = run_process("list")
    assert listed.returncode == 0 and listed.stdout.startswith("x")
    plugins = run_process("plugins")
    assert "broken  [failed]" in plugins.stdout and "RuntimeError: boom at import" in plugins.stdout


def test_duplicate_type_names_name_both_distributions(make_distribution, run) -> None:
    source = BITBUCKET
    make_distribution("coderepo-bitbucket", {"coderepo_bitbucket": source}, {"bitbucket": "coderepo_bitbucket"})
    make_distribution("acme-bitbucket", {"acme_bitbucket": source}, {"acme": "acme_bitbucket"})
    result = run("register", "x", "--type", "git", "--url=/r")
    assert result.exit_code == 1
    assert "repository type 'bitbucket' is provided by both acme-bitbucket and coderepo-bitbucket" in result.stderr
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["acme"]["status"] == infos["bitbucket"]["status"] == "failed"
    assert "also provided by coderepo-bitbucket" in infos["acme"]["error"]
    # disabling one of them resolves the conflict
    import os

    os.environ["CODEREPO_DISABLE_PLUGINS"] = "acme-bitbucket"
    try:
        assert run("register", "x", "--type", "git", "--url=/r").exit_code == 0
        infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
        assert infos["acme"]["status"] == "disabled"
    finally:
        del os.environ["CODEREPO_DISABLE_PLUGINS"]


def test_disabled_plugin_types_disappear(run, monkeypatch) -> None:
    monkeypatch.setenv("CODEREPO_DISABLE_PLUGINS", "github, gitlab")
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["github"]["status"] == infos["gitlab"]["status"] == "disabled"
    result = run("register", "x", "--type", "github", "--owner=o", "--repository=r")
    assert result.exit_code == 2 and "not loaded: github (disabled), gitlab (disabled)" in result.stderr


@pytest.mark.parametrize(
    "source, error",
    [
        (
            """
            import coderepo
            @coderepo.hookimpl
            def login(repository, password):
                return True
            """,
            "PluginValidationError",
        ),
        (
            """
            import coderepo
            @coderepo.hookimpl
            def download_file(repository):
                return True
            """,
            "implements unknown hook download_file (known hooks: download_files, get_local_context, login, repository_types)",
        ),
        (
            """
            import coderepo
            @coderepo.hookimpl
            def repository_types():
                return ["not a type"]
            """,
            "repository_types failed: PluginError: repository_types returned 'not a type', not a RepositoryType",
        ),
    ],
)
def test_invalid_hook_implementations_are_rejected_at_load(make_distribution, run, source: str, error: str) -> None:
    make_distribution("coderepo-bad", {"coderepo_bad": source}, {"bad": "coderepo_bad"})
    infos = {i["name"]: i for i in json.loads(run("plugins", "--json").stdout)}
    assert infos["bad"]["status"] == "failed"
    assert error in infos["bad"]["error"]
    assert run("register", "x", "--type", "git", "--url=/r").exit_code == 0


def test_hook_signatures_may_take_a_subset_of_arguments(make_distribution) -> None:
    make_distribution(
        "coderepo-lean",
        {
            "coderepo_lean": """
                import attrs, coderepo
                @attrs.frozen
                class LeanConfig:
                    name: str
                @coderepo.hookimpl
                def repository_types():
                    return [coderepo.RepositoryType("lean", LeanConfig)]
                @coderepo.hookimpl
                def download_files(repository, directory):
                    if repository.type != "lean":
                        return None
                    open(directory + "/done", "w").close()
                    return True
            """
        },
        {"lean": "coderepo_lean"},
    )
    pm = coderepo.get_plugin_manager()
    repo = coderepo.register("l", "lean", {"name": "n"})
    import tempfile, os

    with tempfile.TemporaryDirectory() as d:
        assert pm.hook.download_files(repository=repo, commit="0" * 40, directory=d, repo_sub_directory=None) is True
        assert os.listdir(d) == ["done"]


def test_trace_hooks_environment_variable(git_repo) -> None:
    result = run_process("register", "x", "--type", "git", f"--url={git_repo}")
    assert result.returncode == 0
    traced = run_process("login", "x", env={"CODEREPO_TRACE_HOOKS": "1"})
    assert traced.returncode == 0, traced.stderr
    assert "login [hook]" in traced.stderr and "finish login --> True" in traced.stderr


def test_plugins_are_loaded_lazily() -> None:
    """--version and list import neither pluggy plugins nor dulwich/PyGithub/python-gitlab."""
    assert run_process("register", "x", "--type", "git", "--url=/r", "--token=t").returncode == 0
    for args in (["--version"], ["list"]):
        code = (
            "import sys\nfrom coderepo.cli import cli\n"
            f"try:\n    cli.main({args!r}, prog_name='coderepo')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('dulwich', 'github', 'gitlab', 'coderepo_github', 'coderepo.plugins', 'requests') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert "HEAVY []" in out, (args, out)


def test_plugins_command_does_not_import_host_libraries() -> None:
    code = (
        "import sys\nfrom coderepo.cli import cli\n"
        "try:\n    cli.main(['plugins'], prog_name='coderepo')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('github', 'gitlab', 'dulwich') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_programmatic_registration_of_a_plugin_object() -> None:
    import attrs

    @attrs.frozen
    class MemConfig:
        key: str

    class MemoryPlugin:
        @coderepo.hookimpl
        def repository_types(self):
            return [coderepo.RepositoryType("memory", MemConfig, "in memory")]

        @coderepo.hookimpl
        def login(self, repository):
            return True if repository.type == "memory" else None

    pm = coderepo.get_plugin_manager()
    pm.register(MemoryPlugin(), name="memory")
    assert "memory" in pm.repository_types()
    coderepo.register("m", "memory", {"key": "k"})
    assert coderepo.login("m").name == "m"
