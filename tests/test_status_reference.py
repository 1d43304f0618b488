"""coderepo status / reference, get_local_context for every type, and the facade."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

import coderepo
from conftest import git, run_process


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A checkout whose origin is a GitHub URL (remote-tracking refs made locally)."""
    work = tmp_path / "project"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "src" / "app").mkdir(parents=True)
    (work / "src" / "app" / "main.py").write_text("print(1)\n")
    (work / "README.md").write_text("r\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "one", cwd=work)
    git("remote", "add", "origin", "git@github.com:Acme/Project.git", cwd=work)
    git("update-ref", "refs/remotes/origin/main", "HEAD", cwd=work)
    return work


def test_status_json_of_a_registered_clean_pushed_checkout(run, project: Path) -> None:
    run("register", "proj", "--type=github", "--owner=acme", "--repository=project")
    result = run("status", str(project / "src" / "app"), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    head = git("rev-parse", "HEAD", cwd=project).strip()
    assert data == {
        "root": str(project.resolve()),
        "commit": head,
        "branch": "main",
        "is_dirty": False,
        "dirty_reason": None,
        "has_local_changes": False,
        "pushed": True,
        "subdirectory": "src/app",
        "tree": git("rev-parse", "HEAD:src/app", cwd=project).strip(),
        "repository": "proj",
        "remote": "origin",
        "remote_url": "git@github.com:Acme/Project.git",
        "remotes": {"origin": "git@github.com:Acme/Project.git"},
        "downloadable": True,
        "reasons": [],
    }
    text = run("status", str(project)).stdout
    assert "downloadable: yes" in text and "repository: proj via origin" in text


def test_status_reasons(run, project: Path) -> None:
    data = json.loads(run("status", str(project), "--json").stdout)
    assert data["repository"] is None and data["downloadable"] is False
    assert data["reasons"] == ["no registered repository matches the remotes (remotes: origin git@github.com:Acme/Project.git)"]
    run("register", "proj", "--type=github", "--owner=acme", "--repository=project")
    (project / "README.md").write_text("changed\n")
    data = json.loads(run("status", str(project), "--json").stdout)
    assert data["is_dirty"] and data["has_local_changes"]
    assert data["reasons"] == ["uncommitted changes (modified: README.md)"]
    git("commit", "-q", "-am", "two", cwd=project)
    data = json.loads(run("status", str(project), "--json").stdout)
    assert not data["is_dirty"] and data["has_local_changes"]
    assert data["reasons"] == [f"commit {data['commit'][:12]} is not pushed to origin"]


def test_status_outside_a_checkout_is_exit_2(run, tmp_path: Path) -> None:
    result = run("status", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path} is not inside a git checkout (no .git in it or any parent)"
    missing = run("status", str(tmp_path / "missing"), "--json")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_reference_round_trip(run, project: Path) -> None:
    run("register", "proj", "--type=github", "--owner=acme", "--repository=project", "--token=secret-tok")
    result = run("reference", str(project / "src"), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    ref = coderepo.CodeReference.from_json(result.stdout)
    assert ref.repository == "proj" and ref.type == "github"
    assert ref.subdirectory == "src"
    assert ref.tree == git("rev-parse", "HEAD:src", cwd=project).strip()
    assert ref.config == {"owner": "acme", "repository": "project", "host": "github.com", "api_url": None, "download_strategy": "tarball"}
    assert "secret-tok" not in result.stdout
    assert ref.repository_id == str(coderepo.get_repository("proj").id)
    assert coderepo.reference(str(project / "src")) == ref
    plain = run("reference", str(project)).stdout.strip()
    assert plain == f"proj@{ref.commit} (tree {git('rev-parse', 'HEAD^{tree}', cwd=project).strip()})"


def test_reference_refuses_dirty_and_warns_unpushed(run, project: Path) -> None:
    run("register", "proj", "--type=github", "--owner=acme", "--repository=project")
    (project / "new.py").write_text("x")
    dirty = run("reference", str(project))
    assert dirty.exit_code == 1
    assert "has uncommitted changes (untracked: new.py): commit or stash them first" in dirty.stderr
    git("add", ".", cwd=project)
    git("commit", "-q", "-m", "local", cwd=project)
    unpushed = run("reference", str(project), "--json")
    assert unpushed.exit_code == 0
    assert unpushed.stderr.startswith("warning: commit ") and "is not pushed to origin" in unpushed.stderr
    json.loads(unpushed.stdout)


def test_reference_without_matching_repository(run, project: Path) -> None:
    result = run("reference", str(project))
    assert result.exit_code == 2
    assert "no registered repository matches" in result.stderr


def test_git_type_matches_with_insteadof_and_picks_the_right_remote(run, project: Path, tmp_path: Path) -> None:
    git("remote", "add", "mirror", "gh:acme/other.git", cwd=project)
    git("remote", "add", "company", "corp:platform/project", cwd=project)
    git("config", "url.https://git.corp.example/.insteadOf", "corp:", cwd=project)
    git("update-ref", "refs/remotes/company/main", "HEAD", cwd=project)
    run("register", "corp", "--type=git", "--url=https://git.corp.example/platform/project.git")
    context = coderepo.local_context(str(project))
    assert context is not None
    assert (context.repository.name, context.remote, context.remote_url) == (
        "corp", "company", "https://git.corp.example/platform/project"
    )
    assert context.has_local_changes is False


def test_matching_remote_decides_has_local_changes(run, project: Path) -> None:
    git("remote", "add", "fork", "https://github.com/me/project.git", cwd=project)
    run("register", "fork", "--type=github", "--owner=me", "--repository=project")
    context = coderepo.local_context(str(project))
    assert context.remote == "fork"
    assert context.has_local_changes is True  # HEAD is on origin, not on the fork
    assert coderepo.inspect_checkout(str(project)).has_local_changes is False


def test_gitlab_type_get_local_context(run, tmp_path: Path) -> None:
    work = tmp_path / "gl"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "f").write_text("f")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "f", cwd=work)
    git("remote", "add", "origin", "https://gitlab.example.com/gitlab/group/sub/proj.git", cwd=work)
    run("register", "gl", "--type=gitlab", "--url=https://gitlab.example.com/gitlab", "--project=group/sub/proj")
    context = coderepo.local_context(str(work))
    assert context is not None and context.repository.type == "gitlab"
    assert context.has_local_changes is True  # nothing fetched from origin


def test_custom_type_get_local_context(run, project: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "acme_repo.py").write_text(textwrap.dedent("""
        import coderepo

        class AcmeRepository(coderepo.BaseCodeRepository):
            def __init__(self, slug: str):
                self.slug = slug
            def login(self):
                pass
            def download_files(self, commit, directory, repo_sub_directory):
                pass
            def get_local_context(self, path):
                return self.context_for_remote(path, lambda url: url.lower().endswith(self.slug + ".git"))
    """))
    monkeypatch.syspath_prepend(str(folder))
    run("register", "acme", "--type=custom", "--source=acme_repo.AcmeRepository", "--slug=acme/project")
    context = coderepo.local_context(str(project))
    assert context is not None and context.repository.name == "acme" and context.remote == "origin"


def test_inspection_happens_once_for_many_repositories(run, project: Path, monkeypatch) -> None:
    for i in range(5):
        run("register", f"r{i}", "--type=github", "--owner=acme", f"--repository=other{i}")
    run("register", "proj", "--type=github", "--owner=acme", "--repository=project")
    import coderepo.context as ctx

    calls = []
    real = ctx.begin_inspection
    monkeypatch.setattr(ctx, "begin_inspection", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(ctx, "inspect_checkout", lambda p: calls.append(p) or real(p).result())
    assert coderepo.local_context(str(project)).repository.name == "proj"
    assert len(calls) == 1


def test_status_works_without_git_on_path(project: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python")
    env = {"PATH": str(bindir)}
    run_process("register", "proj", "--type=github", "--owner=acme", "--repository=project", env=env)
    result = run_process("status", str(project), "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["downloadable"] is True
    (project / "x").write_text("x")
    assert json.loads(run_process("status", str(project), "--json", env=env).stdout)["is_dirty"] is True


def test_status_does_not_import_host_libraries(project: Path) -> None:
    import subprocess

    run_process("register", "proj", "--type=github", "--owner=acme", "--repository=project")
    code = (
        "import sys\nfrom coderepo.cli import cli\n"
        f"try:\n    cli.main(['status', {str(project)!r}, '--json'], prog_name='coderepo')\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', [m for m in ('github', 'gitlab', 'requests') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and '"repository": "proj"' in out
