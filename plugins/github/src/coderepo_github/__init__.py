"""The ``github`` repository type: github.com and GitHub Enterprise Server.

Only host-specific code lives here; PyGithub is imported inside hook bodies so that
loading the plugin (``coderepo status``, ``coderepo plugins``) stays cheap.
"""

from __future__ import annotations

import os
from typing import Literal, Optional

import attrs

from coderepo import CodeRepository, LocalRepositoryContext, RepositoryType, hookimpl, secret_field

__version__ = "0.1.0"
TYPE_NAME = "github"
DEFAULT_HOST = "github.com"
TOKEN_ENV_VARS = ("GITHUB_TOKEN", "GH_TOKEN")


@attrs.frozen
class GitHubConfig:
    """Options of the ``github`` type."""

    owner: str = attrs.field(validator=attrs.validators.min_len(1), metadata={"help": "user or organisation"})
    repository: str = attrs.field(validator=attrs.validators.min_len(1), metadata={"help": "repository name"})
    host: str = attrs.field(default=DEFAULT_HOST, metadata={"help": "github.com or a GitHub Enterprise host"})
    api_url: Optional[str] = attrs.field(default=None, metadata={"help": "REST API root (derived from host)"})
    token: Optional[str] = secret_field(metadata={"help": "access token (default: $GITHUB_TOKEN, then $GH_TOKEN)"})
    download_strategy: Literal["tarball", "zipball", "git"] = attrs.field(
        default="tarball", metadata={"help": "how downloads fetch a commit"}
    )

    @property
    def resolved_api_url(self) -> str:
        if self.api_url:
            return self.api_url.rstrip("/")
        if self.host.lower() == DEFAULT_HOST:
            return "https://api.github.com"
        return f"https://{self.host}/api/v3"

    @property
    def resolved_token(self) -> Optional[str]:
        if self.token:
            return self.token
        return next((os.environ[v] for v in TOKEN_ENV_VARS if os.environ.get(v)), None)


def _not_yet(capability: str) -> NotImplementedError:
    return NotImplementedError(
        f"coderepo-github {__version__} cannot {capability} yet: this capability of the "
        "github type is not implemented in this release"
    )


@hookimpl
def repository_types() -> list[RepositoryType]:
    return [RepositoryType(TYPE_NAME, GitHubConfig, "GitHub and GitHub Enterprise repositories (PyGithub)")]


@hookimpl
def login(repository: CodeRepository) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    raise _not_yet("log in to GitHub")


@hookimpl
def download_files(
    repository: CodeRepository, commit: str, directory: str, repo_sub_directory: Optional[str]
) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    raise _not_yet("download files from GitHub")


def owns_url(config: GitHubConfig, url: str) -> bool:
    """Whether a git remote URL is this repository (https, ssh, scp-like, any case)."""
    from coderepo import parse_remote

    found = parse_remote(url)
    if found is None or found.host is None:
        return False
    hosts = {config.host.lower()}
    if config.host.lower() == DEFAULT_HOST:
        hosts.add("ssh.github.com")  # GitHub's SSH over port 443
    return found.host in hosts and found.path.lower() == f"{config.owner}/{config.repository}".lower()


@hookimpl
def get_local_context(repository: CodeRepository, path: str) -> Optional[LocalRepositoryContext]:
    if repository.type != TYPE_NAME:
        return None
    from coderepo import context_for_remote

    return context_for_remote(repository, path, lambda url: owns_url(repository.config, url))
