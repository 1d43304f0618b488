"""The main job, offline and end to end: what a new user does with coderepo.

1. A project is pushed to a git server (dulwich's own HTTP server on 127.0.0.1:
   nothing but Python is needed) and cloned into a checkout.
2. The user registers the repository once, asks ``status`` (clean, pushed, matched:
   downloadable), sees a dirty checkout refused, and records a ``reference``.
3. "In a container" (an empty CODEREPO_HOME, no registry): ``download --reference``
   brings back exactly that code, verified by git tree id; then the server goes
   away and a second download comes from the cache, with no network.

Every step runs the real ``coderepo`` command and prints what it shows.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("coderepo"))
AUTHOR = b"Demo <demo@example.com>"


def step(*args: str, env: dict[str, str], expect: int = 0, show: bool = True) -> str:
    print(f"\n$ coderepo {shlex.join(args)}", flush=True)
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, env=env)
    if show:
        print((result.stdout + result.stderr).rstrip())
    if result.returncode != expect:
        print((result.stdout + result.stderr).rstrip())
        sys.exit(f"walkthrough failed: exit {result.returncode}, expected {expect}")
    return result.stdout


def make_project(path: Path) -> None:
    from dulwich import porcelain

    porcelain.init(str(path))
    (path / "src" / "pipeline").mkdir(parents=True)
    (path / "src" / "pipeline" / "train.py").write_text("print('training the model')\n")
    (path / "src" / "pipeline" / "run.sh").write_text("#!/bin/sh\npython train.py\n")
    os.chmod(path / "src" / "pipeline" / "run.sh", 0o755)
    os.symlink("train.py", path / "src" / "pipeline" / "entrypoint.py")
    (path / "README.md").write_text("# demo project\n")
    (path / "docs").mkdir()
    (path / "docs" / "big-manual.txt").write_text("not needed by the pipeline\n" * 1000)
    porcelain.add(str(path), [str(p) for p in path.rglob("*") if ".git" not in p.parts and not p.is_dir()])
    porcelain.commit(str(path), message=b"first version", author=AUTHOR, committer=AUTHOR)


def serve(root: Path) -> tuple[object, str]:
    """dulwich's smart-HTTP git server for every repository under root."""
    from wsgiref.simple_server import WSGIRequestHandler

    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import WSGIServerLogger, make_server, make_wsgi_chain

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    backend = DictBackend({"/demo.git": Repo(str(root / "demo.git"))})
    server = make_server("127.0.0.1", 0, make_wsgi_chain(backend), handler_class=Quiet, server_class=WSGIServerLogger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/demo.git"


def tree_of(directory: Path) -> str:
    from coderepo.treehash import tree_id_of_directory

    return tree_id_of_directory(str(directory)) or ""


def main() -> None:
    from dulwich import porcelain

    with tempfile.TemporaryDirectory(prefix="coderepo-walkthrough-") as tmp:
        root = Path(tmp)
        env = dict(os.environ, CODEREPO_HOME=str(root / "home"), CODEREPO_SECRET_STORE="file")
        container_env = dict(os.environ, CODEREPO_HOME=str(root / "container-home"))

        make_project(root / "project")
        (root / "server").mkdir()
        porcelain.clone(str(root / "project"), str(root / "server" / "demo.git"), bare=True, errstream=open(os.devnull, "wb"))
        server, url = serve(root / "server")
        print(f"A git server is serving the demo project at {url}")
        porcelain.clone(url, str(root / "checkout"), errstream=open(os.devnull, "wb"))
        checkout = root / "checkout"
        print(f"and {checkout} is a clone of it.")

        step("--version", env=env)
        step("plugins", env=env)
        step("register", "demo", "--type", "git", f"--url={url}", env=env)
        step("list", env=env)
        status = json.loads(step("status", str(checkout / "src" / "pipeline"), "--json", env=env))
        assert status["downloadable"] and status["repository"] == "demo", status

        print("\n# an uncommitted edit makes the checkout dirty: no reference for it")
        train = checkout / "src" / "pipeline" / "train.py"
        original = train.read_text()
        train.write_text(original + "# experiment\n")
        step("status", str(checkout / "src" / "pipeline"), env=env)
        step("reference", str(checkout / "src" / "pipeline"), env=env, expect=1)
        train.write_text(original)

        reference = step("reference", str(checkout / "src" / "pipeline"), "--json", env=env)
        (root / "reference.json").write_text(reference)

        print("\n# in a container: no registry, only the reference")
        dest = root / "container" / "code"
        step("download", "--reference", str(root / "reference.json"), str(dest), env=container_env)
        assert tree_of(dest) == json.loads(reference)["tree"]
        assert sorted(p.name for p in dest.iterdir()) == ["entrypoint.py", "run.sh", "train.py"]
        assert os.access(dest / "run.sh", os.X_OK) and os.readlink(dest / "entrypoint.py") == "train.py"
        print(f"{dest} holds exactly src/pipeline of the recorded commit, nothing else.")

        server.shutdown()  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]
        print("\n# the server is gone: the same tree comes from the local cache, with no network")
        step("download", "--reference", str(root / "reference.json"), str(root / "container" / "again"), env=container_env)
        print("\n# without the cache the server is needed, and its absence is a clear error")
        step("download", "--reference", str(root / "reference.json"), str(root / "nowhere"), "--no-cache",
             env=container_env, expect=1)
        assert not (root / "nowhere").exists()
        print("\nWalkthrough finished: registered, checked, referenced, downloaded and verified, offline.")


if __name__ == "__main__":
    main()
