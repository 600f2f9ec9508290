"""Which vendors exist and how to build one (STYLE §4: one registry, built-ins included).

The built-in vendors are named here by module path only, so importing the
registry (or ``lanectl --help``) never imports a vendor SDK; a provider's
module, and with it its SDK, is imported when the first one is built.
Plugins and tests add vendors with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanectl.errors import LaneError
from lanectl.providers.base import Provider


@dataclass(frozen=True)
class ProviderSpec:
    """How to reach one vendor endpoint with one credential (never the secret itself)."""

    kind: str  # a registered vendor name
    budget: str = ""  # the budget (credential) this client draws from, for messages
    base_url: str | None = None
    credential_env: str | None = None
    keyring: str | None = None  # "service/username"
    timeout_s: float = 600.0
    prompt_cache: bool = True  # Anthropic cache_control on the system prompt and tools
    options: Mapping[str, Any] = field(default_factory=dict)  # test seams: http_client, strict


Factory = Callable[[ProviderSpec], Provider]

_BUILTIN: dict[str, tuple[str, str]] = {
    "anthropic": ("lanectl.providers.anthropic_api", "build"),
    "openai": ("lanectl.providers.openai_api", "build"),
    "openai-compatible": ("lanectl.providers.openai_api", "build"),
}
_REGISTERED: dict[str, Factory] = {}


def register(kind: str, factory: Factory) -> None:
    """Add (or replace) a vendor: ``factory(spec)`` returns a :class:`Provider`."""
    _REGISTERED[kind] = factory


def kinds() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def build(spec: ProviderSpec) -> Provider:
    factory = _REGISTERED.get(spec.kind)
    if factory is None:
        target = _BUILTIN.get(spec.kind)
        if target is None:
            raise LaneError(
                f"unknown provider '{spec.kind}'",
                hint=f"use one of: {', '.join(kinds())} (or `command` for an agent CLI)",
            )
        module = importlib.import_module(target[0])
        factory = getattr(module, target[1])
    return factory(spec)
