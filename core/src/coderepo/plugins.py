"""The plugin manager: finds plugins, isolates broken ones, rejects duplicate types.

Plugins are loaded one entry point at a time (group ``coderepo``), so a plugin whose
import fails is recorded with its error and the others keep working. Environment:

- ``CODEREPO_DISABLE_PLUGINS=github,other``: skip these plugins (entry-point or
  distribution names);
- ``CODEREPO_TRACE_HOOKS=1``: print every hook call and result to stderr.

Nothing here runs at ``import coderepo``: the manager is built on first use.
"""

from __future__ import annotations

import os
import sys
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, Optional

import attrs
import pluggy

from . import hookspecs
from .errors import DuplicateTypeError, PluginError, UnknownTypeError
from .models import RepositoryType

ENTRY_POINT_GROUP = "coderepo"
DISABLE_ENV = "CODEREPO_DISABLE_PLUGINS"
TRACE_ENV = "CODEREPO_TRACE_HOOKS"

Status = Literal["loaded", "failed", "disabled"]


@attrs.frozen
class PluginInfo:
    """What ``coderepo plugins`` shows about one plugin."""

    name: str
    distribution: Optional[str]
    version: Optional[str]
    module: str
    status: Status
    error: Optional[str] = None
    types: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["types"] = list(self.types)
        data["hooks"] = list(self.hooks)
        return data


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class CodeRepoPluginManager(pluggy.PluginManager):
    """A pluggy manager that knows where each plugin came from and which types it owns."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self._sources: dict[str, tuple[Optional[str], Optional[str], str]] = {}
        self._not_loaded: dict[str, PluginInfo] = {}
        self._types: Optional[dict[str, list[tuple[str, RepositoryType]]]] = None
        self._type_errors: dict[str, str] = {}

    # -- loading ----------------------------------------------------------------------

    def load_entrypoints(self, group: str = ENTRY_POINT_GROUP) -> None:
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        seen: set[tuple[str, str]] = set()
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if (ep.name, ep.value) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            if ep.name in disabled or (dist and dist in disabled):
                self._not_loaded[ep.name] = PluginInfo(ep.name, dist, version, ep.value, "disabled")
                continue
            self._load_one(ep, dist, version)
        if os.environ.get(TRACE_ENV):
            self.trace.root.setwriter(sys.stderr.write)
            self.enable_tracing()

    def _load_one(self, ep: EntryPoint, dist: Optional[str], version: Optional[str]) -> None:
        def fail(message: str) -> None:
            self._not_loaded[ep.name] = PluginInfo(
                ep.name, dist, version, ep.value, "failed", message
            )

        if self.has_plugin(ep.name) or ep.name in self._not_loaded:
            owner = self._sources.get(ep.name, (None, None, ""))[0]
            fail(f"plugin name {ep.name!r} is already used by distribution {owner}")
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # any import-time failure must not break coderepo
            fail(_error_text(exc))
            return
        try:
            self.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            fail(_error_text(exc))
            return
        unknown = [hc.name for hc in self.get_hookcallers(plugin) or [] if hc.spec is None]
        if unknown:
            self.unregister(plugin)
            known = ", ".join(sorted(n for n in dir(hookspecs) if _is_spec(n)))
            fail(f"implements unknown hook {', '.join(unknown)} (known hooks: {known})")
            return
        self._sources[ep.name] = (dist, version, ep.value)

    def register(self, plugin: Any, name: Optional[str] = None) -> Optional[str]:
        self._types = None
        return super().register(plugin, name)

    def unregister(self, plugin: Any = None, name: Optional[str] = None) -> Any:
        self._types = None
        return super().unregister(plugin, name)

    # -- repository types -------------------------------------------------------------

    def _collect_types(self) -> dict[str, list[tuple[str, RepositoryType]]]:
        if self._types is not None:
            return self._types
        types: dict[str, list[tuple[str, RepositoryType]]] = {}
        self._type_errors = {}
        for impl in self.hook.repository_types.get_hookimpls():
            try:
                result: Any = impl.function() or []
                if not isinstance(result, (list, tuple)):
                    raise PluginError(f"repository_types returned {result!r}, not a list of RepositoryType")
                for rtype in result:
                    if not isinstance(rtype, RepositoryType):
                        raise PluginError(f"repository_types returned {rtype!r}, not a RepositoryType")
                    if not (attrs.has(rtype.config_class) or hasattr(rtype.config_class, "from_options")):
                        raise PluginError(f"config class of type {rtype.name!r} is not an attrs class")
            except Exception as exc:
                self._type_errors[impl.plugin_name] = f"repository_types failed: {_error_text(exc)}"
                continue
            for rtype in result:
                types.setdefault(rtype.name, []).append((impl.plugin_name, rtype))
        self._types = types
        return types

    def _distribution_of(self, plugin_name: str) -> str:
        dist = self._sources.get(plugin_name, (None, None, ""))[0]
        return dist or f"plugin {plugin_name!r}"

    def repository_types(self) -> dict[str, RepositoryType]:
        """All installed types by name; raises DuplicateTypeError on a conflict."""
        result = {}
        for name, claims in sorted(self._collect_types().items()):
            if len(claims) > 1:
                owners = " and ".join(sorted(self._distribution_of(p) for p, _ in claims))
                raise DuplicateTypeError(
                    f"repository type {name!r} is provided by both {owners}; uninstall one, "
                    f"or disable it with {DISABLE_ENV}=<plugin>"
                )
            result[name] = claims[0][1]
        return result

    def get_type(self, name: str) -> RepositoryType:
        types = self.repository_types()
        if name in types:
            return types[name]
        hint = ""
        failed = [i for i in self.plugin_infos() if i.status != "loaded"]
        if failed:
            hint = "; not loaded: " + ", ".join(f"{i.name} ({i.status})" for i in failed)
        raise UnknownTypeError(
            f"unknown repository type {name!r}; installed types: {', '.join(types) or 'none'}"
            f"{hint} (pip install coderepo-{name} if such a plugin exists)"
        )

    # -- listing ----------------------------------------------------------------------

    def plugin_infos(self) -> list[PluginInfo]:
        claims = self._collect_types()
        infos = list(self._not_loaded.values())
        for name, plugin in self.list_name_plugin():
            dist, version, module = self._sources.get(
                name, (None, None, getattr(plugin, "__name__", repr(plugin)))
            )
            hooks = tuple(sorted(hc.name for hc in self.get_hookcallers(plugin) or []))
            types = tuple(sorted(t for t, owners in claims.items() if any(p == name for p, _ in owners)))
            error = self._type_errors.get(name)
            for t in types:
                others = [self._distribution_of(p) for p, _ in claims[t] if p != name]
                if others:
                    error = f"type {t!r} is also provided by {', '.join(others)}"
            infos.append(
                PluginInfo(name, dist, version, module, "failed" if error else "loaded", error, types, hooks)
            )
        return sorted(infos, key=lambda i: i.name)


def _is_spec(name: str) -> bool:
    return hasattr(getattr(hookspecs, name, None), hookspecs.PROJECT_NAME + "_spec")


_manager: Optional[CodeRepoPluginManager] = None
_lock = threading.Lock()


def get_plugin_manager() -> CodeRepoPluginManager:
    """The process-wide plugin manager, loaded from entry points on first use."""
    global _manager
    with _lock:
        if _manager is None:
            manager = CodeRepoPluginManager()
            manager.load_entrypoints()
            _manager = manager
        return _manager


def reset_plugin_manager() -> None:
    """Forget the loaded plugins (tests, or after installing a plugin at run time)."""
    global _manager
    with _lock:
        _manager = None
