"""lanectl: a git-native organisation of AI agents, with lanes enforced in code."""

from __future__ import annotations

__version__ = "0.1.0"
