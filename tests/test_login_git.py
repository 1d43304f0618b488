"""``coderepo login`` for the built-in git type: the remote must list its refs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servers.git_http import GitHttpServer


@pytest.fixture
def served(tmp_path: Path, git_repo: Path) -> Path:
    root = tmp_path / "srv"
    root.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo), str(root / "proj.git")], check=True)
    return root


def test_login_local_path(run, git_repo: Path) -> None:
    run("register", "p", "--type=git", f"--url={git_repo}")
    result = run("login", "p")
    assert result.exit_code == 0, result.stderr
    assert "Logged in: p (git)" in result.stdout


def test_login_missing_local_path(run, tmp_path: Path) -> None:
    run("register", "p", "--type=git", f"--url={tmp_path / 'nothing'}")
    result = run("login", "p")
    assert result.exit_code == 1
    assert "is not a git repository" in result.stderr or "cannot reach" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_login_http_with_and_without_credentials(run, served: Path) -> None:
    with GitHttpServer(served, auth=("alice", "s3cret-token")) as server:
        url = server.url("proj.git")
        run("register", "good", "--type=git", f"--url={url}", "--username=alice", "--token=s3cret-token")
        run("register", "wrong", "--type=git", f"--url={url}", "--username=alice", "--token=nope")
        run("register", "anon", "--type=git", f"--url={url}")
        assert run("login", "good").exit_code == 0
        for name in ("wrong", "anon"):
            result = run("login", name)
            assert result.exit_code == 1, result.stdout
            assert "rejected the credentials" in result.stderr or "refused access" in result.stderr
            assert "s3cret" not in result.stderr and "nope" not in result.stderr


def test_login_http_unreachable(run) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run("register", "down", "--type=git", f"--url=http://127.0.0.1:{port}/x.git")
    result = run("login", "down")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot reach http://127.0.0.1:{port}/x.git")


def test_login_http_not_a_repository(run, served: Path) -> None:
    with GitHttpServer(served) as server:
        run("register", "missing", "--type=git", f"--url={server.url('nothing.git')}")
        result = run("login", "missing")
        assert result.exit_code == 1
        assert "nothing.git" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_login_not_implemented_yet_for_github(run) -> None:
    run("register", "gh", "--type=github", "--owner=o", "--repository=r")
    result = run("login", "gh")
    assert result.exit_code == 1
    assert "coderepo-github 0.1.0 cannot log in to GitHub yet" in result.stderr
