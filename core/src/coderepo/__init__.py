"""coderepo: record exactly which code a run used, and fetch exactly that code anywhere.

The public API is re-exported here and imported lazily, so that ``import coderepo``
(and ``coderepo --version``) stays fast: heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    # hooks and plugins
    "hookspec": "hookspecs",
    "hookimpl": "hookspecs",
    "get_plugin_manager": "plugins",
    "reset_plugin_manager": "plugins",
    "PluginInfo": "plugins",
    # data model
    "RepositoryType": "models",
    "CodeRepository": "models",
    "LocalRepositoryContext": "models",
    "CodeReference": "models",
    "secret_field": "options",
    # local checkouts
    "inspect_checkout": "checkout",
    "Checkout": "checkout",
    "Remote": "checkout",
    "local_context": "context",
    "status": "context",
    "reference": "context",
    "context_for_remote": "context",
    "DirtyCheckoutError": "context",
    "parse_remote": "urls",
    # downloads
    "DownloadResult": "downloader",
    "VerificationError": "downloader",
    "current_session": "downloader",
    # custom classes
    "BaseCodeRepository": "custom",
    # registry facade
    "Registry": "registry",
    "register": "repositories",
    "update": "repositories",
    "delete": "repositories",
    "get_repository": "repositories",
    "list_repositories": "repositories",
    "login": "repositories",
    # errors
    "CodeRepoError": "errors",
    "UsageError": "errors",
    "ConfigError": "errors",
    "AuthenticationError": "errors",
    "RemoteError": "errors",
    "PluginError": "errors",
    "DuplicateTypeError": "errors",
    "UnknownTypeError": "errors",
    "RepositoryNotFoundError": "errors",
    "RepositoryExistsError": "errors",
    "RegistryError": "errors",
    "RegistryCorruptError": "errors",
    "NotACheckout": "errors",
}

__all__ = ["__version__", "download", *_EXPORTS]


_RENAMED = {"download": ("downloader", "download_facade")}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        module_name, attribute = _RENAMED[name]
        value = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
        globals()[name] = value
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coderepo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .checkout import Checkout, Remote, inspect_checkout
    from .context import DirtyCheckoutError, context_for_remote, local_context, reference, status
    from .custom import BaseCodeRepository
    from .downloader import DownloadResult, VerificationError, current_session
    from .downloader import download_facade as download
    from .urls import parse_remote
    from .errors import (
        AuthenticationError,
        CodeRepoError,
        ConfigError,
        DuplicateTypeError,
        NotACheckout,
        PluginError,
        RegistryCorruptError,
        RegistryError,
        RemoteError,
        RepositoryExistsError,
        RepositoryNotFoundError,
        UnknownTypeError,
        UsageError,
    )
    from .hookspecs import hookimpl, hookspec
    from .models import CodeReference, CodeRepository, LocalRepositoryContext, RepositoryType
    from .options import secret_field
    from .plugins import PluginInfo, get_plugin_manager, reset_plugin_manager
    from .registry import Registry
    from .repositories import delete, get_repository, list_repositories, login, register, update
