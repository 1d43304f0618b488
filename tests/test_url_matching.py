"""Which remote URLs belong to a registered repository, for every shipped type."""

from __future__ import annotations

import pytest

from coderepo import parse_remote
from coderepo_github import GitHubConfig
from coderepo_github import owns_url as github_owns
from coderepo_gitlab import GitLabConfig
from coderepo_gitlab import owns_url as gitlab_owns

GITHUB = GitHubConfig(owner="Octo-Org", repository="Hello.World")


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/Hello.World",
        "https://github.com/Octo-Org/Hello.World.git",
        "https://github.com/Octo-Org/Hello.World/",
        "https://github.com/Octo-Org/Hello.World.git/",
        "https://user@github.com/Octo-Org/Hello.World.git",
        "https://x-access-token:ghs_abc@github.com/Octo-Org/Hello.World.git",
        "https://GitHub.COM/octo-org/hello.world",
        "https://github.com:443/Octo-Org/Hello.World.git",
        "http://github.com/Octo-Org/Hello.World",
        "git@github.com:Octo-Org/Hello.World.git",
        "git@github.com:octo-org/hello.world",
        "ssh://git@github.com/Octo-Org/Hello.World.git",
        "ssh://git@github.com:22/Octo-Org/Hello.World.git",
        "ssh://git@ssh.github.com:443/Octo-Org/Hello.World.git",
        "git://github.com/Octo-Org/Hello.World.git",
    ],
)
def test_github_urls_that_match(url: str) -> None:
    assert github_owns(GITHUB, url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Octo-Org/Hello.World2",
        "https://github.com/Other/Hello.World",
        "https://gitlab.com/Octo-Org/Hello.World",
        "https://github.com/Octo-Org/Hello.World/extra",
        "git@github.com:Octo-Org/Hello",
        "/srv/git/Octo-Org/Hello.World",
        "",
        "https://github.com:notaport/x",
    ],
)
def test_github_urls_that_do_not_match(url: str) -> None:
    assert not github_owns(GITHUB, url)


def test_github_enterprise_host() -> None:
    config = GitHubConfig(owner="team", repository="svc", host="GHE.Example.com")
    assert github_owns(config, "git@ghe.example.com:team/svc.git")
    assert github_owns(config, "https://ghe.example.com/team/svc")
    assert not github_owns(config, "https://github.com/team/svc")
    assert config.resolved_api_url == "https://GHE.Example.com/api/v3"
    assert GITHUB.resolved_api_url == "https://api.github.com"


@pytest.mark.parametrize(
    "config, url, expected",
    [
        (GitLabConfig(project="group/sub/project"), "https://gitlab.com/group/sub/project.git", True),
        (GitLabConfig(project="group/sub/project"), "git@gitlab.com:Group/Sub/Project.git", True),
        (GitLabConfig(project="group/sub/project"), "ssh://git@altssh.gitlab.com:443/group/sub/project.git", True),
        (GitLabConfig(project="group/sub/project"), "https://gitlab.com/group/project.git", False),
        (GitLabConfig(project="group/sub/project"), "https://gitlab.com/group/sub/project/more", False),
        (GitLabConfig(project="group/project", url="https://code.example.com/gitlab"), "https://code.example.com/gitlab/group/project.git", True),
        (GitLabConfig(project="group/project", url="https://code.example.com/gitlab"), "git@code.example.com:group/project.git", True),
        (GitLabConfig(project="group/project", url="https://code.example.com:8443"), "https://code.example.com:8443/group/project", True),
        (GitLabConfig(project="group/project", url="https://code.example.com:8443"), "https://code.example.com/group/project", False),
        (GitLabConfig(project="group/project", url="https://code.example.com:8443"), "ssh://git@code.example.com:2222/group/project.git", True),
        (GitLabConfig(project="12345"), "https://gitlab.com/group/project.git", False),
    ],
)
def test_gitlab_urls(config: GitLabConfig, url: str, expected: bool) -> None:
    assert gitlab_owns(config, url) is expected


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("https://git.example.com/team/repo.git", "git@git.example.com:team/repo", True),
        ("https://git.example.com/team/repo.git", "https://git.example.com/team/Repo.git", False),
        ("http://127.0.0.1:8080/repo.git", "http://127.0.0.1:9090/repo.git", False),
        ("http://127.0.0.1:8080/repo.git", "http://127.0.0.1:8080/repo", True),
        ("ssh://git@host:2222/srv/repo.git", "git@host:srv/repo.git", True),
        ("file:///srv/git/repo.git", "/srv/git/repo.git", True),
        ("/srv/git/repo/.git", "/srv/git/repo", True),
        ("/srv/git/repo", "/srv/git/other", False),
    ],
)
def test_generic_git_urls(a: str, b: str, same: bool) -> None:
    pa, pb = parse_remote(a), parse_remote(b)
    assert pa is not None and pb is not None
    assert pa.same_repository(pb) is same


def test_scp_like_with_ssh_user_and_no_user() -> None:
    loc = parse_remote("example.com:team/repo.git")
    assert (loc.scheme, loc.host, loc.path) == ("ssh", "example.com", "team/repo")
