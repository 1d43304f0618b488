"""Local checkout inspection on dulwich: root, HEAD, branch, dirtiness, remotes, trees.

Needs no registry and no git binary. ``inspect_checkout(path)`` is the registry-free
answer; :mod:`coderepo.context` matches it against registered repositories.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Optional

import attrs

from .errors import NotACheckout, UsageError


@attrs.frozen
class Remote:
    """A configured remote: ``url`` after ``url.<base>.insteadOf`` rewriting."""

    name: str
    url: str
    configured_url: str
    contains_head: bool


@attrs.frozen
class Checkout:
    """What a checkout looks like locally (SPEC section 3 and 11)."""

    root: str
    git_dir: str
    commit: Optional[str]
    branch: Optional[str]
    is_dirty: bool
    dirty_reason: Optional[str]
    remotes: tuple[Remote, ...]
    subdirectory: str
    tree: Optional[str]

    @property
    def has_local_changes(self) -> bool:
        """Dirty, or HEAD is in no remote-tracking ref of any remote."""
        return self.is_dirty or not any(r.contains_head for r in self.remotes)

    def remote(self, name: str) -> Optional[Remote]:
        return next((r for r in self.remotes if r.name == name), None)


def find_root(path: str) -> tuple[str, str]:
    """The checkout root containing ``path`` and the absolute, real ``path`` itself."""
    full = os.path.realpath(os.path.abspath(path))
    if not os.path.exists(full):
        raise UsageError(f"path {path} does not exist")
    directory = full if os.path.isdir(full) else os.path.dirname(full)
    probe = directory
    while True:
        if os.path.lexists(os.path.join(probe, ".git")):
            return probe, directory
        parent = os.path.dirname(probe)
        if parent == probe:
            raise NotACheckout(f"{path} is not inside a git checkout (no .git in it or any parent)")
        probe = parent


def inspect_checkout(path: str = ".") -> Checkout:
    """Inspect the checkout containing ``path`` (raises NotACheckout outside one)."""
    return begin_inspection(path).result()


class PendingInspection:
    """An inspection whose work-tree check runs while the caller does other work.

    ``begin_inspection`` starts the parallel part of the status check as early as
    possible (before dulwich is even imported); ``result()`` completes it. Call
    ``cancel()`` if ``result()`` will not be called.
    """

    def __init__(self, root: str, directory: str) -> None:
        self.directory = directory
        self.repository = _Repository(root)
        self.worktree = self.repository.worktree_status()
        self.worktree.start()

    def cancel(self) -> None:
        self.worktree.cancel()
        self.repository.close()

    def result(self) -> Checkout:
        try:
            repository = self.repository
            repo = repository.repo
            reason = self.worktree.finish()
            chain, head = repository.head
            branch = None
            if len(chain) > 1 and chain[-1].startswith(b"refs/heads/"):
                branch = chain[-1][len(b"refs/heads/") :].decode("utf-8", "replace")
            subdirectory = os.path.relpath(self.directory, repository.root).replace(os.sep, "/")
            if subdirectory == ".":
                subdirectory = ""
            head_tree = repository.head_tree
            tree = _subtree(repo, head_tree, subdirectory) if head_tree is not None else None
            return Checkout(
                root=repository.root,
                git_dir=os.path.abspath(repo.controldir()),
                commit=head.decode() if head else None,
                branch=branch,
                is_dirty=reason is not None,
                dirty_reason=reason,
                remotes=_remotes(repo, repository.config, head),
                subdirectory=subdirectory,
                tree=tree.hex() if tree else None,
            )
        finally:
            self.cancel()


def begin_inspection(path: str = ".") -> PendingInspection:
    """Find the checkout of ``path`` and start checking its work tree."""
    root, directory = find_root(path)
    return PendingInspection(root, directory)


class _Repository:
    """A checkout's dulwich repository and what status needs of it, each loaded on
    first use, in whichever process needs it first (the status helper is forked
    before dulwich is imported, so both processes import it in parallel)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._repo: Any = None
        self._config: Any = None
        self._settings: Any = None
        self._ignore: Any = None
        self._head: Optional[tuple[list[bytes], Optional[bytes]]] = None
        self._head_tree: Optional[bytes] = None

    @property
    def repo(self) -> Any:
        if self._repo is None:
            from dulwich.errors import NotGitRepository
            from dulwich.repo import Repo

            try:
                self._repo = Repo(self.root)
            except (NotGitRepository, OSError, ValueError) as exc:
                raise NotACheckout(f"{self.root} has a .git that dulwich cannot open: {exc}") from None
        return self._repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()

    @property
    def config(self) -> Any:
        if self._config is None:
            self._config = self.repo.get_config_stack()
        return self._config

    @property
    def settings(self) -> Any:
        if self._settings is None:
            from .worktree import WorktreeSettings

            self._settings = WorktreeSettings(self.config)
        return self._settings

    @property
    def head(self) -> tuple[list[bytes], Optional[bytes]]:
        if self._head is None:
            self._head = _head(self.repo)
        return self._head

    @property
    def head_tree(self) -> Optional[bytes]:
        if self._head_tree is None and self.head[1]:
            self._head_tree = _tree_of(self.repo, self.head[1])
        return self._head_tree

    def ignored(self, rel: str) -> bool:
        if self._ignore is None:
            self._ignore = _ignore_manager(self.repo, self.config)
        return self._ignore.is_ignored(rel) is True

    def submodule_dirty(self, rel: str, sha: bytes) -> Optional[str]:
        return _submodule_difference(self.root, rel, sha)

    def worktree_status(self) -> Any:
        from .worktree import WorktreeStatus

        return WorktreeStatus(self.root, os.path.join(_git_dir(self.root), "index"), self)


def _git_dir(root: str) -> str:
    """The git directory of a checkout: ``.git``, or where a ``.git`` file points
    (worktrees, submodules, --separate-git-dir)."""
    dotgit = os.path.join(root, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError as exc:
        raise NotACheckout(f"cannot read {dotgit}: {exc.strerror}") from None
    if not line.startswith("gitdir:"):
        raise NotACheckout(f"{dotgit} is neither a directory nor a 'gitdir:' file")
    return os.path.normpath(os.path.join(root, line[len("gitdir:") :].strip()))


def _head(repo: Any) -> tuple[list[bytes], Optional[bytes]]:
    try:
        chain, sha = repo.refs.follow(b"HEAD")
    except KeyError:
        return [], None
    return list(chain), sha


def _tree_of(repo: Any, commit: bytes) -> Optional[bytes]:
    try:
        return bytes.fromhex(repo.object_store[commit].tree.decode())
    except KeyError:
        return None


def _subtree(repo: Any, root_tree: bytes, subdirectory: str) -> Optional[bytes]:
    if not subdirectory:
        return root_tree
    from dulwich.object_store import tree_lookup_path

    try:
        mode, sha = tree_lookup_path(
            repo.object_store.__getitem__, root_tree.hex().encode(), subdirectory.encode()  # type: ignore[arg-type]
        )
    except (KeyError, NotADirectoryError):
        return None
    if mode != 0o40000:
        return None
    return bytes.fromhex(sha.decode())


def _ignore_manager(repo: Any, config: Any) -> Any:
    from dulwich.ignore import IgnoreFilter, IgnoreFilterManager, default_user_ignore_filter_path

    filters = []
    for path in (
        os.path.join(repo.commondir(), "info", "exclude"),
        os.path.expanduser(default_user_ignore_filter_path(config)),
    ):
        try:
            filters.append(IgnoreFilter.from_path(path))
        except OSError:
            pass
    try:
        ignorecase = bool(config.get_boolean(b"core", b"ignorecase", False))
    except (KeyError, ValueError):
        ignorecase = False
    return IgnoreFilterManager(repo.path, filters, ignorecase)


def _submodule_difference(root: str, rel: str, sha: bytes) -> Optional[str]:
    """Why a submodule makes its parent dirty, or None (also when not checked out)."""
    path = os.path.join(root, rel)
    if not os.path.lexists(os.path.join(path, ".git")):
        return None
    sub = _Repository(path)
    try:
        try:
            head = sub.head[1]
        except NotACheckout:
            return f"submodule not readable: {rel}"
        if head != sha.hex().encode():
            return f"submodule at another commit: {rel}"
        if sub.worktree_status().first_difference() is not None:
            return f"submodule modified: {rel}"
    finally:
        sub.close()
    return None


def _remotes(repo: Any, config: Any, head: Optional[bytes]) -> tuple[Remote, ...]:
    from dulwich.config import apply_instead_of

    remotes = []
    for section in config.sections():
        if len(section) != 2 or section[0] != b"remote":
            continue
        try:
            configured = config.get(section, b"url").decode("utf-8", "replace")
        except KeyError:
            continue
        name = section[1].decode("utf-8", "replace")
        remotes.append(
            Remote(
                name=name,
                url=apply_instead_of(config, configured),
                configured_url=configured,
                contains_head=head is not None and _remote_contains(repo, section[1], head),
            )
        )
    return tuple(sorted(remotes, key=lambda r: r.name))


def _remote_contains(repo: Any, remote: bytes, head: bytes) -> bool:
    """Whether HEAD is an ancestor of (or equal to) a ref in refs/remotes/<remote>/."""
    base = b"refs/remotes/" + remote + b"/"
    tips = set()
    for name in repo.refs.keys(base=base):
        try:
            tips.add(repo.refs[base + name])
        except KeyError:
            continue
    if head in tips:
        return True
    seen = set(tips)
    queue = deque(tips)
    store = repo.object_store
    while queue:
        sha = queue.popleft()
        try:
            parents = store[sha].parents
        except KeyError:  # shallow clone: history ends here
            continue
        for parent in parents:
            if parent == head:
                return True
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return False
