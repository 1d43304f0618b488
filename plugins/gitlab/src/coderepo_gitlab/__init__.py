"""The ``gitlab`` repository type: gitlab.com and self-managed GitLab.

Only host-specific code lives here; python-gitlab is imported inside hook bodies so
that loading the plugin stays cheap.
"""

from __future__ import annotations

import os
from typing import Literal, Optional

import attrs

from coderepo import CodeRepository, LocalRepositoryContext, RepositoryType, hookimpl, secret_field

__version__ = "0.1.0"
TYPE_NAME = "gitlab"
DEFAULT_URL = "https://gitlab.com"
TOKEN_ENV_VARS = ("GITLAB_TOKEN",)


def _check_project(instance: object, attribute: "attrs.Attribute[str]", value: str) -> None:
    if not value.strip("/") or "//" in value:
        raise ValueError(f"project {value!r} is invalid: give GROUP/[SUBGROUP/]PROJECT or a numeric id")


@attrs.frozen
class GitLabConfig:
    """Options of the ``gitlab`` type."""

    project: str = attrs.field(validator=_check_project, metadata={"help": "full path with subgroups, or numeric id"})
    url: str = attrs.field(default=DEFAULT_URL, metadata={"help": "GitLab instance (may carry a relative root)"})
    token: Optional[str] = secret_field(metadata={"help": "access token (default: $GITLAB_TOKEN)"})
    download_strategy: Literal["archive", "git"] = attrs.field(
        default="archive", metadata={"help": "how downloads fetch a commit"}
    )

    @property
    def resolved_token(self) -> Optional[str]:
        if self.token:
            return self.token
        return next((os.environ[v] for v in TOKEN_ENV_VARS if os.environ.get(v)), None)


def _not_yet(capability: str) -> NotImplementedError:
    return NotImplementedError(
        f"coderepo-gitlab {__version__} cannot {capability} yet: this capability of the "
        "gitlab type is not implemented in this release"
    )


@hookimpl
def repository_types() -> list[RepositoryType]:
    return [RepositoryType(TYPE_NAME, GitLabConfig, "GitLab.com and self-managed GitLab projects (python-gitlab)")]


@hookimpl
def login(repository: CodeRepository) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    raise _not_yet("log in to GitLab")


@hookimpl
def download_files(
    repository: CodeRepository, commit: str, directory: str, repo_sub_directory: Optional[str]
) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    raise _not_yet("download files from GitLab")


def owns_url(config: GitLabConfig, url: str) -> bool:
    """Whether a git remote URL is this project (subgroups, relative roots, any case).

    A numeric project id cannot be recognised in a URL without asking the server, so
    it never matches locally.
    """
    from coderepo import parse_remote

    if config.project.isdigit():
        return False
    instance = parse_remote(config.url)
    found = parse_remote(url)
    if instance is None or found is None or found.host is None:
        return False
    hosts = {instance.host}
    if instance.host == "gitlab.com":
        hosts.add("altssh.gitlab.com")  # GitLab.com's SSH over port 443
    if found.host not in hosts:
        return False
    if found.scheme in ("http", "https") and instance.scheme in ("http", "https") and found.port != instance.port:
        return False
    project = config.project.strip("/").lower()
    root = instance.path.lower()
    return found.path.lower() in {project, f"{root}/{project}" if root else project}


@hookimpl
def get_local_context(repository: CodeRepository, path: str) -> Optional[LocalRepositoryContext]:
    if repository.type != TYPE_NAME:
        return None
    from coderepo import context_for_remote

    return context_for_remote(repository, path, lambda url: owns_url(repository.config, url))
