"""The download engine every type's ``download_files`` runs inside.

Whatever the plugin, core guarantees (SPEC section 6):

- the files land in a staging directory next to the destination, which appears by
  one rename: complete or not at all, and an existing destination is never
  half-overwritten;
- the staging directory's git tree id must equal the expected tree (from the
  reference, or reported by the type while downloading); a mismatch is an error
  naming the paths when the type reported its entries;
- verified trees are cached by tree id, and a cached tree costs no network.

Plugins report what a directory listing cannot show (submodule commits, the
expected entries) through :func:`current_session`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import shutil
import tempfile
from typing import Any, Optional

import attrs

from .errors import CodeRepoError, UnknownTypeError, UsageError
from .models import CodeReference, CodeRepository

_HEX40 = re.compile(r"^[0-9a-f]{40}$")


class VerificationError(CodeRepoError):
    """The downloaded files are not the tree they should be."""


@attrs.define
class DownloadSession:
    """Shared state of one download between core and the plugin doing it."""

    commit: str
    subdirectory: str
    expected_tree: Optional[str] = None
    gitlinks: dict[str, str] = attrs.field(factory=dict)
    reported_tree: Optional[str] = None
    reported_entries: Optional[dict[str, tuple[int, str]]] = None
    progress: Any = None

    def report_tree(self, tree: str, entries: Optional[dict[str, tuple[int, str]]] = None) -> None:
        """A plugin that learned the tree id (and its entries: path -> (mode, id)) while
        downloading says so; core then verifies the files against it."""
        self.reported_tree = tree
        self.reported_entries = entries

    def bytes_received(self, count: int) -> None:
        if self.progress is not None:
            self.progress.bytes(count)

    def files_written(self, count: int) -> None:
        if self.progress is not None:
            self.progress.files(count)


_session: contextvars.ContextVar[Optional[DownloadSession]] = contextvars.ContextVar("coderepo_download", default=None)


def current_session() -> DownloadSession:
    """The download in progress (a throwaway session when called outside one)."""
    return _session.get() or DownloadSession(commit="", subdirectory="")


@attrs.frozen
class DownloadResult:
    directory: str
    commit: str
    subdirectory: str
    tree: Optional[str]
    verified: bool
    from_cache: bool
    submodules: dict[str, str]


def _clean_subdirectory(subdirectory: Optional[str]) -> str:
    sub = (subdirectory or "").replace("\\", "/").strip("/")
    parts = [p for p in sub.split("/") if p not in ("", ".")]
    if ".." in parts or (subdirectory or "").startswith("/") and sub != "":
        raise UsageError(f"invalid subdirectory {subdirectory!r}: give a path inside the repository")
    return "/".join(parts)


def _prepare_destination(directory: str, replace: bool) -> str:
    dest = os.path.abspath(directory)
    if os.path.lexists(dest):
        if not os.path.isdir(dest) or os.path.islink(dest):
            raise UsageError(f"{directory} exists and is not a directory")
        if os.listdir(dest) and not replace:
            raise UsageError(f"{directory} exists and is not empty: choose a new directory, or replace it with --force")
    return dest


def _staging_directory(dest: str, directory: str) -> str:
    """An empty directory next to the destination (same file system: one rename)."""
    try:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        return tempfile.mkdtemp(prefix=".coderepo-download-", dir=os.path.dirname(dest))
    except OSError as exc:
        raise UsageError(f"cannot create {directory}: {exc.strerror}") from None


def _move_into_place(staging: str, dest: str) -> None:
    """One rename when the destination is new; a swap through a backup otherwise."""
    if not os.path.lexists(dest):
        os.rename(staging, dest)
        return
    backup = tempfile.mkdtemp(prefix=".coderepo-old-", dir=os.path.dirname(dest))
    os.rmdir(backup)
    os.rename(dest, backup)
    try:
        os.rename(staging, dest)
    except BaseException:
        os.rename(backup, dest)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def download(
    repository: CodeRepository,
    commit: str,
    directory: str,
    subdirectory: Optional[str] = None,
    *,
    expected_tree: Optional[str] = None,
    use_cache: Optional[bool] = None,
    replace: bool = False,
    progress: Any = None,
) -> DownloadResult:
    """Download ``commit:subdirectory`` of ``repository`` into ``directory``, verified."""
    from .cache import TreeCache, cache_enabled
    from .plugins import get_plugin_manager

    commit = commit.strip().lower()
    if not _HEX40.match(commit):
        raise UsageError(f"invalid commit {commit!r}: give the full 40-character id")
    sub = _clean_subdirectory(subdirectory)
    dest = _prepare_destination(directory, replace)
    pm = get_plugin_manager()
    cache = TreeCache() if (cache_enabled() if use_cache is None else use_cache) else None
    # One process fetches a given commit:subdirectory at a time; the others then find it cached.
    lock = cache.lock(f"{commit}-{hashlib.sha1(sub.encode()).hexdigest()[:12]}") if cache else contextlib.nullcontext()
    with lock:
        if cache is not None and expected_tree is None:
            expected_tree = cache.tree_for(commit, sub)  # a commit's trees never change
        staging = _staging_directory(dest, directory)
        try:
            if cache is not None and expected_tree:
                gitlinks = cache.copy_to(expected_tree, staging)
                if gitlinks is not None:
                    _move_into_place(staging, dest)
                    return DownloadResult(dest, commit, sub, expected_tree, True, True, gitlinks)
            session = DownloadSession(commit=commit, subdirectory=sub, expected_tree=expected_tree, progress=progress)
            token = _session.set(session)
            try:
                handled = pm.hook.download_files(
                    repository=repository, commit=commit, directory=staging, repo_sub_directory=sub or None
                )
            finally:
                _session.reset(token)
            if not handled:
                raise UnknownTypeError(f"no installed plugin can download repositories of type {repository.type!r}")
            if progress is not None:
                progress.verifying()
            expected = _verify(staging, session, f"{commit[:12]}:{sub or '.'}")
            if cache is not None and expected is not None:
                cache.put(expected, staging, session.gitlinks)
                cache.remember(commit, sub, expected)
            _move_into_place(staging, dest)
            return DownloadResult(dest, commit, sub, expected, expected is not None, False, dict(session.gitlinks))
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)


def _verify(staging: str, session: DownloadSession, where: str) -> Optional[str]:
    """Check the staged files' tree id; returns the verified tree (None: nothing to check)."""
    from .treehash import differences, tree_id_of_directory

    found: dict[str, tuple[int, str]] = {}
    tree = tree_id_of_directory(staging, session.gitlinks, found)
    if session.reported_tree is not None and tree != session.reported_tree:
        detail = ""
        if session.reported_entries is not None:
            diffs = list(differences(found, session.reported_entries))
            detail = ": " + "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
        raise VerificationError(f"downloaded files of {where} do not match tree {session.reported_tree} (got {tree}){detail}")
    expected = session.expected_tree or session.reported_tree
    if expected is not None and tree != expected:
        source = "the reference records" if session.expected_tree else "expected"
        raise VerificationError(
            f"downloaded files of {where} have tree {tree}, but {source} tree {expected}: "
            "the reference does not belong to this commit, or the host serves other content"
        )
    return expected


def repository_from_reference(reference: CodeReference) -> CodeRepository:
    """The repository a reference names, built without any registry (secrets from the
    environment, as in a container)."""
    import uuid

    from .options import build_config
    from .plugins import get_plugin_manager

    rtype = get_plugin_manager().get_type(reference.type)
    options = dict(reference.config)
    for key in [k for k in options if k.endswith("_env")]:
        var = options.pop(key)
        if os.environ.get(str(var)):
            options[key[: -len("_env")]] = os.environ[str(var)]
    try:
        repo_id = uuid.UUID(reference.repository_id)
    except ValueError:
        raise UsageError(f"invalid repository_id {reference.repository_id!r} in the reference") from None
    config = build_config(reference.type, rtype.config_class, options)
    return CodeRepository(id=repo_id, name=reference.repository, type=reference.type, config=config)


def download_reference(reference: CodeReference, directory: str, **kwargs: Any) -> DownloadResult:
    """Download what a reference recorded; works with no registry at all."""
    repository = repository_from_reference(reference)
    return download(repository, reference.commit, directory, reference.subdirectory, expected_tree=reference.tree, **kwargs)


def download_facade(
    what: Any,
    *args: Any,
    **kwargs: Any,
) -> DownloadResult:
    """``download(reference, directory)`` or ``download(repository, commit, directory,
    subdirectory=None)``: verified and atomic (``coderepo.download``)."""
    if isinstance(what, CodeReference):
        return download_reference(what, *args, **kwargs)
    if isinstance(what, str):
        from .repositories import get_repository

        what = get_repository(what)
    return download(what, *args, **kwargs)
