"""Registering, reading, updating and deleting repositories: the registry plus the types.

This is the facade the CLI and programs use; it turns raw ``--KEY=VALUE`` options
into validated, typed :class:`CodeRepository` records and keeps secrets out of the
registry file.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Mapping, Optional

from .errors import ConfigError, UnknownTypeError, UsageError
from .models import CodeRepository, RepositoryType
from .options import build_config, config_to_options, options_of, secret_names
from .plugins import get_plugin_manager
from .registry import Registry, RegistryEntry
from .secrets import SecretRef

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"invalid repository name {name!r}: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 100)"
        )


def _split_secrets(
    rtype: RepositoryType, options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, SecretRef], dict[str, str]]:
    """Separate plain options, ``--SECRET-env=VAR`` references and secret values."""
    secrets = secret_names(rtype.config_class)
    plain: dict[str, Any] = {}
    refs: dict[str, SecretRef] = {}
    values: dict[str, str] = {}
    for key, value in options.items():
        if key in secrets:
            values[key] = str(value)
        elif key.endswith("_env") and key[: -len("_env")] in secrets:
            field = key[: -len("_env")]
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(value)):
                raise ConfigError(f"--{key.replace('_', '-')}={value!r} is not an environment variable name")
            refs[field] = {"env": str(value)}
        else:
            plain[key] = value
    both = sorted(set(refs) & set(values))
    if both:
        flag = both[0].replace("_", "-")
        raise ConfigError(f"give either --{flag} or --{flag}-env, not both")
    return plain, refs, values


def _validate(
    rtype: RepositoryType, plain: Mapping[str, Any], secret_values: Mapping[str, Optional[str]]
) -> Any:
    return build_config(rtype.name, rtype.config_class, {**plain, **secret_values})


def register(
    name: str, type_name: str, options: Mapping[str, Any], registry: Optional[Registry] = None
) -> CodeRepository:
    """Register a repository. Options use field names; ``<secret>_env`` names a variable."""
    _check_name(name)
    registry = registry or Registry()
    rtype = get_plugin_manager().get_type(type_name)
    plain, refs, values = _split_secrets(rtype, options)
    config = _validate(rtype, plain, {**{f: None for f in refs}, **values})
    entry = registry.add(name, type_name, _stored(rtype, config, plain), refs, values)
    return _to_repository(entry, rtype, registry)


def update(name: str, options: Mapping[str, Any], registry: Optional[Registry] = None) -> CodeRepository:
    """Change some options of a registered repository; the others are kept."""
    registry = registry or Registry()
    entry = registry.get(name)
    rtype = get_plugin_manager().get_type(entry.type)
    if not options:
        raise UsageError(f"nothing to update: give options such as {_flags(rtype)}")

    def change(old: RegistryEntry) -> tuple[dict[str, Any], dict[str, SecretRef], dict[str, str]]:
        plain, refs, values = _split_secrets(rtype, options)
        merged_plain = {**old.options, **plain}
        merged_refs = {k: v for k, v in old.secrets.items() if k not in values}
        merged_refs.update(refs)
        current = {f: registry.secrets.resolve(old.id, f, r) for f, r in merged_refs.items()}
        config = _validate(rtype, merged_plain, {**current, **values})
        return _stored(rtype, config, merged_plain), merged_refs, values

    entry = registry.update(name, change)
    return _to_repository(entry, rtype, registry)


def delete(name: str, registry: Optional[Registry] = None) -> RegistryEntry:
    return (registry or Registry()).remove(name)


def get_repository(name: str, registry: Optional[Registry] = None) -> CodeRepository:
    """The registered repository with its typed config, secrets resolved."""
    registry = registry or Registry()
    entry = registry.get(name)
    return _to_repository(entry, get_plugin_manager().get_type(entry.type), registry)


def list_repositories(registry: Optional[Registry] = None) -> list[CodeRepository]:
    """Every registered repository whose type is installed."""
    registry = registry or Registry()
    types = get_plugin_manager().repository_types()
    return [
        _to_repository(entry, types[entry.type], registry)
        for entry in registry.entries()
        if entry.type in types
    ]


def login(name: str, registry: Optional[Registry] = None) -> CodeRepository:
    """Check that the host accepts the repository's credentials (raises if not)."""
    repository = get_repository(name, registry)
    handled = get_plugin_manager().hook.login(repository=repository)
    if not handled:
        raise UnknownTypeError(f"no installed plugin implements login for type {repository.type!r}")
    return repository


def _to_repository(entry: RegistryEntry, rtype: RepositoryType, registry: Registry) -> CodeRepository:
    secrets = {f: registry.secrets.resolve(entry.id, f, ref) for f, ref in entry.secrets.items()}
    try:
        config = _validate(rtype, entry.options, secrets)
    except ConfigError as exc:
        raise ConfigError(f"registered repository {entry.name!r} no longer validates: {exc}; "
                          f"fix it with 'coderepo update {entry.name}'") from None
    return CodeRepository(id=uuid.UUID(entry.id), name=entry.name, type=entry.type, config=config)


def _flags(rtype: RepositoryType) -> str:
    return ", ".join(o.flag for o in options_of(rtype.config_class)) or "--KEY=VALUE"


def _stored(rtype: RepositoryType, config: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The converted options to store: those the user gave (defaults stay the plugin's)."""
    options = config_to_options(config)
    if not hasattr(rtype.config_class, "to_options"):
        options = {k: v for k, v in options.items() if k in given}
    return {k: v for k, v in options.items() if v is not None}
