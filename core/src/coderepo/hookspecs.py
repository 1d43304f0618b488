"""The hooks every coderepo plugin may implement.

A plugin is a module (or object) registered under the entry-point group ``coderepo``::

    [project.entry-points.coderepo]
    bitbucket = "coderepo_bitbucket"

and decorated with :data:`hookimpl`. Implementations of ``login``,
``download_files`` and ``get_local_context`` receive the registered
:class:`~coderepo.models.CodeRepository` and must return ``None`` for repositories
whose ``type`` they do not own: the first non-``None`` answer wins.

Hook signatures only ever grow by new arguments; pluggy passes an implementation
just the arguments it names, so a plugin written today keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import pluggy

if TYPE_CHECKING:
    from .models import CodeRepository, LocalRepositoryContext, RepositoryType

PROJECT_NAME = "coderepo"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def repository_types() -> "list[RepositoryType]":
    """Return the repository types this plugin provides.

    Every plugin implements it; a type name may be claimed by one plugin only.

    Example::

        @attrs.frozen
        class BitbucketConfig:
            workspace: str
            repository: str
            token: Optional[str] = coderepo.secret_field()

        @coderepo.hookimpl
        def repository_types():
            return [coderepo.RepositoryType("bitbucket", BitbucketConfig,
                                            "Bitbucket Cloud repositories")]
    """


@hookspec(firstresult=True)
def login(repository: "CodeRepository") -> Optional[bool]:
    """Check that the repository is reachable with its credentials.

    Return ``True`` when handled; raise :class:`coderepo.AuthenticationError` when
    the host rejects the credentials and :class:`coderepo.RemoteError` when it cannot
    be reached. Return ``None`` for types the plugin does not own.

    Example::

        @coderepo.hookimpl
        def login(repository):
            if repository.type != "bitbucket":
                return None
            client = make_client(repository.config)   # heavy imports go here
            client.get_repository()                   # raises on bad credentials
            return True
    """


@hookspec(firstresult=True)
def download_files(
    repository: "CodeRepository", commit: str, directory: str, repo_sub_directory: Optional[str]
) -> Optional[bool]:
    """Put the files of ``commit:repo_sub_directory`` into ``directory``.

    The subdirectory's contents become the directory's contents (``None`` or ``""``
    means the repository root). ``directory`` is a fresh staging directory: core
    verifies the files' git tree id, moves them into place atomically and caches
    them, so an implementation only writes files. Return ``True`` when handled,
    ``None`` for types the plugin does not own.

    Example::

        @coderepo.hookimpl
        def download_files(repository, commit, directory, repo_sub_directory):
            if repository.type != "bitbucket":
                return None
            from coderepo.extract import extract_tar

            with open_tarball(repository.config, commit) as stream:  # host-specific
                extract_tar(stream, directory, repo_sub_directory or "")
            return True
    """


@hookspec(firstresult=True)
def get_local_context(
    repository: "CodeRepository", path: str
) -> "Optional[LocalRepositoryContext]":
    """Describe the checkout containing ``path`` if it is a clone of ``repository``.

    Return a :class:`~coderepo.models.LocalRepositoryContext` when one of the
    checkout's remotes points at the repository, ``None`` otherwise (also for types
    the plugin does not own).

    Example::

        @coderepo.hookimpl
        def get_local_context(repository, path):
            if repository.type != "bitbucket":
                return None
            wanted = f"{repository.config.workspace}/{repository.config.repository}".lower()

            def matches(url):
                found = coderepo.parse_remote(url)
                return found is not None and found.host == "bitbucket.org" and found.path.lower() == wanted

            return coderepo.context_for_remote(repository, path, matches)
    """
