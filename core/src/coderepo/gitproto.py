"""Talking to git servers with dulwich (smart HTTP(S), SSH, git://, local paths)."""

from __future__ import annotations

from typing import Any, Optional

from .errors import AuthenticationError, RemoteError
from .urls import redact_url


def open_client(url: str, username: Optional[str] = None, token: Optional[str] = None) -> tuple[Any, str]:
    """A dulwich client and the path to ask it for, credentials applied for HTTP(S)."""
    from dulwich.client import get_transport_and_path

    kwargs: dict[str, Any] = {"quiet": True}
    if token is not None or username is not None:
        kwargs["username"] = username or ("git" if token else None)
        kwargs["password"] = token
    try:
        return get_transport_and_path(url, **kwargs)
    except ValueError as exc:
        raise RemoteError(f"cannot use remote {redact_url(url)}: {exc}") from None


def remote_errors(url: str) -> Any:
    """Context manager mapping dulwich/network errors to AuthenticationError/RemoteError."""
    import contextlib

    @contextlib.contextmanager
    def mapping() -> Any:
        from dulwich.client import HTTPUnauthorized
        from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

        shown = redact_url(url)
        try:
            yield
        except HTTPUnauthorized:
            raise AuthenticationError(
                f"{shown} rejected the credentials: check --username and --token (or --token-env)"
            ) from None
        except NotGitRepository:
            raise RemoteError(f"{shown} is not a git repository") from None
        except (HangupException, GitProtocolError) as exc:
            cause = _network_cause(exc)
            if cause is not None:
                raise RemoteError(f"cannot reach {shown}: {cause}") from None
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "401" in text or "403" in text:
                raise AuthenticationError(f"{shown} refused access ({text})") from None
            raise RemoteError(f"{shown} did not answer as a git server: {text}") from None
        except OSError as exc:
            raise RemoteError(f"cannot reach {shown}: {exc.strerror or exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith("urllib3"):
                raise RemoteError(f"cannot reach {shown}: {type(exc).__name__}") from None
            raise

    return mapping()


def _network_cause(exc: BaseException) -> Optional[str]:
    """A short reason when ``exc`` was caused by a connection failure, else None."""
    seen = exc
    for _ in range(6):
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError) or "Connection refused" in str(seen):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        if type(seen).__module__.startswith("urllib3"):
            return type(seen).__name__
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Failed to establish a new connection" in text or "Max retries exceeded" in text:
        return "connection failed"
    return None


def list_refs(url: str, username: Optional[str] = None, token: Optional[str] = None) -> dict[bytes, bytes]:
    """The remote's refs (``git ls-remote``); raises AuthenticationError / RemoteError."""
    client, path = open_client(url, username, token)
    with remote_errors(url):
        result = client.get_refs(path)
    refs = getattr(result, "refs", result)
    return dict(refs)
