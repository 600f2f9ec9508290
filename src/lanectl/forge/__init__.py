"""Forges behind one interface (ADR 0016). Importing this imports no forge SDK."""

from __future__ import annotations

from lanectl.forge.base import (
    STATUS_CONTEXT,
    Advice,
    Forge,
    ForgeError,
    InlineComment,
    Posted,
    ProtectionReport,
    PullRef,
    ReviewPost,
)
from lanectl.forge.registry import ForgeSpec, kinds, open_forge, register

__all__ = [
    "STATUS_CONTEXT",
    "Advice",
    "Forge",
    "ForgeError",
    "ForgeSpec",
    "InlineComment",
    "Posted",
    "ProtectionReport",
    "PullRef",
    "ReviewPost",
    "kinds",
    "open_forge",
    "register",
]
