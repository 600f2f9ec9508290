"""Paths in commands: outside the worktree, secret files, credential stores, policy."""

from __future__ import annotations

import re

from lanectl.cmdscan.base import (
    CHANGE_POLICY,
    CREDENTIAL,
    NETWORK,
    OUTSIDE_WORKTREE,
    SECRET_FILE,
    Call,
    Scan,
    classify,
    has_option,
    is_git_internal,
    is_policy_path,
    positionals,
    remote_host,
    show,
)
from lanectl.cmdscan.gitcmd import git_subcommand
from lanectl.cmdscan.shell import Simple, Word

SEARCH_TOOLS = {"grep", "egrep", "fgrep", "rg", "ag", "ack"}
# Tools whose first positional is a pattern or program, with their options that take a value.
PATTERN_FIRST: dict[str, frozenset[str]] = {
    **dict.fromkeys(("grep", "egrep", "fgrep"), frozenset({"-m", "-A", "-B", "-C", "-d", "-D"})),
    "rg": frozenset({"-m", "-A", "-B", "-C", "-g", "-t", "-T", "-j", "-M", "--type", "--glob"}),
    **dict.fromkeys(("ag", "ack"), frozenset({"-m", "-A", "-B", "-C", "-G"})),
    "sed": frozenset({"-l"}),
    **dict.fromkeys(("awk", "gawk", "mawk", "nawk"), frozenset({"-F", "-v"})),
    **dict.fromkeys(("jq", "yq"), frozenset({"--arg", "--argjson", "--indent"})),
    "perl": frozenset({"-I", "-M"}),
}
NO_PATHS = {"echo", "printf", "true", "false", ":", "test", "[", "[[", "lanectl", "kill",
            "sleep", "date", "expr", "seq"}  # fmt: skip
READ_ONLY = {"cat", "less", "more", "head", "tail", "ls", "wc", "stat", "file", "diff", "cmp",
             "tree", "du", "md5sum", "sha1sum", "sha256sum", "bat", "nl", "od", "xxd",
             "hexdump", "strings", "realpath", "readlink", "dirname", "basename", "cd",
             "pwd"} | SEARCH_TOOLS  # fmt: skip
GIT_READ = {"status", "diff", "log", "show", "blame", "grep", "ls-files", "ls-tree", "cat-file",
            "rev-parse", "shortlog", "whatchanged", "diff-tree"}  # fmt: skip


def redirect(op: str, target: Word, simple: Simple, out: Scan, cwd: str) -> None:
    text = target.text
    shown = show(simple.words) + f" {op} {show((target,))}"
    if op in (">&", "<&") and re.fullmatch(r"\d+-?|-", text):
        return
    if text.startswith(("/dev/tcp/", "/dev/udp/")):
        host = text.split("/")[3] if text.count("/") >= 3 else ""
        out.host(host)
        if not out.facts.host_allowed(host):
            out.red(
                NETWORK,
                shown,
                f"bash opens a connection to {host or 'a host'} here; "
                "builders reach only the configured provider hosts",
            )
        return
    if target.dynamic and not re.match(r"^(~|\$HOME|\$\{HOME\})(/|$)", text):
        out.doubt(shown, f"a redirection to a path built at run time ({text})")
        return
    writes = op.startswith((">", "&")) or op == "<>"
    check_path(text, shown, out, cwd, writes=writes, reads=not writes)
    facts = classify(text, cwd=cwd, worktree=out.facts.worktree)
    if writes and facts is not None and facts.rel is not None:
        out.written.add(facts.rel)


def check_path(text: str, shown: str, out: Scan, cwd: str, *, writes: bool, reads: bool) -> None:
    facts = classify(text, cwd=cwd, worktree=out.facts.worktree)
    if facts is None:
        return
    if facts.credential:
        out.red(
            CREDENTIAL,
            shown,
            f"{text} is a credential store (keys and tokens of humans or "
            "other systems); agents get only their own credential, from lanectl",
        )
    elif facts.secret:
        label = "write a secret file" if writes and not reads else None
        out.red(
            SECRET_FILE,
            shown,
            f"{text} is named like a secret file; secrets are passed "
            "by lanectl in the environment, never read from or written to files",
            label,
        )
    elif facts.outside or facts.rel is None:
        out.red(
            OUTSIDE_WORKTREE,
            shown,
            f"{text} is outside the task worktree; work only on "
            "files inside it (paths relative to its top)",
        )
    else:
        out.paths.append(facts.rel)
        if writes and is_policy_path(facts.rel):
            out.red(
                CHANGE_POLICY,
                shown,
                f"{facts.rel} is policy; only a human changes "
                ".lanes/ (a high-tier change through the gate)",
            )
        elif writes and is_git_internal(facts.rel):
            out.red(
                OUTSIDE_WORKTREE,
                shown,
                f"{facts.rel} is git's own configuration and hooks; they are not part of the task",
                "write git's own files",
            )


def path_args(call: Call, out: Scan) -> None:
    name = call.name
    if name in NO_PATHS:
        return
    args = list(call.args)
    if name in PATTERN_FIRST and not has_option(
        args, "-e", "-f", "--regexp", "--file", "--expression"
    ):
        pattern = positionals(args, PATTERN_FIRST[name])
        if pattern:
            args.remove(pattern[0])
    writes = name not in READ_ONLY
    if name in ("sed", "yq", "awk", "perl") and not has_option(args, "-i", "--in-place"):
        writes = False
    if name == "git":
        writes = git_subcommand(call.args) not in GIT_READ
    skip_next = False
    for word in args:
        if skip_next or word.text in ("-e", "--regexp", "--expression"):
            skip_next = not skip_next
            continue
        text = word.text
        if text.startswith("-"):
            text = text.split("=", 1)[1] if "=" in text else ""
        if not text or "://" in text or (word.dynamic and not text.startswith(("~", "$HOME"))):
            continue
        if remote_host(text) and not text.startswith(("/", ".", "~")):
            continue
        check_path(text, call.shown, out, call.cwd, writes=writes, reads=True)


def script(script: Word, call: Call, out: Scan) -> None:
    facts = classify(script.text, cwd=call.cwd, worktree=out.facts.worktree)
    if script.dynamic:
        out.doubt(call.shown, f"a script path built at run time ({script.text})")
    elif facts is not None and facts.rel in out.written:
        out.doubt(call.shown, f"running {script.text}, which this same command line writes")
    else:
        check_path(script.text, call.shown, out, call.cwd, writes=False, reads=True)
