"""The built-in ``git`` type: any git server, reached over the git protocol by dulwich.

Registered through the ``coderepo`` entry-point group like every other plugin.
"""

from __future__ import annotations

import os
from typing import Optional

import attrs

from .errors import ConfigError
from .hookspecs import hookimpl
from .models import CodeRepository, LocalRepositoryContext, RepositoryType
from .options import secret_field
from .urls import parse_remote, url_password

TYPE_NAME = "git"


def _check_url(instance: object, attribute: "attrs.Attribute[str]", value: str) -> None:
    if not value.strip():
        raise ConfigError("option --url must not be empty")
    if url_password(value):
        raise ConfigError(
            "option --url contains a password: pass it with --token or --token-env=VAR instead, "
            "so it is not stored in the registry"
        )


@attrs.frozen
class GitConfig:
    """Options of the ``git`` type."""

    url: str = attrs.field(validator=_check_url, metadata={"help": "any git remote: https, ssh, scp-like, path, file://"})
    username: Optional[str] = attrs.field(default=None, metadata={"help": "user name for HTTP(S)"})
    token: Optional[str] = secret_field(metadata={"help": "password or access token for HTTP(S)"})


@hookimpl
def repository_types() -> list[RepositoryType]:
    return [RepositoryType(TYPE_NAME, GitConfig, "any git server over the git protocol (dulwich)")]


@hookimpl
def login(repository: CodeRepository) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    from .gitproto import GitRemote

    config: GitConfig = repository.config
    GitRemote(config.url, config.username, config.token).list_refs()
    return True


@hookimpl
def download_files(
    repository: CodeRepository, commit: str, directory: str, repo_sub_directory: Optional[str]
) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    from .downloader import current_session
    from .gitproto import GitRemote, fetch_commit_files

    config: GitConfig = repository.config
    session = current_session()
    remote = GitRemote(config.url, config.username, config.token)
    result = fetch_commit_files(
        remote,
        commit,
        repo_sub_directory or "",
        directory,
        work_dir=os.path.dirname(os.path.abspath(directory)),
        on_bytes=session.bytes_received,
        on_file=session.files_written,
    )
    session.gitlinks.update(result.gitlinks)
    session.report_tree(result.tree, result.entries)
    return True


@hookimpl
def get_local_context(repository: CodeRepository, path: str) -> Optional[LocalRepositoryContext]:
    if repository.type != TYPE_NAME:
        return None
    from .context import context_for_remote

    wanted = parse_remote(repository.config.url)
    if wanted is None:
        return None

    def matches(url: str) -> bool:
        found = parse_remote(url)
        return found is not None and found.same_repository(wanted)

    return context_for_remote(repository, path, matches)
