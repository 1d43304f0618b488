"""The registry file: atomic, safe under concurrent writers, corrupt = clear error, no secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import coderepo
from coderepo.registry import Registry
from conftest import run_process

SECRET = "ghp_SUPERSECRET0123456789"


def test_twenty_concurrent_register_processes_lose_nothing(coderepo_home: Path) -> None:
    exe = str(Path(sys.executable).with_name("coderepo"))
    procs = [
        subprocess.Popen(
            [exe, "register", f"repo{i:02d}", "--type", "git", f"--url=/srv/git/r{i}", f"--token=t{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(20)
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0] * 20, [p.stderr.read() for p in procs]
    entries = Registry().entries()
    assert [e.name for e in entries] == [f"repo{i:02d}" for i in range(20)]
    assert len({e.id for e in entries}) == 20
    for i in range(20):
        assert coderepo.get_repository(f"repo{i:02d}").config.token == f"t{i}"
    leftovers = [p.name for p in coderepo_home.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_concurrent_threads_updates_and_deletes(coderepo_home: Path) -> None:
    for i in range(10):
        coderepo.register(f"r{i}", "git", {"url": f"/r{i}"})

    def work(i: int) -> None:
        if i % 2:
            coderepo.update(f"r{i}", {"username": f"user{i}"})
        else:
            coderepo.delete(f"r{i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(10)))
    remaining = {e.name: e.options.get("username") for e in Registry().entries()}
    assert remaining == {f"r{i}": f"user{i}" for i in range(1, 10, 2)}


def test_token_never_appears_in_output_logs_or_registry(coderepo_home: Path, git_repo: Path) -> None:
    outputs = []
    commands = [
        ["--debug", "register", "proj", "--type", "git", f"--url={git_repo}", f"--token={SECRET}", "--username=me"],
        ["register", "bad", "--type", "git", "--url=u", f"--token={SECRET}", "--bogus=1"],
        ["register", "proj", "--type", "git", "--url=u", f"--token={SECRET}"],
        ["list"],
        ["list", "--json"],
        ["describe", "proj"],
        ["describe", "proj", "--json"],
        ["--debug", "login", "proj"],
        ["update", "proj", f"--token={SECRET}", "--username=other"],
        ["update", "proj", "--json", "--username=third"],
        ["plugins", "--json"],
    ]
    for args in commands:
        result = run_process(*args, env={"CODEREPO_TRACE_HOOKS": "1"})
        outputs.append(result.stdout + result.stderr)
    assert "Logged in" in outputs[7]
    for args, text in zip(commands, outputs):
        assert SECRET not in text, args
        assert text.count("****") >= 0
    assert "token: **** (secrets.json, mode 0600)" in outputs[5]
    assert SECRET not in (coderepo_home / "registry.json").read_text()
    secrets = coderepo_home / "secrets.json"
    assert SECRET in secrets.read_text()
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    repository = coderepo.get_repository("proj")
    assert repository.config.token == SECRET
    assert SECRET not in repr(repository) and SECRET not in str(repository)


def test_token_env_stores_only_the_variable_name(coderepo_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("MY_GIT_TOKEN", SECRET)
    coderepo.register("proj", "git", {"url": "/r", "token_env": "MY_GIT_TOKEN"})
    assert not (coderepo_home / "secrets.json").exists()
    stored = json.loads((coderepo_home / "registry.json").read_text())
    assert stored["repositories"]["proj"]["secrets"] == {"token": {"env": "MY_GIT_TOKEN"}}
    assert coderepo.get_repository("proj").config.token == SECRET
    monkeypatch.delenv("MY_GIT_TOKEN")
    assert coderepo.get_repository("proj").config.token is None


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"format": 1}', '{"format": 99, "repositories": {}}', '{"format": 1, "repositories": {"x": {"type": "git", "id": "nope"}}}'],
)
def test_corrupt_registry_is_a_clear_error_and_left_unchanged(run, coderepo_home: Path, content: str) -> None:
    path = coderepo_home / "registry.json"
    path.write_text(content)
    for args in (["list"], ["describe", "x"], ["register", "y", "--type", "git", "--url=/r"], ["delete", "x", "--yes"], ["update", "x", "--url=/s"]):
        result = run(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith(f"Error: registry file {path} is corrupt (")
        assert "left unchanged: fix it or move it away" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert path.read_text() == content


def test_crash_during_write_keeps_previous_state(coderepo_home: Path, monkeypatch) -> None:
    coderepo.register("first", "git", {"url": "/r"})
    before = (coderepo_home / "registry.json").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        coderepo.register("second", "git", {"url": "/s"})
    monkeypatch.undo()
    assert (coderepo_home / "registry.json").read_bytes() == before
    assert [p.name for p in coderepo_home.iterdir() if p.suffix == ".tmp"] == []


def test_registry_is_human_readable(coderepo_home: Path) -> None:
    coderepo.register("proj", "github", {"owner": "octo", "repository": "hello"})
    text = (coderepo_home / "registry.json").read_text()
    assert '"owner": "octo"' in text and text.endswith("\n")
    assert json.loads(text)["repositories"]["proj"]["type"] == "github"


def test_unreadable_secrets_file_is_reported(coderepo_home: Path) -> None:
    coderepo.register("proj", "git", {"url": "/r", "token": "abc"})
    (coderepo_home / "secrets.json").write_text("garbage")
    with pytest.raises(coderepo.RegistryCorruptError, match="secrets file .* is corrupt"):
        coderepo.get_repository("proj")
    assert (coderepo_home / "secrets.json").read_text() == "garbage"


def test_tokens_go_to_the_os_keyring_when_one_is_usable(coderepo_home: Path, monkeypatch) -> None:
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 10  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setenv("CODEREPO_SECRET_STORE", "auto")
    try:
        repository = coderepo.register("proj", "git", {"url": "/r", "token": SECRET})
        assert list(backend.store.values()) == [SECRET]
        assert not (coderepo_home / "secrets.json").exists()
        assert SECRET not in (coderepo_home / "registry.json").read_text()
        assert json.loads((coderepo_home / "registry.json").read_text())["repositories"]["proj"]["secrets"] == {
            "token": {"keyring": "coderepo"}
        }
        assert coderepo.get_repository("proj").config.token == SECRET
        coderepo.delete("proj")
        assert backend.store == {}
        assert repository.name == "proj"
    finally:
        keyring.set_keyring(previous)
