"""Is a work tree dirty, exactly as ``git status`` sees it, and fast.

The answer comes in four steps, cheapest first, stopping at the first difference:

1. every index entry's stat data against ``lstat`` of the file (only entries whose
   stat data differ, or that are racily clean, have their content hashed), and
   unmerged or intent-to-add entries;
2. submodules: dirty when checked out at another commit or dirty themselves;
3. untracked, non-ignored files: a directory whose entry count equals the number
   of tracked names in it cannot hold one, so only the other directories are read;
4. the index against HEAD's tree, through the index's cache-tree (TREE extension),
   hashing only the directories it has invalidated.

``lstat`` of every tracked file dominates. git spreads it over threads, which
Python's GIL would serialise, so on large indexes a forked helper process takes the
second half of the index (steps 1 to 3 for the directories wholly inside it) while
this process takes the first half; the few directories that straddle the split are
finished here with the names the helper reports. Either side stops at the first
difference.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import select
import signal
import stat
from typing import Any, Callable, Optional, Protocol

from . import gitindex as gi
from .errors import CodeRepoError
from .treehash import blob_id, blob_id_of_file

S_IFGITLINK = 0o160000
PARALLEL_MIN_ENTRIES = 8192  # below this, forking costs more than it saves
HEAD_SHARE = 0.45  # of the entries, for this process (it also loads plugins and finishes the straddling directories)
POLL_EVERY = 1024
WORKERS_ENV = "CODEREPO_STATUS_WORKERS"
_NUL_SNIFF = 8000


class Dirty(Exception):
    """Raised internally at the first difference; carries a short reason."""


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


class _Share:
    """What one process learns from its range of index entries."""

    def __init__(self) -> None:
        self.names: dict[bytes, list[bytes]] = {}  # directory -> tracked names directly in it
        self.unsure: set[bytes] = set()  # directories with skip-worktree / assume-unchanged entries
        self.gitlinks: list[tuple[bytes, bytes]] = []
        self.last_path = b""

    def directories(self) -> dict[bytes, list[bytes]]:
        """Every directory with tracked content -> its subdirectories with tracked content."""
        children: dict[bytes, list[bytes]] = {b"": []}
        linked = {b""}
        for directory in self.names:
            while directory not in linked:  # link it, then its parents, up to the root
                linked.add(directory)
                children.setdefault(directory, [])
                slash = directory.rfind(b"/")
                parent = directory[:slash] if slash >= 0 else b""
                children.setdefault(parent, []).append(directory)
                directory = parent
        return children

    def report(self, straddling: set[bytes]) -> dict[bytes, tuple[list[bytes], list[bytes], bool]]:
        """For the straddling directories: names, subdirectories, unsure (sent to the other side)."""
        children = self.directories()
        return {
            d: (self.names.get(d, []), children.get(d, []), d in self.unsure)
            for d in straddling
            if d in children
        }


class RepositoryAccess(Protocol):
    """What status needs of the repository, loaded lazily (see checkout._Repository)."""

    @property
    def settings(self) -> WorktreeSettings: ...

    @property
    def head_tree(self) -> Optional[bytes]: ...

    def ignored(self, rel: str) -> bool: ...

    def submodule_dirty(self, rel: str, sha: bytes) -> Optional[str]: ...


class WorktreeStatus:
    """Checks one work tree against its index and HEAD's tree."""

    def __init__(self, root: str, index_path: str, repository: "RepositoryAccess") -> None:
        self.root = os.fsencode(root)
        self.index_path = index_path
        self.repository = repository
        self._reader: Optional[gi.IndexReader] = None
        self._index_mtime_s = 0
        self._helper: Optional[_Helper] = None
        self._split = 0

    def first_difference(self) -> Optional[str]:
        """A short description of the first difference found, or None when clean."""
        self.start()
        return self.finish()

    def start(self) -> None:
        """Read the index and start the helper, so that the caller can do other work
        (load plugins, read the registry) while the helper checks its half."""
        try:
            with open(self.index_path, "rb") as f:
                data = f.read()
                self._index_mtime_s = os.fstat(f.fileno()).st_mtime_ns // 1_000_000_000
        except FileNotFoundError:
            data = b""
        self._reader = reader = gi.IndexReader(data) if data else None
        if reader is not None and _has_shared_index(self.index_path) and b"link" in reader.extensions():
            raise CodeRepoError(
                f"{os.fsdecode(self.root)} uses a split index, which coderepo cannot read yet: "
                "run 'git update-index --no-split-index' there"
            )
        total = self._split = reader.count if reader else 0
        if reader is None or total < max(2, PARALLEL_MIN_ENTRIES) or not _can_fork():
            return
        split = self._split = min(total - 1, max(1, int(total * HEAD_SHARE)))

        def helper() -> Any:
            before = reader.position(split - 1)
            (last, _f, _x), (first, _f, _x) = reader.entries(before, 2)
            straddling = _common_directories(last, first)
            position = reader.position(split, start=before)
            share = self._scan(reader, position, total - split, None)
            self._check_submodules(share)
            self._check_directories(share, skip=straddling)
            return {"end": reader._end, "straddling": share.report(straddling)}

        self._helper = _Helper.start(helper)

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

    # -- the steps --------------------------------------------------------------------

    def _check(self) -> None:
        reader, helper = self._reader, self._helper
        if reader is None:
            if self.repository.head_tree is not None:
                raise Dirty("staged: every file deleted from the index")
            self._check_directories(_Share(), skip=set())
            return
        poll = helper.poll if helper else None
        share = self._scan(reader, None, self._split, poll)
        straddling: set[bytes] = set()
        if helper:
            assert reader.resume is not None
            (first, _f, _x), = reader.entries(reader.resume, 1)
            straddling = _common_directories(share.last_path, first)
        self._check_submodules(share)
        self._check_directories(share, skip=straddling, poll=poll)
        end = None
        if helper:
            report = helper.result()
            self._check_straddling(share, straddling, report["straddling"])
            end = report["end"]
        self._check_staged(reader, end)

    def _scan(
        self,
        reader: gi.IndexReader,
        start: Optional[gi.Position],
        count: int,
        poll: Optional[Callable[[], None]],
    ) -> _Share:
        """Step 1 for ``count`` entries from ``start``, recording names for step 3."""
        share = _Share()
        names, unsure, gitlinks = share.names, share.unsure, share.gitlinks
        get = names.get
        lstat = os.lstat
        prefix = self.root + b"/"
        trustctime = self.repository.settings.trustctime
        mode_mask = 0o170100 if self.repository.settings.filemode else 0o170000
        index_mtime_s = self._index_mtime_s
        countdown = POLL_EVERY
        for path, f, flags2 in reader.entries(start, count):
            slash = path.rfind(b"/")
            parent = path[:slash] if slash >= 0 else b""
            in_parent = get(parent)
            if in_parent is None:
                names[parent] = in_parent = []
            in_parent.append(path[slash + 1 :])
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
                    unsure.add(parent)
                    continue
            if flags & gi.ASSUME_VALID:
                unsure.add(parent)
                continue
            mode = f[gi.MODE]
            if mode == S_IFGITLINK:
                gitlinks.append((path, f[gi.SHA]))
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
        if count:
            share.last_path = path
        return share

    def _check_submodules(self, share: _Share) -> None:
        """Step 2."""
        for path, sha in share.gitlinks:
            reason = self.repository.submodule_dirty(os.fsdecode(path), sha)
            if reason:
                raise Dirty(reason)

    def _check_directories(
        self, share: _Share, skip: set[bytes], poll: Optional[Callable[[], None]] = None
    ) -> None:
        """Step 3 for the directories wholly inside this share."""
        children = share.directories()
        for count, directory in enumerate(children):
            if directory in skip:
                continue
            if poll is not None and not count % 64:
                poll()
            self._check_directory(
                directory, share.names.get(directory, ()), children[directory], directory in share.unsure
            )

    def _check_straddling(
        self, share: _Share, straddling: set[bytes], reported: dict[bytes, tuple[list[bytes], list[bytes], bool]]
    ) -> None:
        """Step 3 for the directories with tracked names on both sides of the split."""
        children = share.directories()
        for directory in straddling:
            names, subdirs, unsure = reported.get(directory, ([], [], False))
            self._check_directory(
                directory,
                [*share.names.get(directory, ()), *names],
                list({*children.get(directory, ()), *subdirs}),
                unsure or directory in share.unsure,
            )

    def _check_directory(self, rel: bytes, files: Any, subdirs: Any, unsure: bool) -> None:
        """Raise Dirty if directory ``rel`` holds an untracked, non-ignored file."""
        full = self.root + b"/" + rel if rel else self.root
        try:
            listed = os.listdir(full)
        except (FileNotFoundError, NotADirectoryError):
            return  # a directory of skip-worktree entries only
        expected = len(files) + len(subdirs) + (0 if rel else 1)  # + .git at the root
        if not unsure and len(listed) == expected and (rel or b".git" in listed):
            return  # every tracked name exists (step 1), so there is no other name
        known = set(files)
        known.update(d[d.rfind(b"/") + 1 :] for d in subdirs)
        for name in listed:
            if name in known or (not rel and name == b".git"):
                continue
            self._check_untracked_path(rel + b"/" + name if rel else name)

    def _compare_content(self, path: bytes, full: bytes, st: os.stat_result, mode: int, sha: bytes) -> None:
        """Stat data cannot vouch for this entry: compare type, mode and content."""
        name = os.fsdecode(path)
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK and not self.repository.settings.symlinks:
            kind = stat.S_IFREG
        if stat.S_IFMT(st.st_mode) != kind:
            raise Dirty(f"typechange: {name}")
        if kind == stat.S_IFREG and self.repository.settings.filemode and bool(st.st_mode & 0o100) != bool(mode & 0o100):
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
            if self.repository.settings.autocrlf and b"\r\n" in content and b"\0" not in content[:_NUL_SNIFF]:
                if blob_id(content.replace(b"\r\n", b"\n")) == sha:
                    return
        elif blob_id_of_file(full, st.st_size) == sha:
            return
        raise Dirty(f"modified: {name}")

    def _check_staged(self, reader: gi.IndexReader, end: Optional[int] = None) -> None:
        """Step 4."""
        cache = gi.cache_tree(reader.extensions(end).get(b"TREE", b""))
        index_tree = cache.get(b"")
        if index_tree is None:
            entries = [(p, f[gi.MODE], f[gi.SHA]) for p, f, flags2 in reader.entries()]
            index_tree = tree_id(entries, cache) if entries else None
        head_tree = self.repository.head_tree
        if head_tree is None:
            if index_tree is not None:
                raise Dirty("staged: new files on an unborn branch")
        elif index_tree != head_tree and not (index_tree is None and head_tree == EMPTY_TREE):
            raise Dirty("staged: the index differs from HEAD")

    def _check_untracked_path(self, child: bytes) -> None:
        """An untracked name: dirty unless ignored (or a directory with no files in it)."""
        full = self.root + b"/" + child
        name = os.fsdecode(child)
        is_dir = os.path.isdir(full) and not os.path.islink(full)
        if self.repository.ignored(name + "/" if is_dir else name):
            return
        if not is_dir:
            raise Dirty(f"untracked: {name}")
        if os.path.lexists(os.path.join(full, b".git")):
            raise Dirty(f"untracked: {name}/")
        for entry in os.listdir(full):
            self._check_untracked_path(child + b"/" + entry)



def _has_shared_index(index_path: str) -> bool:
    """Whether a split index's shared part sits next to the index (cheap to ask)."""
    try:
        return any(name.startswith("sharedindex.") for name in os.listdir(os.path.dirname(index_path)))
    except OSError:
        return False


def _common_directories(a: bytes, b: bytes) -> set[bytes]:
    """The directories containing both paths (the root included)."""
    result = {b""}
    parts_a, parts_b = a.split(b"/")[:-1], b.split(b"/")[:-1]
    for i, (x, y) in enumerate(zip(parts_a, parts_b)):
        if x != y:
            break
        result.add(b"/".join(parts_a[: i + 1]))
    return result


def _can_fork() -> bool:
    """Fork only where it is safe and cheap: POSIX, one thread, not disabled."""
    import threading

    if os.environ.get(WORKERS_ENV, "2") == "1" or not hasattr(os, "fork"):
        return False
    return threading.active_count() == 1


class _Helper:
    """A forked process that runs one check and sends back its report or difference."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.done = False
        self.report: Any = None

    @classmethod
    def start(cls, check: Callable[[], Any]) -> "_Helper":
        import gc

        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper: never return into the caller's code
            code = 0
            try:
                gc.disable()  # short-lived: no collections touching (and copying) shared pages
                os.close(read_fd)
                try:
                    message = b"C" + marshal.dumps(check())
                except Dirty as exc:
                    message = b"D" + (str(exc) or "different").encode("utf-8", "surrogateescape")
                except BaseException as exc:
                    message = b"E" + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(message)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        return cls(pid, read_fd)

    def poll(self) -> None:
        """Raise Dirty now if the helper has already found a difference."""
        if not self.done and select.select([self.fd], [], [], 0)[0]:
            self.result()

    def result(self) -> Any:
        """The helper's report when its part is clean; raises Dirty with its difference."""
        if not self.done:
            with os.fdopen(self.fd, "rb") as pipe:
                message = pipe.read()
            os.waitpid(self.pid, 0)
            self.done = True
            kind, body = message[:1], message[1:]
            if kind == b"C":
                self.report = marshal.loads(body)
            elif kind == b"D":
                self.report = Dirty(body.decode("utf-8", "surrogateescape"))
            else:
                error = body.decode("utf-8", "replace") or "died without an answer"
                self.report = RuntimeError(f"status helper process failed: {error}")
        if isinstance(self.report, BaseException):
            raise self.report
        return self.report

    def stop(self) -> None:
        """Make sure the helper is gone (after an error, or an early answer here)."""
        if self.done:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.done = True


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
            if mode == 0o40000 and slash == len(path) - 1:  # a sparse-index directory entry
                parts.append(b"40000 %s\0%s" % (path[skip:slash], sha))
                i += 1
                continue
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
