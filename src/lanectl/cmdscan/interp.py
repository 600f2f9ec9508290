"""Interpreters: inline code (python -c, node -e, perl -e, awk programs) and stdin programs.

Inline code is not parsed: code that mentions running commands, opening
connections or reading the environment is a doubt, and quoted paths in it are
judged like path arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lanectl.cmdscan import forge, hosts
from lanectl.cmdscan.base import (
    CREDENTIAL,
    NETWORK,
    Call,
    Scan,
    classify,
    has_option,
    looks_secret,
    positionals,
)
from lanectl.cmdscan.paths import check_path, script
from lanectl.cmdscan.shell import Word

INTERPRETERS = {"python": ("-c",), "pypy": ("-c",), "node": ("-e", "--eval", "-p", "--print"),
                "perl": ("-e", "-E"), "ruby": ("-e",), "php": ("-r",), "lua": ("-e",),
                "Rscript": ("-e",), "osascript": ("-e",), "deno": ("eval",),
                "bun": ("-e", "--eval")}  # fmt: skip
RISKY_CODE = re.compile(
    r"subprocess|os\.(system|popen|exec|spawn|fork)|\bpty\b|socket|urllib|urlopen|\brequests\b"
    r"|http\.client|httpx|aiohttp|paramiko|ftplib|smtplib|telnetlib|child_process|execSync"
    r"|spawnSync|\bfetch\s*\(|require\(\s*['\"](net|https?|dgram|tls)['\"]|\bsystem\s*\("
    r"|\bexec\s*\(|\beval\s*\(|__import__|importlib|base64|b64decode|atob\(|environ|getenv"
    r"|process\.env|\bENV\b|%ENV|`|\bqx\b|IO\.popen|open3|Net::|LWP|getline|Deno\.(run|env)"
    r"|\bdo shell script\b|ctypes|marshal|pickle|compile\s*\(|ENVIRON|\|\s*\""
)
_QUOTED = re.compile(r"""(['"])((?:(?!\1).)*)\1""")


def interpreter(call: Call, out: Scan, depth: int) -> None:
    base = re.sub(r"[0-9.]+$", "", call.name)
    flags = INTERPRETERS.get(base, ())
    args = list(call.args)
    code: Word | None = None
    module: str | None = None
    program: Word | None = None
    i = 0
    while i < len(args):
        text = args[i].text
        if text in flags or (base == "perl" and re.fullmatch(r"-[a-zA-Z]*[eE]", text)):
            code = args[i + 1] if i + 1 < len(args) else Word("")
            break
        if base == "python" and text == "-m" and i + 1 < len(args):
            module = args[i + 1].text
            break
        if text in ("-W", "-X", "-I", "-M", "-r", "--require", "-x") and base != "python":
            i += 2
            continue
        if text in ("-W", "-X") and base == "python":
            i += 2
            continue
        if text == "-" or not text.startswith("-"):
            program = args[i]
            break
        i += 1
    if code is not None:
        inline_code(call, code, out)
    elif module is not None:
        _python_module(call, module, args[i + 2 :], out, depth)
    elif program is None or program.text == "-":
        out.doubt(call.shown, f"`{call.name}` reading its program from its input or a terminal")
    else:
        script(program, call, out)


def inline_code(call: Call, code: Word, out: Scan) -> None:
    """Inline programs: deny what runs commands, opens connections or reads the environment."""
    if code.dynamic:
        out.doubt(call.shown, f"`{call.name}` code built at run time")
        return
    match = RISKY_CODE.search(code.text)
    if match:
        out.doubt(
            call.shown,
            f"inline {call.name} code that runs commands, opens connections "
            f"or reads the environment (`{match.group()}`)",
        )

    for literal in _QUOTED.findall(code.text):
        text = literal[1]
        facts = classify(text, cwd=call.cwd, worktree=out.facts.worktree)
        if facts is not None and (facts.outside or facts.secret or facts.credential):
            check_path(text, call.shown, out, call.cwd, writes=False, reads=True)
        if looks_secret(text) and out.facts.foreign_credential(text):
            out.red(CREDENTIAL, call.shown, out.facts.foreign_credential(text) or "")


def _python_module(call: Call, module: str, rest: Sequence[Word], out: Scan, depth: int) -> None:
    inner = call.sub([Word(module), *rest])
    if module in ("pip", "pip3"):
        hosts.installer(inner, out, depth)
    elif module == "lanectl":
        forge.lanectl(inner, out, depth)
    elif module in ("http.server", "smtpd", "ftplib", "telnetlib", "webbrowser", "pydoc"):
        out.red(
            NETWORK,
            call.shown,
            f"`python -m {module}` opens network connections or listens for them",
        )


def awk(call: Call, out: Scan, depth: int) -> None:
    found = positionals(call.args, {"-f", "-v", "-F"})
    if not has_option(call.args, "-f") and found:
        inline_code(call, found[0], out)


FAMILIES = ("python", "python2", "python3", "pypy", "pypy3", "node", "nodejs", "perl", "ruby",
            "php", "lua", "Rscript", "osascript", "deno", "bun")  # fmt: skip
DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {
    **dict.fromkeys(FAMILIES, interpreter),
    **dict.fromkeys(("awk", "gawk", "mawk", "nawk"), awk),
}


def detector_for(name: str) -> Callable[[Call, Scan, int], None] | None:
    """Versioned interpreters (python3.12, ruby3.3) map to their family."""
    if re.fullmatch(r"(python|pypy|ruby|perl|php|lua|node)[0-9.]+", name):
        return interpreter
    return None
