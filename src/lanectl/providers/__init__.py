"""Vendor APIs behind one interface (ADR 0019). Importing this imports no SDK."""

from __future__ import annotations

from lanectl.providers.base import (
    ErrorClass,
    Message,
    Provider,
    ProviderError,
    Request,
    Tool,
    ToolCall,
    Turn,
    Usage,
)
from lanectl.providers.registry import ProviderSpec, build, kinds, register

__all__ = [
    "ErrorClass",
    "Message",
    "Provider",
    "ProviderError",
    "ProviderSpec",
    "Request",
    "Tool",
    "ToolCall",
    "Turn",
    "Usage",
    "build",
    "kinds",
    "register",
]
