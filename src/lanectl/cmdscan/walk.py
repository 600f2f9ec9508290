"""The walk: argv → every simple command, through shell text and wrappers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lanectl.cmdscan import creds, forge, gitcmd, hosts, interp, shell
from lanectl.cmdscan.base import (
    CREDENTIAL,
    MERGE,
    OUTSIDE_PIPELINE,
    OUTSIDE_WORKTREE,
    WELL_KNOWN,
    Analysis,
    Call,
    Finding,
    Scan,
    ScanFacts,
    classify,
    positionals,
    show,
)
from lanectl.cmdscan.gitcmd import git_subcommand
from lanectl.cmdscan.paths import SEARCH_TOOLS, check_path, path_args, redirect
from lanectl.cmdscan.shell import Simple, Word
from lanectl.cmdscan.wrappers import SIMPLE_WRAPPERS, WRAPPERS, simple_wrapper

MAX_DEPTH = 12
ONLY_OWN = "; each agent uses only its own credential, which lanectl passes to it"
RESERVED = {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until",
            "coproc"}  # fmt: skip
SAFE_GIT_ENV = {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE", "GIT_PAGER", "GIT_TERMINAL_PROMPT",
                "GIT_TRACE", "GIT_OPTIONAL_LOCKS"}  # fmt: skip
RUNNER_ENV = {"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV",
              "PROMPT_COMMAND", "IFS", "PS4", "SHELLOPTS", "BASHOPTS", "EDITOR", "VISUAL",
              "PAGER"}  # fmt: skip
DEFERRED = {"at", "batch", "crontab", "tmux", "screen", "nsenter", "unshare", "systemd-run",
            "parallel", "dtach", "expect", "alias", "hash", "enable", "bind", "eval"}  # fmt: skip


def scan(argv: Sequence[str], facts: ScanFacts) -> list[Finding]:
    """Every red-rule finding for running ``argv`` (an exec-style argument list)."""
    return list(analyse(argv, facts).findings)


def analyse(argv: Sequence[str], facts: ScanFacts) -> Analysis:
    """Findings plus the commands, hosts and paths seen (for user rules and symlinks)."""
    out = Scan(facts)
    words = tuple(Word(arg, assignment=_assigned(arg)) for arg in argv)
    if not words or not words[0].text:
        out.doubt("''", "an empty command")
    elif any("\0" in arg for arg in argv):
        out.doubt(show(words), "an argument with a NUL byte")
    elif len(argv) == 1 and re.search(r"\s|[;&|<>()$`]", argv[0]):
        out.doubt(
            show(words),
            "one argument holding a whole shell command line: pass the words separately, "
            "or as sh -c '…'",
        )
    else:
        walk(Call(words), out, 0)
    return out.result()


def _assigned(arg: str) -> str | None:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\+?=", arg)
    return match.group(1) if match else None


def walk_text(text: str, parent: Call, out: Scan, depth: int) -> None:
    """Analyse shell text (an ``sh -c`` string) command by command."""
    parsed = shell.parse(text)
    for why in parsed.doubts:
        out.doubt(show((Word(text),)), why)
    cwd = parent.cwd
    for simple in parsed.commands:
        cwd = walk_simple(simple, out, depth, cwd)


def walk_simple(simple: Simple, out: Scan, depth: int, cwd: str) -> str:
    """Analyse one parsed simple command; returns the directory a literal ``cd`` moved to."""
    stdin = simple.piped
    for item in simple.redirects:
        stdin |= item.op.startswith("<") and item.op != "<&"
        redirect(item.op, item.target, simple, out, cwd)
    call = Call(simple.words, stdin=stdin, cwd=cwd)
    if call.words:
        walk(call, out, depth)
    if call.name == "cd" and not any(w.dynamic for w in call.words):
        target = positionals(call.args)
        if not target or target[0].text == "-":
            out.red(OUTSIDE_WORKTREE, call.shown, "`cd` without a directory goes home (or back), "
                    "outside the task worktree; cd into a directory inside it")  # fmt: skip
            return cwd
        facts = classify(target[0].text, cwd=cwd, worktree=out.facts.worktree) if target else None
        if facts is not None and facts.rel is not None:
            return "" if facts.rel == "." else facts.rel
    return cwd


def walk(call: Call, out: Scan, depth: int) -> None:
    out.commands.append(call.shown)
    for word in call.words:
        for name in word.variables:
            why = out.facts.foreign_credential(name)
            if why:
                out.red(CREDENTIAL, call.shown, why + ONLY_OWN)
    while True:
        words = list(call.words)
        while words and words[0].assignment:
            assignment(words.pop(0), call, out)
        if not words:
            return
        head = words[0]
        if not head.dynamic and head.text in RESERVED:
            call = call.sub(words[1:])
            continue
        call = call.sub(words)
        if head.text in ("for", "select", "function", "[[", "case"):
            if head.text == "case":
                out.doubt(call.shown, "a case statement")
            return
        if depth > MAX_DEPTH:
            out.doubt(call.shown, f"commands wrapped more than {MAX_DEPTH} levels deep")
            return
        if head.dynamic:
            out.doubt(call.shown, f"a command name built at run time ({head.text})")
            return
        if not head.text or re.search(r"[*?\[\]{}~]", head.text):
            out.doubt(call.shown, f"a command name with glob or brace characters ({head.text})")
            return
        handler = WRAPPERS.get(call.name)
        if handler is None and call.name in SIMPLE_WRAPPERS:
            handler = simple_wrapper
        if handler is None:
            break
        inner = handler(call, out, depth)
        if inner is None:
            return
        call = inner
        depth += 1
    _terminal(call, out, depth)


def assignment(word: Word, call: Call, out: Scan) -> None:
    name = word.assignment or ""
    if name in RUNNER_ENV:
        out.doubt(call.shown, f"a command that sets {name} (it changes which programs run)")
    elif name.startswith("GIT_") and name not in SAFE_GIT_ENV:
        out.doubt(call.shown, f"a command that sets {name} (it changes what git does)")
    elif name == "SSH_AUTH_SOCK":
        out.red(
            CREDENTIAL,
            call.shown,
            "pointing SSH_AUTH_SOCK at an agent socket uses someone else's SSH keys",
        )
    elif name in ("DOCKER_HOST", "DOCKER_CONTEXT", "CONTAINER_HOST"):
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            f"{name} points the container tools at another "
            "machine; deployments go through the pipeline",
        )
    value = word.text.split("=", 1)[1] if "=" in word.text else ""
    if value.startswith(("/", "~", "$HOME", "../")):
        check_path(value, call.shown, out, call.cwd, writes=False, reads=True)


def _terminal(call: Call, out: Scan, depth: int) -> None:
    name = call.name
    args = call.args
    if call.shown not in out.commands:
        out.commands.append(call.shown)
    search = name in SEARCH_TOOLS or (name == "git" and git_subcommand(args) == "grep")
    if not search:
        for word in args:
            for cred in _mentioned(word.text, out.facts):
                why = out.facts.foreign_credential(cred)
                if why:
                    out.red(CREDENTIAL, call.shown, why + ONLY_OWN)
            if "lane-approves" in word.text.lower():
                out.red(
                    MERGE,
                    call.shown,
                    "Lane-Approves trailers are written only by "
                    "`lanectl approve`, signed with a human's key",
                    "write an approval trailer",
                )
    path_args(call, out)
    detector = DETECTORS.get(name) or interp.detector_for(name)
    if detector is not None:
        detector(call, out, depth)
    elif name in DEFERRED:
        out.doubt(call.shown, f"`{name}` (it runs commands lanectl cannot see, or later)")


def _mentioned(text: str, facts: ScanFacts) -> list[str]:
    names = set(facts.credential_owners) | set(WELL_KNOWN)
    return [n for n in names if n in text and re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)]


DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {
    **hosts.DETECTORS,
    **creds.DETECTORS,
    **interp.DETECTORS,
    **gitcmd.DETECTORS,
    **forge.DETECTORS,
}
