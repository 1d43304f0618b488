"""Custom classes: coderepo register NAME --type=custom --source=module.Class."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

import coderepo

MODULE = """
    import os
    from typing import Optional
    import coderepo

    class MyRepository(coderepo.BaseCodeRepository):
        def __init__(self, url: str, retries: int = 3, verbose: bool = False):
            super().__init__(url=url, retries=retries, verbose=verbose)
            self.url, self.retries, self.verbose = url, retries, verbose

        def login(self):
            if self.url == "bad":
                raise coderepo.AuthenticationError(f"{self.code_repository.name}: access denied")

        def download_files(self, commit, directory, repo_sub_directory):
            with open(os.path.join(directory, "commit.txt"), "w") as f:
                f.write(f"{commit} {repo_sub_directory} {self.retries} {self.verbose}")

        def get_local_context(self, path):
            return None

    class Flexible(coderepo.BaseCodeRepository):
        def login(self):
            pass
        def download_files(self, commit, directory, repo_sub_directory):
            pass
        def get_local_context(self, path):
            return None

    class Incomplete(coderepo.BaseCodeRepository):
        def login(self):
            pass

    class NotARepository:
        pass
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "usercode"
    folder.mkdir()
    (folder / "my_repos.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    sys.modules.pop("my_repos", None)
    return "my_repos"


def test_register_custom_class_and_call_its_hooks(run, module: str, tmp_path: Path) -> None:
    result = run("register", "mine", "--type=custom", f"--source={module}.MyRepository", "--url=https://x", "--retries=5")
    assert result.exit_code == 0, result.stderr
    view = json.loads(run("describe", "mine", "--json").stdout)
    assert view["options"] == {"source": "my_repos.MyRepository", "url": "https://x", "retries": 5}
    repository = coderepo.get_repository("mine")
    assert repository.config.options == {"url": "https://x", "retries": 5}
    assert run("login", "mine").exit_code == 0
    target = tmp_path / "out"
    target.mkdir()
    pm = coderepo.get_plugin_manager()
    assert pm.hook.download_files(repository=repository, commit="a" * 40, directory=str(target), repo_sub_directory="src")
    assert (target / "commit.txt").read_text() == f"{'a' * 40} src 5 False"


def test_custom_login_failure(run, module: str) -> None:
    run("register", "mine", "--type=custom", f"--source={module}.MyRepository", "--url=bad")
    result = run("login", "mine")
    assert result.exit_code == 1 and result.stderr.strip() == "Error: mine: access denied"


def test_class_taking_any_options(run, module: str) -> None:
    assert run("register", "f", "--type=custom", f"--source={module}.Flexible", "--anything=1", "--more=two").exit_code == 0
    assert coderepo.get_repository("f").config.options == {"anything": "1", "more": "two"}


def test_module_in_current_directory(run, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "cwd_repos.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    result = run("register", "c", "--type=custom", "--source=cwd_repos.Flexible")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "source, extra, message",
    [
        ("no_such_module.Repo", [], "cannot import module 'no_such_module'"),
        ("my_repos.Missing", [], "module 'my_repos' has no attribute 'Missing'"),
        ("my_repos.NotARepository", [], "is not a subclass of coderepo.BaseCodeRepository"),
        ("my_repos.Incomplete", [], "does not implement the abstract methods: download_files, get_local_context"),
        ("justaname", [], "expected MODULE.CLASS"),
        ("my_repos.MyRepository", [], "missing required option --url for my_repos.MyRepository; valid options: --url, --retries, --verbose"),
        ("my_repos.MyRepository", ["--url=x", "--colour=red"], "unknown option --colour for my_repos.MyRepository"),
        ("my_repos.MyRepository", ["--url=x", "--retries=many"], "option --retries='many' is invalid: expected an integer"),
    ],
)
def test_wrong_source_is_a_clear_error_at_register_time(run, module: str, source: str, extra: list[str], message: str) -> None:
    result = run("register", "bad", "--type=custom", f"--source={source}", *extra)
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(run("list", "--json").stdout) == []


def test_custom_without_source(run) -> None:
    result = run("register", "bad", "--type=custom")
    assert result.exit_code == 2 and "missing required option --source=MODULE.CLASS" in result.stderr


def test_secret_looking_options_are_masked_in_repr(module: str) -> None:
    repository = coderepo.register("f", "custom", {"source": "my_repos.Flexible", "api_token": "s3cret", "user": "u"})
    assert "s3cret" not in repr(repository)
    assert "user='u'" in repr(repository)
