"""Credentials: from the environment variable a budget names, or a keyring entry.

Never from argv or a file in the repository, and never written anywhere: the
value goes straight into the SDK client. Error messages name the variable,
never its value.
"""

from __future__ import annotations

import importlib
import os

from lanectl.errors import LaneError
from lanectl.providers.registry import ProviderSpec


def resolve(spec: ProviderSpec) -> str:
    where = f"budget {spec.budget}" if spec.budget else f"provider {spec.kind}"
    if spec.keyring:
        service, _, user = spec.keyring.partition("/")
        try:
            keyring = importlib.import_module("keyring")  # optional; untyped
        except ImportError:
            raise LaneError(
                f"{where} names keyring entry {spec.keyring} but the keyring package is missing",
                hint="`pip install keyring`, or use credential_env instead",
            ) from None
        value = keyring.get_password(service, user)
        if not value:
            raise LaneError(
                f"{where}: no keyring entry {spec.keyring}",
                hint=f"store it with `keyring set {service} {user}`",
            )
        return str(value)
    if not spec.credential_env:
        raise LaneError(
            f"{where} names no credential",
            hint="add credential_env: <ENV_VAR_NAME> to the budget in .lanes/config.yaml",
        )
    value = os.environ.get(spec.credential_env, "")
    if not value.strip():
        raise LaneError(
            f"{where}: ${spec.credential_env} is not set",
            hint=f"export {spec.credential_env} in the shell that runs lanectl "
            "(never put keys in config or on the command line)",
        )
    return value.strip()
