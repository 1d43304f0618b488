"""Every hook is documented: an example in its docstring and a row in docs/plugins.md."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from coderepo import hookspecs

HOOKS = sorted(n for n, f in vars(hookspecs).items() if hasattr(f, "coderepo_spec"))
DOCS = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()


def test_the_hooks_of_the_spec() -> None:
    assert HOOKS == ["download_files", "get_local_context", "login", "repository_types"]


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring_with_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Example::" in doc and "@coderepo.hookimpl" in doc
    assert f"def {name}(" in doc


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_in_the_plugin_guide(name: str) -> None:
    row = next((line for line in DOCS.splitlines() if line.startswith(f"| `{name}`")), None)
    assert row is not None
    args = [p for p in inspect.signature(getattr(hookspecs, name)).parameters]
    assert (", ".join(args) or "none") in row
