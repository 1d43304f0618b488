"""The main job, offline and end to end: what a new user does with coderepo.

It builds a small git repository (with dulwich: no git binary needed), registers it
with the built-in ``git`` type and shows it, running the real ``coderepo`` commands.
Everything happens in a temporary directory with its own ``CODEREPO_HOME``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("coderepo"))


def step(*args: str, env: dict[str, str], expect: int = 0) -> str:
    print(f"\n$ coderepo {shlex.join(args)}", flush=True)
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, env=env)
    print((result.stdout + result.stderr).rstrip())
    if result.returncode != expect:
        sys.exit(f"walkthrough failed: exit {result.returncode}, expected {expect}")
    return result.stdout


def make_repository(path: Path) -> str:
    from dulwich import porcelain

    porcelain.init(str(path))
    (path / "src").mkdir()
    (path / "src" / "train.py").write_text("print('training')\n")
    (path / "README.md").write_text("# demo\n")
    porcelain.add(str(path), [str(path / "src" / "train.py"), str(path / "README.md")])
    commit = porcelain.commit(str(path), message=b"first", author=b"Demo <demo@example.com>",
                              committer=b"Demo <demo@example.com>")
    return commit.decode()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coderepo-walkthrough-") as tmp:
        root = Path(tmp)
        env = dict(os.environ, CODEREPO_HOME=str(root / "home"), CODEREPO_SECRET_STORE="file")
        repo = root / "demo"
        commit = make_repository(repo)
        print(f"Created a git repository at {repo} (commit {commit[:12]})")

        step("--version", env=env)
        step("plugins", env=env)
        step("register", "demo", "--type", "git", f"--url={repo}", "--token=not-shown-anywhere", env=env)
        step("list", env=env)
        described = step("describe", "demo", env=env)
        assert "not-shown-anywhere" not in described
        step("login", "demo", env=env)
        step("register", "broken", "--type", "git", env=env, expect=2)
        step("delete", "demo", "--yes", env=env)
        print("\nWalkthrough finished: all steps behaved as expected.")


if __name__ == "__main__":
    main()
