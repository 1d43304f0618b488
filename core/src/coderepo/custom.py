"""The ``custom`` type: a user's own :class:`BaseCodeRepository` subclass.

``coderepo register NAME --type=custom --source=my_module.MyRepository --key=value``
stores the class path and the options; each hook call imports the class, creates it
with the options as keyword arguments and calls the matching method.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import typing
from abc import ABC, abstractmethod
from typing import Any, Mapping, Optional

import attrs

from .errors import ConfigError
from .hookspecs import hookimpl
from .models import CodeRepository, LocalRepositoryContext, RepositoryType
from .options import convert_value

TYPE_NAME = "custom"
_SECRET_WORDS = ("token", "password", "secret", "key")


class BaseCodeRepository(ABC):
    """Base class of user-defined code repositories (the seed's API).

    ``__init__`` receives the registered options as keyword arguments; override it
    with named parameters to have them validated at register time. coderepo sets
    :attr:`code_repository` (the registered record) before calling any method.
    """

    code_repository: Optional[CodeRepository] = None

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def login(self) -> None:
        """Check access to the repository; raise coderepo.AuthenticationError if refused."""

    @abstractmethod
    def download_files(self, commit: str, directory: str, repo_sub_directory: Optional[str]) -> None:
        """Write the files of ``commit:repo_sub_directory`` into ``directory``."""

    @abstractmethod
    def get_local_context(self, path: str) -> Optional[LocalRepositoryContext]:
        """The context of the checkout at ``path`` if it belongs to this repository.

        Usually one line: ``return self.context_for_remote(path, self.owns_url)``.
        """

    def context_for_remote(self, path: str, matches: Any) -> Optional[LocalRepositoryContext]:
        """The shared inspection: the context if a remote URL satisfies ``matches(url)``."""
        from .context import context_for_remote

        if self.code_repository is None:
            raise RuntimeError("context_for_remote needs the registered repository (set by coderepo)")
        return context_for_remote(self.code_repository, path, matches)


def load_source(source: str) -> type[BaseCodeRepository]:
    """Import ``module.Class`` and check it is a concrete BaseCodeRepository subclass."""
    module_name, _, class_name = source.rpartition(".")
    if not module_name or not class_name:
        raise ConfigError(f"--source={source!r} is invalid: expected MODULE.CLASS")
    try:
        module = _import(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"--source={source}: cannot import module {module_name!r} ({exc}); install it or "
            "add its folder to PYTHONPATH"
        ) from None
    except Exception as exc:
        raise ConfigError(f"--source={source}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"--source={source}: module {module_name!r} has no attribute {class_name!r}")
    if not (inspect.isclass(cls) and issubclass(cls, BaseCodeRepository)):
        raise ConfigError(f"--source={source} is not a subclass of coderepo.BaseCodeRepository")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise ConfigError(f"--source={source} does not implement the abstract methods: {missing}")
    return cls


def _import(module_name: str) -> Any:
    """Import a module, also from the current directory (as ``python -m`` would)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] or os.getcwd() in sys.path:
            raise
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(os.getcwd())


def _check_options(cls: type, source: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate and convert the options against the class's ``__init__`` signature."""
    init = cls.__init__  # type: ignore[misc]
    params = list(inspect.signature(cls).parameters.values())
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    valid = ", ".join("--" + n.replace("_", "-") for n in named) or "(none)"
    unknown = sorted(set(options) - set(named))
    if unknown and not takes_any:
        flags = ", ".join("--" + u.replace("_", "-") for u in unknown)
        raise ConfigError(f"unknown option {flags} for {source}; valid options: {valid}")
    missing = [n for n, p in named.items() if p.default is p.empty and n not in options]
    if missing:
        flags = ", ".join("--" + m.replace("_", "-") for m in missing)
        raise ConfigError(f"missing required option {flags} for {source}; valid options: {valid}")
    try:
        hints = typing.get_type_hints(init)
    except Exception:
        hints = {}
    return {k: convert_value(k, hints.get(k, Any), v) for k, v in options.items()}


def _masked(options: Mapping[str, Any]) -> str:
    shown = (
        f"{k}='****'" if any(w in k.lower() for w in _SECRET_WORDS) else f"{k}={v!r}"
        for k, v in options.items()
    )
    return "{" + ", ".join(shown) + "}"


@attrs.frozen
class CustomConfig:
    """Options of the ``custom`` type: the class path and the class's own options."""

    source: str
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=_masked)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "CustomConfig":
        options = dict(options)
        source = options.pop("source", None)
        if not source:
            raise ConfigError("missing required option --source=MODULE.CLASS for type 'custom'")
        klass = load_source(str(source))
        return cls(str(source), _check_options(klass, str(source), options))

    def to_options(self) -> dict[str, Any]:
        return {"source": self.source, **self.options}

    def instantiate(self, repository: CodeRepository) -> BaseCodeRepository:
        instance = load_source(self.source)(**self.options)
        instance.code_repository = repository
        return instance


@hookimpl
def repository_types() -> list[RepositoryType]:
    return [RepositoryType(TYPE_NAME, CustomConfig, "your own BaseCodeRepository subclass (--source=module.Class)")]


@hookimpl
def login(repository: CodeRepository) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    repository.config.instantiate(repository).login()
    return True


@hookimpl
def download_files(
    repository: CodeRepository, commit: str, directory: str, repo_sub_directory: Optional[str]
) -> Optional[bool]:
    if repository.type != TYPE_NAME:
        return None
    repository.config.instantiate(repository).download_files(commit, directory, repo_sub_directory)
    return True


@hookimpl
def get_local_context(repository: CodeRepository, path: str) -> Optional[LocalRepositoryContext]:
    if repository.type != TYPE_NAME:
        return None
    return repository.config.instantiate(repository).get_local_context(path)
