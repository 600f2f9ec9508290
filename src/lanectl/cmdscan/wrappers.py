"""Wrappers lanectl looks through: shells with -c, env, sudo, timeout, xargs, find -exec, …

Each handler returns the call it wraps, or None when nothing is left to analyse
(a shell string it walked itself, a doubt it reported).
"""

from __future__ import annotations

from collections.abc import Callable

from lanectl.cmdscan import walk as walker
from lanectl.cmdscan.base import CREDENTIAL, Call, Scan, has_option, positionals
from lanectl.cmdscan.paths import check_path, script
from lanectl.cmdscan.shell import Word

SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "rbash", "csh",
          "tcsh", "busybox-sh"}  # fmt: skip
# Wrappers that only add options before the command they run:
# name → (options that take a value, positionals to skip before the command).
SIMPLE_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "nohup": (frozenset(), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "-n", "-p", "-P", "-u", "--class", "--classdata"}), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "gtimeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "stdbuf": (frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}), 0),
    "setsid": (frozenset(), 0),
    "chronic": (frozenset(), 0),
    "unbuffer": (frozenset(), 0),
    "caffeinate": (frozenset({"-t", "-w"}), 0),
    "taskset": (frozenset(), 1),
    "chrt": (frozenset(), 1),
    "time": (frozenset({"-f", "-o", "--format", "--output"}), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "busybox": (frozenset(), 0),
    "toybox": (frozenset(), 0),
    "strace": (frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-P", "-a", "-b", "-I", "-O",
                          "-S", "-X"}), 0),
    "ltrace": (frozenset({"-o", "-e", "-p", "-s", "-u", "-n", "-a"}), 0),
    "chroot": (frozenset({"--userspec", "--groups"}), 1),
    "flock": (frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}), 1),
    "doas": (frozenset({"-u", "-C"}), 0),
}  # fmt: skip


def simple_wrapper(call: Call, out: Scan, depth: int) -> Call | None:
    takes_value, skip = SIMPLE_WRAPPERS[call.name]
    rest = positionals(call.args, takes_value, stop_at_first=True)
    for word in rest[:skip]:
        check_path(word.text, call.shown, out, call.cwd, writes=False, reads=True)
    if call.name == "flock" and has_option(call.args, "-c", "--command"):
        return _shell_string(call, ("-c", "--command"), out, depth)
    rest = rest[skip:]
    return call.sub(rest) if rest else None


def _shell(call: Call, out: Scan, depth: int) -> Call | None:
    args = call.args
    i = 0
    command = reads_stdin = False
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if text in ("--command", "-c") or (text[:1] == "-" and "c" in text[1:] and text[1] != "-"):
            command = True
        elif text[:1] in "-+" and len(text) > 1 and "s" in text[1:] and text[1] != "-":
            reads_stdin = True
        if text[:1] not in "-+" or len(text) == 1:
            break
        i += 1
    rest = args[i:]
    if command:
        if not rest:
            out.doubt(call.shown, f"`{call.name} -c` without a command string")
        elif rest[0].dynamic:
            out.doubt(call.shown, f"`{call.name} -c` with a command string built at run time")
        else:
            walker.walk_text(rest[0].text, call, out, depth + 1)
        return None
    if reads_stdin or not rest:
        out.doubt(
            call.shown,
            f"`{call.name}` reading commands from its input (a pipe, a "
            "here-string or a terminal); pass them with -c '…'",
        )
        return None
    script(rest[0], call, out)
    return None


def _shell_string(call: Call, flags: tuple[str, ...], out: Scan, depth: int) -> Call | None:
    words = list(call.args)
    for index, word in enumerate(words):
        if word.text in flags and index + 1 < len(words):
            value = words[index + 1]
            if value.dynamic:
                out.doubt(call.shown, f"`{call.name}` with a command string built at run time")
            else:
                walker.walk_text(value.text, call, out, depth + 1)
            return None
    out.doubt(call.shown, f"`{call.name}` without a command string")
    return None


def _env(call: Call, out: Scan, depth: int) -> Call | None:
    args = list(call.args)
    empty = False
    while args:
        text = args[0].text
        if text in ("-i", "-", "--ignore-environment"):
            empty = True
        elif text in ("-u", "--unset", "-C", "--chdir"):
            if text in ("-C", "--chdir") and len(args) > 1:
                check_path(args[1].text, call.shown, out, call.cwd, writes=False, reads=True)
            args.pop(0)
        elif text in ("-S", "--split-string") and len(args) > 1:
            walker.walk_text(args[1].text, call, out, depth + 1)
            return None
        elif args[0].assignment:
            walker.assignment(args[0], call, out)
        elif not text.startswith("-") or text == "--":
            if text == "--":
                args.pop(0)
            break
        args.pop(0)
    if args:
        return call.sub(args)
    if not empty:
        out.red(
            CREDENTIAL,
            call.shown,
            "`env` prints every environment variable, credentials "
            "included; read the one variable you need",
            "dump every credential",
        )
    return None


def _sudo(call: Call, out: Scan, depth: int) -> Call | None:
    value = {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group"}
    rest = positionals(call.args, value, stop_at_first=True)
    while rest and rest[0].assignment:
        walker.assignment(rest.pop(0), call, out)
    if has_option(call.args[: len(call.args) - len(rest)], "-s", "-i", "--shell", "--login"):
        if rest:
            walker.walk_text(" ".join(w.text for w in rest), call, out, depth + 1)
        else:
            out.doubt(call.shown, "an interactive root shell")
        return None
    return call.sub(rest) if rest else None


def _command(call: Call, out: Scan, depth: int) -> Call | None:
    if has_option(call.args, "-v", "-V"):
        return None
    rest = positionals(call.args, (), stop_at_first=True)
    return call.sub(rest) if rest else None


def _xargs(call: Call, out: Scan, depth: int) -> Call | None:
    value = {"-a", "--arg-file", "-d", "--delimiter", "-E", "-e", "-I", "-L", "-l", "-n",
             "--max-args", "-P", "--max-procs", "-s", "--max-chars",
             "--process-slot-var"}  # fmt: skip
    rest = positionals(call.args, value, stop_at_first=True)
    options = call.args[: len(call.args) - len(rest)]
    token = next((w.text[2:] or "{}" for w in options if w.text.startswith("-i")), None)
    token = next((w.text[2:] for w in options if w.text.startswith("-I") and w.text[2:]), token)
    for index, word in enumerate(options[:-1]):
        if word.text in ("-I", "--replace"):
            token = options[index + 1].text
    if token:  # -I REPL puts input text inside the arguments: they are only known at run time
        rest = [Word(w.text, dynamic=True) if token in w.text else w for w in rest]
    return call.sub(rest or [Word("echo")], dynamic_tail=True, stdin=False)


def _find(call: Call, out: Scan, depth: int) -> Call | None:
    words = list(call.args)
    starts = [i for i, w in enumerate(words) if w.text in ("-exec", "-execdir", "-ok", "-okdir")]
    deletes = has_option(words, "-delete")
    for word in words[: starts[0] if starts else len(words)]:
        if not word.text.startswith("-") and not word.dynamic:
            check_path(word.text, call.shown, out, call.cwd, writes=deletes, reads=True)
    for index, word in enumerate(words):
        if word.text in ("-exec", "-execdir", "-ok", "-okdir"):
            inner: list[Word] = []
            for item in words[index + 1 :]:
                if item.text in (";", "+"):
                    break
                inner.append(Word(item.text, dynamic=True) if "{}" in item.text else item)
            if inner:
                walker.walk(call.sub(inner, dynamic_tail=True), out, depth + 1)
    return None


def _su(call: Call, out: Scan, depth: int) -> Call | None:
    if has_option(call.args, "-c", "--command"):
        return _shell_string(call, ("-c", "--command"), out, depth)
    rest = positionals(call.args, {"-u", "--user", "-g", "-G"}, stop_at_first=True)
    if call.name == "runuser" and rest:
        return call.sub(rest)
    out.doubt(call.shown, f"`{call.name}` opening a shell as another user")
    return None


def _watch(call: Call, out: Scan, depth: int) -> Call | None:
    rest = positionals(call.args, {"-n", "--interval", "-g", "--chgexit"}, stop_at_first=True)
    if rest:
        walker.walk_text(" ".join(w.text for w in rest), call, out, depth + 1)
    return None


def _trap(call: Call, out: Scan, depth: int) -> Call | None:
    rest = positionals(call.args)
    if rest and not rest[0].text.isdigit() and rest[0].text != "-":
        if rest[0].dynamic:
            out.doubt(call.shown, "a trap whose command is built at run time")
        else:
            walker.walk_text(rest[0].text, call, out, depth + 1)
    return None


def _source(call: Call, out: Scan, depth: int) -> Call | None:
    rest = positionals(call.args)
    if not rest:
        out.doubt(call.shown, f"`{call.name}` without a file")
    else:
        script(rest[0], call, out)
    return None


Handler = Callable[[Call, Scan, int], Call | None]


WRAPPERS: dict[str, Handler] = {
    **dict.fromkeys(SHELLS, _shell),
    "env": _env,
    "sudo": _sudo,
    "command": _command,
    "xargs": _xargs,
    "find": _find,
    "su": _su,
    "runuser": _su,
    "script": lambda c, o, d: _shell_string(c, ("-c", "--command"), o, d),
    "watch": _watch,
    "trap": _trap,
    "source": _source,
    ".": _source,
}
