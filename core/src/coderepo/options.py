"""A repository type's options: parsing ``--KEY=VALUE`` arguments and building configs.

A type's options are the fields of its attrs config class. Values arrive as strings
(command line) or JSON values (registry); they are converted by the field's type
(``str``, ``int``, ``float``, ``bool``, ``Literal[...]``, ``Optional`` of those) and
checked by the class's own attrs validators, so every error names the valid options.

A config class may take full control with two class methods,
``from_options(options) -> instance`` and ``to_options(instance) -> dict`` (the
``custom`` type does, since its options are those of the user's class).
"""

from __future__ import annotations

import typing
from typing import Any, Iterable, Literal, Mapping, Optional, Union

import attrs

from .errors import ConfigError

SECRET = "coderepo_secret"


def secret_field(**kwargs: Any) -> Any:
    """An optional secret option: hidden from repr, output and the main registry file."""
    kwargs.setdefault("default", None)
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata[SECRET] = True
    return attrs.field(repr=False, metadata=metadata, **kwargs)


@attrs.frozen
class OptionInfo:
    """One option of a type, as the CLI and the docs present it."""

    name: str
    required: bool
    secret: bool
    type: str
    default: Any = None
    choices: Optional[tuple[Any, ...]] = None
    help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _type_name(tp: Any) -> str:
    tp = _unwrap_optional(tp)
    if typing.get_origin(tp) is Literal:
        return "choice"
    return getattr(tp, "__name__", str(tp))


def options_of(config_class: type) -> list[OptionInfo]:
    """Describe the options of a config class (empty for classes with their own parser)."""
    if not attrs.has(config_class):
        return []
    attrs.resolve_types(config_class)
    infos = []
    for f in attrs.fields(config_class):
        if not f.init:
            continue
        tp = _unwrap_optional(f.type)
        choices = typing.get_args(tp) if typing.get_origin(tp) is Literal else None
        default = f.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory() if not default.takes_self else None  # type: ignore[call-arg]
        infos.append(
            OptionInfo(
                name=f.name,
                required=f.default is attrs.NOTHING,
                secret=bool(f.metadata.get(SECRET)),
                type=_type_name(f.type),
                default=None if default is attrs.NOTHING else default,
                choices=choices,
                help=str(f.metadata.get("help", "")),
            )
        )
    return infos


def secret_names(config_class: type) -> set[str]:
    return {o.name for o in options_of(config_class) if o.secret}


def normalise_key(key: str) -> str:
    """``--api-url`` and ``--api_url`` are the same option ``api_url``."""
    return key.lstrip("-").replace("-", "_")


def parse_option_args(args: Iterable[str]) -> dict[str, str]:
    """Parse ``--key=value`` and ``--key value`` pairs into a dict (keys normalised)."""
    result: dict[str, str] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}: options look like --key=value")
        if "=" in arg:
            key, value = arg.split("=", 1)
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            key, value = arg, items[i + 1]
            i += 1
        else:
            raise ConfigError(f"option {arg} needs a value: use {arg}=VALUE")
        key = normalise_key(key)
        if not key.isidentifier():
            raise ConfigError(f"invalid option name {arg.split('=', 1)[0]!r}")
        if key in result:
            raise ConfigError(f"option --{key.replace('_', '-')} given twice")
        result[key] = value
        i += 1
    return result


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def convert_value(name: str, tp: Any, value: Any) -> Any:
    """Convert one option value to the field's type; raises ConfigError naming the option."""
    optional = _unwrap_optional(tp) is not tp
    tp = _unwrap_optional(tp)
    flag = "--" + name.replace("_", "-")
    if value is None:
        if optional:
            return None
        raise ConfigError(f"option {flag} needs a value")
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if value == choice or str(value) == str(choice):
                return choice
        raise ConfigError(
            f"option {flag}={value!r} is invalid: choose one of {', '.join(map(str, choices))}"
        )
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"option {flag}={value!r} is invalid: expected true or false")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"option {flag}={value!r} is invalid: expected a number")
        try:
            return tp(value)
        except (TypeError, ValueError):
            kind = "an integer" if tp is int else "a number"
            raise ConfigError(f"option {flag}={value!r} is invalid: expected {kind}") from None
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"option {flag}={value!r} is invalid: expected text")
        return value
    return value


def valid_options_text(config_class: type) -> str:
    infos = options_of(config_class)
    parts = []
    for o in infos:
        text = o.flag + (" (required)" if o.required else "")
        if o.secret:
            text += f" (secret; or {o.flag}-env=VAR)"
        parts.append(text)
    return ", ".join(parts) or "(none)"


def build_config(type_name: str, config_class: type, options: Mapping[str, Any]) -> Any:
    """Build and validate a config instance from option values (strings or JSON values)."""
    custom = getattr(config_class, "from_options", None)
    if custom is not None:
        return custom(dict(options))
    infos = {o.name: o for o in options_of(config_class)}
    unknown = sorted(set(options) - set(infos))
    if unknown:
        flags = ", ".join("--" + u.replace("_", "-") for u in unknown)
        raise ConfigError(
            f"unknown option {flags} for type {type_name!r}; "
            f"valid options: {valid_options_text(config_class)}"
        )
    missing = [o.flag for o in infos.values() if o.required and options.get(o.name) is None]
    if missing:
        raise ConfigError(
            f"missing required option {', '.join(missing)} for type {type_name!r}; "
            f"valid options: {valid_options_text(config_class)}"
        )
    hints = typing.get_type_hints(config_class)
    values = {k: convert_value(k, hints.get(k, str), v) for k, v in options.items()}
    try:
        return config_class(**values)
    except (TypeError, ValueError) as exc:
        # attrs validators raise these; their messages name the field.
        raise ConfigError(f"invalid options for type {type_name!r}: {_first_line(exc)}") from None


def config_to_options(config: Any) -> dict[str, Any]:
    """The option values of a config instance, secrets left out."""
    custom = getattr(type(config), "to_options", None)
    if custom is not None:
        return dict(custom(config))
    secrets = secret_names(type(config))
    return {
        k: v
        for k, v in attrs.asdict(config, recurse=False).items()
        if k not in secrets
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
