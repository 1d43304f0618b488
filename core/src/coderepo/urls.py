"""Git remote URLs: parsing, redaction of credentials (shared by all types)."""

from __future__ import annotations

import os as _os
import re
from urllib.parse import urlsplit, urlunsplit

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def has_scheme(url: str) -> bool:
    return bool(_SCHEME.match(url))


def url_password(url: str) -> str | None:
    """The password in a URL's userinfo (``https://user:pw@host``), if any."""
    if not has_scheme(url):
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """The URL with any userinfo secret replaced by ``****``, safe for messages."""
    if not has_scheme(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None and not (parts.username and parts.scheme.startswith("http")):
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username if parts.password is not None else "****"
    userinfo = f"{user}:****" if parts.password is not None else user
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


# -- parsing and matching ----------------------------------------------------------------

_SCP = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).*)$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22, "git": 9418}


class RemoteLocation:
    """A remote URL reduced to what identifies a repository: host, port and path.

    ``path`` has no leading or trailing slash and no ``.git`` suffix; local
    repositories have ``host`` None and an absolute real ``path``.
    """

    __slots__ = ("scheme", "host", "port", "path")

    def __init__(self, scheme: str, host: str | None, port: int | None, path: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path

    def __repr__(self) -> str:
        return f"RemoteLocation({self.scheme!r}, {self.host!r}, {self.port!r}, {self.path!r})"

    def same_repository(self, other: "RemoteLocation", *, ignore_case: bool = False) -> bool:
        """Same host and path; ports count only between two web (http/https) URLs."""
        if (self.host is None) != (other.host is None):
            return False
        if self.host is None:
            return self.path == other.path
        if self.host != other.host:
            return False
        web = {"http", "https"}
        if self.scheme in web and other.scheme in web and self.port != other.port:
            return False
        if ignore_case:
            return self.path.lower() == other.path.lower()
        return self.path == other.path


def _clean_path(path: str) -> str:
    path = path.strip("/")
    while path.endswith("/"):
        path = path[:-1]
    if path.endswith(".git"):
        path = path[:-4]
    return path.strip("/")


def parse_remote(url: str) -> RemoteLocation | None:
    """Parse any git remote spelling (https, ssh, scp-like, git://, file://, path)."""
    url = url.strip()
    if not url:
        return None
    if has_scheme(url):
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme == "file":
            return RemoteLocation("file", None, None, _real(parts.path))
        host = (parts.hostname or "").lower()
        if not host:
            return None
        if scheme.startswith("git+") or scheme.endswith("+ssh"):
            scheme = "ssh"
        return RemoteLocation(scheme, host, port or _DEFAULT_PORTS.get(scheme), _clean_path(parts.path))
    match = _SCP.match(url)
    if match and not _os.path.exists(url.split(":", 1)[0]):
        host = match.group("host").lower()
        return RemoteLocation("ssh", host, 22, _clean_path(match.group("path")))
    return RemoteLocation("file", None, None, _real(url))


def _real(path: str) -> str:
    real = _os.path.realpath(_os.path.expanduser(path))
    if real.endswith("/.git"):
        real = real[: -len("/.git")]
    return real
