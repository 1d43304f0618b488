"""inspect_checkout against git itself, case by case (git is the oracle)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import coderepo
from conftest import git


@pytest.fixture(autouse=True, params=["sequential", "parallel"])
def status_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case runs in one process and split with the forked helper."""
    from coderepo import worktree as status

    monkeypatch.setattr(status, "PARALLEL_MIN_ENTRIES", 1 if request.param == "parallel" else 10**9)
    return request.param


def git_dirty(path: Path) -> bool:
    out = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"],
        cwd=path, capture_output=True, text=True, check=True,
    ).stdout
    return bool(out.strip())


def git_pushed(path: Path) -> bool:
    out = subprocess.run(
        ["git", "--no-optional-locks", "branch", "-r", "--contains", "HEAD"],
        cwd=path, capture_output=True, text=True,
    ).stdout
    return bool(out.strip())


def check(path: Path, dirty: bool) -> coderepo.Checkout:
    """Our answer equals git's, and git's is the one the case expects."""
    assert git_dirty(path) is dirty, "the case did not build what it meant to"
    checkout = coderepo.inspect_checkout(str(path))
    assert checkout.is_dirty is dirty, checkout.dirty_reason
    assert (checkout.dirty_reason is None) is (not dirty)
    return checkout


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    bare = tmp_path / "upstream.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    return bare


@pytest.fixture
def clone(tmp_path: Path, upstream: Path) -> Path:
    """A clone with a few committed files, pushed to its origin."""
    work = tmp_path / "work"
    git("clone", "-q", str(upstream), str(work), cwd=tmp_path)
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "README.md").write_text("readme\n")
    (work / "src" / "main.py").write_text("print('main')\n")
    (work / "src" / "pkg" / "util.py").write_text("X = 1\n")
    (work / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(work / "run.sh", 0o755)
    os.symlink("src/main.py", work / "link")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return work


def commit_all(work: Path, message: str = "change") -> None:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)


def test_clean(clone: Path) -> None:
    c = check(clone, False)
    assert c.root == str(clone.resolve())
    assert c.commit == git("rev-parse", "HEAD", cwd=clone).strip()
    assert c.branch == "main"
    assert c.subdirectory == ""
    assert c.tree == git("rev-parse", "HEAD^{tree}", cwd=clone).strip()
    assert [(r.name, r.contains_head) for r in c.remotes] == [("origin", True)]
    assert c.has_local_changes is False


def test_untracked_file_at_root(clone: Path) -> None:
    (clone / "new.txt").write_text("x")
    assert "untracked: new.txt" == check(clone, True).dirty_reason


def test_untracked_file_in_new_directory(clone: Path) -> None:
    (clone / "a" / "b").mkdir(parents=True)
    (clone / "a" / "b" / "new.txt").write_text("x")
    check(clone, True)


def test_untracked_file_in_tracked_directory(clone: Path) -> None:
    (clone / "src" / "pkg" / "new.py").write_text("x")
    check(clone, True)


def test_empty_new_directory_is_not_dirty(clone: Path) -> None:
    (clone / "empty" / "nested").mkdir(parents=True)
    check(clone, False)


def test_ignored_by_root_gitignore(clone: Path) -> None:
    (clone / ".gitignore").write_text("*.pyc\n__pycache__/\n")
    commit_all(clone)
    (clone / "src" / "main.pyc").write_text("x")
    (clone / "src" / "__pycache__").mkdir()
    (clone / "src" / "__pycache__" / "m.cpython.pyc").write_text("x")
    check(clone, False)
    (clone / "src" / "other.txt").write_text("x")
    check(clone, True)


def test_ignored_by_nested_gitignore(clone: Path) -> None:
    (clone / "src" / ".gitignore").write_text("generated.py\n")
    commit_all(clone)
    (clone / "src" / "generated.py").write_text("x")
    check(clone, False)
    (clone / "generated.py").write_text("x")  # not covered at the root
    check(clone, True)


def test_negation_pattern(clone: Path) -> None:
    (clone / ".gitignore").write_text("*.log\n!keep.log\n")
    commit_all(clone)
    (clone / "debug.log").write_text("x")
    check(clone, False)
    (clone / "keep.log").write_text("x")
    check(clone, True)


def test_directory_pattern(clone: Path) -> None:
    (clone / ".gitignore").write_text("build/\n/dist\n")
    commit_all(clone)
    (clone / "build" / "lib").mkdir(parents=True)
    (clone / "build" / "lib" / "x.o").write_text("x")
    (clone / "src" / "build").mkdir()
    (clone / "src" / "build" / "y.o").write_text("y")
    (clone / "dist").mkdir()
    (clone / "dist" / "z").write_text("z")
    check(clone, False)
    (clone / "src" / "dist").mkdir()  # /dist is anchored to the root
    (clone / "src" / "dist" / "w").write_text("w")
    check(clone, True)


def test_info_exclude(clone: Path) -> None:
    (clone / ".git" / "info").mkdir(exist_ok=True)
    (clone / ".git" / "info" / "exclude").write_text("secret.env\n")
    (clone / "secret.env").write_text("x")
    check(clone, False)


def test_core_excludes_file(clone: Path, tmp_path: Path) -> None:
    excludes = tmp_path / "global-ignore"
    excludes.write_text("*.swp\n")
    git("config", "core.excludesFile", str(excludes), cwd=clone)
    (clone / "main.py.swp").write_text("x")
    check(clone, False)


def test_default_user_excludes_file(clone: Path, coderepo_home: Path) -> None:
    config_dir = Path(os.environ["HOME"]) / ".config" / "git"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "ignore").write_text(".DS_Store\n")
    (clone / ".DS_Store").write_text("x")
    check(clone, False)


def test_modified_tracked_file_inside_ignored_directory(clone: Path) -> None:
    (clone / ".gitignore").write_text("vendor/\n")
    (clone / "vendor").mkdir()
    (clone / "vendor" / "lib.py").write_text("v1\n")
    git("add", "-f", "vendor/lib.py", ".gitignore", cwd=clone)
    git("commit", "-q", "-m", "vendor", cwd=clone)
    (clone / "vendor" / "other.py").write_text("ignored\n")
    check(clone, False)
    (clone / "vendor" / "lib.py").write_text("v2\n")
    check(clone, True)


def _entry_mtime_ns(work: Path, name: str) -> int:
    from coderepo import gitindex as gi

    reader = gi.IndexReader((work / ".git" / "index").read_bytes())
    for path, f, _ in reader.entries():
        if path == name.encode():
            return f[gi.MTIME_S] * 1_000_000_000 + f[gi.MTIME_NS]
    raise KeyError(name)


@pytest.mark.parametrize("trustctime", ["true", "false"])
def test_racy_same_size_change_in_the_same_second(clone: Path, trustctime: str) -> None:
    git("config", "core.trustctime", trustctime, cwd=clone)
    target = clone / "README.md"
    target.write_text("aaaa\n")
    commit_all(clone)
    mtime = _entry_mtime_ns(clone, "README.md")
    index = clone / ".git" / "index"
    target.write_text("bbbb\n")  # same size, same inode
    os.utime(target, ns=(mtime, mtime))  # stat data identical to the index entry
    os.utime(index, ns=(mtime, mtime))  # and the index written in that same instant
    assert check(clone, True).dirty_reason == "modified: README.md"
    target.write_text("aaaa\n")
    os.utime(target, ns=(mtime, mtime))
    os.utime(index, ns=(mtime, mtime))
    check(clone, False)


@pytest.mark.parametrize("filemode, dirty", [("true", True), ("false", False)])
def test_executable_bit_flipped(clone: Path, filemode: str, dirty: bool) -> None:
    git("config", "core.fileMode", filemode, cwd=clone)
    os.chmod(clone / "run.sh", 0o644)
    check(clone, dirty)
    os.chmod(clone / "src" / "main.py", 0o755)
    check(clone, dirty)


def test_symlink_retargeted(clone: Path) -> None:
    os.unlink(clone / "link")
    os.symlink("README.md", clone / "link")
    check(clone, True)


def test_symlink_replaced_by_file(clone: Path) -> None:
    os.unlink(clone / "link")
    (clone / "link").write_text("src/main.py")
    check(clone, True)


def test_tracked_file_deleted(clone: Path) -> None:
    (clone / "src" / "pkg" / "util.py").unlink()
    assert check(clone, True).dirty_reason == "deleted: src/pkg/util.py"


def test_tracked_directory_replaced_by_file(clone: Path) -> None:
    import shutil

    shutil.rmtree(clone / "src" / "pkg")
    (clone / "src" / "pkg").write_text("now a file")
    check(clone, True)


def test_change_staged_then_reverted_in_work_tree(clone: Path) -> None:
    (clone / "src" / "main.py").write_text("print('changed')\n")
    git("add", "src/main.py", cwd=clone)
    (clone / "src" / "main.py").write_text("print('main')\n")
    check(clone, True)


def test_staged_new_file(clone: Path) -> None:
    (clone / "new.py").write_text("x")
    git("add", "new.py", cwd=clone)
    check(clone, True)


def test_staged_deletion(clone: Path) -> None:
    git("rm", "-q", "--cached", "README.md", cwd=clone)
    (clone / ".git" / "info").mkdir(exist_ok=True)
    (clone / ".git" / "info" / "exclude").write_text("README.md\n")
    check(clone, True)


def test_intent_to_add(clone: Path) -> None:
    (clone / "later.py").write_text("x")
    git("add", "-N", "later.py", cwd=clone)
    check(clone, True)


def test_assume_unchanged(clone: Path) -> None:
    git("update-index", "--assume-unchanged", "README.md", cwd=clone)
    (clone / "README.md").write_text("changed but assumed unchanged\n")
    check(clone, False)


def test_skip_worktree(clone: Path) -> None:
    git("update-index", "--skip-worktree", "src/main.py", cwd=clone)
    (clone / "src" / "main.py").write_text("local edit\n")
    check(clone, False)
    (clone / "src" / "main.py").unlink()
    check(clone, False)


def test_sparse_checkout(clone: Path) -> None:
    git("sparse-checkout", "set", "--no-cone", "/README.md", "/run.sh", "/link", cwd=clone)
    assert not (clone / "src").exists()
    check(clone, False)
    (clone / "README.md").write_text("edited\n")
    check(clone, True)


def test_sparse_checkout_cone(clone: Path) -> None:
    git("sparse-checkout", "set", "src/pkg", cwd=clone)
    check(clone, False)
    (clone / "src" / "pkg" / "new.py").write_text("x")
    check(clone, True)


@pytest.fixture
def with_submodule(tmp_path: Path, clone: Path) -> Path:
    sub = tmp_path / "subrepo"
    sub.mkdir()
    git("init", "-q", "-b", "main", cwd=sub)
    (sub / "lib.py").write_text("v1\n")
    git("add", ".", cwd=sub)
    git("commit", "-q", "-m", "v1", cwd=sub)
    (sub / "lib.py").write_text("v2\n")
    git("add", ".", cwd=sub)
    git("commit", "-q", "-m", "v2", cwd=sub)
    git("-c", "protocol.file.allow=always", "submodule", "-q", "add", str(sub), "deps/sub", cwd=clone)
    git("commit", "-q", "-m", "add submodule", cwd=clone)
    return clone


def test_submodule_clean(with_submodule: Path) -> None:
    check(with_submodule, False)


def test_submodule_moved_to_another_commit(with_submodule: Path) -> None:
    git("checkout", "-q", "HEAD~1", cwd=with_submodule / "deps" / "sub")
    assert "submodule at another commit: deps/sub" == check(with_submodule, True).dirty_reason


def test_submodule_with_changes_inside(with_submodule: Path) -> None:
    (with_submodule / "deps" / "sub" / "lib.py").write_text("edited\n")
    assert "submodule modified: deps/sub" == check(with_submodule, True).dirty_reason


def test_submodule_with_untracked_file_inside(with_submodule: Path) -> None:
    (with_submodule / "deps" / "sub" / "new.py").write_text("x")
    check(with_submodule, True)


def test_submodule_not_initialised(tmp_path: Path, with_submodule: Path) -> None:
    git("push", "-q", "origin", "main", cwd=with_submodule)
    fresh = tmp_path / "fresh"
    git("clone", "-q", str(tmp_path / "upstream.git"), str(fresh), cwd=tmp_path)
    assert (fresh / "deps" / "sub").is_dir() and not any((fresh / "deps" / "sub").iterdir())
    check(fresh, False)


def test_worktree(tmp_path: Path, clone: Path) -> None:
    extra = tmp_path / "extra"
    git("worktree", "add", "-q", "-b", "feature", str(extra), cwd=clone)
    c = check(extra, False)
    assert c.root == str(extra.resolve()) and c.branch == "feature"
    assert c.commit == git("rev-parse", "HEAD", cwd=extra).strip()
    assert [r.name for r in c.remotes] == ["origin"]
    (extra / "src" / "main.py").write_text("worktree edit\n")
    check(extra, True)
    check(clone, False)


def test_worktree_uses_common_info_exclude(tmp_path: Path, clone: Path) -> None:
    extra = tmp_path / "extra"
    git("worktree", "add", "-q", "-b", "feature", str(extra), cwd=clone)
    (clone / ".git" / "info").mkdir(exist_ok=True)
    (clone / ".git" / "info" / "exclude").write_text("*.tmp\n")
    (extra / "scratch.tmp").write_text("x")
    check(extra, False)


def test_separate_git_dir(tmp_path: Path, upstream: Path, clone: Path) -> None:
    work = tmp_path / "separate"
    git("clone", "-q", f"--separate-git-dir={tmp_path / 'gitdir'}", str(upstream), str(work), cwd=tmp_path)
    assert (work / ".git").is_file()
    c = check(work, False)
    assert c.commit == git("rev-parse", "HEAD", cwd=clone).strip()
    assert c.remotes[0].contains_head
    (work / "README.md").write_text("edit\n")
    check(work, True)


def test_nested_subdirectory_path(clone: Path) -> None:
    c = coderepo.inspect_checkout(str(clone / "src" / "pkg"))
    assert c.root == str(clone.resolve())
    assert c.subdirectory == "src/pkg"
    assert c.tree == git("rev-parse", "HEAD:src/pkg", cwd=clone).strip()
    file_path = coderepo.inspect_checkout(str(clone / "src" / "pkg" / "util.py"))
    assert file_path.subdirectory == "src/pkg"


def test_new_subdirectory_has_no_tree(clone: Path) -> None:
    (clone / "fresh").mkdir()
    c = coderepo.inspect_checkout(str(clone / "fresh"))
    assert c.subdirectory == "fresh" and c.tree is None


def test_nested_independent_repository(clone: Path) -> None:
    nested = clone / "tools" / "nested"
    nested.mkdir(parents=True)
    git("init", "-q", cwd=nested)
    (nested / "x.py").write_text("x")
    git("add", ".", cwd=nested)
    git("commit", "-q", "-m", "nested", cwd=nested)
    check(clone, True)  # git shows tools/nested/ as untracked
    inner = check(nested, False)
    assert inner.root == str(nested.resolve())


def test_unborn_branch(tmp_path: Path) -> None:
    repo = tmp_path / "unborn"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    c = check(repo, False)
    assert c.commit is None and c.branch == "main" and c.tree is None
    assert c.has_local_changes is True  # nothing pushed
    (repo / "a.txt").write_text("x")
    check(repo, True)
    git("add", "a.txt", cwd=repo)
    check(repo, True)


def test_detached_head(clone: Path) -> None:
    (clone / "README.md").write_text("second\n")
    commit_all(clone)
    git("push", "-q", "origin", "main", cwd=clone)
    git("checkout", "-q", "--detach", "HEAD~1", cwd=clone)
    c = check(clone, False)
    assert c.branch is None
    assert c.commit == git("rev-parse", "HEAD", cwd=clone).strip()
    assert c.has_local_changes is False  # HEAD~1 is contained in origin/main


def test_pushed_not_pushed_and_behind(tmp_path: Path, clone: Path) -> None:
    assert git_pushed(clone)
    assert coderepo.inspect_checkout(str(clone)).has_local_changes is False
    (clone / "README.md").write_text("local only\n")
    commit_all(clone)
    assert not git_pushed(clone)
    c = coderepo.inspect_checkout(str(clone))
    assert c.is_dirty is False and c.has_local_changes is True
    assert c.remote("origin").contains_head is False
    git("push", "-q", "origin", "main", cwd=clone)
    assert coderepo.inspect_checkout(str(clone)).has_local_changes is False
    # another clone moves origin ahead; ours is behind, which is still pushed
    other = tmp_path / "other"
    git("clone", "-q", str(tmp_path / "upstream.git"), str(other), cwd=tmp_path)
    for i in range(3):
        (other / "README.md").write_text(f"ahead {i}\n")
        commit_all(other)
    git("push", "-q", "origin", "main", cwd=other)
    git("fetch", "-q", "origin", cwd=clone)
    assert git_pushed(clone)
    assert coderepo.inspect_checkout(str(clone)).has_local_changes is False


def test_commit_only_on_a_side_branch_of_the_remote(clone: Path) -> None:
    git("checkout", "-q", "-b", "topic", cwd=clone)
    (clone / "topic.txt").write_text("t\n")
    commit_all(clone)
    git("push", "-q", "origin", "topic", cwd=clone)
    git("checkout", "-q", "main", cwd=clone)
    git("merge", "-q", "--no-ff", "-m", "merge", "topic", cwd=clone)
    assert not git_pushed(clone)
    assert coderepo.inspect_checkout(str(clone)).has_local_changes is True
    git("push", "-q", "origin", "main", cwd=clone)
    git("checkout", "-q", "topic", cwd=clone)
    (clone / "topic.txt").write_text("t2\n")
    commit_all(clone)
    git("checkout", "-q", "--detach", "topic~1", cwd=clone)
    assert git_pushed(clone)
    assert coderepo.inspect_checkout(str(clone)).has_local_changes is False


def test_autocrlf_with_crlf_files(tmp_path: Path, upstream: Path, clone: Path) -> None:
    (clone / "dos.txt").write_bytes(b"one\ntwo\n")
    commit_all(clone)
    git("push", "-q", "origin", "main", cwd=clone)
    crlf = tmp_path / "crlf"
    git("-c", "core.autocrlf=true", "clone", "-q", str(upstream), str(crlf), cwd=tmp_path)
    git("config", "core.autocrlf", "true", cwd=crlf)
    assert (crlf / "dos.txt").read_bytes() == b"one\r\ntwo\r\n"
    check(crlf, False)
    # make every entry racy so that contents are hashed, through the CRLF conversion
    index = crlf / ".git" / "index"
    for name in ("dos.txt", "README.md"):
        os.utime(crlf / name, ns=(os.stat(index).st_mtime_ns,) * 2)
    check(crlf, False)
    (crlf / "dos.txt").write_bytes(b"one\r\nTWO\r\n")
    check(crlf, True)


def test_unicode_and_spaces_in_names(clone: Path) -> None:
    (clone / "dossier été").mkdir()
    (clone / "dossier été" / "fichier à lire.txt").write_text("bonjour\n")
    commit_all(clone)
    check(clone, False)
    (clone / "dossier été" / "fichier à lire.txt").write_text("changé\n")
    check(clone, True)
    git("checkout", "-q", ".", cwd=clone)
    (clone / "nouveau ü.txt").write_text("x")
    check(clone, True)


def test_index_version_4(clone: Path) -> None:
    git("update-index", "--index-version", "4", cwd=clone)
    assert (clone / ".git" / "index").read_bytes()[4:8] == b"\x00\x00\x00\x04"
    check(clone, False)
    (clone / "src" / "pkg" / "util.py").write_text("X = 2\n")
    check(clone, True)


def test_long_path_names(clone: Path) -> None:
    deep = clone / ("d" * 200) / ("e" * 200)
    deep.mkdir(parents=True)
    (deep / ("f" * 200 + ".txt")).write_text("long\n")
    commit_all(clone)
    check(clone, False)
    (deep / ("f" * 200 + ".txt")).write_text("longer\n")
    check(clone, True)


def test_invalidated_cache_tree_is_recomputed(clone: Path) -> None:
    # `git add` of a changed file then its revert in HEAD's content keeps the index
    # equal to HEAD while invalidating the cache-tree along the path.
    (clone / "src" / "pkg" / "util.py").write_text("X = 99\n")
    git("add", "src/pkg/util.py", cwd=clone)
    (clone / "src" / "pkg" / "util.py").write_text("X = 1\n")
    git("add", "src/pkg/util.py", cwd=clone)
    check(clone, False)


def test_outside_any_checkout(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(coderepo.NotACheckout, match="is not inside a git checkout"):
        coderepo.inspect_checkout(str(tmp_path / "plain"))
    with pytest.raises(coderepo.UsageError, match="does not exist"):
        coderepo.inspect_checkout(str(tmp_path / "missing"))


@pytest.mark.parametrize("seed", range(12))
def test_random_changes_across_the_split(tmp_path: Path, seed: int, status_mode: str) -> None:
    """Changes anywhere in a larger tree, on either side of the helper's split."""
    import random

    rng = random.Random(seed)
    work = tmp_path / "tree"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    files = []
    for d in range(30):
        folder = work / f"d{d % 5}" / f"sub{d:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(rng.randint(1, 12)):
            (folder / f"f{f}.txt").write_text(f"{d}-{f}\n")
            files.append(folder / f"f{f}.txt")
    (work / "top.txt").write_text("top\n")
    (work / "zzz.txt").write_text("last\n")
    (work / ".gitignore").write_text("*.log\n")
    files += [work / "top.txt", work / "zzz.txt"]
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "tree", cwd=work)
    check(work, False)
    victim = rng.choice(files)
    change = rng.choice(["modify", "delete", "untracked", "ignored", "chmod", "empty dir"])
    if change == "modify":
        victim.write_text("changed!\n")
    elif change == "delete":
        victim.unlink()
    elif change == "untracked":
        (victim.parent / "new.txt").write_text("n")
    elif change == "ignored":
        (victim.parent / "new.log").write_text("n")
    elif change == "chmod":
        os.chmod(victim, 0o755)
    else:
        (victim.parent / "emptydir").mkdir()
    check(work, change in ("modify", "delete", "untracked", "chmod"))


def test_sparse_index(clone: Path) -> None:
    (clone / "docs" / "api").mkdir(parents=True)
    (clone / "docs" / "api" / "index.md").write_text("api\n")
    (clone / "docs" / "guide.md").write_text("guide\n")
    commit_all(clone)
    git("sparse-checkout", "set", "--cone", "--sparse-index", "src/pkg", cwd=clone)
    git("config", "index.sparse", "true", cwd=clone)
    git("sparse-checkout", "reapply", cwd=clone)
    assert "docs/" in git("ls-files", "--sparse", cwd=clone).split()  # a directory entry in the index
    check(clone, False)
    (clone / "src" / "pkg" / "util.py").write_text("X = 3\n")
    check(clone, True)
    git("checkout", "-q", ".", cwd=clone)
    (clone / "src" / "pkg" / "util.py").write_text("X = 99\n")
    git("add", "src/pkg/util.py", cwd=clone)
    check(clone, True)  # staged: the cache-tree is invalidated along src/pkg


def test_tree_of_index_with_sparse_directory_entries() -> None:
    """A sparse index lists whole directories as tree entries; write-tree must use them."""
    import hashlib

    from coderepo.worktree import tree_id

    sub = hashlib.sha1(b"tree 0\0").digest()
    blob = hashlib.sha1(b"blob 2\0a\n").digest()
    entries = [(b"docs/", 0o40000, sub), (b"src/u.py", 0o100644, blob)]
    src = b"100644 u.py\0" + blob
    src_tree = hashlib.sha1(b"tree %d\0" % len(src) + src).digest()
    root = b"40000 docs\0" + sub + b"40000 src\0" + src_tree
    assert tree_id(entries, {}) == hashlib.sha1(b"tree %d\0" % len(root) + root).digest()


def test_split_index_is_a_clear_error(clone: Path) -> None:
    git("update-index", "--split-index", cwd=clone)
    (clone / "README.md").write_text("changed\n")
    git("add", "README.md", cwd=clone)
    with pytest.raises(coderepo.CodeRepoError, match="uses a split index"):
        coderepo.inspect_checkout(str(clone))
    git("update-index", "--no-split-index", cwd=clone)
    check(clone, True)


def test_parallel_mode_really_forks_a_helper(clone: Path, status_mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from coderepo import worktree

    started = []
    real = worktree._Helper.start.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(worktree._Helper, "start", classmethod(lambda cls, check: started.append(1) or real(cls, check)))
    (clone / "src" / "new.py").write_text("x")
    check(clone, True)
    assert len(started) == (1 if status_mode == "parallel" else 0)
