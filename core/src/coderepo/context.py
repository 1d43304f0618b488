"""From a path to the registered repository it belongs to, and to a CodeReference.

Plugins decide only whether a remote URL is their repository
(:func:`context_for_remote` takes that decision as a function); the checkout is
inspected once per facade call, however many repositories are registered.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Any, Callable, Iterator, Optional

import attrs

from .checkout import Checkout, begin_inspection, inspect_checkout
from .errors import CodeRepoError, NotACheckout, UsageError
from .models import CodeReference, CodeRepository, LocalRepositoryContext

_inspections: contextvars.ContextVar[Optional[dict[str, Checkout]]] = contextvars.ContextVar(
    "coderepo_inspections", default=None
)


@contextlib.contextmanager
def inspection_scope() -> Iterator[None]:
    """Within this scope each checkout is inspected once (hooks share the result)."""
    token = _inspections.set({})
    try:
        yield
    finally:
        _inspections.reset(token)


def checkout_of(path: str) -> Checkout:
    """inspect_checkout, cached for the current inspection scope."""
    cache = _inspections.get()
    if cache is None:
        return inspect_checkout(path)
    key = os.path.realpath(os.path.abspath(path))
    if key not in cache:
        cache[key] = inspect_checkout(path)
    return cache[key]


def context_for_remote(
    repository: CodeRepository, path: str, matches: Callable[[str], bool]
) -> Optional[LocalRepositoryContext]:
    """The context of ``path``'s checkout if one of its remotes ``matches`` (else None).

    This is all a plugin's ``get_local_context`` needs: ``matches(url)`` says whether
    a remote URL (after ``insteadOf`` rewriting) is this repository. With several
    matching remotes, one that contains HEAD wins, then ``origin``, then by name.
    """
    try:
        checkout = checkout_of(path)
    except NotACheckout:
        return None
    candidates = [r for r in checkout.remotes if _safe_match(matches, r.url)]
    if not candidates:
        return None
    remote = sorted(candidates, key=lambda r: (not r.contains_head, r.name != "origin", r.name))[0]
    return LocalRepositoryContext(
        repository=repository,
        root=checkout.root,
        commit=checkout.commit,
        branch=checkout.branch,
        is_dirty=checkout.is_dirty,
        has_local_changes=checkout.is_dirty or not remote.contains_head,
        remote=remote.name,
        remote_url=remote.url,
    )


def _safe_match(matches: Callable[[str], bool], url: str) -> bool:
    try:
        return bool(matches(url))
    except Exception:
        return False


def local_context(path: str = ".", registry: Any = None) -> Optional[LocalRepositoryContext]:
    """The context of the registered repository that ``path``'s checkout is a clone of."""
    return _match(path, registry)[1]


def _match(path: str, registry: Any = None) -> tuple[Checkout, Optional[LocalRepositoryContext]]:
    with inspection_scope():
        # Import and load plugins and the registry while the work-tree check runs.
        pending = begin_inspection(path)
        try:
            from .repositories import list_repositories

            repositories = list_repositories(registry)
        except BaseException:
            pending.cancel()
            raise
        checkout = pending.result()
        _inspections.get()[os.path.realpath(os.path.abspath(path))] = checkout  # type: ignore[index]
        if not repositories:
            return checkout, None
        from .plugins import get_plugin_manager

        hook = get_plugin_manager().hook.get_local_context
        for repository in repositories:
            context = hook(repository=repository, path=path)
            if context is not None:
                return checkout, context
    return checkout, None


@attrs.frozen
class Status:
    """What ``coderepo status`` reports about a path."""

    checkout: Checkout
    context: Optional[LocalRepositoryContext]

    @property
    def has_local_changes(self) -> bool:
        return self.context.has_local_changes if self.context else self.checkout.has_local_changes

    @property
    def pushed(self) -> bool:
        """HEAD is in a remote-tracking ref of the matching remote (of any, unmatched)."""
        if self.context is not None and self.context.remote is not None:
            remote = self.checkout.remote(self.context.remote)
            return bool(remote and remote.contains_head)
        return any(r.contains_head for r in self.checkout.remotes)

    @property
    def reasons(self) -> list[str]:
        """Why the code at this path cannot be downloaded elsewhere (empty: it can)."""
        c = self.checkout
        reasons = []
        if c.commit is None:
            reasons.append("no commit yet (unborn branch)")
        if c.is_dirty:
            reasons.append(f"uncommitted changes ({c.dirty_reason})")
        if self.context is None:
            remotes = ", ".join(f"{r.name} {r.url}" for r in c.remotes) or "none"
            reasons.append(f"no registered repository matches the remotes (remotes: {remotes})")
        elif c.commit is not None and not self.pushed:
            reasons.append(f"commit {c.commit[:12]} is not pushed to {self.context.remote}")
        if c.commit is not None and c.tree is None:
            reasons.append(f"{c.subdirectory} is not in commit {c.commit[:12]}")
        return reasons

    @property
    def downloadable(self) -> bool:
        return not self.reasons

    def reference(self) -> CodeReference:
        """The reference a run records; raises DirtyCheckoutError or UsageError."""
        from .options import config_to_options

        checkout, context = self.checkout, self.context
        if checkout.commit is None:
            raise DirtyCheckoutError(f"{checkout.root} has no commit yet: commit your code first")
        if checkout.is_dirty:
            raise DirtyCheckoutError(
                f"{checkout.root} has uncommitted changes ({checkout.dirty_reason}): commit or stash them first"
            )
        if context is None:
            remotes = ", ".join(f"{r.name} {r.url}" for r in checkout.remotes) or "no remotes"
            raise UsageError(
                f"no registered repository matches {checkout.root} ({remotes}); register it with "
                "'coderepo register NAME --type TYPE ...'"
            )
        if checkout.tree is None:
            raise UsageError(f"{checkout.subdirectory} is not part of commit {checkout.commit}")
        repository = context.repository
        return CodeReference(
            repository=repository.name,
            repository_id=str(repository.id),
            type=repository.type,
            commit=checkout.commit,
            subdirectory=checkout.subdirectory,
            tree=checkout.tree,
            config={**config_to_options(repository.config), **_secret_variables(repository.name)},
        )

    def to_dict(self) -> dict[str, Any]:
        c = self.checkout
        return {
            "root": c.root,
            "commit": c.commit,
            "branch": c.branch,
            "is_dirty": c.is_dirty,
            "dirty_reason": c.dirty_reason,
            "has_local_changes": self.has_local_changes,
            "pushed": self.pushed,
            "subdirectory": c.subdirectory,
            "tree": c.tree,
            "repository": self.context.repository.name if self.context else None,
            "remote": self.context.remote if self.context else None,
            "remote_url": self.context.remote_url if self.context else None,
            "remotes": {r.name: r.url for r in c.remotes},
            "downloadable": self.downloadable,
            "reasons": self.reasons,
        }


def _secret_variables(name: str) -> dict[str, str]:
    """``<secret>_env`` entries for secrets registered as environment variables: a
    container reading the reference takes them from its own environment."""
    from .registry import Registry

    try:
        entry = Registry().get(name)
    except CodeRepoError:
        return {}
    return {f"{field}_env": ref["env"] for field, ref in entry.secrets.items() if "env" in ref}


def status(path: str = ".", registry: Any = None) -> Status:
    checkout, context = _match(path, registry)
    return Status(checkout, context)


class DirtyCheckoutError(CodeRepoError):
    """A reference was asked for a checkout with uncommitted changes."""


def reference(path: str = ".", registry: Any = None) -> CodeReference:
    """The CodeReference of the code at ``path``; raises when it cannot be reproduced.

    A commit that is not pushed is not an error here (the caller may push it next);
    ``status(path).has_local_changes`` tells, and the CLI warns.
    """
    return status(path, registry).reference()
