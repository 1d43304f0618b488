"""The code type-checks and lints clean (the packages ship py.typed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["core/src/coderepo", "plugins/github/src/coderepo_github", "plugins/gitlab/src/coderepo_gitlab"]


def test_mypy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--config-file", "pyproject.toml",
         "--cache-dir", "/tmp/coderepo-mypy-cache", *PACKAGES],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F,E9,B", "--ignore", "B008,B905",
         "core", "plugins", "tests", "benchmarks", "examples"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_ships_py_typed() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").exists(), package
