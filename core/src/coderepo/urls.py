"""Git remote URLs: parsing, redaction of credentials (shared by all types)."""

from __future__ import annotations

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
