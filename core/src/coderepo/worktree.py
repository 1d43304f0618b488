"""Is a work tree dirty, exactly as ``git status`` sees it, and fast.

The answer comes in four steps, cheapest first, stopping at the first difference:

1. every index entry's stat data against ``lstat`` of the file (only entries whose
   stat data differ, or that are racily clean, have their content hashed);
2. unmerged and intent-to-add entries;
3. the index against HEAD's tree, through the index's cache-tree (TREE extension),
   hashing only the directories it has invalidated;
4. untracked, non-ignored files: a directory whose entry count equals the number
   of tracked names in it cannot hold one, so only other directories are listed.

Submodules are dirty when checked out at another commit or dirty themselves.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any, Callable, Optional

from . import gitindex as gi

S_IFGITLINK = 0o160000
PARALLEL_MIN_ENTRIES = 8192  # below this, forking costs more than it saves
HEAD_SHARE = 0.42  # this process also records names and walks; the helper only checks
POLL_EVERY = 1024
WORKERS_ENV = "CODEREPO_STATUS_WORKERS"
_HASH_CHUNK = 1 << 20
_NUL_SNIFF = 8000


class Dirty(Exception):
    """Raised internally at the first difference; carries a short reason."""


def blob_id(data: bytes) -> bytes:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).digest()


def _file_blob_id(path: bytes, size: int) -> bytes:
    h = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.digest()


class WorktreeSettings:
    """The config values status depends on."""

    def __init__(self, config: Any) -> None:
        def boolean(section: bytes, name: bytes, default: bool) -> bool:
            try:
                return bool(config.get_boolean(section, name, default))
            except (KeyError, ValueError):
                return default

        self.filemode = boolean(b"core", b"fileMode", True)
        self.trustctime = boolean(b"core", b"trustctime", True)
        self.symlinks = boolean(b"core", b"symlinks", True)
        try:
            autocrlf = config.get(b"core", b"autocrlf").lower()
        except KeyError:
            autocrlf = b"false"
        self.autocrlf = autocrlf in (b"true", b"input")


class WorktreeStatus:
    """Checks one work tree against its index and HEAD's tree."""

    def __init__(
        self,
        root: str,
        index_path: str,
        head_tree: Optional[bytes],
        settings: WorktreeSettings,
        ignored: Callable[[str], bool],
        submodule_dirty: Callable[[str, bytes], Optional[str]],
    ) -> None:
        self.root = os.fsencode(root)
        self.index_path = index_path
        self.head_tree = head_tree
        self.settings = settings
        self.ignored = ignored
        self.submodule_dirty = submodule_dirty

        self._reader: Optional[gi.IndexReader] = None
        self._index_mtime_s = 0
        self._helper: Optional[_Helper] = None
        self._split = 0
        self._position: Optional[gi.Position] = None

    def first_difference(self) -> Optional[str]:
        """A short description of the first difference found, or None when clean."""
        self.start()
        return self.finish()

    def start(self) -> None:
        """Read the index and start the helper, so that the caller can do other work
        (load plugins, read the registry) while it checks the tail of the index.

        ``lstat`` of every tracked file dominates; git spreads it over threads, which
        Python's GIL would serialise, so a forked helper checks the tail of the index
        while this process checks the head, records names for step 4 and polls the
        helper, stopping as soon as either finds a difference.
        """
        try:
            with open(self.index_path, "rb") as f:
                data = f.read()
                self._index_mtime_s = os.fstat(f.fileno()).st_mtime_ns // 1_000_000_000
        except FileNotFoundError:
            data = b""
        self._reader = reader = gi.IndexReader(data) if data else None
        total = self._split = reader.count if reader else 0
        if reader is not None and total >= PARALLEL_MIN_ENTRIES and _can_fork():
            split = self._split = int(total * HEAD_SHARE)
            position = self._position = reader.position(split)
            mtime = self._index_mtime_s
            self._helper = _Helper.start(
                lambda: self._scan(reader, position, total - split, mtime, None, None, None, None)
            )

    def finish(self) -> Optional[str]:
        """Complete the check started by :meth:`start`; None when clean."""
        try:
            self._check()
        except Dirty as exc:
            return str(exc)
        finally:
            self.cancel()
        return None

    def cancel(self) -> None:
        """Stop the helper, if any (after an error, or once the answer is known)."""
        if self._helper is not None:
            self._helper.stop()

    # -- the four steps ---------------------------------------------------------------

    def _check(self) -> None:
        reader = self._reader
        names: dict[bytes, list[bytes]] = {}
        unsure_dirs: set[bytes] = set()
        gitlinks: list[tuple[bytes, bytes]] = []
        if reader is not None:
            self._check_entries(reader, names, unsure_dirs, gitlinks)
            self._check_staged(reader)
        elif self.head_tree is not None:
            raise Dirty("staged: every file deleted from the index")
        for path, sha in gitlinks:
            reason = self.submodule_dirty(os.fsdecode(path), sha)
            if reason:
                raise Dirty(reason)
        self._check_untracked(names, unsure_dirs)

    def _check_entries(
        self,
        reader: gi.IndexReader,
        names: dict[bytes, list[bytes]],
        unsure_dirs: set[bytes],
        gitlinks: list[tuple[bytes, bytes]],
    ) -> None:
        """Steps 1 and 2: this process's share of the entries, then the helper's answer."""
        helper, split = self._helper, self._split
        poll = helper.poll if helper else None
        self._scan(reader, None, split, self._index_mtime_s, names, unsure_dirs, gitlinks, poll)
        if helper:
            assert self._position is not None
            self._record(reader, self._position, reader.count - split, names, unsure_dirs, gitlinks)
            reason = helper.result()
            if reason:
                raise Dirty(reason)

    def _record(
        self,
        reader: gi.IndexReader,
        start: gi.Position,
        count: int,
        names: dict[bytes, list[bytes]],
        unsure_dirs: set[bytes],
        gitlinks: list[tuple[bytes, bytes]],
    ) -> None:
        """Names, unsure directories and submodules of entries the helper checks."""
        get = names.get
        for path, f, flags2 in reader.entries(start, count):
            slash = path.rfind(b"/")
            parent = path[:slash] if slash >= 0 else b""
            in_parent = get(parent)
            if in_parent is None:
                names[parent] = in_parent = []
            in_parent.append(path)
            if flags2 & gi.SKIP_WORKTREE or f[gi.FLAGS] & gi.ASSUME_VALID:
                unsure_dirs.add(parent)
            elif f[gi.MODE] == S_IFGITLINK:
                gitlinks.append((path, f[gi.SHA]))

    def _scan(
        self,
        reader: gi.IndexReader,
        start: Optional[gi.Position],
        count: int,
        index_mtime_s: int,
        names: Optional[dict[bytes, list[bytes]]],
        unsure_dirs: Optional[set[bytes]],
        gitlinks: Optional[list[tuple[bytes, bytes]]],
        poll: Optional[Callable[[], None]],
    ) -> None:
        """Check ``count`` entries from ``start``; record names unless ``names`` is None."""
        lstat = os.lstat
        prefix = self.root + b"/"
        trustctime = self.settings.trustctime
        mode_mask = 0o170100 if self.settings.filemode else 0o170000
        record = names is not None
        get = names.get if names is not None else None
        countdown = POLL_EVERY
        for path, f, flags2 in reader.entries(start, count):
            if record:
                slash = path.rfind(b"/")
                parent = path[:slash] if slash >= 0 else b""
                in_parent = get(parent)  # type: ignore[misc]
                if in_parent is None:
                    names[parent] = in_parent = []  # type: ignore[index]
                in_parent.append(path)
            if poll is not None:
                countdown -= 1
                if not countdown:
                    countdown = POLL_EVERY
                    poll()
            flags = f[gi.FLAGS]
            if flags & gi.STAGE_MASK:
                raise Dirty(f"unmerged: {os.fsdecode(path)}")
            if flags2:
                if flags2 & gi.INTENT_TO_ADD:
                    raise Dirty(f"added: {os.fsdecode(path)}")
                if flags2 & gi.SKIP_WORKTREE:
                    if record:
                        unsure_dirs.add(parent)  # type: ignore[union-attr]
                    continue
            if flags & gi.ASSUME_VALID:
                if record:
                    unsure_dirs.add(parent)  # type: ignore[union-attr]
                continue
            mode = f[gi.MODE]
            if mode == S_IFGITLINK:
                if record:
                    gitlinks.append((path, f[gi.SHA]))  # type: ignore[union-attr]
                continue
            try:
                st = lstat(prefix + path)
            except (FileNotFoundError, NotADirectoryError):
                raise Dirty(f"deleted: {os.fsdecode(path)}") from None
            if (
                st.st_mtime_ns != f[gi.MTIME_S] * 1_000_000_000 + f[gi.MTIME_NS]
                or st.st_size & 0xFFFFFFFF != f[gi.SIZE]
                or st.st_ino & 0xFFFFFFFF != f[gi.INO]
                or (trustctime and st.st_ctime_ns != f[gi.CTIME_S] * 1_000_000_000 + f[gi.CTIME_NS])
                or f[gi.MTIME_S] >= index_mtime_s
                or (st.st_mode ^ mode) & mode_mask
            ):
                self._compare_content(path, prefix + path, st, mode, f[gi.SHA])

    def _compare_content(self, path: bytes, full: bytes, st: os.stat_result, mode: int, sha: bytes) -> None:
        """Stat data cannot vouch for this entry: compare type, mode and content."""
        name = os.fsdecode(path)
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK and not self.settings.symlinks:
            kind = stat.S_IFREG
        if stat.S_IFMT(st.st_mode) != kind:
            raise Dirty(f"typechange: {name}")
        if kind == stat.S_IFREG and self.settings.filemode and bool(st.st_mode & 0o100) != bool(mode & 0o100):
            raise Dirty(f"mode changed: {name}")
        if stat.S_ISLNK(st.st_mode):
            if blob_id(os.readlink(full)) != sha:
                raise Dirty(f"modified: {name}")
            return
        if st.st_size <= 64 << 20:
            with open(full, "rb") as f:
                content = f.read()
            if blob_id(content) == sha:
                return
            if self.settings.autocrlf and b"\r\n" in content and b"\0" not in content[:_NUL_SNIFF]:
                if blob_id(content.replace(b"\r\n", b"\n")) == sha:
                    return
        elif _file_blob_id(full, st.st_size) == sha:
            return
        raise Dirty(f"modified: {name}")

    def _check_staged(self, reader: gi.IndexReader) -> None:
        cache = gi.cache_tree(reader.extensions().get(b"TREE", b""))
        index_tree = cache.get(b"")
        if index_tree is None:
            entries = [(p, f[gi.MODE], f[gi.SHA]) for p, f, flags2 in reader.entries()]
            index_tree = tree_id(entries, cache) if entries else None
        if self.head_tree is None:
            if index_tree is not None:
                raise Dirty("staged: new files on an unborn branch")
        elif index_tree != self.head_tree and not (index_tree is None and self.head_tree == EMPTY_TREE):
            raise Dirty("staged: the index differs from HEAD")

    def _check_untracked(self, tracked: dict[bytes, list[bytes]], unsure_dirs: set[bytes]) -> None:
        children: dict[bytes, list[bytes]] = {}
        known = {b""}
        for directory in list(tracked):
            while directory not in known:
                known.add(directory)
                slash = directory.rfind(b"/")
                parent = directory[:slash] if slash >= 0 else b""
                children.setdefault(parent, []).append(directory)
                directory = parent
        root = self.root
        stack = [b""]
        while stack:
            rel = stack.pop()
            full = root + b"/" + rel if rel else root
            try:
                names = os.listdir(full)
            except (FileNotFoundError, NotADirectoryError):
                continue  # a directory of skip-worktree entries only
            subdirs = children.get(rel, ())
            files = tracked.get(rel, ())
            expected = len(files) + len(subdirs) + (0 if rel else 1)  # + .git at the root
            if rel not in unsure_dirs and len(names) == expected and (rel or b".git" in names):
                stack.extend(subdirs)
                continue
            # The slow path: look at each name that is not tracked.
            known = {*files, *subdirs}
            for name in names:
                child = rel + b"/" + name if rel else name
                if child in known or (not rel and name == b".git"):
                    continue
                self._check_untracked_path(child)
            stack.extend(subdirs)

    def _check_untracked_path(self, child: bytes) -> None:
        """An untracked name: dirty unless ignored (or a directory with no files in it)."""
        full = self.root + b"/" + child
        name = os.fsdecode(child)
        is_dir = os.path.isdir(full) and not os.path.islink(full)
        if self.ignored(name + "/" if is_dir else name):
            return
        if not is_dir:
            raise Dirty(f"untracked: {name}")
        if os.path.lexists(os.path.join(full, b".git")):
            raise Dirty(f"untracked: {name}/")
        for entry in os.listdir(full):
            self._check_untracked_path(child + b"/" + entry)


def _can_fork() -> bool:
    """Fork only where it is safe and cheap: POSIX, one thread, not disabled."""
    import threading

    if os.environ.get(WORKERS_ENV, "2") == "1" or not hasattr(os, "fork"):
        return False
    return threading.active_count() == 1


class _Helper:
    """A forked process that runs one check and reports its first difference."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.answer: Optional[str] = None  # set once the helper has been reaped

    @classmethod
    def start(cls, check: Callable[[], None]) -> "_Helper":
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper: never return into the caller's code
            code = 0
            try:
                os.close(read_fd)
                try:
                    check()
                    reason = ""
                except Dirty as exc:
                    reason = str(exc) or "different"
                except BaseException as exc:
                    reason = f"error: {type(exc).__name__}: {exc}"
                os.write(write_fd, b"R" + reason.encode("utf-8", "surrogateescape"))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        return cls(pid, read_fd)

    def poll(self) -> None:
        """Raise Dirty now if the helper has already found a difference."""
        import select

        if self.answer is None and select.select([self.fd], [], [], 0)[0]:
            reason = self.result()
            if reason:
                raise Dirty(reason)

    def result(self) -> str:
        """Wait for the helper's answer: a difference, or "" when its part is clean."""
        if self.answer is not None:
            return self.answer
        chunks = []
        while chunk := os.read(self.fd, 65536):
            chunks.append(chunk)
        os.close(self.fd)
        os.waitpid(self.pid, 0)
        message = b"".join(chunks)
        self.answer = ""
        if not message.startswith(b"R"):
            raise RuntimeError("status helper process died without an answer")
        reason = message[1:].decode("utf-8", "surrogateescape")
        if reason.startswith("error: "):
            raise RuntimeError(f"status helper failed: {reason[7:]}")
        self.answer = reason
        return reason

    def stop(self) -> None:
        """Make sure the helper is gone (after an error or an early answer here)."""
        if self.answer is not None:
            return
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.answer = ""


EMPTY_TREE = bytes.fromhex("4b825dc642cb6eb9a060e54bf8d69288fbee4904")


def tree_id(entries: list[tuple[bytes, int, bytes]], cache: dict[bytes, Optional[bytes]]) -> bytes:
    """The tree id ``git write-tree`` would give for sorted index entries.

    Valid cache-tree subtrees are reused, so only invalidated directories are hashed.
    Index order is git's tree order, so entries need no sorting.
    """

    def build(directory: bytes, start: int, end: int, skip: int) -> bytes:
        cached = cache.get(directory)
        if cached is not None:
            return cached
        parts = []
        i = start
        while i < end:
            path, mode, sha = entries[i]
            slash = path.find(b"/", skip)
            if slash < 0:
                parts.append(b"%o %s\0%s" % (mode, path[skip:], sha))
                i += 1
                continue
            sub = path[: slash + 1]
            j = i + 1
            while j < end and entries[j][0].startswith(sub):
                j += 1
            parts.append(b"40000 %s\0%s" % (path[skip:slash], build(path[:slash], i, j, slash + 1)))
            i = j
        content = b"".join(parts)
        return hashlib.sha1(b"tree %d\0" % len(content) + content).digest()

    return build(b"", 0, len(entries), 0)
