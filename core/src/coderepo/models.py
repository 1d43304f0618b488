"""The data model: frozen attrs classes shared by core, plugins and callers.

Config classes of repository types are attrs classes too; a field created with
:func:`coderepo.options.secret_field` is a secret: it never appears in ``repr``,
in JSON output or in the main registry file.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Optional

import attrs


@attrs.frozen
class RepositoryType:
    """What a plugin registers through the ``repository_types`` hook.

    ``config_class`` is an attrs class whose fields are the type's options (their names
    are the CLI's ``--KEY=VALUE`` options); ``description`` is one line for listings.
    """

    name: str
    config_class: type
    description: str = ""


@attrs.frozen
class CodeRepository:
    """A registered repository: stable ``id``, unique ``name``, ``type`` and typed ``config``."""

    id: uuid.UUID
    name: str
    type: str
    config: Any


@attrs.frozen
class LocalRepositoryContext:
    """How a local checkout relates to a registered repository (SPEC section 3)."""

    repository: CodeRepository
    root: str
    commit: Optional[str]
    branch: Optional[str]
    is_dirty: bool
    has_local_changes: bool
    remote: Optional[str] = None
    remote_url: Optional[str] = None


@attrs.frozen
class CodeReference:
    """What a run records, and all a container needs to fetch the same code again.

    ``config`` holds only the non-secret options of the repository; secrets come from
    the environment where the reference is used.
    """

    repository: str
    repository_id: str
    type: str
    commit: str
    subdirectory: str
    tree: str
    config: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CodeReference":
        from .errors import UsageError

        names = {f.name for f in attrs.fields(cls)}
        missing = sorted(n for n in names - {"config"} if n not in data)
        if missing:
            raise UsageError(f"not a code reference: missing {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "CodeReference":
        from .errors import UsageError

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"not a code reference: invalid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise UsageError("not a code reference: expected a JSON object")
        return cls.from_dict(data)
