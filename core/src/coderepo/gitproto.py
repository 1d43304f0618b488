"""The git protocol with dulwich: listing refs, and fetching exactly one commit's files.

Any git server: smart HTTP(S), SSH, git://, local paths and file://.

The plan, the same as ``git clone --depth 1 --filter=blob:none --sparse`` followed by
a checkout of one directory:

1. fetch the commit with depth 1 and, where the server supports protocol v2
   filters, without blobs (``blob:none``): the commit and its trees;
2. walk the wanted subdirectory's tree and fetch the blobs it needs that are not
   there yet, in one request; if the server refuses such wants, fall back to a
   plain depth-1 fetch of the commit;
3. write the files straight from the object store into the target directory.

Packs go to a temporary on-disk object store, so memory stays bounded by the largest
file, whatever the repository's size. Every fetch runs under core's retry policy.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from typing import Any, BinaryIO, Callable, Iterator, Optional

from .errors import AuthenticationError, CodeRepoError, RemoteError, UsageError
from .retry import RetryPolicy, TransientError, policy_from_environment, retry_after_from_headers
from .urls import redact_url

S_IFGITLINK = 0o160000
_HTTP_STATUS = re.compile(r"unexpected http resp (\d+)")


class RefusedWants(RemoteError):
    """The server will not send objects that are not ref tips (or blobs on demand)."""


class _Walker:
    """A graph walker with nothing to offer: we have no objects yet."""

    def __init__(self) -> None:
        self.shallow: set[bytes] = set()

    def ack(self, sha: bytes) -> None:
        pass

    def nak(self) -> None:
        pass

    def next(self) -> None:
        return None

    __next__ = next


def _pool_manager() -> Any:
    """A urllib3 pool that never retries on its own (core's policy does) and keeps
    the headers of the last failed response (for Retry-After)."""
    import urllib3
    from dulwich.client import default_urllib3_manager

    class RecordingPoolManager(urllib3.PoolManager):
        last_error_headers: dict[str, str] = {}

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("retries", urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5))
            response = super().request(method, url, *args, **kwargs)
            if response.status >= 400:
                self.last_error_headers = dict(response.headers)
            return response

    timeout = float(os.environ.get("CODEREPO_HTTP_TIMEOUT", "60"))
    return default_urllib3_manager(config=None, pool_manager_cls=RecordingPoolManager, timeout=timeout)


class GitRemote:
    """One remote repository: a dulwich client plus error mapping and retries."""

    def __init__(
        self,
        url: str,
        username: Optional[str] = None,
        token: Optional[str] = None,
        policy: Optional[RetryPolicy] = None,
        deadline_seconds: Optional[float] = None,
    ) -> None:
        from dulwich.client import get_transport_and_path

        self.url = url
        self.shown = redact_url(url)
        self.policy = policy or policy_from_environment()
        self.deadline_seconds = deadline_seconds or float(os.environ.get("CODEREPO_DOWNLOAD_TIMEOUT", "3600"))
        kwargs: dict[str, Any] = {"quiet": True}
        if "://" in url and url.split("://", 1)[0].lower() in ("http", "https"):
            self.pool = _pool_manager()
            kwargs["pool_manager"] = self.pool
            if username is None and token is None:
                username, token = credentials_for(url)
        else:
            self.pool = None
            ssh_command = os.environ.get("GIT_SSH_COMMAND") or os.environ.get("GIT_SSH")
            if ssh_command:  # as git does; otherwise dulwich reads core.sshCommand, then uses ssh
                kwargs["ssh_command"] = ssh_command
        if token is not None or username is not None:
            kwargs["username"] = username or "git"
            kwargs["password"] = token
        try:
            self.client, self.path = get_transport_and_path(url, **kwargs)
        except ValueError as exc:
            raise UsageError(f"cannot use remote {self.shown}: {exc}") from None
        self.bytes_received = 0
        self.requests = 0

    def fetch(
        self,
        wants: list[bytes],
        sink: BinaryIO,
        *,
        depth: Optional[int] = None,
        filter_spec: Optional[bytes] = None,
        on_bytes: Optional[Callable[[int], None]] = None,
    ) -> None:
        """Fetch a pack of ``wants`` into ``sink`` (a file; retried from scratch)."""

        def attempt() -> None:
            sink.seek(0)
            sink.truncate()
            started = time.monotonic()

            def write(data: bytes) -> None:
                if time.monotonic() - started > self.deadline_seconds:
                    raise RemoteError(f"download from {self.shown} took longer than {self.deadline_seconds:.0f}s")
                sink.write(data)
                self.bytes_received += len(data)
                if on_bytes:
                    on_bytes(len(data))

            with self._errors():
                self.requests += 1
                self.client.fetch_pack(
                    self.path,
                    lambda refs, depth=None: list(wants),  # type: ignore[arg-type,return-value]
                    _Walker(),  # type: ignore[arg-type]
                    write,  # type: ignore[arg-type]
                    depth=depth,
                    filter_spec=filter_spec,
                )
            sink.flush()

        self.policy.run(attempt, f"fetching from {self.shown}")

    def list_refs(self) -> dict[bytes, bytes]:
        """The remote's refs (``git ls-remote``); raises AuthenticationError / RemoteError."""

        def attempt() -> dict[bytes, bytes]:
            with self._errors():
                self.requests += 1
                result: Any = self.client.get_refs(self.path)  # type: ignore[arg-type]
            return dict(getattr(result, "refs", result))

        return self.policy.run(attempt, f"listing the refs of {self.shown}")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn whatever dulwich, urllib3 or the OS raise into coderepo's errors."""
        try:
            yield
        except (CodeRepoError, KeyboardInterrupt):
            raise
        except Exception as exc:
            headers = getattr(self.pool, "last_error_headers", {}) if self.pool else {}
            raise _translate(exc, self.shown, headers) from None


def _translate(exc: Exception, shown: str, headers: dict[str, str]) -> Exception:
    """The error to report for a failure talking to ``shown`` (transient ones are retried)."""
    import struct
    import zlib

    from dulwich.client import HTTPUnauthorized
    from dulwich.errors import ChecksumMismatch, GitProtocolError, HangupException, NotGitRepository

    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, HTTPUnauthorized):
        return AuthenticationError(f"{shown} rejected the credentials: check the repository's username and token")
    if isinstance(exc, NotGitRepository):
        return RemoteError(f"{shown} is not a git repository (or is not visible with these credentials)")
    if isinstance(exc, KeyError):  # a local repository without the object
        return RefusedWants(f"{shown} does not have object {exc}")
    if isinstance(exc, (HangupException, GitProtocolError)) and (
        "not our ref" in text or "not allow" in text or "not valid" in text
    ):
        return RefusedWants(f"{shown} refused the request: {first_line}")
    if isinstance(exc, HangupException):
        return TransientError(f"connection closed by {shown} ({first_line or 'hang-up'})")
    if isinstance(exc, GitProtocolError):
        cause = _network_cause(exc)
        if cause == "connection refused":
            return RemoteError(f"cannot reach {shown}: connection refused")
        if cause is not None:
            return TransientError(f"cannot reach {shown}: {cause}")
        match = _HTTP_STATUS.search(text)
        if match:
            return _http_error(int(match.group(1)), shown, headers)
        return TransientError(f"transfer from {shown} failed: {first_line}")
    if isinstance(exc, ConnectionRefusedError):
        return RemoteError(f"cannot reach {shown}: connection refused")
    if isinstance(exc, (ChecksumMismatch, EOFError, ConnectionError, TimeoutError)):
        return TransientError(f"transfer from {shown} broke off ({type(exc).__name__}: {first_line})")
    if isinstance(exc, OSError):
        return RemoteError(f"cannot reach {shown}: {exc.strerror or first_line}")
    if isinstance(exc, (zlib.error, struct.error, AssertionError, ValueError)) or type(exc).__module__.startswith("urllib3"):
        return TransientError(f"transfer from {shown} was damaged ({type(exc).__name__}: {first_line})")
    return exc


def _http_error(status: int, shown: str, headers: dict[str, str]) -> Exception:
    wait = retry_after_from_headers(headers)
    rate_limited = status == 429 or (status == 403 and (wait is not None or headers.get("X-RateLimit-Remaining") == "0"))
    if status >= 500 or rate_limited:
        return TransientError(f"{shown} answered HTTP {status}", wait)
    if status in (401, 403):
        return AuthenticationError(f"{shown} refused access (HTTP {status})")
    return RemoteError(f"{shown} answered HTTP {status}")


def _network_cause(exc: BaseException) -> Optional[str]:
    """A short reason when ``exc`` comes from a failed connection, else None."""
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text or "Temporary failure in name resolution" in text:
        return "unknown host"
    if "Failed to establish a new connection" in text:
        return "connection failed"
    return None


def credentials_for(url: str) -> tuple[Optional[str], Optional[str]]:
    """Credentials from the URL itself, else from git credential helpers (``store``,
    or external helpers named in ``credential.helper``), else none."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return parts.username, parts.password
    return _from_helpers(parts.scheme, parts.hostname or "", parts.username, parts.path)


def _from_helpers(scheme: str, host: str, username: Optional[str], path: str) -> tuple[Optional[str], Optional[str]]:
    import shlex
    import subprocess

    from dulwich.config import StackedConfig

    try:
        helpers = list(StackedConfig.default().get_multivar((b"credential",), b"helper"))
    except KeyError:
        return username, None
    for raw in helpers:
        helper = raw.decode("utf-8", "replace").strip()
        if not helper:
            continue
        if helper.split()[0] == "store":
            from dulwich.client import get_credentials_from_store

            found = next(iter(get_credentials_from_store(scheme, host, username)), None)
            if found:
                return found
            continue
        if helper.startswith("!"):
            command = [os.environ.get("SHELL", "/bin/sh"), "-c", helper[1:] + ' "$@"', helper, "get"]
        else:
            words = shlex.split(helper)
            program = words[0] if os.path.isabs(words[0]) else f"git-credential-{words[0]}"
            command = [program, *words[1:], "get"]
        request = f"protocol={scheme}\nhost={host}\n" + (f"username={username}\n" if username else "") + "\n"
        try:
            answer = subprocess.run(command, input=request, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        values = dict(line.split("=", 1) for line in answer.splitlines() if "=" in line)
        if values.get("password"):
            return values.get("username", username), values["password"]
    return username, None


def fetch_commit_files(
    remote: GitRemote,
    commit: str,
    subdirectory: str,
    target: str,
    *,
    work_dir: Optional[str] = None,
    on_bytes: Optional[Callable[[int], None]] = None,
    on_file: Optional[Callable[[int], None]] = None,
) -> "CheckedOut":
    """Write the files of ``commit:subdirectory`` into ``target`` (which must exist)."""
    wanted = commit.encode()
    with tempfile.TemporaryDirectory(prefix=".coderepo-packs-", dir=work_dir) as packs:
        first = os.path.join(packs, "commit.pack")
        with open(first, "w+b") as sink:
            _fetch_commit(remote, sink, wanted, True, on_bytes)
        trees, commits, blobs_here = _read_metadata(first)
        if wanted not in commits:
            raise RemoteError(f"{remote.shown} did not send commit {commit}")
        tree_id = _subtree(trees, commits[wanted], subdirectory, commit)
        entries = dict(_walk(trees, tree_id, ""))
        result = CheckedOut(tree_id.decode(), {p: (m, s.decode()) for p, (m, s) in entries.items()})
        paths_by_blob: dict[bytes, list[tuple[str, int]]] = {}
        for path, (mode, sha) in entries.items():
            if mode != S_IFGITLINK:
                paths_by_blob.setdefault(sha, []).append((path, mode))
        _make_directories(target, entries)
        if blobs_here:  # the server ignored the filter: the blobs came with the commit
            _write_blobs(first, paths_by_blob, target, on_file)
        missing = [sha for sha in paths_by_blob if sha not in blobs_here]
        if missing:
            second = os.path.join(packs, "blobs.pack")
            with open(second, "w+b") as sink:
                try:
                    remote.fetch(missing, sink, on_bytes=on_bytes)
                except RefusedWants:  # no blobs on demand: take the whole commit instead
                    _fetch_commit(remote, sink, wanted, False, on_bytes)
            _write_blobs(second, {sha: paths_by_blob[sha] for sha in missing}, target, on_file)
        return result


class CheckedOut:
    """What was written: the tree id, and every entry by path (mode, id)."""

    def __init__(self, tree: str, entries: dict[str, tuple[int, str]]) -> None:
        self.tree = tree
        self.entries = entries

    @property
    def gitlinks(self) -> dict[str, str]:
        return {p: sha for p, (mode, sha) in self.entries.items() if mode == S_IFGITLINK}


def _fetch_commit(remote: GitRemote, sink: BinaryIO, commit: bytes, without_blobs: bool, on_bytes: Any) -> None:
    try:
        remote.fetch([commit], sink, depth=1, filter_spec=b"blob:none" if without_blobs else None, on_bytes=on_bytes)
    except RefusedWants:
        raise RemoteError(
            f"{remote.shown} does not serve commit {commit.decode()}: it may not exist there, or the "
            "server only serves branch and tag tips (allow uploadpack.allowAnySHA1InWant)"
        ) from None


class _PackObject:
    """One object of a pack, deltas applied: type number, hex id and content chunks."""

    __slots__ = ("type_num", "sha", "chunks")

    def __init__(self, type_num: int, sha: bytes, chunks: list[bytes]) -> None:
        self.type_num = type_num
        self.sha = sha
        self.chunks = chunks


_BASE_CACHE_BYTES = 32 << 20


def _objects(pack_path: str) -> Iterator[_PackObject]:
    """Every object of a pack file, deltas resolved, read sequentially with plain
    reads (no memory map): memory holds one object (and its delta bases), plus a
    small cache of recent bases, whatever the pack's size. The trailing checksum
    is verified, so a truncated pack is an error."""
    import hashlib
    from collections import OrderedDict

    from dulwich.pack import OFS_DELTA, REF_DELTA, PackStreamReader, apply_delta, unpack_object

    if os.path.getsize(pack_path) == 0:
        return
    offsets_by_sha: dict[bytes, int] = {}
    cache: OrderedDict[int, tuple[int, list[bytes]]] = OrderedDict()
    cached_bytes = 0
    with open(pack_path, "rb") as stream, open(pack_path, "rb") as random_access:

        def remember(offset: int, type_num: int, chunks: list[bytes]) -> None:
            nonlocal cached_bytes
            size = sum(len(c) for c in chunks)
            if size > _BASE_CACHE_BYTES // 4:
                return
            cache[offset] = (type_num, chunks)
            cached_bytes += size
            while cached_bytes > _BASE_CACHE_BYTES:
                _off, (_t, old) = cache.popitem(last=False)
                cached_bytes -= sum(len(c) for c in old)

        def resolve(offset: int) -> tuple[int, list[bytes]]:
            """An earlier object's type and content, re-read from the file if needed."""
            found = cache.get(offset)
            if found is not None:
                cache.move_to_end(offset)
                return found
            random_access.seek(offset)
            unpacked, _unused = unpack_object(random_access.read, hashlib.sha1)
            return resolved(offset, unpacked)

        def resolved(offset: int, unpacked: Any) -> tuple[int, list[bytes]]:
            if unpacked.pack_type_num == OFS_DELTA:
                base_type, base = resolve(offset - unpacked.delta_base)
            elif unpacked.pack_type_num == REF_DELTA:
                base_offset = offsets_by_sha.get(unpacked.delta_base)
                if base_offset is None:
                    raise RemoteError("the server sent a delta against an object it did not send")
                base_type, base = resolve(base_offset)
            else:
                return unpacked.pack_type_num, unpacked.decomp_chunks
            chunks = apply_delta(base, unpacked.decomp_chunks)
            remember(offset, base_type, chunks)
            return base_type, chunks

        reader = PackStreamReader(hashlib.sha1, stream.read)
        for unpacked in reader.read_objects():
            assert unpacked.offset is not None
            type_num, chunks = resolved(unpacked.offset, unpacked)
            header = b"%s %d\0" % (_TYPE_NAMES[type_num], sum(len(c) for c in chunks))
            digest = hashlib.sha1(header)
            for chunk in chunks:
                digest.update(chunk)
            raw = digest.digest()
            offsets_by_sha[raw] = unpacked.offset
            if unpacked.pack_type_num not in (OFS_DELTA, REF_DELTA):
                remember(unpacked.offset, type_num, chunks)
            yield _PackObject(type_num, raw.hex().encode(), chunks)


_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}


def _read_metadata(pack_path: str) -> tuple[dict[bytes, Any], dict[bytes, bytes], set[bytes]]:
    """Trees and commits of a pack (kept in memory: small), and which blobs it has."""
    from dulwich.objects import Commit, Tree

    trees: dict[bytes, Any] = {}
    commits: dict[bytes, bytes] = {}
    blobs: set[bytes] = set()
    for obj in _objects(pack_path):
        if obj.type_num == Tree.type_num:
            trees[obj.sha] = Tree.from_raw_chunks(Tree.type_num, obj.chunks)
        elif obj.type_num == Commit.type_num:
            commit: Any = Commit.from_raw_chunks(Commit.type_num, obj.chunks)
            commits[obj.sha] = commit.tree
        elif obj.type_num == 3:
            blobs.add(obj.sha)
    return trees, commits, blobs


def _subtree(trees: dict[bytes, Any], root_tree: bytes, subdirectory: str, commit: str) -> bytes:
    sha = root_tree
    walked = []
    for part in [p for p in subdirectory.split("/") if p]:
        walked.append(part)
        tree = trees.get(sha)
        if tree is None:
            raise RemoteError(f"tree {sha.decode()} of commit {commit} was not sent")
        try:
            mode, sha = tree[part.encode()]
        except KeyError:
            raise UsageError(f"{subdirectory} does not exist in commit {commit}") from None
        if not stat.S_ISDIR(mode):
            raise UsageError(f"{'/'.join(walked)} is not a directory in commit {commit}")
    return sha


def _walk(trees: dict[bytes, Any], tree_id: bytes, prefix: str) -> Iterator[tuple[str, tuple[int, bytes]]]:
    tree = trees.get(tree_id)
    if tree is None:
        raise RemoteError(f"tree {tree_id.decode()} was not sent")
    for entry in tree.iteritems():
        path = prefix + entry.path.decode("utf-8", "surrogateescape")
        if stat.S_ISDIR(entry.mode):
            yield from _walk(trees, entry.sha, path + "/")
        else:
            yield path, (entry.mode, entry.sha)


def _make_directories(target: str, entries: dict[str, tuple[int, bytes]]) -> None:
    directories = {os.path.dirname(p) for p in entries} | {p for p, (m, _s) in entries.items() if m == S_IFGITLINK}
    for directory in sorted(d for d in directories if d):
        os.makedirs(os.path.join(target, *directory.split("/")), exist_ok=True)


def _write_blobs(
    pack_path: str, paths_by_blob: dict[bytes, list[tuple[str, int]]], target: str, on_file: Any
) -> None:
    """Write each wanted blob of a pack to every path that holds it."""
    for obj in _objects(pack_path):
        if obj.type_num != 3:
            continue
        places = paths_by_blob.get(obj.sha)
        if not places:
            continue
        chunks = obj.chunks
        for path, mode in places:
            full = os.path.join(target, *path.split("/"))
            if stat.S_ISLNK(mode):
                os.symlink(b"".join(chunks), os.fsencode(full))
            else:
                perm = 0o755 if mode & 0o100 else 0o644
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
                with os.fdopen(fd, "wb") as f:
                    f.writelines(chunks)
                if perm == 0o755:
                    os.chmod(full, perm)
            if on_file:
                on_file(1)
