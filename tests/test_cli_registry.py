"""register / list / describe / update / delete, and their error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_register_list_describe(run, git_repo: Path) -> None:
    result = run("register", "proj", "--type", "git", f"--url={git_repo}")
    assert result.exit_code == 0, result.stderr
    assert "Registered proj (git" in result.stdout

    listed = run("list", "--json")
    data = json.loads(listed.stdout)
    assert [(d["name"], d["type"], d["options"]["url"]) for d in data] == [("proj", "git", str(git_repo))]

    plain = run("list")
    assert plain.stdout.split()[:2] == ["proj", "git"]

    described = json.loads(run("describe", "proj", "--json").stdout)
    assert described["options"] == {"url": str(git_repo), "username": None}
    assert described["type_installed"] is True
    assert described["id"] == data[0]["id"]


def test_both_option_spellings_with_equals_or_space(run) -> None:
    assert run("register", "a", "--type", "github", "--owner", "o", "--repository=r", "--api-url", "https://x/api").exit_code == 0
    assert run("register", "b", "--type=github", "--owner=o", "--repository", "r", "--api_url=https://x/api").exit_code == 0
    a = json.loads(run("describe", "a", "--json").stdout)["options"]
    b = json.loads(run("describe", "b", "--json").stdout)["options"]
    assert a["api_url"] == b["api_url"] == "https://x/api"


def test_name_may_come_after_options(run) -> None:
    result = run("register", "--type", "git", "--url", "/somewhere", "late")
    assert result.exit_code == 0, result.stderr
    assert "late" in run("list").stdout


def test_list_empty(run) -> None:
    assert json.loads(run("list", "--json").stdout) == []
    assert "No repositories registered" in run("list").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["register", "x", "--type", "nope", "--url=u"], "unknown repository type 'nope'; installed types: custom, git, github, gitlab"),
        (["register", "x", "--type", "git"], "missing required option --url for type 'git'; valid options: --url (required), --username, --token"),
        (["register", "x", "--type", "git", "--url=u", "--branch=main"], "unknown option --branch for type 'git'; valid options:"),
        (["register", "x", "--type", "github", "--owner=o", "--repository=r", "--download-strategy=zip"], "choose one of tarball, zipball, git"),
        (["register", "x", "--type", "git", "--url"], "option --url needs a value"),
        (["register", "x", "--type", "git", "--url=u", "stray"], "register takes exactly one repository NAME (got 'x', 'stray')"),
        (["register", "--type", "git", "--url=u"], "register takes exactly one repository NAME (none given)"),
        (["register", "bad name!", "--type", "git", "--url=u"], "invalid repository name 'bad name!'"),
        (["register", "x", "--type", "git", "--url=https://u:secret@host/r.git"], "--url contains a password"),
        (["register", "x", "--type", "git", "--url=u", "--token=a", "--token-env=B"], "give either --token or --token-env, not both"),
        (["register", "x", "--type", "git", "--url=u", "--token-env=not a var"], "is not an environment variable name"),
        (["register", "x", "--type", "gitlab", "--project=a//b"], "invalid options for type 'gitlab': project 'a//b' is invalid"),
        (["register", "x"], "Missing option '--type'"),
        (["describe", "ghost"], "no repository named 'ghost'"),
        (["update", "ghost", "--url=x"], "no repository named 'ghost'"),
        (["delete", "ghost", "--yes"], "no repository named 'ghost'"),
        (["login", "ghost"], "no repository named 'ghost'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert json.loads(run("list", "--json").stdout) == []  # nothing half-written


def test_duplicate_name_is_refused_and_keeps_the_first(run) -> None:
    assert run("register", "x", "--type", "git", "--url=/first").exit_code == 0
    result = run("register", "x", "--type", "git", "--url=/second")
    assert result.exit_code == 2
    assert "already registered" in result.stderr
    assert json.loads(run("describe", "x", "--json").stdout)["options"]["url"] == "/first"


def test_integer_and_boolean_options_are_converted(make_distribution, run) -> None:
    make_distribution(
        "coderepo-typed",
        {
            "typed_plugin": """
                from typing import Optional
                import attrs, coderepo

                @attrs.frozen
                class TypedConfig:
                    port: int
                    verify: bool = True
                    ratio: Optional[float] = None

                @coderepo.hookimpl
                def repository_types():
                    return [coderepo.RepositoryType("typed", TypedConfig, "test")]
            """
        },
        {"typed": "typed_plugin"},
    )
    assert run("register", "t", "--type=typed", "--port=8080", "--verify=no", "--ratio=0.5").exit_code == 0
    assert json.loads(run("describe", "t", "--json").stdout)["options"] == {"port": 8080, "verify": False, "ratio": 0.5}
    bad = run("register", "u", "--type=typed", "--port=eighty")
    assert bad.exit_code == 2 and "option --port='eighty' is invalid: expected an integer" in bad.stderr
    bad = run("register", "u", "--type=typed", "--port=1", "--verify=maybe")
    assert bad.exit_code == 2 and "expected true or false" in bad.stderr


def test_update_changes_only_given_options(run) -> None:
    run("register", "x", "--type", "github", "--owner=o", "--repository=r", "--token=tok1")
    before = json.loads(run("describe", "x", "--json").stdout)
    result = run("update", "x", "--host=ghe.example.com")
    assert result.exit_code == 0, result.stderr
    after = json.loads(run("describe", "x", "--json").stdout)
    assert after["options"]["host"] == "ghe.example.com"
    assert after["options"]["owner"] == "o" and after["id"] == before["id"]
    assert after["secrets"] == before["secrets"]
    import coderepo

    assert coderepo.get_repository("x").config.token == "tok1"


def test_update_validates_and_keeps_the_old_entry(run) -> None:
    run("register", "x", "--type", "github", "--owner=o", "--repository=r")
    result = run("update", "x", "--download-strategy=rsync")
    assert result.exit_code == 2 and "choose one of" in result.stderr
    assert run("update", "x", "--colour=blue").exit_code == 2
    nothing = run("update", "x")
    assert nothing.exit_code == 2 and "nothing to update" in nothing.stderr
    assert json.loads(run("describe", "x", "--json").stdout)["options"] == {
        "owner": "o", "repository": "r", "host": "github.com", "api_url": None, "download_strategy": "tarball",
    }


def test_update_switches_token_to_environment_reference(run, coderepo_home: Path, monkeypatch) -> None:
    run("register", "x", "--type", "git", "--url=/r", "--token=abc")
    assert run("update", "x", "--token-env=MY_TOKEN").exit_code == 0
    secrets = json.loads(run("describe", "x", "--json").stdout)["secrets"]
    assert secrets == {"token": "**** (from $MY_TOKEN)"}
    import coderepo

    monkeypatch.setenv("MY_TOKEN", "from-env")
    assert coderepo.get_repository("x").config.token == "from-env"


def test_delete_needs_confirmation(run, coderepo_home: Path) -> None:
    run("register", "x", "--type", "git", "--url=/r", "--token=abc")
    refused = run("delete", "x")  # stdin is not a terminal
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert run("list", "--json").stdout.count('"x"') == 1
    assert run("delete", "x", "--yes").exit_code == 0
    assert json.loads(run("list", "--json").stdout) == []
    assert "abc" not in (coderepo_home / "secrets.json").read_text()


def test_version_and_help(run) -> None:
    import coderepo

    assert run("--version").stdout.strip() == f"coderepo {coderepo.__version__}"
    helped = run("--help").stdout
    for command in ("register", "list", "describe", "update", "delete", "login", "plugins"):
        assert command in helped


def test_unwritable_home_is_a_clear_error(run, tmp_path: Path, monkeypatch) -> None:
    import os

    if os.geteuid() == 0:
        home = tmp_path / "a-file"
        home.write_text("not a directory")  # root ignores permissions; a file in the way does not
    else:
        home = tmp_path / "readonly"
        home.mkdir()
        home.chmod(0o500)
    monkeypatch.setenv("CODEREPO_HOME", str(home))
    result = run("register", "x", "--type", "git", "--url=/r")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write the registry in {home}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_download_into_an_impossible_place(run, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    run("register", "p", "--type", "git", "--url=/r")
    result = run("download", "p", "--commit", "a" * 40, str(tmp_path / "file" / "dest"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot create {tmp_path / 'file' / 'dest'}: ")
