"""Downloads with the built-in git type, against Debian's git http-backend and local paths."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import coderepo
from conftest import git, run_process
from servers.fault_proxy import FaultProxy
from servers.git_http import GitHttpServer

UNICODE_DIR = "ünï cødé"


def git_tree_of(directory: Path, gitlinks: dict[str, str] | None = None) -> str:
    """git's own tree id of a directory's files (git is the oracle)."""
    gitdir = directory.parent / f".oracle-{directory.name}.git"
    env = dict(os.environ, GIT_DIR=str(gitdir), GIT_WORK_TREE=str(directory), GIT_INDEX_FILE=str(gitdir / "index"))
    subprocess.run(["git", "init", "-q", "--bare", str(gitdir)], check=True, capture_output=True)
    subprocess.run(["git", "add", "-A", "."], cwd=directory, env=env, check=True, capture_output=True)
    for path, sha in (gitlinks or {}).items():
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"160000,{sha},{path}"], cwd=directory, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=directory, env=env, check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["rm", "-rf", str(gitdir)], check=True)
    return tree


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A repository with executables, symlinks, nesting, empty files, unicode names and a submodule."""
    sub = tmp_path / "subproject"
    sub.mkdir()
    git("init", "-q", "-b", "main", cwd=sub)
    (sub / "lib.py").write_text("sub\n")
    git("add", ".", cwd=sub)
    git("commit", "-q", "-m", "sub", cwd=sub)

    repo = tmp_path / "source"
    app = repo / "src" / "app"
    (app / "deep" / "er").mkdir(parents=True)
    (app / UNICODE_DIR).mkdir()
    (repo / "src" / "lib").mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("root\n")
    (app / "main.py").write_text("print('app')\n")
    (app / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(app / "run.sh", 0o755)
    os.symlink("main.py", app / "link")
    os.symlink("../lib", app / "lib-link")
    (app / "empty.txt").write_bytes(b"")
    (app / "deep" / "er" / "x.py").write_text("X = 1\n")
    (app / UNICODE_DIR / "fïlé 1.txt").write_text("unicode\n")
    (app / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (repo / "src" / "lib" / "util.py").write_text("U = 1\n")
    git("add", ".", cwd=repo)
    git("-c", "protocol.file.allow=always", "submodule", "-q", "add", str(sub), "src/app/vendor/sub", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    (app / "main.py").write_text("print('app v2')\n")
    git("commit", "-q", "-am", "second", cwd=repo)
    return repo


def serve(tmp_path: Path, source: Path, *, filters: bool = True, any_sha1: bool = True) -> Path:
    root = tmp_path / "served"
    root.mkdir(exist_ok=True)
    bare = root / "proj.git"
    git("clone", "-q", "--bare", str(source), str(bare), cwd=tmp_path)
    git("config", "uploadpack.allowFilter", "true" if filters else "false", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true" if any_sha1 else "false", cwd=bare)
    return root


def commits(source: Path) -> tuple[str, str]:
    return git("rev-parse", "HEAD~1", cwd=source).strip(), git("rev-parse", "HEAD", cwd=source).strip()


def check_download(result: coderepo.DownloadResult, dest: Path, source: Path, commit: str, sub: str) -> None:
    expected = git("rev-parse", f"{commit}:{sub}" if sub else f"{commit}^{{tree}}", cwd=source).strip()
    assert result.verified and result.tree == expected
    assert git_tree_of(dest, result.submodules) == expected


@pytest.mark.parametrize("protocol_v2", [True, False])
@pytest.mark.parametrize("filters", [True, False])
@pytest.mark.parametrize("any_sha1", [True, False])
@pytest.mark.parametrize("sub", ["", "src/app"])
def test_http_download_matrix(tmp_path: Path, source: Path, protocol_v2: bool, filters: bool, any_sha1: bool, sub: str) -> None:
    root = serve(tmp_path, source, filters=filters, any_sha1=any_sha1)
    old, head = commits(source)
    with GitHttpServer(root, protocol_v2=protocol_v2) as server:
        repo = coderepo.register("p", "git", {"url": server.url("proj.git")})
        for commit in (head, old):
            dest = tmp_path / f"out-{commit[:7]}"
            result = coderepo.download(repo, commit, str(dest), sub, use_cache=False)
            check_download(result, dest, source, commit, sub)
            if sub:
                assert (dest / "run.sh").stat().st_mode & 0o111
                assert os.readlink(dest / "link") == "main.py"
                assert (dest / "empty.txt").read_bytes() == b""
                assert (dest / UNICODE_DIR / "fïlé 1.txt").read_text() == "unicode\n"
                assert (dest / "vendor" / "sub").is_dir() and not any((dest / "vendor" / "sub").iterdir())
                assert list(result.submodules) == ["vendor/sub"]
        posts = [r for r in server.requests if r.startswith("POST")]
        assert len(posts) <= 8  # a handful of requests, whatever the number of files


def test_partial_fetch_skips_other_blobs(tmp_path: Path, source: Path) -> None:
    big = source / "src" / "lib" / "big.bin"
    big.write_bytes(os.urandom(2_000_000))
    git("add", ".", cwd=source)
    git("commit", "-q", "-m", "big", cwd=source)
    root = serve(tmp_path, source)
    head = git("rev-parse", "HEAD", cwd=source).strip()
    with GitHttpServer(root) as server:
        repo = coderepo.register("p", "git", {"url": server.url("proj.git")})
        coderepo.download(repo, head, str(tmp_path / "app"), "src/app", use_cache=False)
        assert server.bytes_sent < 200_000  # the 2 MB blob of src/lib was not sent
        server.bytes_sent = 0
        coderepo.download(repo, head, str(tmp_path / "lib"), "src/lib", use_cache=False)
        assert server.bytes_sent > 2_000_000


@pytest.mark.parametrize("kind", ["path", "file-url"])
def test_local_remotes(tmp_path: Path, source: Path, kind: str) -> None:
    old, head = commits(source)
    url = str(source) if kind == "path" else f"file://{source}"
    repo = coderepo.register("p", "git", {"url": url})
    result = coderepo.download(repo, old, str(tmp_path / "out"), "src", use_cache=False)
    check_download(result, tmp_path / "out", source, old, "src")


def test_bad_requests(tmp_path: Path, source: Path) -> None:
    repo = coderepo.register("p", "git", {"url": str(source)})
    head = commits(source)[1]
    with pytest.raises(coderepo.UsageError, match="invalid commit"):
        coderepo.download(repo, "abc", str(tmp_path / "o1"))
    with pytest.raises(coderepo.UsageError, match="does not exist in commit"):
        coderepo.download(repo, head, str(tmp_path / "o2"), "no/such/dir", use_cache=False)
    with pytest.raises(coderepo.UsageError, match="is not a directory"):
        coderepo.download(repo, head, str(tmp_path / "o3"), "README.md", use_cache=False)
    with pytest.raises(coderepo.UsageError, match="invalid subdirectory"):
        coderepo.download(repo, head, str(tmp_path / "o4"), "../etc", use_cache=False)
    with pytest.raises(coderepo.RemoteError, match="does not serve commit|did not send"):
        coderepo.download(repo, "0" * 40, str(tmp_path / "o5"), use_cache=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("o")) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".coderepo-")]


def test_existing_destination_is_refused_or_replaced_whole(tmp_path: Path, source: Path) -> None:
    repo = coderepo.register("p", "git", {"url": str(source)})
    head = commits(source)[1]
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(coderepo.UsageError, match="exists and is not empty"):
        coderepo.download(repo, head, str(dest), "src/lib", use_cache=False)
    assert (dest / "keep.txt").read_text() == "mine"
    coderepo.download(repo, head, str(dest), "src/lib", use_cache=False, replace=True)
    assert sorted(os.listdir(dest)) == ["util.py"]
    empty = tmp_path / "empty"
    empty.mkdir()
    coderepo.download(repo, head, str(empty), "src/lib", use_cache=False)
    assert os.listdir(empty) == ["util.py"]


def test_verification_failure_names_paths_and_leaves_nothing(tmp_path: Path, source: Path) -> None:
    repo = coderepo.register("p", "git", {"url": str(source)})
    old, head = commits(source)
    wrong_tree = git("rev-parse", f"{old}:src/app", cwd=source).strip()
    with pytest.raises(coderepo.VerificationError, match=r"but the reference records tree " + wrong_tree):
        coderepo.download(repo, head, str(tmp_path / "out"), "src/app", expected_tree=wrong_tree, use_cache=False)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".coderepo-")]


@pytest.mark.parametrize(
    "faults, forever, succeeds",
    [
        (["reset"], None, True),
        (["truncate"], None, True),
        (["502", "502"], None, True),
        (["429"], None, True),
        (["slow", "slow"], None, True),
        ([], "503", False),
        ([], "reset", False),
        ([], "truncate", False),
    ],
)
def test_faults_either_verify_or_fail_cleanly(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch, faults: list[str], forever: str | None, succeeds: bool
) -> None:
    monkeypatch.setenv("CODEREPO_RETRY_BASE_DELAY", "0.05")
    monkeypatch.setenv("CODEREPO_RETRY_ATTEMPTS", "4")
    monkeypatch.setenv("CODEREPO_RETRY_SECONDS", "30")
    root = serve(tmp_path, source)
    head = commits(source)[1]
    dest = tmp_path / "out"
    with GitHttpServer(root) as server, FaultProxy(server.port, faults, forever=forever) as proxy:
        repo = coderepo.register("p", "git", {"url": proxy.url("proj.git")})
        if succeeds:
            result = coderepo.download(repo, head, str(dest), "src/app", use_cache=False)
            check_download(result, dest, source, head, "src/app")
            assert any(fault in line for line in proxy.log for fault in faults)
        else:
            with pytest.raises(coderepo.RemoteError) as info:
                coderepo.download(repo, head, str(dest), "src/app", use_cache=False)
            message = str(info.value)
            assert message.startswith(f"fetching from {proxy.url('proj.git')} failed after 4 attempts")
            assert "\n" not in message
            assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".coderepo-")]


def test_authentication(tmp_path: Path, source: Path) -> None:
    root = serve(tmp_path, source)
    head = commits(source)[1]
    with GitHttpServer(root, auth=("alice", "t0ken")) as server:
        good = coderepo.register("good", "git", {"url": server.url("proj.git"), "username": "alice", "token": "t0ken"})
        bad = coderepo.register("bad", "git", {"url": server.url("proj.git"), "username": "alice", "token": "nope"})
        coderepo.download(good, head, str(tmp_path / "ok"), "src/lib", use_cache=False)
        with pytest.raises(coderepo.AuthenticationError, match="rejected the credentials"):
            coderepo.download(bad, head, str(tmp_path / "ko"), "src/lib", use_cache=False)
        assert not (tmp_path / "ko").exists()


def test_credential_helper(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = serve(tmp_path, source)
    head = commits(source)[1]
    helper = tmp_path / "helper.sh"
    helper.write_text("#!/bin/sh\ncat >/dev/null\necho username=alice\necho password=t0ken\n")
    helper.chmod(0o755)
    git("config", "--global", "credential.helper", str(helper), cwd=tmp_path)
    with GitHttpServer(root, auth=("alice", "t0ken")) as server:
        repo = coderepo.register("p", "git", {"url": server.url("proj.git")})
        result = coderepo.download(repo, head, str(tmp_path / "ok"), "src/lib", use_cache=False)
        assert result.verified


def test_cache_serves_a_second_download_without_network(tmp_path: Path, source: Path, coderepo_home: Path) -> None:
    root = serve(tmp_path, source)
    head = commits(source)[1]
    with GitHttpServer(root) as server:
        repo = coderepo.register("p", "git", {"url": server.url("proj.git")})
        first = coderepo.download(repo, head, str(tmp_path / "one"), "src/app")
        assert not first.from_cache
    # the server is gone: only the cache can answer
    second = coderepo.download(repo, head, str(tmp_path / "two"), "src/app")
    assert second.from_cache and second.tree == first.tree
    assert second.submodules == {"vendor/sub": first.submodules["vendor/sub"]}
    check_download(second, tmp_path / "two", source, head, "src/app")
    # editing a downloaded file never changes the cache (no hard links)
    assert os.stat(tmp_path / "two" / "main.py").st_ino != os.stat(tmp_path / "one" / "main.py").st_ino
    (tmp_path / "two" / "main.py").write_text("edited\n")
    third = coderepo.download(repo, head, str(tmp_path / "three"), "src/app")
    assert (tmp_path / "three" / "main.py").read_text() == "print('app v2')\n"
    assert third.from_cache
    with pytest.raises(coderepo.RemoteError):
        coderepo.download(repo, head, str(tmp_path / "four"), "src/app", use_cache=False)


def test_concurrent_downloads_of_one_tree(tmp_path: Path, source: Path) -> None:
    root = serve(tmp_path, source)
    head = commits(source)[1]
    with GitHttpServer(root) as server:
        run_process("register", "p", "--type=git", f"--url={server.url('proj.git')}")
        procs = [
            subprocess.Popen(
                [str(Path(os.sys.executable).with_name("coderepo")), "download", "p", "--commit", head,
                 "--subdirectory", "src/app", str(tmp_path / f"out{i}"), "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(4)
        ]
        results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        fetches = len([r for r in server.requests if r.startswith("POST")])
    assert all(r["verified"] for r in results)
    assert sum(not r["from_cache"] for r in results) == 1  # one fetched, the others waited for the cache
    assert fetches <= 4
    trees = {git_tree_of(tmp_path / f"out{i}", results[i]["submodules"]) for i in range(4)}
    assert trees == {results[0]["tree"]}


def test_cli_download_by_name_and_by_reference(tmp_path: Path, source: Path, run) -> None:
    root = serve(tmp_path, source)
    head = commits(source)[1]
    # a checkout of the served repository, to take the reference from
    with GitHttpServer(root) as server:
        url = server.url("proj.git")
        checkout = tmp_path / "checkout"
        git("clone", "-q", url, str(checkout), cwd=tmp_path)
        assert run("register", "p", "--type=git", f"--url={url}").exit_code == 0
        by_name = run("download", "p", "--commit", head, "--subdirectory", "src/lib", str(tmp_path / "a"), "--no-cache")
        assert by_name.exit_code == 0, by_name.stderr
        assert f"p@{head[:12]}:src/lib downloaded into {tmp_path / 'a'} (tree " in by_name.stdout
        ref = run("reference", str(checkout / "src" / "app"), "--json")
        assert ref.exit_code == 0, ref.stderr
        (tmp_path / "ref.json").write_text(ref.stdout)
        # a container: no registry at all
        empty_home = tmp_path / "container-home"
        result = run_process("download", "--reference", str(tmp_path / "ref.json"), str(tmp_path / "b"), "--json",
                             env={"CODEREPO_HOME": str(empty_home)})
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["verified"] and data["tree"] == json.loads(ref.stdout)["tree"]
        assert data["submodules"] == {"vendor/sub": git("rev-parse", "HEAD:src/app/vendor/sub", cwd=source).strip()}
        assert "note: submodule vendor/sub" in run_process(
            "download", "--reference", str(tmp_path / "ref.json"), str(tmp_path / "c"), env={"CODEREPO_HOME": str(empty_home)}
        ).stderr
    errors = [
        (["download", "p", str(tmp_path / "x")], "give NAME --commit SHA DEST"),
        (["download", "--reference", str(tmp_path / "ref.json"), "p", str(tmp_path / "x")], "with --reference give only DEST"),
        (["download", "ghost", "--commit", head, str(tmp_path / "x")], "no repository named 'ghost'"),
        (["download", "p", "--commit", "xyz", str(tmp_path / "x")], "invalid commit 'xyz'"),
    ]
    for args, message in errors:
        result = run(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("{}")
    bad = run("download", "--reference", str(tmp_path / "bad.json"), str(tmp_path / "y"))
    assert bad.exit_code == 2 and "not a code reference: missing" in bad.stderr


def custom_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, download_body: str) -> coderepo.CodeRepository:
    """Register a BaseCodeRepository subclass whose download_files runs ``download_body``."""
    import textwrap

    body = textwrap.indent(textwrap.dedent(download_body).strip() + "\n", " " * 8)
    (tmp_path / f"{name}.py").write_text(
        "import os\nimport coderepo\n\n"
        "class Repository(coderepo.BaseCodeRepository):\n"
        "    def login(self):\n        pass\n\n"
        "    def get_local_context(self, path):\n        return None\n\n"
        "    def download_files(self, commit, directory, repo_sub_directory):\n" + body
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return coderepo.register(name, "custom", {"source": f"{name}.Repository"})


def test_plugin_writing_wrong_files_is_caught_with_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = custom_repository(tmp_path, monkeypatch, "liar", """
        with open(os.path.join(directory, "a.txt"), "w") as f:
            f.write("tampered\\n")
        with open(os.path.join(directory, "extra.txt"), "w") as f:
            f.write("extra\\n")
        blob = "b0b5bcb2ba7b8d18e8e3e8ac6deb7a1b4b3c3b36"
        coderepo.current_session().report_tree("1" * 40, {"a.txt": (0o100644, blob), "b.txt": (0o100644, blob)})
    """)
    with pytest.raises(coderepo.VerificationError) as info:
        coderepo.download(repo, "a" * 40, str(tmp_path / "out"), use_cache=False)
    assert "content differs: a.txt; missing b.txt; unexpected extra.txt" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_custom_type_without_tree_is_reported_unverified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = custom_repository(tmp_path, monkeypatch, "plain", """
        with open(os.path.join(directory, "a.txt"), "w") as f:
            f.write(commit)
    """)
    result = coderepo.download(repo, "a" * 40, str(tmp_path / "out"), use_cache=False)
    assert not result.verified and (tmp_path / "out" / "a.txt").read_text() == "a" * 40


def test_progress_on_a_terminal_only(tmp_path: Path, source: Path) -> None:
    """A terminal on stderr shows progress; a pipe stays quiet."""
    import pty

    head = commits(source)[1]
    run_process("register", "p", "--type=git", f"--url={source}")
    exe = str(Path(os.sys.executable).with_name("coderepo"))
    piped = subprocess.run([exe, "download", "p", "--commit", head, str(tmp_path / "piped"), "--no-cache"],
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == "note: submodule src/app/vendor/sub (commit " + git(
        "rev-parse", "HEAD:src/app/vendor/sub", cwd=source).strip()[:12] + ") is not included; its directory is empty\n"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([exe, "download", "p", "--commit", head, str(tmp_path / "tty"), "--no-cache"],
                            stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    assert b"downloading" in out and b"\r" in out


def test_reference_carries_the_token_variable_for_containers(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = serve(tmp_path, source)
    with GitHttpServer(root, auth=("alice", "t0ken")) as server:
        url = server.url("proj.git")
        monkeypatch.setenv("PROJ_TOKEN", "t0ken")
        coderepo.register("p", "git", {"url": url, "username": "alice", "token_env": "PROJ_TOKEN"})
        checkout = tmp_path / "checkout"
        git("clone", "-q", url.replace("//", "//alice:t0ken@"), str(checkout), cwd=tmp_path)
        git("remote", "set-url", "origin", url, cwd=checkout)
        ref = coderepo.reference(str(checkout / "src"))
        assert ref.config == {"url": url, "username": "alice", "token_env": "PROJ_TOKEN"}
        assert "t0ken" not in ref.to_json()
        (tmp_path / "ref.json").write_text(ref.to_json())
        container = {"CODEREPO_HOME": str(tmp_path / "container-home"), "PROJ_TOKEN": "t0ken"}
        ok = run_process("download", "--reference", str(tmp_path / "ref.json"), str(tmp_path / "out"), env=container)
        assert ok.returncode == 0, ok.stderr
        refused = run_process("download", "--reference", str(tmp_path / "ref.json"), str(tmp_path / "out2"), "--no-cache",
                              env={**container, "PROJ_TOKEN": "wrong"})
        assert refused.returncode == 1 and "rejected the credentials" in refused.stderr


@pytest.mark.parametrize("form", ["scp", "ssh-url"])
def test_ssh_remotes(tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    """SSH transport with a stand-in ssh (as git's own test suite does): it runs the
    remote command locally, so the git protocol over a pipe is the real one."""
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text('#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    bare = tmp_path / "bare.git"
    git("clone", "-q", "--bare", str(source), str(bare), cwd=tmp_path)
    url = f"git@example.invalid:{bare}" if form == "scp" else f"ssh://git@example.invalid{bare}"
    repo = coderepo.register("p", "git", {"url": url})
    head = commits(source)[1]
    result = coderepo.download(repo, head, str(tmp_path / "out"), "src/app", use_cache=False)
    check_download(result, tmp_path / "out", source, head, "src/app")
    assert coderepo.login("p").name == "p"
