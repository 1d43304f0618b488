"""Fetching exactly one commit's files over the git protocol, with dulwich.

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

import os
import re
import stat
import tempfile
import time
from typing import Any, Callable, Iterator, Optional

from .errors import AuthenticationError, RemoteError, UsageError
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
                RecordingPoolManager.last_error_headers = dict(response.headers)
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
        store: Any,
        *,
        depth: Optional[int] = None,
        filter_spec: Optional[bytes] = None,
        on_bytes: Optional[Callable[[int], None]] = None,
    ) -> None:
        """Fetch ``wants`` into ``store`` (retrying transient failures from scratch)."""

        def attempt() -> None:
            f, commit, abort = store.add_pack()
            started = time.monotonic()

            def write(data: bytes) -> None:
                if time.monotonic() - started > self.deadline_seconds:
                    raise RemoteError(f"download from {self.shown} took longer than {self.deadline_seconds:.0f}s")
                f.write(data)
                self.bytes_received += len(data)
                if on_bytes:
                    on_bytes(len(data))

            try:
                with self._errors():
                    self.requests += 1
                    self.client.fetch_pack(
                        self.path,
                        lambda refs, depth=None: list(wants),
                        _Walker(),
                        write,
                        depth=depth,
                        filter_spec=filter_spec,
                    )
                    commit()
            except BaseException:
                try:
                    abort()
                except (OSError, ValueError):
                    pass
                raise

        self.policy.run(attempt, f"fetching from {self.shown}")

    def _errors(self) -> Any:
        import contextlib

        @contextlib.contextmanager
        def mapping() -> Iterator[None]:
            from dulwich.client import HTTPUnauthorized
            from dulwich.errors import (
                ChecksumMismatch,
                GitProtocolError,
                HangupException,
                NotGitRepository,
            )

            try:
                yield
            except HTTPUnauthorized:
                raise AuthenticationError(
                    f"{self.shown} rejected the credentials: check the repository's username and token"
                ) from None
            except NotGitRepository:
                raise RemoteError(f"{self.shown} is not a git repository (or is not visible with these credentials)") from None
            except HangupException as exc:
                text = str(exc)
                if "not our ref" in text or "not allow" in text or "not valid" in text:
                    raise RefusedWants(f"{self.shown} refused the request: {text.strip()}") from None
                raise TransientError(f"connection closed by {self.shown} ({text.strip() or 'hang-up'})") from None
            except GitProtocolError as exc:
                text = str(exc).strip()
                match = _HTTP_STATUS.search(text)
                if match:
                    status = int(match.group(1))
                    headers = getattr(self.pool, "last_error_headers", {}) if self.pool else {}
                    wait = retry_after_from_headers(headers)
                    limited = status == 429 or (status == 403 and (wait is not None or headers.get("X-RateLimit-Remaining") == "0"))
                    if status >= 500 or limited:
                        raise TransientError(f"{self.shown} answered HTTP {status}", wait) from None
                    if status in (401, 403):
                        raise AuthenticationError(f"{self.shown} refused access (HTTP {status})") from None
                    raise RemoteError(f"{self.shown} answered HTTP {status}") from None
                if "not our ref" in text or "not allow" in text or "want" in text and "invalid" in text:
                    raise RefusedWants(f"{self.shown} refused the request: {text}") from None
                raise TransientError(f"transfer from {self.shown} failed: {text.splitlines()[0] if text else 'protocol error'}") from None
            except (ChecksumMismatch, EOFError, ConnectionError, TimeoutError) as exc:
                raise TransientError(f"transfer from {self.shown} broke off ({type(exc).__name__}: {exc})") from None
            except OSError as exc:
                raise RemoteError(f"cannot reach {self.shown}: {exc.strerror or exc}") from None
            except Exception as exc:
                import struct
                import zlib

                if isinstance(exc, KeyError):
                    raise RefusedWants(f"{self.shown} does not have object {exc}") from None
                if isinstance(exc, (zlib.error, struct.error, AssertionError, ValueError)) or type(
                    exc
                ).__module__.startswith("urllib3"):
                    raise TransientError(f"transfer from {self.shown} was damaged ({type(exc).__name__}: {exc})") from None
                raise

        return mapping()


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
    from dulwich.object_store import DiskObjectStore

    wanted = commit.encode()
    with tempfile.TemporaryDirectory(prefix=".coderepo-objects-", dir=work_dir) as objects:
        store = DiskObjectStore.init(objects)
        try:
            filtered = bool(subdirectory)
            _fetch_commit(remote, store, wanted, filtered, on_bytes)
            root_tree = store[wanted].tree
            tree_id = _subtree(store, root_tree, subdirectory, commit)
            entries = dict(_walk(store, tree_id, ""))
            missing = [sha for mode, sha in entries.values() if mode != S_IFGITLINK and sha not in store]
            if missing:
                try:
                    remote.fetch(missing, store, on_bytes=on_bytes)
                except RefusedWants:
                    _fetch_commit(remote, store, wanted, False, on_bytes)
            result = CheckedOut(tree_id.decode(), {p: (m, s.decode()) for p, (m, s) in entries.items()})
            _write(store, entries, target, on_file)
            return result
        finally:
            store.close()


class CheckedOut:
    """What was written: the tree id, and every entry by path (mode, id)."""

    def __init__(self, tree: str, entries: dict[str, tuple[int, str]]) -> None:
        self.tree = tree
        self.entries = entries

    @property
    def gitlinks(self) -> dict[str, str]:
        return {p: sha for p, (mode, sha) in self.entries.items() if mode == S_IFGITLINK}


def _fetch_commit(remote: GitRemote, store: Any, commit: bytes, without_blobs: bool, on_bytes: Any) -> None:
    try:
        remote.fetch([commit], store, depth=1, filter_spec=b"blob:none" if without_blobs else None, on_bytes=on_bytes)
    except RefusedWants:
        raise RemoteError(
            f"{remote.shown} does not serve commit {commit.decode()}: it may not exist there, or the "
            "server only serves branch and tag tips (allow uploadpack.allowAnySHA1InWant)"
        ) from None
    if commit not in store:
        raise RemoteError(f"{remote.shown} did not send commit {commit.decode()}")


def _subtree(store: Any, root_tree: bytes, subdirectory: str, commit: str) -> bytes:
    if not subdirectory:
        return root_tree
    from dulwich.object_store import tree_lookup_path

    try:
        mode, sha = tree_lookup_path(store.__getitem__, root_tree, subdirectory.encode())
    except KeyError:
        raise UsageError(f"{subdirectory} does not exist in commit {commit}") from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"{subdirectory} is not a directory in commit {commit}")
    return sha


def _walk(store: Any, tree_id: bytes, prefix: str) -> Iterator[tuple[str, tuple[int, bytes]]]:
    for entry in store[tree_id].iteritems():
        path = prefix + entry.path.decode("utf-8", "surrogateescape")
        if stat.S_ISDIR(entry.mode):
            yield from _walk(store, entry.sha, path + "/")
        else:
            yield path, (entry.mode, entry.sha)


def _write(store: Any, entries: dict[str, tuple[int, bytes]], target: str, on_file: Any) -> None:
    made: set[str] = set()
    for path, (mode, sha) in entries.items():
        full = os.path.join(target, *path.split("/"))
        parent = os.path.dirname(full)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        if mode == S_IFGITLINK:
            os.makedirs(full, exist_ok=True)  # as git archive does: an empty directory
            continue
        blob = store[sha]
        if stat.S_ISLNK(mode):
            os.symlink(blob.as_raw_string(), full.encode() if isinstance(full, str) else full)
        else:
            perm = 0o755 if mode & 0o100 else 0o644
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
            with os.fdopen(fd, "wb") as f:
                for chunk in blob.as_raw_chunks():
                    f.write(chunk)
            if perm == 0o755:
                os.chmod(full, perm)
        if on_file:
            on_file(1)
