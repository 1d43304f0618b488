"""The persisted registry of code repositories (``$CODEREPO_HOME/registry.json``).

Readable JSON; every change is a read-modify-write under a file lock followed by an
atomic replace, so concurrent ``coderepo register`` processes never lose an entry and
a crash leaves the previous file. A file that does not parse is reported and never
overwritten. Secret values never enter this file: see :mod:`coderepo.secrets`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import attrs

from .errors import RegistryCorruptError, RegistryError, RepositoryExistsError, RepositoryNotFoundError
from .files import atomic_write_text, coderepo_home
from .secrets import SecretRef, SecretStore

REGISTRY_FILE = "registry.json"
FORMAT = 1
LOCK_TIMEOUT = 60.0


@attrs.frozen
class RegistryEntry:
    """One registered repository as stored: plain option values and secret references."""

    id: str
    name: str
    type: str
    options: dict[str, Any] = attrs.field(factory=dict)
    secrets: dict[str, SecretRef] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "options": self.options, "secrets": self.secrets}

    @classmethod
    def from_json(cls, name: str, data: Any) -> "RegistryEntry":
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise ValueError(f"entry {name!r} is malformed")
        uuid.UUID(str(data.get("id")))
        return cls(
            id=str(data["id"]),
            name=name,
            type=data["type"],
            options=dict(data.get("options") or {}),
            secrets=dict(data.get("secrets") or {}),
        )


def new_id() -> str:
    return str(uuid.uuid4())


class Registry:
    """The registry in one home directory (``$CODEREPO_HOME`` by default)."""

    def __init__(self, home: Optional[Path] = None) -> None:
        self.home = Path(home) if home is not None else coderepo_home()
        self.path = self.home / REGISTRY_FILE
        self.secrets = SecretStore(self.home)

    # -- reading ----------------------------------------------------------------------

    def _load(self) -> dict[str, RegistryEntry]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise RegistryError(f"cannot read registry {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("repositories"), dict):
                raise ValueError("expected an object with 'repositories'")
            if data.get("format") != FORMAT:
                raise ValueError(f"unsupported format {data.get('format')!r}, expected {FORMAT}")
            return {
                name: RegistryEntry.from_json(name, entry)
                for name, entry in data["repositories"].items()
            }
        except ValueError as exc:
            raise RegistryCorruptError(
                f"registry file {self.path} is corrupt ({str(exc).splitlines()[0]}); it was left "
                "unchanged: fix it or move it away"
            ) from None

    def entries(self) -> list[RegistryEntry]:
        return sorted(self._load().values(), key=lambda e: e.name)

    def get(self, name: str) -> RegistryEntry:
        entries = self._load()
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none registered"
            raise RepositoryNotFoundError(
                f"no repository named {name!r} (registered: {known}); see 'coderepo list'"
            )
        return entries[name]

    # -- writing ----------------------------------------------------------------------

    def _save(self, entries: dict[str, RegistryEntry]) -> None:
        payload = {
            "format": FORMAT,
            "repositories": {n: entries[n].to_json() for n in sorted(entries)},
        }
        atomic_write_text(self.path, json.dumps(payload, indent=2) + "\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, RegistryEntry]]:
        """Hold the lock and yield the current entries (callers save them)."""
        import filelock

        try:
            self.home.mkdir(parents=True, exist_ok=True)
            lock = filelock.FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT)
            lock.acquire()
        except filelock.Timeout:
            raise RegistryError(
                f"registry {self.path} is locked by another coderepo process since more than "
                f"{LOCK_TIMEOUT:.0f}s; try again"
            ) from None
        except OSError as exc:
            raise RegistryError(
                f"cannot write the registry in {self.home}: {exc.strerror}; set CODEREPO_HOME to a "
                "writable directory"
            ) from None
        try:
            yield self._load()
        except PermissionError as exc:
            raise RegistryError(f"cannot write the registry in {self.home}: {exc.strerror}") from None
        finally:
            lock.release()

    def add(
        self,
        name: str,
        type_name: str,
        options: dict[str, Any],
        secret_refs: dict[str, SecretRef],
        secret_values: dict[str, str],
    ) -> RegistryEntry:
        with self._locked() as entries:
            if name in entries:
                raise RepositoryExistsError(
                    f"a repository named {name!r} is already registered; use 'coderepo update "
                    f"{name}' or choose another name"
                )
            entry_id = new_id()
            refs = dict(secret_refs)
            for field, value in secret_values.items():
                refs[field] = self.secrets.store(entry_id, field, value)
            entry = RegistryEntry(entry_id, name, type_name, options, refs)
            entries[name] = entry
            self._save(entries)
            return entry

    def update(
        self, name: str, change: Callable[[RegistryEntry], tuple[dict[str, Any], dict[str, SecretRef], dict[str, str]]]
    ) -> RegistryEntry:
        """Apply ``change(entry) -> (options, secret_refs, secret_values)`` under the lock."""
        with self._locked() as entries:
            if name not in entries:
                raise RepositoryNotFoundError(f"no repository named {name!r}; see 'coderepo list'")
            old = entries[name]
            options, refs, values = change(old)
            refs = dict(refs)
            for field, value in values.items():
                refs[field] = self.secrets.store(old.id, field, value)
            entry = attrs.evolve(old, options=options, secrets=refs)
            entries[name] = entry
            self._save(entries)
            return entry

    def remove(self, name: str) -> RegistryEntry:
        with self._locked() as entries:
            if name not in entries:
                raise RepositoryNotFoundError(f"no repository named {name!r}; see 'coderepo list'")
            entry = entries.pop(name)
            self._save(entries)
            self.secrets.forget(entry.id, entry.secrets)
            return entry
