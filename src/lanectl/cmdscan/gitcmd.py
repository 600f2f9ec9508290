"""git: global options, unknown subcommands, remotes, config; refs are in :mod:`.refs`.

A git subcommand lanectl does not know (an alias, a plugin) is a doubt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lanectl.cmdscan import refs
from lanectl.cmdscan import walk as walker
from lanectl.cmdscan.base import (
    CREDENTIAL,
    MERGE,
    NETWORK,
    OUTSIDE_PIPELINE,
    OUTSIDE_WORKTREE,
    Call,
    Scan,
    classify,
    has_option,
    positionals,
    remote_host,
)
from lanectl.cmdscan.shell import Word

GLOBAL_VALUE = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                          "--config-env", "--super-prefix", "--list-cmds"})  # fmt: skip
LOCAL = {"status", "diff", "log", "show", "blame", "grep", "add", "rm", "mv", "restore",
         "stash", "reset", "cherry-pick", "revert", "tag", "init", "clean", "ls-files",
         "ls-tree", "cat-file", "rev-parse", "rev-list", "describe", "shortlog",
         "format-patch", "apply", "am", "diff-tree", "diff-index", "diff-files", "merge-base",
         "merge-tree", "show-ref", "for-each-ref", "name-rev", "range-diff", "whatchanged",
         "reflog", "notes", "gc", "fsck", "prune", "count-objects", "help", "version",
         "sparse-checkout", "check-ignore", "check-attr", "var", "hash-object", "mktree",
         "mktag", "interpret-trailers", "verify-commit", "verify-tag", "show-branch",
         "cherry", "stripspace", "column", "pack-refs", "repack", "annotate", "patch-id",
         "write-tree", "read-tree", "update-index", "checkout-index", "commit-tree",
         "mailinfo", "mailsplit", "bundle", "rerere", "maintenance"}  # fmt: skip
SAFE_CONFIG = re.compile(
    r"^(user\.(name|email)|color\..*|core\.(autocrlf|filemode|quotepath|safecrlf|eol)"
    r"|diff\.(algorithm|renames|colormoved)|merge\.conflictstyle|pull\.(rebase|ff)"
    r"|rebase\.(autosquash|autostash)|rerere\.enabled|advice\..*|commit\.verbose|status\..*"
    r"|log\..*|format\.pretty|blame\..*|help\.autocorrect|init\.defaultbranch)$"
)


def git(call: Call, out: Scan, depth: int) -> None:
    args = list(call.args)
    i = 0
    while i < len(args) and args[i].text.startswith("-"):
        text = args[i].text
        name, _, glued = text.partition("=")
        value = glued or (args[i + 1].text if name in GLOBAL_VALUE and i + 1 < len(args) else "")
        i += 1 if glued or name not in GLOBAL_VALUE else 2
        if name in ("-C", "--git-dir", "--work-tree"):
            facts = classify(value, cwd=call.cwd, worktree=out.facts.worktree)
            if facts is None or facts.outside or (args[i - 1].dynamic):
                out.red(
                    OUTSIDE_WORKTREE,
                    call.shown,
                    f"git {name} {value} works on a repository outside the task worktree",
                )
        elif name == "-c":
            key, _, setting = value.partition("=")
            _config_key(key, setting, call, out)
        elif name == "--config-env":
            out.doubt(call.shown, "git --config-env (it reads settings from the environment)")
    if i >= len(args):
        return
    head, rest = args[i], args[i + 1 :]
    if head.dynamic:
        out.doubt(call.shown, f"a git subcommand built at run time ({head.text})")
        return
    sub = head.text
    handler = SUBCOMMANDS.get(sub)
    dynamic = call.dynamic_tail or any(w.dynamic for w in rest if not w.text.startswith("-"))
    if handler is not None and dynamic and sub in DYNAMIC_SENSITIVE:
        out.doubt(call.shown, f"`git {sub}` with arguments only known at run time")
    elif handler is not None:
        handler(call, rest, out, depth)
    elif sub.startswith("credential"):
        out.red(
            CREDENTIAL,
            call.shown,
            "git's credential helper hands out stored passwords and "
            "tokens that belong to humans or other systems",
        )
    elif sub in (
        "replace",
        "filter-branch",
        "filter-repo",
        "fast-import",
        "difftool",
        "mergetool",
        "lfs",
        "p4",
        "svn",
        "cvsimport",
        "quiltimport",
    ):
        out.doubt(call.shown, f"`git {sub}` (it rewrites what git shows, or runs other tools)")
    elif sub in (
        "send-email",
        "daemon",
        "request-pull",
        "imap-send",
        "http-push",
        "upload-pack",
        "receive-pack",
        "instaweb",
    ):
        out.red(
            NETWORK,
            call.shown,
            f"`git {sub}` talks to the network; builders reach only "
            "the configured providers, and work leaves only by a push of the task branch",
        )
    elif sub not in LOCAL:
        out.doubt(call.shown, f"`git {sub}`: not a git command lanectl knows (an alias?)")


def git_subcommand(args: Sequence[Word]) -> str | None:
    found = positionals(args, GLOBAL_VALUE, stop_at_first=True)
    return found[0].text if found else None


def _pull(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"-s", "--strategy", "-X", "--strategy-option", "--depth"})
    if names:
        _fetch(call, names[:1], out, depth)
    for name in names[1:]:
        if not refs.is_base(name.text.lstrip("+").split(":")[0], out):
            out.red(
                MERGE,
                call.shown,
                "pulling another branch merges it; only a human merges, with `lanectl merge`",
                "merge another branch",
            )


def _fetch(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"--depth", "--upload-pack", "-o", "--server-option", "-j"})
    if has_option(rest, "--upload-pack"):
        out.doubt(call.shown, "--upload-pack (it runs a program on the remote)")
    if names and names[0].text not in out.facts.remotes:
        _network_remote(names[0].text, call, out)


def _clone(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(
        rest,
        {
            "-b",
            "--branch",
            "-o",
            "--origin",
            "--depth",
            "-c",
            "--config",
            "--reference",
            "-u",
            "--upload-pack",
            "--template",
        },
    )
    if has_option(rest, "-u", "--upload-pack", "-c", "--config", "--template"):
        out.doubt(call.shown, "git clone with options that run programs or set config")
    if names:
        _network_remote(names[0].text, call, out)


def _network_remote(target: str, call: Call, out: Scan) -> None:
    host = remote_host(target)
    if host is None:  # a local path: the path rules already judged it
        return
    out.host(host)
    if not out.facts.host_allowed(host):
        out.red(
            NETWORK,
            call.shown,
            f"{host} is not a configured remote or provider host; "
            "builders reach only the configured providers and remotes",
        )


def _submodule(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"-b", "--branch", "--name", "--reference", "--depth"})
    if names and names[0].text in ("add", "update", "sync", "foreach", "init", "set-url"):
        out.doubt(
            call.shown,
            f"git submodule {names[0].text} (it fetches from or runs what "
            ".gitmodules names, which the task branch can change)",
        )


def _commit(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if has_option(rest, "-F", "--file", "-t", "--template"):
        out.doubt(
            call.shown,
            "a commit message read from a file (it cannot be checked for "
            "approval trailers); pass the message with -m",
        )
    if has_option(rest, "-C", "-c", "--reuse-message", "--reedit-message"):
        out.doubt(
            call.shown,
            "a commit that reuses another commit's message (it may carry an approval trailer)",
        )


def _config(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"-f", "--file", "--blob", "--type", "--default", "--comment"})
    words = [w.text for w in rest]
    sub = (
        names[0].text
        if names
        and names[0].text
        in ("get", "list", "set", "unset", "edit", "rename-section", "remove-section")
        else None
    )
    if sub:
        names = names[1:]
    reading = sub in ("get", "list") or (
        sub is None
        and (any(w.startswith(("--get", "--list", "-l")) for w in words) or len(names) < 2)
        and not any(
            w.startswith(
                (
                    "--unset",
                    "--add",
                    "--replace-all",
                    "--rename-section",
                    "--remove-section",
                    "--edit",
                    "-e",
                )
            )
            for w in words
        )
    )
    if reading:
        return
    if has_option(rest, "--global", "--system"):
        out.red(
            OUTSIDE_WORKTREE,
            call.shown,
            "global and system git settings are outside the task worktree and shared with humans",
            "change git settings outside the task",
        )
    if names:
        _config_key(names[0].text, names[1].text if len(names) > 1 else "", call, out)
    else:
        out.doubt(call.shown, "git config edits that name no single key")


def _config_key(key: str, value: str, call: Call, out: Scan) -> None:
    low = key.lower()
    if SAFE_CONFIG.match(low):
        return
    if low.startswith(("remote.", "url.", "http.", "https.")) or low in ("core.sshcommand",):
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            f"{key} changes where git connects; work leaves only through the configured remotes",
            "redirect where git pushes",
        )
    elif low.startswith("credential"):
        out.red(
            CREDENTIAL,
            call.shown,
            f"{key} sets up a credential helper that belongs to humans or other systems",
        )
    else:
        out.doubt(
            call.shown,
            f"`git config {key}`: a setting lanectl cannot vouch for (hooks, "
            "filters, aliases, editors and pagers run commands)",
        )


def _remote(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    names = positionals(rest, {"-t", "-m"})
    if names and names[0].text in (
        "add",
        "set-url",
        "rename",
        "remove",
        "rm",
        "set-head",
        "set-branches",
    ):
        out.red(
            OUTSIDE_PIPELINE,
            call.shown,
            "work leaves this repository only through its "
            "configured remotes; a human adds or changes them",
            "add or change a git remote",
        )


def _rebase(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    for index, word in enumerate(rest):
        if word.text in ("-x", "--exec") and index + 1 < len(rest):
            walker.walk_text(rest[index + 1].text, call, out, depth + 1)
        elif word.text.startswith("--exec="):
            walker.walk_text(word.text.split("=", 1)[1], call, out, depth + 1)


def _bisect(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    if rest and rest[0].text == "run" and len(rest) > 1:
        walker.walk(call.sub(rest[1:]), out, depth + 1)


def _archive(call: Call, rest: Sequence[Word], out: Scan, depth: int) -> None:
    for word in rest:
        if word.text.startswith("--remote"):
            out.red(NETWORK, call.shown, "git archive --remote talks to another host")


SubHandler = Callable[[Call, Sequence[Word], Scan, int], None]


SUBCOMMANDS: dict[str, SubHandler] = {
    "push": refs.push,
    "branch": refs.branch,
    "update-ref": refs.update_ref,
    "checkout": refs.checkout,
    "switch": refs.checkout,
    "worktree": refs.worktree,
    "symbolic-ref": refs.symbolic_ref,
    "merge": refs.merge,
    "pull": _pull,
    "fetch": _fetch,
    "ls-remote": _fetch,
    "clone": _clone,
    "submodule": _submodule,
    "commit": _commit,
    "config": _config,
    "remote": _remote,
    "rebase": _rebase,
    "bisect": _bisect,
    "archive": _archive,
}
DYNAMIC_SENSITIVE = {"push", "branch", "update-ref", "checkout", "switch", "merge", "config",
                     "remote", "pull", "symbolic-ref", "worktree"}  # fmt: skip
DETECTORS: dict[str, Callable[[Call, Scan, int], None]] = {"git": git}
