"""Shared fixtures: an isolated CODEREPO_HOME, the CLI, fake plugin distributions, git."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Optional

import pytest
from click.testing import CliRunner, Result

import coderepo
from coderepo.cli import cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def coderepo_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty registry, and a fresh plugin manager."""
    home = tmp_path_factory.mktemp("coderepo-home")
    monkeypatch.setenv("CODEREPO_HOME", str(home))
    monkeypatch.setenv("CODEREPO_SECRET_STORE", "file")
    monkeypatch.setenv("HOME", str(home))  # git and keyring never see the user's config
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    for var in ("CODEREPO_DISABLE_PLUGINS", "CODEREPO_TRACE_HOOKS", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    coderepo.reset_plugin_manager()
    yield home
    coderepo.reset_plugin_manager()


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the CLI in-process; stdout and stderr are kept apart."""

    def invoke(*args: str, input: Optional[str] = None) -> Result:
        coderepo.reset_plugin_manager()
        return CliRunner().invoke(cli, list(args), input=input, prog_name="coderepo")

    return invoke


def run_process(*args: str, env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``coderepo`` console script as a whole process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    exe = Path(sys.executable).with_name("coderepo")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120)


@pytest.fixture
def make_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Create an installed-looking distribution (dist-info + entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))

    def make(name: str, modules: dict[str, str], entry_points: dict[str, str], version: str = "1.0") -> Path:
        dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[coderepo]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        for module in modules:
            sys.modules.pop(module, None)
        import importlib

        importlib.invalidate_caches()
        return site

    return make


def git(*args: str, cwd: Path, check: bool = True) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=check, capture_output=True, text=True
    ).stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A small repository with one commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("hello\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    return repo
