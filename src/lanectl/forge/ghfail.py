"""GitHub failures as one line a person can act on (and nothing secret).

Decided from the status, the headers and the body GitHub sent, not from
PyGithub's exception class. A rate limit carries its retry-after; lanectl
never resends a write on its own (PyGithub's retries would resend a POST or
PUT and could open a pull request twice), so the caller decides.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lanectl.forge.base import ErrorKind, ForgeError

_SECONDARY = ("secondary rate limit", "please retry your request again later", "abuse")


def _message(data: Any) -> tuple[str, str]:
    """(GitHub's message, the details of its ``errors`` list) from a response body."""
    if not isinstance(data, dict):
        return (str(data)[:200] if data else ""), ""
    message = str(data.get("message") or "")
    details: list[str] = []
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            text = error.get("message") or " ".join(
                str(error[k]) for k in ("resource", "field", "code") if error.get(k)
            )
            details.append(str(text))
        else:
            details.append(str(error))
    return message, "; ".join(d for d in details if d)[:300]


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds to wait, from ``retry-after`` or an exhausted ``x-ratelimit-reset``."""
    value = _header(headers, "retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    if _header(headers, "x-ratelimit-remaining") == "0":
        reset = _header(headers, "x-ratelimit-reset")
        try:
            return max(0.0, float(reset or "") - time.time())
        except ValueError:
            return None
    return None


def from_response(
    status: int, data: Any, headers: Mapping[str, Any] | None, doing: str, repo: str, token_env: str
) -> ForgeError:
    message, details = _message(data)
    said = f"{status} {message}".strip() + (f": {details}" if details else "")
    wait = retry_after(headers)
    limited = status == 429 or (
        status == 403 and (wait is not None or any(s in message.lower() for s in _SECONDARY))
    )
    kind: ErrorKind
    hint: str | None
    if status == 401:
        kind, text = (
            "auth",
            f"GitHub rejected the token in ${token_env} ({said}) while trying to {doing}",
        )
        hint = f"check that ${token_env} holds a valid, unexpired token for {repo}"
    elif limited:
        secondary = "secondary " if status == 429 or "secondary" in message.lower() else ""
        after = f"; retry after {wait:.0f} s" if wait is not None else ""
        kind, text = "rate_limited", f"GitHub {secondary}rate limit while trying to {doing}{after}"
        hint = "lanectl does not resend on its own: wait, then run the command again"
    elif status == 403:
        kind, text = "forbidden", f"GitHub refused to {doing} ({said})"
        hint = (
            f"the token needs read and write access to {repo}'s pull requests, issues, "
            "commit statuses and contents"
        )
    elif status == 404:
        kind, text = "not_found", f"GitHub found nothing while trying to {doing} ({said})"
        hint = f"check forge › repo ({repo}) and that ${token_env} can see it"
    elif status == 405:
        kind, text = "not_mergeable", f"GitHub will not {doing} ({said})"
        hint = (
            "the pull request is not mergeable now (a conflict, a required check or review, or "
            "merge commits disabled): see `lanectl doctor --forge`"
        )
    elif status == 409:
        kind, text = "head_moved", f"GitHub refused to {doing} ({said})"
        hint = "the head branch on GitHub is not the commit lanectl judged: push it, then run again"
    elif status == 422:
        kind, text = "invalid", f"GitHub rejected the request to {doing} ({said})"
        hint = None
    elif status >= 500:
        kind, text = "server", f"GitHub failed to {doing} ({said})"
        hint = "GitHub had a problem; run the command again later"
    else:
        kind, text = "invalid", f"GitHub answered {said} while trying to {doing}"
        hint = None
    return ForgeError(text, kind=kind, status=status, retry_after=wait, hint=hint)


def translate(exc: Exception, doing: str, repo: str, token_env: str, api_url: str) -> ForgeError:
    """Any failure of a PyGithub call as a :class:`ForgeError`."""
    from github import GithubException

    if isinstance(exc, GithubException):
        return from_response(exc.status, exc.data, exc.headers, doing, repo, token_env)
    return ForgeError(
        f"cannot reach GitHub at {api_url} to {doing} ({type(exc).__name__})",
        kind="network",
        hint="check the network and forge › api_url, then run the command again",
    )


def ambiguous(exc: Exception) -> bool:
    """The request may have been carried out although it failed: re-read before anything else."""
    from github import GithubException

    if isinstance(exc, GithubException):
        return exc.status >= 500
    import requests

    return isinstance(exc, requests.exceptions.RequestException)


def redacted(error: ForgeError, secret: str) -> ForgeError:
    """The same error with ``secret`` removed from its text (defence in depth)."""
    if secret and (secret in error.message or secret in (error.hint or "")):
        error.message = error.message.replace(secret, "[redacted]")
        error.args = (error.message,)
        error.hint = error.hint.replace(secret, "[redacted]") if error.hint else None
    return error
