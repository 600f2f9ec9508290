"""Secret stores and environment dumps: credential reuse (SPEC §5.2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lanectl.cmdscan.base import CREDENTIAL, Call, Scan, has_option, positionals
from lanectl.cmdscan.shell import Word

SECRET_TOOLS = {"ssh-add", "pass", "gopass", "secret-tool", "security", "keyring", "op", "bw",
                "lpass", "vault", "doppler", "sops", "age", "kwallet-query", "chamber",
                "ansible-vault", "gpg", "gpg2"}  # fmt: skip


def _first(args: Sequence[Word], value: set[str] | frozenset[str] = frozenset()) -> list[str]:
    return [w.text for w in positionals(args, value)]


def secrets(call: Call, out: Scan, depth: int) -> None:
    words = _first(call.args, {"-s", "-a", "--service"})
    if call.name == "keyring" and words[:1] == ["get"]:
        ref = "/".join(words[1:3])
        if any(r in out.facts.own_credentials for r in (ref, " ".join(words[1:3]), *words[1:2])):
            return
    if call.name in ("gpg", "gpg2") and not has_option(
        call.args, "-d", "--decrypt", "--export-secret-keys", "-s", "--sign", "--clearsign"
    ):
        return
    if call.name == "security" and not (
        words and re.match(r"find-.*password|dump-keychain", words[0])
    ):
        return
    out.red(
        CREDENTIAL,
        call.shown,
        f"`{call.name}` reads a secret store that belongs to humans "
        f"or other systems; {out.facts.actor} gets only its own credential, from lanectl",
    )


def env_dump(call: Call, out: Scan, depth: int) -> None:
    args = [w.text for w in call.args]
    if call.name == "printenv":
        names = [a for a in args if not a.startswith("-")]
        if not names:
            out.red(
                CREDENTIAL,
                call.shown,
                "printenv prints every environment variable, "
                "credentials included; read the one variable you need",
                "dump every credential",
            )
        for name in names:
            why = out.facts.foreign_credential(name)
            if why:
                out.red(CREDENTIAL, call.shown, why)
        return
    dumping = (
        (call.name in ("set", "export") and (not args or args == ["-p"]))
        or (
            call.name in ("declare", "typeset")
            and any(a in ("-p", "-x", "-px") for a in args)
            and not [a for a in args if not a.startswith("-")]
        )
        or (call.name == "compgen" and "-e" in args)
    )
    if dumping:
        out.red(
            CREDENTIAL,
            call.shown,
            f"`{call.name}` prints every variable, credentials "
            "included; read the one variable you need",
            "dump every credential",
        )


DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {
    **dict.fromkeys(SECRET_TOOLS, secrets),
    **dict.fromkeys(("printenv", "set", "export", "declare", "typeset", "compgen"), env_dump),
}
