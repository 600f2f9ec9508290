"""Which forges exist and how to open one (STYLE §4: one registry, built-ins included).

The built-in forges are named by module path only, so importing this (or
``lanectl --help``) never imports PyGithub; the ``github`` module is imported
when a github forge is opened. The forge settings come from the config the
caller passes — the base branch's, so a task branch cannot point lanectl's
token at another host.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lanectl.config import CONFIG_PATH
from lanectl.errors import LaneError
from lanectl.forge.base import Forge, ForgeError
from lanectl.workspace import Workspace

DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - the NAME of a variable, not a token
DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class ForgeSpec:
    """The ``forge:`` settings of a config (never the token itself)."""

    kind: str = "local"
    repo: str | None = None  # owner/name
    token_env: str = DEFAULT_TOKEN_ENV
    api_url: str = DEFAULT_API_URL

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> ForgeSpec:
        forge = raw.get("forge")
        if not isinstance(forge, dict):
            return cls()

        def text(key: str, default: str | None) -> str | None:
            value = forge.get(key)
            return value if isinstance(value, str) and value else default

        return cls(
            kind=text("kind", "local") or "local",
            repo=text("repo", None),
            token_env=text("token_env", DEFAULT_TOKEN_ENV) or DEFAULT_TOKEN_ENV,
            api_url=(text("api_url", DEFAULT_API_URL) or DEFAULT_API_URL).rstrip("/"),
        )

    def token(self) -> str:
        """The token from the environment variable the config names (never argv or a file)."""
        value = os.environ.get(self.token_env, "").strip()
        if not value:
            raise ForgeError(
                f"${self.token_env} is not set: lanectl reads the {self.kind} token from the "
                "environment only",
                kind="config",
                hint=f"export {self.token_env} in the shell that runs lanectl (never put it in "
                "config or on the command line)",
            )
        return value

    def check_api_url(self) -> None:
        """A token goes over https, or plain http to this machine only (a test forge)."""
        parts = urlsplit(self.api_url)
        host = parts.hostname or ""
        if parts.scheme == "https" and host:
            return
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):  # a host name, not an address
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        if parts.scheme == "http" and loopback:
            return
        raise ForgeError(
            f"forge.api_url '{self.api_url}' must be an https:// URL (plain http only to "
            "this machine): lanectl sends the token there",
            kind="config",
            hint=f"fix forge › api_url in {CONFIG_PATH} on the base branch",
        )


Factory = Callable[[Workspace, ForgeSpec], Forge]

_BUILTIN: dict[str, tuple[str, str]] = {
    "local": ("lanectl.forge.local", "build"),
    "github": ("lanectl.forge.github", "build"),
}
_REGISTERED: dict[str, Factory] = {}


def register(kind: str, factory: Factory) -> None:
    """Add (or replace) a forge: ``factory(ws, spec)`` returns a :class:`Forge`."""
    _REGISTERED[kind] = factory


def kinds() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def open_forge(ws: Workspace, raw: Mapping[str, Any]) -> Forge:
    """The forge ``raw``'s ``forge.kind`` names (pass the base branch's config)."""
    spec = ForgeSpec.from_config(raw)
    factory = _REGISTERED.get(spec.kind)
    if factory is None:
        target = _BUILTIN.get(spec.kind)
        if target is None:
            raise LaneError(
                f"unknown forge kind '{spec.kind}'",
                where=CONFIG_PATH,
                hint=f"use one of: {', '.join(kinds())}",
            )
        factory = getattr(importlib.import_module(target[0]), target[1])
    return factory(ws, spec)
