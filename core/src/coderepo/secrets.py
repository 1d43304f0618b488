"""Where secrets live: never in the main registry file.

The registry stores a *reference* per secret option:

- ``{"env": "GITHUB_TOKEN"}``: read from that environment variable at use time
  (``--token-env=GITHUB_TOKEN``); nothing secret is stored at all;
- ``{"keyring": SERVICE}``: in the OS keyring (when the ``keyring`` package and a real
  backend are available);
- ``{"file": "secrets.json"}``: in ``$CODEREPO_HOME/secrets.json``, mode 0600.

``CODEREPO_SECRET_STORE=file`` or ``keyring`` forces a store; the default picks the
keyring when one is usable and the file otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from .errors import RegistryCorruptError, UsageError
from .files import atomic_write_text

SECRETS_FILE = "secrets.json"
KEYRING_SERVICE = "coderepo"
STORE_ENV = "CODEREPO_SECRET_STORE"

SecretRef = dict[str, str]


def _keyring() -> Any:
    """The keyring module when a real backend is usable, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


class SecretStore:
    """Stores and resolves secret references for one coderepo home directory."""

    def __init__(self, home: Path) -> None:
        self.path = home / SECRETS_FILE
        self._file_cache: Optional[dict[str, dict[str, str]]] = None

    def _read_file(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            raise RegistryCorruptError(
                f"secrets file {self.path} is corrupt ({exc}); it was left unchanged: "
                "fix it or move it away"
            ) from None
        return data

    def _write_file(self, data: dict[str, dict[str, str]]) -> None:
        self._file_cache = None
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)

    def store(self, repository_id: str, field: str, value: str) -> SecretRef:
        """Keep a secret value; the caller holds the registry lock. Returns the reference."""
        choice = os.environ.get(STORE_ENV, "auto")
        if choice not in ("auto", "file", "keyring"):
            raise UsageError(f"{STORE_ENV}={choice!r} is invalid: use auto, file or keyring")
        keyring = _keyring() if choice in ("auto", "keyring") else None
        if choice == "keyring" and keyring is None:
            raise UsageError(f"{STORE_ENV}=keyring but no usable keyring backend is installed")
        if keyring is not None:
            keyring.set_password(KEYRING_SERVICE, f"{repository_id}/{field}", value)
            return {"keyring": KEYRING_SERVICE}
        data = self._read_file()
        data.setdefault(repository_id, {})[field] = value
        self._write_file(data)
        return {"file": SECRETS_FILE}

    def resolve(self, repository_id: str, field: str, ref: SecretRef) -> Optional[str]:
        """The secret's value, or None when its source has nothing (an unset variable)."""
        if "env" in ref:
            return os.environ.get(ref["env"]) or None
        if "keyring" in ref:
            keyring = _keyring()
            if keyring is None:
                raise UsageError(
                    f"the {field} of this repository is in the OS keyring, which is not "
                    "available here: pip install keyring, or update it with --"
                    f"{field.replace('_', '-')}-env=VAR"
                )
            return keyring.get_password(ref["keyring"], f"{repository_id}/{field}")
        if "file" in ref:
            if self._file_cache is None:  # read once however many repositories are resolved
                self._file_cache = self._read_file()
            return self._file_cache.get(repository_id, {}).get(field)
        return None

    def forget(self, repository_id: str, refs: dict[str, SecretRef]) -> None:
        """Delete the stored values of a repository's secrets (env references hold none)."""
        if any("file" in r for r in refs.values()):
            data = self._read_file()
            if data.pop(repository_id, None) is not None:
                self._write_file(data)
        for field, ref in refs.items():
            if "keyring" in ref:
                keyring = _keyring()
                if keyring is not None:
                    try:
                        keyring.delete_password(ref["keyring"], f"{repository_id}/{field}")
                    except Exception:
                        pass


def describe_ref(ref: SecretRef) -> str:
    """How a secret is shown: never its value."""
    if "env" in ref:
        return f"**** (from ${ref['env']})"
    if "keyring" in ref:
        return "**** (OS keyring)"
    return f"**** ({SECRETS_FILE}, mode 0600)"
