"""Exceptions of coderepo.

Every error a user can cause is a :class:`CodeRepoError`: the CLI prints its message
as one line and exits with its ``exit_code`` (2 for bad usage or input, 1 for
failures), so messages say what is wrong *and* what to do about it.
"""

from __future__ import annotations


class CodeRepoError(Exception):
    """Base class of the errors coderepo reports to users."""

    exit_code = 1


class UsageError(CodeRepoError):
    """The user asked for something invalid (bad option, unknown name, bad path)."""

    exit_code = 2


class ConfigError(UsageError):
    """Options given for a repository type do not fit its config class."""


class RepositoryNotFoundError(UsageError):
    """No registered repository has the given name."""


class RepositoryExistsError(UsageError):
    """A repository with that name is already registered."""


class UnknownTypeError(UsageError):
    """No installed plugin provides the requested repository type."""


class RegistryError(CodeRepoError):
    """The registry cannot be read or written."""


class RegistryCorruptError(RegistryError):
    """The registry file exists but is not a registry; it is never overwritten."""


class PluginError(CodeRepoError):
    """A plugin is broken or conflicts with another plugin."""


class DuplicateTypeError(PluginError):
    """Two installed plugins claim the same repository type name."""


class AuthenticationError(CodeRepoError):
    """The host rejected the credentials (or none were given where needed)."""


class RemoteError(CodeRepoError):
    """The remote could not be reached or did not answer as a git host should."""


class NotACheckout(UsageError):
    """The path is not inside a git checkout."""
