"""A local cache of downloaded trees, keyed by git tree id, under $CODEREPO_HOME.

An entry is a directory holding exactly the files of one verified tree, plus a small
JSON file (gitlinks); ``commits/`` maps commit:subdirectory to tree ids, which never
change, so that a download by commit finds the cache too. Entries appear by atomic rename, so readers see whole entries
only; a per-tree file lock makes concurrent downloads of one tree fetch it once.
Downloads *copy* files out of the cache, never hard-link them: editing downloaded
files must not change the cache. ``CODEREPO_CACHE=off`` turns the cache off.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from .files import coderepo_home

CACHE_ENV = "CODEREPO_CACHE"


def cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "on").lower() not in ("off", "0", "false", "no")


class TreeCache:
    def __init__(self, root: Optional[Path] = None) -> None:
        self.root = Path(root) if root is not None else coderepo_home() / "cache" / "trees"

    def _entry(self, tree: str) -> Path:
        return self.root / tree[:2] / tree

    def lock(self, key: str) -> Any:
        """An inter-process lock for one download (key: commit and subdirectory)."""
        import filelock

        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(self.root / "locks" / f"{key}.lock"), timeout=3600)

    def get(self, tree: str) -> Optional[tuple[Path, dict[str, str]]]:
        """The entry's directory and its gitlinks, if the tree is cached."""
        entry = self._entry(tree)
        try:
            meta = json.loads((entry.parent / f"{tree}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        if not entry.is_dir():
            return None
        return entry, dict(meta.get("gitlinks", {}))

    def copy_to(self, tree: str, target: str) -> Optional[dict[str, str]]:
        """Copy a cached tree's files into ``target`` (an empty directory)."""
        found = self.get(tree)
        if found is None:
            return None
        entry, gitlinks = found
        copy_files(str(entry), target)
        return gitlinks

    def put(self, tree: str, source: str, gitlinks: dict[str, str]) -> None:
        """Store a verified tree (a copy of ``source``); a no-op if already there."""
        entry = self._entry(tree)
        if entry.is_dir():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{tree}.", dir=entry.parent)
        try:
            copy_files(source, staging)
            meta = entry.parent / f"{tree}.json"
            tmp_meta = Path(staging + ".json")
            tmp_meta.write_text(json.dumps({"gitlinks": gitlinks}))
            os.rename(staging, entry)
            os.replace(tmp_meta, meta)
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in (39, 17):  # ENOTEMPTY / EEXIST: another process stored it first
                raise
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)
            if os.path.exists(staging + ".json"):
                os.unlink(staging + ".json")

    # -- commit:subdirectory -> tree, so that a download by commit finds the cache too

    def _commit_file(self, commit: str) -> Path:
        return self.root.parent / "commits" / commit[:2] / f"{commit}.json"

    def tree_for(self, commit: str, subdirectory: str) -> Optional[str]:
        try:
            return json.loads(self._commit_file(commit).read_text()).get(subdirectory)
        except (FileNotFoundError, ValueError, AttributeError):
            return None

    def remember(self, commit: str, subdirectory: str, tree: str) -> None:
        from .files import atomic_write_text

        path = self._commit_file(commit)
        try:
            known = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            known = {}
        if known.get(subdirectory) != tree:
            known[subdirectory] = tree
            atomic_write_text(path, json.dumps(known, sort_keys=True))


def copy_files(source: str, target: str) -> None:
    """Copy a tree of files (regular files, their executable bit, symlinks and
    directories; nothing else matters to git) with as few system calls as possible.
    Always real copies: never hard links."""
    with os.scandir(source) as entries:
        for entry in entries:
            destination = os.path.join(target, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), destination)
            elif entry.is_dir():
                os.mkdir(destination)
                copy_files(entry.path, destination)
            else:
                mode = 0o755 if entry.stat().st_mode & 0o100 else 0o644
                source_fd = os.open(entry.path, os.O_RDONLY)
                try:
                    target_fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                    try:
                        _copy_contents(source_fd, target_fd)
                    finally:
                        os.close(target_fd)
                finally:
                    os.close(source_fd)


def _copy_contents(source_fd: int, target_fd: int) -> None:
    """sendfile (in the kernel) where the system allows it, plain reads otherwise."""
    size = os.fstat(source_fd).st_size
    copied = 0
    try:
        while copied < size:
            sent = os.sendfile(target_fd, source_fd, copied, size - copied)
            if sent == 0:
                break
            copied += sent
    except OSError:
        os.lseek(source_fd, copied, os.SEEK_SET)
        os.lseek(target_fd, copied, os.SEEK_SET)
        while chunk := os.read(source_fd, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(target_fd, view) :]
